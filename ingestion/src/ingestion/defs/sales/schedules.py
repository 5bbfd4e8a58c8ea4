import dagster as dg

from ingestion.defs.sales.jobs import daily_ingest_job

# Nightly, for the UTC day that just ended: lands the online orders even on a day when no store
# sends a file (store files start their own runs through sales_landing_sensor).
daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingest_job,
    name="daily_ingest_schedule",
    hour_of_day=0,
    minute_of_hour=30,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="00:30 UTC: sales_data for the previous UTC day.",
)
