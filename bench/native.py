"""P1 freshness, P2 backfill and P5 footprint on the native stack (`make dev`'s launcher,
deploy/local/stack.py) on Postgres storage and a real SeaweedFS, driven only from outside as an
operator would: S3 puts and the webserver's GraphQL API.

The project's settings and Dagster's defaults run in the same invocation, one stack after the
other on the same Postgres and S3 servers. The baseline differs only in supported settings:
both sensors at Dagster's default interval (30 s, through the locations' environment variables)
and the run queue at Dagster's defaults (bench/baseline-instance.yaml, through
`stack.py up --instance-overrides`).
"""

import io
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import psutil  # type: ignore[import-untyped]
import psycopg

from ingestion.defs.sales.validation import SALES_SCHEMA
from lakehouse.io_manager import LAKE_PREFIX, lake_key
from lakehouse.landing import day_prefix, landing_key
from lakehouse.seed import REGIONS, large_store_csv, prepare_source_database
from lakehouse_testing.servers import ADMIN, PostgresServer, S3Server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from native_stack import (  # noqa: E402
    Stack,
    first_materialization_after,
    follow_file,
    freshness_summary,
    run_times,
    running_stack,
    wait_until,
)

BASELINE_INSTANCE = Path(__file__).with_name("baseline-instance.yaml")
# Dagster's default sensor interval (and the default automation sensor's): 30 s.
BASELINE_ENV = {"INGESTION_LANDING_SENSOR_SECONDS": "30", "ANALYTICS_AUTOMATION_SECONDS": "30"}
PROCESSES = ("ingestion", "analytics", "daemon", "webserver")
DEADLINE = 300
FILE_DEADLINE = 180  # put -> sales_summary; far beyond the baseline's worst case (about 75 s)
ARTIFACTS = ROOT / "artifacts"

LAUNCH_BACKFILL = """
mutation B($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  }
}"""

BACKFILL = """
query B($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status endTimestamp }
  }
}"""

LAUNCH_RUN = """
mutation L($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  }
}"""

RUNS = """
query R($ids: [String!]) {
  runsOrError(filter: {runIds: $ids}) { ... on Runs { results { runId status endTime } } }
}"""


@dataclass
class Services:
    """The Postgres and S3 servers both stacks run on, started once."""

    postgres: PostgresServer
    s3: S3Server


@contextmanager
def services(work: Path) -> Iterator[Services]:
    postgres = PostgresServer(work / "pg").start()
    s3 = S3Server(work / "s3").start()
    try:
        yield Services(postgres, s3)
    finally:
        s3.stop()
        postgres.stop()


@contextmanager
def native_stack(
    infra: Services, work: Path, name: str, baseline: bool
) -> Iterator[tuple[Stack, float]]:
    """A fresh stack (own instance database, source database and bucket); yields it and the
    seconds from the launcher's start to its report that every process is up."""
    work.mkdir(parents=True)
    dagster_url = infra.postgres.create_database(f"dagster_{name}")
    source_admin = infra.postgres.create_database(f"shop_{name}")
    with psycopg.connect(source_admin, autocommit=True) as conn:
        prepare_source_database(conn, "ingestion_reader", None)
    bucket = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    client = infra.s3.client()
    client.create_bucket(Bucket=bucket)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "dagster_home"),
        "LAKEHOUSE_VAR_DIR": str(work / "var"),
        "DAGSTER_POSTGRES_URL": dagster_url,
        "INGESTION_SOURCE_DB_URL": infra.postgres.url(f"shop_{name}", user="ingestion_reader"),
        "LAKEHOUSE_STORAGE": "s3",
        "LAKEHOUSE_S3_BUCKET": bucket,
        "LAKEHOUSE_S3_ENDPOINT_URL": infra.s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": ADMIN.access_key,
        "AWS_SECRET_ACCESS_KEY": ADMIN.secret_key,
        "AWS_REGION": "us-east-1",
        **(BASELINE_ENV if baseline else {}),
    }
    extra = ["--seed-days", "0"]
    if baseline:
        extra += ["--instance-overrides", str(BASELINE_INSTANCE)]
    start = time.monotonic()
    with running_stack(env, work, *extra) as (url, log_path):
        ready = time.monotonic() - start
        yield Stack(url, log_path, s3=client, bucket=bucket, source_admin_url=source_admin), ready


def freshness_of_one_file(stack: Stack, day: date, store: str, rows: int) -> dict[str, float]:
    """Put one store file of ``rows`` lines and follow it to ``sales_summary``."""
    body = large_store_csv(day, store, rows)
    return follow_file(
        stack,
        lambda: stack.put(landing_key(day, store), body),
        day.isoformat(),
        FILE_DEADLINE,
    )


def files_one_at_a_time(
    stack: Stack, name: str, days: Sequence[tuple[date, str]]
) -> dict[str, Any]:
    """Each (day, store) file in turn. A file that has not reached ``sales_summary`` within
    FILE_DEADLINE is a finding, not a crash: it is counted and reported, the stack's log is
    kept under artifacts/ for a look, and the next file goes on."""
    samples, lost = [], []
    for day, store in days:
        try:
            samples.append(freshness_of_one_file(stack, day, store, 2_000))
        except AssertionError as missing:
            lost.append(f"{day}/{store}: {str(missing)[:200]}")
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copyfile(stack.log_path, ARTIFACTS / f"bench-{name}-stack.log")
    if not samples:
        raise AssertionError(f"no file reached sales_summary on the {name} stack: {lost}")
    return freshness_summary(samples) | {"not_arrived": lost}


def footprint(stack: Stack) -> dict[str, float]:
    """Resident memory (MiB) of each process group the launcher started (a code server's
    group holds its gRPC server process as well), after the stack has been idle."""
    pids = json.loads((Path(stack.log_path).parent / "var/run/stack.json").read_text())
    groups: dict[str, float] = dict.fromkeys(PROCESSES, 0.0)
    for proc in psutil.process_iter(["pid", "memory_info"]):
        try:
            group = os.getpgid(proc.pid)
        except ProcessLookupError:
            continue
        for name, pid in pids.items():
            if group == pid:
                groups[name] += proc.info["memory_info"].rss / 2**20
    return {name: round(mib, 1) for name, mib in groups.items()}


@dataclass
class Sizes:
    files: int  # window files with this project's settings
    baseline_files: int  # window files with Dagster's defaults
    late_files: int
    backfill_days: int
    rows_per_day: int
    per_partition_runs: int


def bench_native(
    infra: Services, work: Path, sizes: Sizes
) -> tuple[dict[str, Any], dict[str, Any]]:
    """P1 and P5 on each configuration's stack (its idle footprint, then files put one at a time,
    the next once the previous one reached sales_summary), and P2 on this project's stack
    after P1 (days long before P1's, so neither sees the other's)."""
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    results: dict[str, Any] = {}
    backfill: dict[str, Any] = {}
    for name, baseline, count in (
        ("project", False, sizes.files),
        ("baseline", True, sizes.baseline_files),
    ):
        with native_stack(infra, work / name, name, baseline) as (stack, ready_s):
            time.sleep(10)  # idle: the first sensor ticks and the sweep have run
            memory = footprint(stack)
            window = [(yesterday, f"store_{n:03d}") for n in range(1, count + 1)]
            entry: dict[str, Any] = {
                "window_file": files_one_at_a_time(stack, name, window),
                "ready_s": round(ready_s, 1),
                "idle_rss_mib": memory | {"total": round(sum(memory.values()), 1)},
            }
            if not baseline and sizes.late_files:
                late = [
                    (today - timedelta(days=40 + n), "store_001") for n in range(sizes.late_files)
                ]
                entry["late_file"] = files_one_at_a_time(stack, f"{name}-late", late)
            results[name] = entry
            print(f"P1 {name}", json.dumps(entry), flush=True)  # noqa: T201
            if not baseline:
                backfill = bench_backfill(stack, sizes)
    ratio = results["baseline"]["window_file"]["p50_s"] / results["project"]["window_file"]["p50_s"]
    results["speedup_p50"] = round(ratio, 1)
    return results, backfill


def sales_data_day(day: date, rows: int) -> bytes:
    """One day of ``sales_data`` as ingestion writes it to the lake: 100 stores, 5 regions,
    200 products, three lines per order."""
    n = pl.col("n")
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    frame = pl.DataFrame({"n": pl.int_range(rows, eager=True)}).select(
        pl.format(f"{day:%Y%m%d}-{{}}", n // 3).alias("order_id"),
        (pl.lit(start) + pl.duration(seconds=n * 86_399 // max(rows, 1)))
        .dt.cast_time_unit("us")
        .alias("order_ts"),
        pl.lit(day).alias("order_date"),
        pl.format("store_{}", (n // 3 % 100).cast(pl.String).str.zfill(3)).alias("store_id"),
        pl.lit(pl.Series(REGIONS)).gather(n // 3 % 100 % len(REGIONS)).alias("region"),
        pl.format("sku-{}", (n % 200 + 1).cast(pl.String).str.zfill(4)).alias("product_id"),
        (n % 5 + 1).alias("quantity"),
        pl.format("{}.{}", n % 190 + 5, (n % 100).cast(pl.String).str.zfill(2)).alias("unit_price"),
        pl.lit(None).alias("updated_at"),
        pl.format(f"{day_prefix(day)}store_{{}}.csv", n // 3 % 100).alias("source"),
    )
    # Every type, and the columns' order, from the lake schema ingestion writes.
    frame = frame.select(pl.col(name).cast(dtype) for name, dtype in SALES_SCHEMA.items())
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


def _seed_lake(stack: Stack, days: Sequence[date], rows: int) -> float:
    start = time.monotonic()

    def put(day: date) -> None:
        key = lake_key(LAKE_PREFIX, dg.AssetKey("sales_data"), day.isoformat())
        stack.put(key, sales_data_day(day, rows))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, days))
    return time.monotonic() - start


def _backfill(stack: Stack, days: Sequence[date]) -> dict[str, float]:
    """One GraphQL backfill of ``sales_summary`` over ``days`` (its backfill policy makes it
    one run); seconds from the launch to every partition materialized, and to the backfill
    marked completed by the daemon."""
    keys = [d.isoformat() for d in days]
    start = time.time()
    launched = stack.gql(
        LAUNCH_BACKFILL,
        params={"partitionNames": keys, "assetSelection": [{"path": ["sales_summary"]}]},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    last = first_materialization_after(stack, "sales_summary", keys[-1], start, DEADLINE)
    first = first_materialization_after(stack, "sales_summary", keys[0], start, DEADLINE)
    materialized = max(int(last["timestamp"]), int(first["timestamp"])) / 1000
    run = run_times(stack, last["runId"])

    def completed() -> dict[str, Any] | None:
        found = stack.gql(BACKFILL, id=launched["backfillId"])["partitionBackfillOrError"]
        return found if found["status"] not in ("REQUESTED", "CANCELING", "FAILING") else None

    done = wait_until("the backfill to complete", completed, DEADLINE)
    assert done["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), done
    return {
        "launch_to_materialized_s": round(materialized - start, 1),
        "daemon_pickup_s": round(run["created"] - start, 1),
        "run_s": round(materialized - run["created"], 1),
        "launch_to_completed_s": round(float(done["endTimestamp"]) - start, 1),
        "runs": 1,
    }


def _per_partition_runs(stack: Stack, days: Sequence[date]) -> float:
    """``daily_sales_job`` once per day, all launched at once through the queue (as a backfill
    without a single-run policy would): seconds until the last one succeeded."""
    start = time.time()
    ids = []
    for day in days:
        launched = stack.gql(
            LAUNCH_RUN,
            params={
                "selector": {
                    "repositoryLocationName": "analytics",
                    "repositoryName": "__repository__",
                    "jobName": "daily_sales_job",
                },
                "executionMetadata": {
                    "tags": [{"key": "dagster/partition", "value": day.isoformat()}]
                },
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        ids.append(launched["run"]["runId"])

    def all_done() -> list[dict[str, Any]] | None:
        found = stack.gql(RUNS, ids=ids)["runsOrError"]["results"]
        done = [r for r in found if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        return found if len(done) == len(ids) else None

    found = wait_until("the per-partition runs", all_done, DEADLINE * 4)
    failed = [r["runId"] for r in found if r["status"] != "SUCCESS"]
    assert not failed, f"per-partition runs failed: {failed}"
    return max(float(r["endTime"]) for r in found) - start


def bench_backfill(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    """P2: ``backfill_days`` partitions of ``sales_summary`` from ``sales_data`` already in the
    lake, as one backfill and as one run per partition."""
    days, rows, per_partition = sizes.backfill_days, sizes.rows_per_day, sizes.per_partition_runs
    first = date(2024, 1, 1)
    span = [first + timedelta(days=n) for n in range(days)]
    seeded = _seed_lake(stack, span, rows)
    single = _backfill(stack, span)
    print("P2 backfill", json.dumps(single), flush=True)  # noqa: T201
    # Other days than the backfill's, so no run finds its output already written.
    later = [first + timedelta(days=days + n) for n in range(per_partition)]
    _seed_lake(stack, later, rows)
    many_s = _per_partition_runs(stack, later)
    per_run = many_s / per_partition
    extrapolated = per_run * days
    return {
        "days": days,
        "rows_per_day": rows,
        "rows": days * rows,
        "seeding_s": round(seeded, 1),
        "single_run": single,
        "per_partition_runs": {
            "runs_timed": per_partition,
            "wall_s": round(many_s, 1),
            "per_partition_s": round(per_run, 2),
            "extrapolated_s": round(extrapolated, 1),
            "extrapolated": True,
        },
        "speedup": round(extrapolated / single["launch_to_materialized_s"], 1),
    }
