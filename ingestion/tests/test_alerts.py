"""Run-failure alerts: one Slack-compatible post per failed run, with what an operator needs."""

from datetime import date

import dagster as dg
import psycopg
import pytest

from ingestion.defs.alerts.sensors import TickSeen, plan_tick_alerts, run_failure_alert_sensor
from ingestion.defs.sales.assets import landing_area, sales_data, source_sales_table
from ingestion.defs.sales.resources import SourceDatabase
from lakehouse.alerts import AlertWebhook
from lakehouse.config import lake_resources
from lakehouse.seed import SeedConfig, seed_database
from lakehouse.storage import ObjectStore
from lakehouse_testing.servers import WebhookReceiver

pytestmark = pytest.mark.component

DAY = date(2024, 5, 2)
BAD_KEY = f"landing/sales/{DAY}/store_009.csv"  # the contract as stores see it: literal on purpose


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


def test_an_alert_after_exhausted_retries_carries_the_cause(webhook: WebhookReceiver) -> None:
    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1, delay=0))
    def flaky() -> None:
        raise ConnectionError("could not connect to endpoint http://s3:9000")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([flaky], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    before = len(webhook.posts)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=run,
        resources={"alerts": AlertWebhook(webhook_url=webhook.url)},
    ).for_run_failure()
    run_failure_alert_sensor(context)
    [post] = webhook.posts[before:]
    assert post["fields"]["error"].startswith("Exceeded max_retries of 1")
    assert (
        "caused by: ConnectionError: could not connect to endpoint http://s3:9000"
        in (post["fields"]["error"])
    )


def test_without_a_webhook_alerts_are_only_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_ALERT_WEBHOOK_URL", raising=False)
    from lakehouse.alerts import Alert

    assert AlertWebhook().send(Alert(title="t", fields={"a": "b"})) is False


def _tick(failed: bool, error: str = "") -> TickSeen:
    return TickSeen(
        selector_id="sel-1",
        kind="sensor",
        name="sales_landing_sensor",
        location="ingestion",
        failed=failed,
        error=error,
    )


def test_a_failing_sensor_alerts_once_then_once_more_when_it_recovers() -> None:
    alerts = AlertWebhook(ui_base_url="http://dagster.example:3000")
    sent, failing = plan_tick_alerts([_tick(True, "EndpointConnectionError: s3")], set(), alerts)
    [alert] = sent
    assert alert.title == "Sensor failing: sales_landing_sensor"
    assert alert.fields["error"] == "EndpointConnectionError: s3"
    assert alert.fields["code_location"] == "ingestion"
    assert (
        alert.link == "http://dagster.example:3000/locations/ingestion/sensors/sales_landing_sensor"
    )
    again, failing = plan_tick_alerts([_tick(True, "EndpointConnectionError: s3")], failing, alerts)
    assert again == [] and failing == {"sel-1"}
    [recovered], failing = plan_tick_alerts([_tick(False)], failing, alerts)
    assert recovered.title == "Sensor recovered: sales_landing_sensor" and failing == set()
    assert plan_tick_alerts([_tick(False)], failing, alerts)[0] == []
