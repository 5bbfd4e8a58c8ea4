"""`make bench`: the product against its baseline, each pair in the same invocation.

- P1 freshness and P5 footprint: bench/native.py (the native stack, this project's settings and
  then Dagster's defaults).
- P2 a year-long backfill against one run per partition: bench/native.py.
- P3 the landing sensor against a full listing, on a local folder and on SeaweedFS: here.
- P4 compute against bare polars: bench/compute.py.

Each figure is a median with its min and max. The results go to bench/results.json and
BENCHMARKS.md is rendered from them (bench/report.py); nothing is copied by hand. Tests never
assert timings; this is where they live.

    python bench/run.py [--quick]     # --quick: tiny sizes (CI), written under artifacts/
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psutil  # type: ignore[import-untyped]
from compute import bench_summary, bench_validation
from native import Sizes, bench_native, services
from report import render

from ingestion.defs.sales.sensors import (
    DIGEST_TAG,
    DayState,
    LandingWatch,
    TickPlan,
    plan_tick,
)
from lakehouse.landing import LANDING_PREFIX, landing_key
from lakehouse.seed import SeedConfig, seed_landing
from lakehouse.storage import LocalObjectStore, ObjectStore, S3Connection, S3ObjectStore
from lakehouse_testing.servers import ADMIN, S3Server

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results.json")
PAGE = ROOT / "BENCHMARKS.md"
# A quick run (CI's) never overwrites the committed figures.
QUICK_RESULTS = ROOT / "artifacts" / "bench-quick.json"
QUICK_PAGE = ROOT / "artifacts" / "BENCHMARKS-quick.md"
SYSTEM_METRICS = ROOT / "artifacts" / "system-metrics.json"
COMPOSE_METRICS = ROOT / "artifacts" / "compose-metrics.json"


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


def _sensor_ticks(
    store: ObjectStore, now: datetime, repeat: int, lists: Callable[[], int] = lambda: 0
) -> dict[str, object]:
    """The landing sensor's ticks at the default settings, 10 s apart as the daemon runs them:
    the first one (no cursor), quiet ones, a file 40 days late until a tick requests it, and
    window ticks (the sweep not due) after ten new files for yesterday."""
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
    store.put(landing_key(late, "store_999"), b"late")
    ticks, listing_s = 0, 0.0
    while True:
        plan, elapsed = tick(cursor)
        cursor = plan.cursor.dump()
        ticks += 1
        listing_s += elapsed
        if any(r.partition_key == late.isoformat() for r in plan.run_requests):
            break
    window = _window_ticks(store, cursor, clock[0], repeat, lists, lookup)
    return {
        "window": window,
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


def _window_ticks(
    store: ObjectStore,
    cursor: str,
    now: datetime,
    repeat: int,
    lists: Callable[[], int],
    lookup: Callable[[Sequence[str]], Mapping[str, DayState]],
) -> dict[str, object]:
    """Ten new files for yesterday, then ticks between two sweeps (the window's days only):
    the first requests the day; the rest are quiet."""
    yesterday = (now - timedelta(days=1)).date()
    for n in range(10):
        store.put(landing_key(yesterday, f"store_{900 + n}"), b"new")
    watch = LandingWatch(window_days=3, sweep_interval_seconds=10**9)  # the sweep not due
    times, requests, calls = [], [], []
    for n in range(max(repeat, 3)):
        before = lists()
        start = time.perf_counter()
        plan = plan_tick(store, cursor, now + timedelta(seconds=5 * (n + 1)), watch, lookup)
        times.append(time.perf_counter() - start)
        calls.append(lists() - before)
        requests.append(len(plan.run_requests))
        cursor = plan.cursor.dump()
    return {
        "new_files_tick_s": round(times[0], 4),
        "new_files_requested_days": requests[0],
        "tick_median_s": round(statistics.median(times), 4),
        "tick_max_s": round(max(times), 4),
        "list_calls_per_tick": max(calls),
        "months_swept": 0,
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
            landing_key(end - timedelta(days=d), f"store_{s:03d}")
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
            s3=S3Connection(
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
        result = _sensor_ticks(store, now, repeat, lambda: lists[0])
        start = time.perf_counter()
        before = lists[0]
        full = sum(1 for _ in store.list_objects(LANDING_PREFIX))
        full_s = time.perf_counter() - start
        window = result["window"]
        assert isinstance(window, dict)
        return result | {
            "window_tick_vs_full_listing": round(full_s / window["tick_median_s"]),
            "objects": len(keys),
            "days": days,
            "seeding_s": round(seeded_s, 1),
            "full_listing_s": round(full_s, 3),
            "full_listing_requests": lists[0] - before,
            "full_listing_objects": full,
            "list_requests_total": lists[0],
        }
    finally:
        server.stop()


def machine() -> dict[str, object]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(terse=True),
        "python": sys.version.split()[0],
        "dagster": dg.__version__,
    }


def step(results: dict[str, object], name: str, value: object) -> None:
    results[name] = value
    print(name, json.dumps(value), flush=True)  # noqa: T201


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes: CI's smoke run")
    args = parser.parse_args()
    quick = args.quick
    full = bool(os.environ.get("BENCH_FULL"))
    objects = int(os.environ.get("BENCH_OBJECTS", "100000" if full else "20000"))
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench QUICK=1"
        if quick
        else ("BENCH_FULL=1 make bench" if full else "make bench"),
        "quick": quick,
        "machine": machine(),
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        step(
            results,
            "p4_validation",
            bench_validation(work / "p4v", 20_000 if quick else 1_000_000, 1 if quick else 3),
        )
        step(
            results,
            "p4_summary",
            bench_summary(
                work / "p4s",
                100_000 if quick else 10_000_000,
                10 if quick else 100,
                1 if quick else 3,
            ),
        )
        step(
            results, "p3_sensor_local", bench_sensor_local(work / "s1", 60 if quick else 365, 20, 5)
        )
        step(
            results,
            "p3_sensor_seaweedfs",
            bench_sensor_s3(work / "s2", 2_000 if quick else objects, 5),
        )
        with services(work / "services") as infra:
            sizes = (
                Sizes(files=2, baseline_files=1, late_files=1, backfill_days=7, rows_per_day=1_000,
                      per_partition_runs=2)
                if quick
                else Sizes(files=10, baseline_files=5, late_files=3, backfill_days=365,
                           rows_per_day=100_000, per_partition_runs=30)
            )  # fmt: skip
            p1_p5, p2 = bench_native(infra, work / "native", sizes)
            step(results, "p1_p5_native", p1_p5)
            step(results, "p2_backfill", p2)
    if SYSTEM_METRICS.is_file():  # what the system tests observed on the running stack
        results["system_tests"] = json.loads(SYSTEM_METRICS.read_text())
    if COMPOSE_METRICS.is_file():  # what the docker tier observed on the compose deployment
        results["compose_tests"] = json.loads(COMPOSE_METRICS.read_text())
    results["bench_s"] = round(time.monotonic() - started)
    out = QUICK_RESULTS if quick else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    page = QUICK_PAGE if quick else PAGE
    page.write_text(render(results))
    print(f"wrote {out} and {page}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
