"""Run-failure alerts: one Slack-compatible post per failed run, with what an operator needs."""

from datetime import date

import dagster as dg
import psycopg
import pytest

from ingestion.defs.alerts.sensors import run_failure_alert_sensor
from ingestion.defs.sales.assets import landing_area, sales_data, source_sales_table
from ingestion.defs.sales.resources import SourceDatabase
from lakehouse.alerts import AlertWebhook
from lakehouse.config import lake_resources
from lakehouse.pytest_plugin import WebhookReceiver
from lakehouse.seed import SeedConfig, seed_database
from lakehouse.storage import ObjectStore

pytestmark = pytest.mark.component

DAY = date(2024, 5, 2)
BAD_KEY = f"landing/sales/{DAY}/store_009.csv"


def test_a_failed_run_posts_one_alert_naming_job_partition_step_and_error(
    source_db: tuple[str, str], s3_store: ObjectStore, webhook: WebhookReceiver
) -> None:
    admin_url, reader_url = source_db
    with psycopg.connect(admin_url, autocommit=True) as conn:
        seed_database(conn, SeedConfig(start=DAY, end=DAY, online_orders=3))
    s3_store.put(
        BAD_KEY,
        b"order_id,order_ts,store_id,region,product_id,quantity,unit_price\n"
        b"a1,2024-05-02T10:00:00Z,store_009,north,sku-1,two,1.00\n",
    )
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [source_sales_table, landing_area, sales_data],
        partition_key=DAY.isoformat(),
        resources={**lake_resources(s3_store), "source_db": SourceDatabase(url=reader_url)},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    failure = result.get_run_failure_event()

    before = len(webhook.posts)
    alerts = AlertWebhook(webhook_url=webhook.url, ui_base_url="http://dagster.example:3000")
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"alerts": alerts},
    ).for_run_failure()
    run_failure_alert_sensor(context)

    posts = webhook.posts[before:]
    assert len(posts) == 1
    post = posts[0]
    fields = post["fields"]
    assert fields["job"] == run.job_name
    assert fields["partition"] == DAY.isoformat()
    assert fields["failed_step"] == "sales_data"
    assert f"{BAD_KEY}, row 1 (line 2), column quantity" in fields["error"]
    assert fields["run_id"] == run.run_id
    assert "code_location" in fields
    assert post["link"] == f"http://dagster.example:3000/runs/{run.run_id}"
    assert post["text"].startswith(f"Run failed: {run.job_name}")
    assert post["blocks"][0]["type"] == "header"


def test_without_a_webhook_alerts_are_only_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_ALERT_WEBHOOK_URL", raising=False)
    from lakehouse.alerts import Alert

    assert AlertWebhook().send(Alert(title="t", fields={"a": "b"})) is False
