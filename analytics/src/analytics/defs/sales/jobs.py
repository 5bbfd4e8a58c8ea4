import dagster as dg

from analytics.defs.sales.assets import sales_summary

# A job cannot span code locations: this one selects analytics' daily assets (and their checks);
# sales_data is read from the lake as it was last landed by ingestion.
daily_sales_job = dg.define_asset_job(
    name="daily_sales_job",
    selection=dg.AssetSelection.assets(sales_summary),
    description="Builds sales_summary for a day (or a range, in one run) and checks it.",
)
