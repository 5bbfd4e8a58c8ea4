"""Step 6 on the native stack at the scale users run: Postgres storage, a real S3 server, the
landing sensor at its default settings, driven only by S3 puts and deletes, SQL and GraphQL.

Each scenario owns its day. Waits use deadlines and never assert speed; the latencies and memory
they observe are written to artifacts/system-metrics.json for BENCHMARKS.md.
"""

import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from native_stack import (
    Stack,
    finished,
    materializations,
    metadata_of,
    run_events,
    runs,
    sensor_ticks,
    tags_of,
    wait_for_ticks_after,
    wait_until,
)

from lakehouse.landing import CSV_COLUMNS
from lakehouse.seed import SeedConfig, large_store_csv, online_rows, seed_database, store_csv
from lakehouse_testing.servers import S3Server, WebhookReceiver

pytestmark = pytest.mark.system

TODAY = datetime.now(UTC).date()


def _day(days_back: int) -> str:
    return (TODAY - timedelta(days=days_back)).isoformat()


DAY_MANY, DAY_ABA, DAY_DELETE, DAY_STRAY = _day(8), _day(9), _day(13), _day(14)
DAY_HOSTILE, DAY_BIG, DAY_WEB_BAD, DAY_OUTAGE = _day(15), _day(16), _day(17), _day(18)
DAY_DUPLICATES, DAY_LATE = _day(20), _day(40)
HEADER = ",".join(CSV_COLUMNS) + "\n"
METRICS = Path(__file__).resolve().parents[2] / "artifacts" / "system-metrics.json"
INGEST = "daily_ingest_job"


@pytest.fixture(scope="module")
def metrics() -> Iterator[dict[str, Any]]:
    found: dict[str, Any] = {}
    yield found
    METRICS.parent.mkdir(exist_ok=True)
    previous = json.loads(METRICS.read_text()) if METRICS.is_file() else {}
    METRICS.write_text(json.dumps({**previous, **found}, indent=2) + "\n")


def _file(day: str, store_id: str, orders: int = 40, seed: int = 7) -> bytes:
    as_date = date.fromisoformat(day)
    config = SeedConfig(start=as_date, end=as_date, orders_per_store=orders, seed=seed)
    return store_csv(config, as_date, store_id)


def _landed(stack: Stack, day: str, **tags: str) -> dict | None:
    """The day's successful landing run whose tags include ``tags``; fails on a failed one."""
    for run in runs(stack, INGEST, day):
        run_tags = tags_of(run)
        if all(run_tags.get(f"ingestion/{k}") == v for k, v in tags.items()):
            if run["status"] == "FAILURE":
                raise AssertionError(f"landing run for {day} {tags} failed: {run['runId']}")
            if run["status"] == "SUCCESS":
                return run
    return None


def _lake(stack: Stack, day: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(stack.get(f"lake/sales_data/{day}.parquet")))


def _settle(stack: Stack) -> None:
    """Two landing-sensor ticks after now: whatever they would start has been requested."""
    wait_for_ticks_after(stack, "ingestion", "sales_landing_sensor", time.time(), 2)


def test_a_hundred_stores_on_one_day_land_with_small_run_keys(stack: Stack) -> None:
    for n in range(1, 101):
        stack.put(f"landing/sales/{DAY_MANY}/store_{n:03d}.csv", _file(DAY_MANY, f"store_{n:03d}"))
    run = wait_until(
        f"a landing run of {DAY_MANY} with all 100 files",
        lambda: _landed(stack, DAY_MANY, files="100"),
        deadline=240,
    )
    _settle(stack)
    day_runs = runs(stack, INGEST, DAY_MANY)
    assert all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in day_runs)
    keys = [tags_of(r)["dagster/run_key"] for r in day_runs]
    # The stores' puts may be seen over several ticks: one run per change, each key small.
    assert all(re.fullmatch(rf"{DAY_MANY}#[0-9]+:[0-9a-f]{{16}}", k) for k in keys), keys
    assert tags_of(run)["dagster/run_key"] in keys
    assert _lake(stack, DAY_MANY).height == 100 * 40


def test_a_return_to_an_earlier_version_lands_it_again(stack: Stack) -> None:
    key = f"landing/sales/{DAY_ABA}/store_001.csv"
    version_a, version_b = _file(DAY_ABA, "store_001"), _file(DAY_ABA, "store_001", 25, seed=8)
    for generation, content in enumerate((version_a, version_b, version_a), start=1):
        stack.put(key, content)
        wait_until(
            f"{DAY_ABA} landed for the {generation}. change",
            lambda g=generation: _landed(stack, DAY_ABA, landing_generation=str(g)),
        )
    expected = pl.read_csv(io.BytesIO(version_a))["order_id"].sort().to_list()
    assert _lake(stack, DAY_ABA)["order_id"].sort().to_list() == expected


def test_removing_a_file_and_putting_it_back_lands_both_times(stack: Stack) -> None:
    for store in ("store_001", "store_002"):
        stack.put(f"landing/sales/{DAY_DELETE}/{store}.csv", _file(DAY_DELETE, store))
    wait_until("both files landed", lambda: _landed(stack, DAY_DELETE, files="2"))
    stack.s3.delete_object(Bucket=stack.bucket, Key=f"landing/sales/{DAY_DELETE}/store_002.csv")
    wait_until("the day without store_002", lambda: _landed(stack, DAY_DELETE, files="1"))
    assert set(_lake(stack, DAY_DELETE)["store_id"]) == {"store_001"}
    stack.put(f"landing/sales/{DAY_DELETE}/store_002.csv", _file(DAY_DELETE, "store_002"))
    wait_until(
        "store_002 back", lambda: _landed(stack, DAY_DELETE, files="2", landing_generation="3")
    )
    assert set(_lake(stack, DAY_DELETE)["store_id"]) == {"store_001", "store_002"}


def test_a_file_forty_days_late_lands_at_default_settings(
    stack: Stack, metrics: dict[str, Any]
) -> None:
    put_at = time.time()
    stack.put(f"landing/sales/{DAY_LATE}/store_042.csv", _file(DAY_LATE, "store_042"))
    [landed] = wait_until(
        f"sales_data {DAY_LATE}",
        lambda: materializations(stack, ["sales_data"], DAY_LATE),
        deadline=180,
    )
    metrics["late_file_40_days_put_to_sales_data_s"] = round(
        int(landed["timestamp"]) / 1000 - put_at, 1
    )


def test_stray_keys_are_skipped_by_sensor_and_asset_alike(stack: Stack) -> None:
    strays = [
        f"landing/sales/{DAY_STRAY}/",
        f"landing/sales/{DAY_STRAY}/README.txt",
        f"landing/sales/{DAY_STRAY}/X.CSV",
        f"landing/sales/{DAY_STRAY}/archive/store_001.csv",
        "landing/sales/2024-W10-5/store_001.csv",
    ]
    since = time.time()
    for key in strays:
        stack.put(key, b"")
    stack.put(f"landing/sales/{DAY_STRAY}/store_001.csv", _file(DAY_STRAY, "store_001"))
    wait_until(f"{DAY_STRAY} landed", lambda: _landed(stack, DAY_STRAY, files="1"))
    [landed] = materializations(stack, ["sales_data"], DAY_STRAY)
    assert metadata_of(landed)["skipped_keys_count"] == 4

    def warned() -> bool:
        messages = [
            e["message"]
            for t in sensor_ticks(stack, "ingestion", "sales_landing_sensor")
            if t["timestamp"] > since
            for e in (t["logEvents"] or {}).get("events", [])
        ]
        text = "\n".join(messages)
        return all(key in text for key in (strays[1], strays[2], "2024-W10-5"))

    wait_until("the landing sensor to log the strays", warned)


def test_an_order_with_two_products_and_a_shared_id_count_in_full(stack: Stack) -> None:
    stack.put(
        f"landing/sales/{DAY_DUPLICATES}/store_001.csv",
        (
            HEADER
            + f"1001,{DAY_DUPLICATES}T09:00:00Z,store_001,north,sku-0001,2,10.00\n"
            + f"1001,{DAY_DUPLICATES}T09:00:00Z,store_001,north,sku-0002,1,199.00\n"
        ).encode(),
    )
    stack.put(
        f"landing/sales/{DAY_DUPLICATES}/store_002.csv",
        (HEADER + f"1001,{DAY_DUPLICATES}T10:00:00Z,store_002,south,sku-0001,1,5.00\n").encode(),
    )
    wait_until(f"{DAY_DUPLICATES} landed", lambda: _landed(stack, DAY_DUPLICATES, files="2"))

    def summary_revenue() -> Decimal | None:
        if not materializations(stack, ["sales_summary"], DAY_DUPLICATES):
            return None
        frame = pl.read_parquet(
            io.BytesIO(stack.get(f"lake/sales_summary/{DAY_DUPLICATES}.parquet"))
        )
        return frame["revenue"].sum()

    revenue = wait_until(f"sales_summary {DAY_DUPLICATES}", summary_revenue, deadline=180)
    assert revenue == Decimal("224.00")  # 2 x 10.00 + 199.00 + 5.00: nothing dropped


def test_a_hostile_number_fails_the_day_once_naming_the_field(
    stack: Stack, webhook: WebhookReceiver
) -> None:
    key = f"landing/sales/{DAY_HOSTILE}/store_001.csv"
    stack.put(
        key,
        (
            HEADER
            + f"a1,{DAY_HOSTILE}T09:00:00Z,store_001,north,sku-0001,99999999999999999999,1.00\n"
        ).encode(),
    )
    [run] = wait_until(
        f"the landing run of {DAY_HOSTILE} to finish",
        lambda: finished(runs(stack, INGEST, DAY_HOSTILE)),
    )
    assert run["status"] == "FAILURE"
    events = run_events(stack, run["runId"])
    assert not [e for e in events if e["__typename"] == "ExecutionStepUpForRetryEvent"]
    errors = [
        e["error"]["message"] for e in events if e["__typename"] == "ExecutionStepFailureEvent"
    ]
    assert any(
        f"{key}, row 1 (line 2), column quantity: expected a whole number from 1 to 1,000,000" in m
        for m in errors
    ), errors

    def alert() -> list[dict]:
        return [p for p in webhook.posts if p["fields"].get("run_id") == run["runId"]]

    [post] = wait_until("the run-failure alert", alert)
    assert "99999999999999999999" in post["fields"]["error"]


def test_a_million_row_file_lands_well_under_the_run_memory_limit(
    stack: Stack, metrics: dict[str, Any]
) -> None:
    rows = 1_000_000
    stack.put(
        f"landing/sales/{DAY_BIG}/store_777.csv",
        large_store_csv(date.fromisoformat(DAY_BIG), "store_777", rows),
    )
    run = wait_until(
        f"{DAY_BIG} with a million rows landed",
        lambda: _landed(stack, DAY_BIG, files="1"),
        deadline=300,
        every=2,
    )
    [landed] = materializations(stack, ["sales_data"], DAY_BIG)
    metadata = metadata_of(landed)
    assert metadata["dagster/row_count"] == rows
    peak = metadata["peak_rss_mib"]
    # A resource bound, not a timing: compose gives each run container 1 GiB.
    assert peak < 1024, f"the run peaked at {peak} MiB"
    metrics["million_row_run_peak_rss_mib"] = peak
    metrics["million_row_run_seconds"] = round(run["endTime"] - run["startTime"], 1)


def test_a_bad_web_order_blocks_the_schedule_and_a_manual_launch(stack: Stack) -> None:
    as_date = date.fromisoformat(DAY_WEB_BAD)
    config = SeedConfig(start=as_date, end=as_date, online_orders=5)
    bad_order = online_rows(config, as_date)[1][0]
    with psycopg.connect(stack.source_admin_url, autocommit=True) as conn:
        seed_database(conn, config)
        conn.execute("UPDATE source.sales SET quantity = -5 WHERE order_id = %s", (bad_order,))
    stack.put(f"landing/sales/{DAY_WEB_BAD}/store_001.csv", _file(DAY_WEB_BAD, "store_001"))
    [run] = wait_until(
        f"the landing run of {DAY_WEB_BAD}", lambda: finished(runs(stack, INGEST, DAY_WEB_BAD))
    )
    assert run["status"] == "FAILURE"
    assert materializations(stack, ["sales_data"], DAY_WEB_BAD) == []

    # The schedule's own evaluation for the tick that targets the day: skipped, with the reason.
    tick = datetime.combine(as_date + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    dry_run = stack.gql(
        """mutation D($selector: ScheduleSelector!, $timestamp: Float) {
          scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
            ... on DryRunInstigationTick { evaluationResult {
              runRequests { runKey } skipReason error { message } } }
            ... on PythonError { message } } }""",
        selector={
            "repositoryLocationName": "analytics",
            "repositoryName": "__repository__",
            "scheduleName": "daily_sales_schedule",
        },
        timestamp=(tick + timedelta(hours=1)).timestamp(),
    )["scheduleDryRun"]
    result = dry_run["evaluationResult"]
    assert result["runRequests"] == [] and result["error"] is None
    assert f"sales_data {DAY_WEB_BAD} is not in the lake" in result["skipReason"]

    # A manual launch of the schedule's job for that day fails instead of building from it.
    launched = stack.gql(
        """mutation L($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on LaunchRunSuccess { run { runId } }
            ... on PythonError { message } } }""",
        params={
            "selector": {
                "repositoryLocationName": "analytics",
                "repositoryName": "__repository__",
                "jobName": "daily_sales_job",
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY_WEB_BAD}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    manual = wait_until(
        "the manual run to finish",
        lambda: [
            r for r in finished(runs(stack, "daily_sales_job", DAY_WEB_BAD)) if r["runId"] == run_id
        ],
    )
    assert manual[0]["status"] == "FAILURE"
    assert materializations(stack, ["sales_summary"], DAY_WEB_BAD) == []


def test_an_s3_outage_alerts_once_recovers_by_itself_and_loses_nothing(
    stack: Stack, s3_server: S3Server, webhook: WebhookReceiver, metrics: dict[str, Any]
) -> None:
    def posts(title: str, after: int) -> list[dict]:
        return [
            p
            for p in webhook.posts[after:]
            if p["text"].startswith(title) and "sales_landing_sensor" in p["text"]
        ]

    before = len(webhook.posts)
    s3_server.stop()
    try:
        [failing] = wait_until(
            "an alert that the landing sensor fails",
            lambda: posts("Sensor failing", before),
            deadline=180,
        )
        assert failing["fields"]["code_location"] == "ingestion"
        assert failing["fields"]["error"]
    finally:
        s3_server.start()
    restarted = time.time()
    stack.put(f"landing/sales/{DAY_OUTAGE}/store_001.csv", _file(DAY_OUTAGE, "store_001"))
    wait_until(
        "an alert that it recovered", lambda: posts("Sensor recovered", before), deadline=180
    )
    wait_until(f"{DAY_OUTAGE} landed after the outage", lambda: _landed(stack, DAY_OUTAGE))
    metrics["s3_outage_recovery_to_landing_s"] = round(time.time() - restarted, 1)
    assert len(posts("Sensor failing", before)) == 1  # one alert per failing spell
    assert stack.get(f"landing/sales/{DAY_MANY}/store_001.csv")  # objects survived the restart
