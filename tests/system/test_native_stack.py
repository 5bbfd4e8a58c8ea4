"""End to end on the native stack: S3 puts and SQL in, GraphQL out. No manual launches.

Waits use deadlines (up to a few minutes) and never assert how fast anything happened; latency
is measured by `make bench`.
"""

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from native_stack import (
    SENSOR_TICKS,
    Stack,
    finished,
    materializations,
    runs,
    sensor_ticks,
    wait_for_ticks_after,
    wait_until,
)

from lakehouse.seed import SeedConfig, online_rows, seed_database, store_csv
from lakehouse_testing.servers import WebhookReceiver

pytestmark = pytest.mark.system

TODAY = datetime.now(UTC).date()
# Each scenario owns its day, all inside the sensor's recent window and before today.
DAY_GOOD, DAY_BAD, DAY_THIRD, DAY_BLOCKED = (
    (TODAY - timedelta(days=n)).isoformat() for n in (2, 3, 4, 5)
)
CONFIG = SeedConfig(
    start=TODAY - timedelta(days=6),
    end=TODAY - timedelta(days=1),
    stores=2,
    orders_per_store=12,
    online_orders=8,
)

STEP_FAILURES = """
query Failures($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename
      ... on ExecutionStepFailureEvent { stepKey error { message } } } }
  }
}"""


def _day_file(day: str, store_id: str) -> bytes:
    return store_csv(CONFIG, date.fromisoformat(day), store_id)


@pytest.fixture(scope="module", autouse=True)
def source_rows(stack: Stack) -> None:
    with psycopg.connect(stack.source_admin_url, autocommit=True) as conn:
        seed_database(conn, CONFIG)


def test_both_locations_load_with_the_cross_location_edge(stack: Stack) -> None:
    data = stack.gql("""{
      workspaceOrError { ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename } } } }
      assetNodes { assetKey { path } dependencyKeys { path }
                   repository { location { name } } }
    }""")
    entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
    assert set(entries) == {"ingestion", "analytics"}
    for entry in entries.values():
        assert entry["loadStatus"] == "LOADED"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert nodes["sales_data"]["repository"]["location"]["name"] == "ingestion"
    summary = nodes["sales_summary"]
    assert summary["repository"]["location"]["name"] == "analytics"
    assert {"path": ["sales_data"]} in summary["dependencyKeys"]


@pytest.mark.parametrize(
    ("location", "sensor"),
    [
        ("ingestion", "sales_landing_sensor"),
        ("ingestion", "source_sales_observation_sensor"),
        ("analytics", "analytics_automation_sensor"),
    ],
)
def test_sensors_run_without_anyone_turning_them_on(
    stack: Stack, location: str, sensor: str
) -> None:
    selector = {
        "repositoryName": "__repository__",
        "repositoryLocationName": location,
        "sensorName": sensor,
    }
    state = stack.gql(SENSOR_TICKS, selector=selector)["sensorOrError"]["sensorState"]
    assert state["status"] == "RUNNING"
    wait_until(f"a tick of {sensor}", lambda: sensor_ticks(stack, location, sensor))


def test_daemons_are_healthy(stack: Stack) -> None:
    data = stack.gql(
        "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
    )
    statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
    unhealthy = [s["daemonType"] for s in statuses if s["required"] and not s["healthy"]]
    assert unhealthy == []


def test_a_file_for_a_past_day_flows_to_sales_summary(stack: Stack) -> None:
    stack.put(f"landing/sales/{DAY_GOOD}/store_001.csv", _day_file(DAY_GOOD, "store_001"))
    ingest = wait_until(
        f"daily_ingest_job for {DAY_GOOD} to finish",
        lambda: finished(runs(stack, "daily_ingest_job", DAY_GOOD)),
    )
    assert [r["status"] for r in ingest] == ["SUCCESS"]
    tags = {t["key"]: t["value"] for t in ingest[0]["tags"]}
    assert tags["dagster/sensor_name"] == "sales_landing_sensor"

    summary = wait_until(
        f"sales_summary {DAY_GOOD}",
        lambda: materializations(stack, ["sales_summary"], DAY_GOOD),
        deadline=180,
    )
    run = stack.gql(
        "query R($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } "
        "repositoryOrigin { repositoryLocationName } } } }",
        id=summary[0]["runId"],
    )["runOrError"]
    assert run["repositoryOrigin"]["repositoryLocationName"] == "analytics"
    run_tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run_tags["dagster/sensor_name"] == "analytics_automation_sensor"
    labels = {e["label"] for e in summary[0]["metadataEntries"]}
    assert {"dagster/row_count", "total_revenue"} <= labels


def test_a_malformed_file_fails_its_day_names_the_field_and_a_fix_runs_once(
    stack: Stack, webhook: WebhookReceiver
) -> None:
    bad_key = f"landing/sales/{DAY_BAD}/store_002.csv"
    lines = _day_file(DAY_BAD, "store_002").decode().splitlines()
    fields = lines[3].split(",")
    fields[6] = "-4.00"  # unit_price on data row 3
    lines[3] = ",".join(fields)
    bad = ("\n".join(lines) + "\n").encode()
    stack.put(bad_key, bad)

    failed = wait_until(
        f"daily_ingest_job for {DAY_BAD} to finish",
        lambda: finished(runs(stack, "daily_ingest_job", DAY_BAD)),
    )
    assert [r["status"] for r in failed] == ["FAILURE"]
    events = stack.gql(STEP_FAILURES, runId=failed[0]["runId"])["logsForRun"]["events"]
    messages = [
        e["error"]["message"] for e in events if e["__typename"] == "ExecutionStepFailureEvent"
    ]
    assert any(
        f"{bad_key}, row 3 (line 4), column unit_price: expected a number from 0 to" in m
        for m in messages
    ), messages
    assert stack.get(bad_key) == bad  # the file stays where the store put it

    # The run-failure alert sensor (watching every location) posted exactly one alert for it.
    def alerts_for_run() -> list[dict]:
        return [p for p in webhook.posts if p["fields"].get("run_id") == failed[0]["runId"]]

    [alert] = wait_until("the run-failure alert", alerts_for_run)
    assert alert["fields"]["code_location"] == "ingestion"
    assert alert["fields"]["job"] == "daily_ingest_job"
    assert alert["fields"]["partition"] == DAY_BAD
    assert alert["fields"]["failed_step"] == "sales_data"
    assert bad_key in alert["fields"]["error"]
    assert alert["link"].endswith(f"/runs/{failed[0]['runId']}")

    stack.put(f"landing/sales/{DAY_THIRD}/store_001.csv", _day_file(DAY_THIRD, "store_001"))
    third = wait_until(
        f"daily_ingest_job for {DAY_THIRD} to finish",
        lambda: finished(runs(stack, "daily_ingest_job", DAY_THIRD)),
    )
    assert [r["status"] for r in third] == ["SUCCESS"]

    stack.put(bad_key, _day_file(DAY_BAD, "store_002"))  # the corrected re-upload
    reruns = wait_until(
        f"a successful rerun of {DAY_BAD}",
        lambda: [r for r in runs(stack, "daily_ingest_job", DAY_BAD) if r["status"] == "SUCCESS"],
    )
    done = datetime.now(UTC).timestamp()
    wait_for_ticks_after(stack, "ingestion", "sales_landing_sensor", done, 2)
    statuses = sorted(r["status"] for r in runs(stack, "daily_ingest_job", DAY_BAD))
    assert statuses == ["FAILURE", "SUCCESS"], "exactly one new run for the corrected file"
    assert len(reruns) == 1
    assert len(alerts_for_run()) == 1  # still one alert for the failed run, ticks later


def test_a_failed_blocking_check_keeps_the_day_out_of_the_lake(stack: Stack) -> None:
    blocked_order = online_rows(CONFIG, date.fromisoformat(DAY_BLOCKED))[0][0]
    with psycopg.connect(stack.source_admin_url, autocommit=True) as conn:
        conn.execute("UPDATE source.sales SET quantity = 0 WHERE order_id = %s", (blocked_order,))
    stack.put(f"landing/sales/{DAY_BLOCKED}/store_001.csv", _day_file(DAY_BLOCKED, "store_001"))
    blocked = wait_until(
        f"daily_ingest_job for {DAY_BLOCKED} to finish",
        lambda: finished(runs(stack, "daily_ingest_job", DAY_BLOCKED)),
    )
    assert [r["status"] for r in blocked] == ["FAILURE"]
    # Audited before publishing: the check failed, so the day never reached the lake.
    assert materializations(stack, ["sales_data"], DAY_BLOCKED) == []
    checks = stack.gql(
        """
      query C($key: AssetKeyInput!) { assetCheckExecutions(assetKey: $key,
          checkName: "check_quantity_in_range", limit: 20) {
        status partition evaluation { success } } }""",
        key={"path": ["sales_data"]},
    )
    mine = [c for c in checks["assetCheckExecutions"] if c["partition"] == DAY_BLOCKED]
    assert [c["evaluation"]["success"] for c in mine] == [False]

    done = datetime.now(UTC).timestamp()
    wait_for_ticks_after(stack, "analytics", "analytics_automation_sensor", done, 3)
    assert materializations(stack, ["sales_summary"], DAY_BLOCKED) == []
    assert runs(stack, "__ASSET_JOB", DAY_BLOCKED) == []


def test_observations_of_the_source_table_are_visible(stack: Stack) -> None:
    with psycopg.connect(stack.source_admin_url) as conn:
        row = conn.execute("SELECT count(*) FROM source.sales").fetchone()
    assert row is not None

    def observed_count() -> int | None:
        data = stack.gql("""{ assetOrError(assetKey: {path: ["postgres", "source", "sales"]}) {
            ... on Asset { assetObservations(limit: 1) { metadataEntries { label
              ... on IntMetadataEntry { intValue } } } } } }""")
        observations = data["assetOrError"]["assetObservations"]
        if not observations:
            return None
        entries = {e["label"]: e.get("intValue") for e in observations[0]["metadataEntries"]}
        return entries.get("dagster/row_count")

    wait_until(
        f"an observation of postgres/source/sales with {row[0]} rows",
        lambda: observed_count() == row[0],
        deadline=180,
    )
