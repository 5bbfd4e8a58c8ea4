"""`make bench`: how the product's hot paths scale, measured on this machine.

Each measurement repeats a few times and reports the median (and min/max) in seconds, then
writes bench/results.json. BENCHMARKS.md explains the method and records results. Tests never
assert timings; this is where they live.

    python bench/run.py [--quick]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg

from analytics.defs.sales.assets import sales_data as sales_data_spec
from analytics.defs.sales.assets import sales_summary
from ingestion.defs.sales.assets import landing_area, sales_data, source_sales_table
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.sensors import DIGEST_TAG, DayState, LandingWatch, plan_tick
from ingestion.defs.sales.validation import parse_store_file
from lakehouse.config import lake_resources
from lakehouse.landing import LandingPath
from lakehouse.seed import (
    SeedConfig,
    prepare_source_database,
    seed_database,
    seed_landing,
    store_csv,
)
from lakehouse.storage import LocalObjectStore
from lakehouse.testing import PostgresServer

RESULTS = Path(__file__).with_name("results.json")


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


def bench_validation(rows: int, repeat: int) -> dict[str, object]:
    day = date(2024, 3, 1)
    config = SeedConfig(start=day, end=day, orders_per_store=rows)
    data = store_csv(config, day, "store_001")
    path = LandingPath(f"landing/sales/{day}/store_001.csv", day, "store_001")
    result = measure(lambda: parse_store_file(path, data), repeat)
    return {**result, "rows": rows, "rows_per_s": round(rows / result["median_s"])}


def bench_sensor(work: Path, days: int, stores: int, repeat: int) -> dict[str, object]:
    store = LocalObjectStore(root=str(work / "sensor"))
    end = date(2025, 12, 31)
    seed_landing(
        store,
        SeedConfig(
            start=end - timedelta(days=days - 1), end=end, stores=stores, orders_per_store=5
        ),
    )
    now = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    watch = LandingWatch(window_days=3)
    runs: dict[str, DayState] = {}
    first = plan_tick(store, None, now, watch, runs.get)  # the first tick sweeps everything
    for request in first.run_requests:
        runs[request.partition_key or ""] = DayState(1, request.tags[DIGEST_TAG])
    cursor = first.cursor.dump()
    later = now + timedelta(minutes=1)
    window = measure(lambda: plan_tick(store, cursor, later, watch, runs.get), repeat)
    sweep = window
    return {
        "files": days * stores,
        "days": days,
        "window_tick": window,
        "sweep_tick": sweep,
        "cursor_bytes": len(cursor),
        "first_tick_runs_requested": len(first.run_requests),
    }


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
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results["validation"] = bench_validation(2_000 if quick else 50_000, 5)
        print("validation", results["validation"], flush=True)  # noqa: T201
        results["sensor_small_history"] = bench_sensor(work / "s1", 30, 10, 5)
        print("sensor 300 files", results["sensor_small_history"], flush=True)  # noqa: T201
        results["sensor_year_history"] = bench_sensor(work / "s2", 60 if quick else 365, 20, 5)
        print("sensor year", results["sensor_year_history"], flush=True)  # noqa: T201
        results["pipeline"] = bench_pipeline(
            work,
            stores=5 if quick else 20,
            orders=50 if quick else 200,
            backfill_days=7 if quick else 90,
        )
        print("pipeline", results["pipeline"], flush=True)  # noqa: T201
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
