"""Code location ``ingestion``: assembles definitions; computes nothing."""

import dagster as dg

from ingestion.defs.alerts.sensors import run_failure_alert_sensor, tick_failure_alert_sensor
from ingestion.defs.sales.assets import landing_area, sales_data, source_sales_table
from ingestion.defs.sales.jobs import daily_ingest_job
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.schedules import daily_ingest_schedule
from ingestion.defs.sales.sensors import (
    LandingWatch,
    sales_landing_sensor,
    source_sales_observation_sensor,
)
from lakehouse.config import alert_webhook_from_env, env_int, lake_resources, object_store_from_env

defs = dg.Definitions(
    assets=[source_sales_table, landing_area, sales_data],
    jobs=[daily_ingest_job],
    schedules=[daily_ingest_schedule],
    sensors=[
        sales_landing_sensor,
        source_sales_observation_sensor,
        run_failure_alert_sensor,
        tick_failure_alert_sensor,
    ],
    executor=dg.in_process_executor,
    resources={
        **lake_resources(object_store_from_env("ingestion")),
        "alerts": alert_webhook_from_env(),
        "source_db": SourceDatabase(url=dg.EnvVar("INGESTION_SOURCE_DB_URL")),
        "landing_watch": LandingWatch(
            window_days=env_int("INGESTION_LANDING_WINDOW_DAYS", 3),
            sweep_budget_ms=env_int("INGESTION_LANDING_SWEEP_BUDGET_MS", 1000),
            sweep_interval_seconds=env_int("INGESTION_LANDING_SWEEP_SECONDS", 30),
        ),
    },
)
