"""Code location ``analytics``: assembles definitions and applies cross-cutting policy."""

from datetime import timedelta

import dagster as dg

from analytics.defs.alerts.sensors import build_freshness_alert_sensor
from analytics.defs.sales.assets import sales_data, sales_monthly_rollup, sales_summary
from analytics.defs.sales.checks import (
    check_rollup_matches_daily,
    check_summary_reconciles_with_sales_data,
    check_summary_values_valid,
)
from analytics.defs.sales.jobs import daily_sales_job
from analytics.defs.sales.schedules import daily_sales_schedule
from lakehouse.config import (
    alert_webhook_from_env,
    env_int,
    lake_resources,
    object_store_from_env,
)

# Dagster's default automation sensor starts stopped and ticks every 30 s. This one runs from
# the first start and ticks on every loop of the asset daemon (every 5 s; an interval of 5
# would skip every other loop), so a landed day reaches sales_summary in seconds.
# emit_backfills=False: several late days become runs at once, instead of a backfill that waits
# for the backfill daemon's loop.
analytics_automation_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_automation_sensor",
    target=dg.AssetSelection.groups("analytics"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=env_int("ANALYTICS_AUTOMATION_SECONDS", 1, minimum=1),
    emit_backfills=False,
    description="Materializes analytics assets when the sales_data they read lands or changes.",
)

# How old each asset may get before it counts as stale: both are refreshed by the twice-daily
# schedule at least, so more than a day (plus slack) without a materialization means trouble.
FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26), warn_window=timedelta(hours=14)
)
analytics_assets = [
    asset.map_asset_specs(lambda spec: spec.replace_attributes(freshness_policy=FRESHNESS))
    for asset in (sales_summary, sales_monthly_rollup)
]

defs = dg.Definitions(
    assets=[sales_data, *analytics_assets],
    asset_checks=[
        check_summary_reconciles_with_sales_data,
        check_summary_values_valid,
        check_rollup_matches_daily,
    ],
    jobs=[daily_sales_job],
    schedules=[daily_sales_schedule],
    sensors=[analytics_automation_sensor, build_freshness_alert_sensor(analytics_assets)],
    resources={
        **lake_resources(object_store_from_env("analytics")),
        "alerts": alert_webhook_from_env(),
    },
    # One process per run: the runs are small and start faster without a subprocess per step.
    executor=dg.in_process_executor,
)
