import dagster as dg

from analytics.defs.sales.assets import sales_data
from analytics.defs.sales.jobs import daily_sales_job
from analytics.defs.sales.partitions import daily_partitions


def has_landed(instance: dg.DagsterInstance, day: str) -> bool:
    """Whether sales_data holds the day. It is published only when its blocking checks pass, so
    a day that failed them (or never ran) has no materialization to build from."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=sales_data.key, asset_partitions=[day]), limit=1
    )
    return bool(records.records)


# Dagster's partitioned-schedule builder derives its cron from the partitions (once a day), so
# the twice-daily cadence is written out. Both ticks target the previous UTC day: 01:00 builds
# it, 13:00 rebuilds it with store files that arrived late in the morning.
@dg.schedule(
    name="daily_sales_schedule",
    job=daily_sales_job,
    cron_schedule="0 1,13 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "01:00 and 13:00 UTC: sales_summary for the previous UTC day, once sales_data holds it "
        "(a day blocked by sales_data's checks is skipped with the reason)."
    ),
)
def daily_sales_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    tick = context.scheduled_execution_time
    with dg.partition_loading_context(effective_dt=tick):
        day = daily_partitions.get_last_partition_key()
    if day is None:
        return dg.SkipReason(f"no complete day before {tick.isoformat()}")
    if not has_landed(context.instance, day):
        return dg.SkipReason(
            f"sales_data {day} is not in the lake: its run has not succeeded, or its blocking "
            "checks failed (see sales_data's checks for that day). Nothing to build from."
        )
    return dg.RunRequest(run_key=f"{day}@{tick.isoformat()}", partition_key=day)
