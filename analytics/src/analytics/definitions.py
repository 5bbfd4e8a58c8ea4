"""Code location ``analytics``: assembles definitions and applies cross-cutting policy."""

import dagster as dg

from analytics.defs.sales.assets import sales_data, sales_monthly_rollup, sales_summary
from analytics.defs.sales.checks import (
    check_rollup_matches_daily,
    check_summary_reconciles_with_sales_data,
    check_summary_values_valid,
)
from analytics.defs.sales.jobs import daily_sales_job
from analytics.defs.sales.schedules import daily_sales_schedule
from lakehouse.config import lake_resources, object_store_from_env

# Dagster's default automation sensor starts stopped and ticks every 30 s. This one runs from
# the first start and ticks every 5 s, so a landed day reaches sales_summary in seconds.
# emit_backfills=False: several late days become runs at once, instead of a backfill that waits
# for the backfill daemon's loop.
analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_automation_sensor",
    target=dg.AssetSelection.groups("analytics"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    emit_backfills=False,
    description="Materializes analytics assets when the sales_data they read lands or changes.",
)

defs = dg.Definitions(
    assets=[sales_data, sales_summary, sales_monthly_rollup],
    asset_checks=[
        check_summary_reconciles_with_sales_data,
        check_summary_values_valid,
        check_rollup_matches_daily,
    ],
    jobs=[daily_sales_job],
    schedules=[daily_sales_schedule],
    sensors=[analytics_automation_sensor],
    resources=lake_resources(object_store_from_env()),
    # One process per run: the runs are small and start faster without a subprocess per step.
    executor=dg.in_process_executor,
)
