import dagster as dg

from ingestion.defs.sales.assets import sales_data

daily_ingest_job = dg.define_asset_job(
    name="daily_ingest_job",
    selection=dg.AssetSelection.assets(sales_data),
    description=(
        "Lands one day of sales_data (online orders plus that day's store files) and runs its "
        "blocking checks. Started by sales_landing_sensor and daily_ingest_schedule."
    ),
)
