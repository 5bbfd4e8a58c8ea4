"""`make bench`: how the product's hot paths scale, measured on this machine.

Each measurement repeats a few times and reports the median (and min/max) in seconds, then
writes bench/results.json. BENCHMARKS.md explains the method and records results. Tests never
assert timings; this is where they live.

    python bench/run.py [--quick]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
from dagster_aws.s3 import S3Resource

from analytics.defs.sales.assets import sales_data as sales_data_spec
from analytics.defs.sales.assets import sales_summary
from ingestion.defs.sales.assets import landing_area, sales_data, source_sales_table
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.sensors import (
    DIGEST_TAG,
    DayState,
    LandingWatch,
    TickPlan,
    plan_tick,
)
from lakehouse.config import lake_resources
from lakehouse.seed import (
    SeedConfig,
    large_store_csv,
    prepare_source_database,
    seed_database,
    seed_landing,
)
from lakehouse.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from lakehouse.testing import ADMIN, PostgresServer, S3Server

RESULTS = Path(__file__).with_name("results.json")
SYSTEM_METRICS = Path(__file__).resolve().parents[1] / "artifacts" / "system-metrics.json"


def measure(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "repeat": repeat,
    }


VALIDATE_ONE_FILE = """
import resource, sys, time
from datetime import date
from pathlib import Path
from ingestion.defs.sales.validation import validate_store_file
from lakehouse.landing import LandingPath
source = Path(sys.argv[1])
day = date(2024, 3, 1)
start = time.perf_counter()
path = LandingPath(f"landing/sales/{day}/store_001.csv", day, "store_001")
rows = validate_store_file(path, source)
rows.sink_parquet(source.with_suffix(".parquet"))
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bench_validation(work: Path, rows: int, repeat: int) -> dict[str, object]:
    """Validation and staging of one store file, each repeat in a fresh process (its peak RSS
    is that process's, with dagster and polars imported as in a run)."""
    day = date(2024, 3, 1)
    source = work / "store_001.csv"
    source.write_bytes(large_store_csv(day, "store_001", rows))
    times, peaks = [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", "import dagster\n" + VALIDATE_ONE_FILE, str(source)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[0]))
        peaks.append(float(out[1]))
    median = statistics.median(times)
    return {
        "rows": rows,
        "file_mb": round(source.stat().st_size / 2**20, 1),
        "median_s": round(median, 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "rows_per_s": round(rows / median),
        "peak_rss_mib": round(max(peaks), 1),
        "repeat": repeat,
    }


def bench_sensor_local(work: Path, days: int, stores: int, repeat: int) -> dict[str, object]:
    store = LocalObjectStore(root=str(work / "sensor"))
    end = date(2025, 12, 31)
    seed_landing(
        store,
        SeedConfig(
            start=end - timedelta(days=days - 1), end=end, stores=stores, orders_per_store=5
        ),
    )
    now = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return _sensor_ticks(store, now, repeat) | {"objects": days * stores, "days": days}


def _sensor_ticks(store: ObjectStore, now: datetime, repeat: int) -> dict[str, object]:
    """The landing sensor's ticks at the default settings, 10 s apart as the daemon runs them:
    the first one (no cursor), quiet ones, and a file 40 days late until a tick requests it."""
    watch = LandingWatch(window_days=3)
    runs: dict[str, DayState] = {}
    clock = [now]

    def lookup(days: Sequence[str]) -> Mapping[str, DayState]:
        return {d: runs[d] for d in days if d in runs}

    def tick(cursor: str | None) -> tuple[TickPlan, float]:
        clock[0] += timedelta(seconds=10)
        start = time.perf_counter()
        plan = plan_tick(store, cursor, clock[0], watch, lookup)
        elapsed = time.perf_counter() - start
        for request in plan.run_requests:
            runs[request.partition_key or ""] = DayState(1, request.tags[DIGEST_TAG])
        return plan, elapsed

    first, first_s = tick(None)
    cursor = first.cursor.dump()
    first_cycle_ticks, plan = 1, first
    while not plan.cycle_completed:  # the first cycle may span ticks at a large history
        plan, _ = tick(cursor)
        cursor = plan.cursor.dump()
        first_cycle_ticks += 1
    quiet: list[float] = []
    sweeping: list[float] = []
    listed: list[int] = []
    for _ in range(max(repeat, 6)):  # window-only ticks and sweeping ones alternate
        plan, elapsed = tick(cursor)
        cursor = plan.cursor.dump()
        (sweeping if plan.months_swept else quiet).append(elapsed)
        listed.append(plan.prefixes_listed)
    late = (now - timedelta(days=40)).date()
    store.put(f"landing/sales/{late}/store_999.csv", b"late")
    ticks, listing_s = 0, 0.0
    while True:
        plan, elapsed = tick(cursor)
        cursor = plan.cursor.dump()
        ticks += 1
        listing_s += elapsed
        if any(r.partition_key == late.isoformat() for r in plan.run_requests):
            break
    return {
        "first_tick_s": round(first_s, 3),
        "first_cycle_ticks": first_cycle_ticks,
        "first_cycle_runs_requested": len(runs),
        "window_tick_median_s": round(statistics.median(quiet), 4) if quiet else None,
        "sweeping_tick_median_s": round(statistics.median(sweeping), 4) if sweeping else None,
        "sweeping_tick_max_s": round(max(sweeping), 4) if sweeping else None,
        "prefixes_listed_per_tick_max": max(listed),
        "late_file_found_after_ticks": ticks,
        "late_file_found_after_s_at_10s_ticks": ticks * 10,
        "late_file_listing_s": round(listing_s, 3),
        "cursor_bytes": len(cursor),
        "sweep_budget_ms": watch.sweep_budget_ms,
        "sweep_interval_s": watch.sweep_interval_seconds,
    }


def bench_sensor_s3(work: Path, objects: int, repeat: int) -> dict[str, object]:
    """The same ticks against a real SeaweedFS on loopback, LIST requests counted."""
    server = S3Server(work / "seaweedfs").start()
    try:
        client = server.client()
        client.create_bucket(Bucket="bench-landing")
        stores = 100
        days = max(1, objects // stores)
        end = date(2026, 10, 31)
        keys = [
            f"landing/sales/{end - timedelta(days=d)}/store_{s:03d}.csv"
            for d in range(days)
            for s in range(1, stores + 1)
        ]
        start = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda k: client.put_object(Bucket="bench-landing", Key=k, Body=k.encode()),
                    keys,
                )
            )
        seeded_s = time.perf_counter() - start
        store = S3ObjectStore(
            bucket="bench-landing",
            s3=S3Resource(
                endpoint_url=server.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id=ADMIN.access_key,
                aws_secret_access_key=ADMIN.secret_key,
            ),
        )
        lists = [0]
        store._client().meta.events.register(  # noqa: SLF001 - counting requests, not behaviour
            "before-call.s3.ListObjectsV2", lambda **_: lists.__setitem__(0, lists[0] + 1)
        )
        now = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        result = _sensor_ticks(store, now, repeat)
        start = time.perf_counter()
        before = lists[0]
        full = sum(1 for _ in store.list_objects("landing/sales/"))
        return result | {
            "objects": len(keys),
            "days": days,
            "seeding_s": round(seeded_s, 1),
            "full_listing_s": round(time.perf_counter() - start, 3),
            "full_listing_requests": lists[0] - before,
            "full_listing_objects": full,
            "list_requests_total": lists[0],
        }
    finally:
        server.stop()


def bench_pipeline(work: Path, stores: int, orders: int, backfill_days: int) -> dict[str, object]:
    postgres = PostgresServer(work / "pg").start()
    try:
        admin = postgres.create_database("shop")
        with psycopg.connect(admin, autocommit=True) as conn:
            prepare_source_database(conn, "ingestion_reader", None)
        store = LocalObjectStore(root=str(work / "bucket"))
        end = date(2025, 6, 30)
        config = SeedConfig(
            start=end - timedelta(days=backfill_days - 1),
            end=end,
            stores=stores,
            orders_per_store=orders,
            online_orders=orders,
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            seed_database(conn, config)
        seed_landing(store, config)
        resources = {
            **lake_resources(store),
            "source_db": SourceDatabase(url=postgres.url("shop", "ingestion_reader")),
        }
        instance = dg.DagsterInstance.ephemeral()

        def land(day: date) -> None:
            result = dg.materialize(
                [source_sales_table, landing_area, sales_data],
                partition_key=day.isoformat(),
                resources=resources,
                instance=instance,
            )
            assert result.success

        days = list(config.days())
        one_day = measure(lambda: land(days[-1]), 3)
        for day in days:
            land(day)
        tags = {
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        }
        backfill = measure(
            lambda: (
                dg.materialize(
                    [sales_data_spec, sales_summary],
                    selection=[sales_summary],
                    resources=lake_resources(store),
                    tags=tags,
                    instance=instance,
                ).success
            ),
            3,
        )
        return {
            "rows_per_day": stores * orders + orders,
            "sales_data_one_day": one_day,
            "sales_summary_backfill": {**backfill, "days": backfill_days, "runs": 1},
        }
    finally:
        postgres.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    quick = args.quick
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "dagster": dg.__version__,
    }
    objects = int(
        os.environ.get("BENCH_OBJECTS", "100000" if os.environ.get("BENCH_FULL") else "20000")
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results["validation"] = bench_validation(work, 20_000 if quick else 1_000_000, 3)
        print("validation", results["validation"], flush=True)  # noqa: T201
        results["sensor_local_year"] = bench_sensor_local(work / "s1", 60 if quick else 365, 20, 5)
        print("sensor local", results["sensor_local_year"], flush=True)  # noqa: T201
        results["sensor_seaweedfs"] = bench_sensor_s3(work / "s2", 2_000 if quick else objects, 5)
        print("sensor seaweedfs", results["sensor_seaweedfs"], flush=True)  # noqa: T201
        results["pipeline"] = bench_pipeline(
            work,
            stores=5 if quick else 20,
            orders=50 if quick else 200,
            backfill_days=7 if quick else 90,
        )
        print("pipeline", results["pipeline"], flush=True)  # noqa: T201
    if SYSTEM_METRICS.is_file():  # what the system tests observed on the running stack
        results["system_tests"] = json.loads(SYSTEM_METRICS.read_text())
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
