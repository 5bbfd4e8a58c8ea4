"""P4: the product's compute against bare polars doing the same work, each in a fresh process
whose wall time and peak resident memory (``ru_maxrss``) are measured, imports excluded.

- ``sales_summary`` over the lake's ``sales_data`` (an in-process ``materialize`` of one
  single-run backfill: the lake IO manager reads every day, the asset aggregates, one object is
  written per day) against ``pl.scan_parquet`` of the same files, the same aggregation
  (``summarize``) and one parquet file written per day.
- Validating and staging one store file (``validate_store_file`` → parquet: every field checked,
  every bad row kept with its reason) against ``pl.read_csv`` of the same file.
"""

import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from lakehouse.seed import large_store_csv

SUMMARY_DAGSTER = """
import dagster as dg
from analytics.defs.sales.assets import sales_data, sales_summary
from lakehouse.config import lake_resources
from lakehouse.storage import LocalObjectStore
start_key, end_key = sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
result = dg.materialize(
    [sales_data, sales_summary],
    selection=[sales_summary],
    resources=lake_resources(LocalObjectStore(root=sys.argv[1])),
    tags={"dagster/asset_partition_range_start": start_key,
          "dagster/asset_partition_range_end": end_key},
    instance=dg.DagsterInstance.ephemeral(),
)
assert result.success
"""

SUMMARY_POLARS = """
import polars as pl
from analytics.defs.sales.assets import SALES_DATA_COLUMNS, summarize
root = Path(sys.argv[1])
out = root / "bare"
out.mkdir(exist_ok=True)
t0 = time.perf_counter()
files = sorted(str(p) for p in (root / "lake/sales_data").glob("*.parquet"))
summary = summarize(pl.scan_parquet(files).select(list(SALES_DATA_COLUMNS))).collect()
for part in summary.partition_by("order_date", maintain_order=True):
    part.write_parquet(out / f"{part['order_date'][0]}.parquet", compression="zstd")
"""

VALIDATE = """
from ingestion.defs.sales.validation import validate_store_file
from lakehouse.landing import LandingPath, landing_key
source = Path(sys.argv[1])
day = date.fromisoformat(source.parent.name)
t0 = time.perf_counter()
rows = validate_store_file(LandingPath(landing_key(day, "store_001"), day, "store_001"), source)
rows.sink_parquet(source.with_suffix(".parquet"))
"""

READ_CSV = """
import polars as pl
source = Path(sys.argv[1])
t0 = time.perf_counter()
frame = pl.read_csv(source)
assert frame.height > 0
"""

PRELUDE = "import resource, sys, time\nfrom datetime import date\nfrom pathlib import Path\n"
EPILOGUE = (
    "\nprint(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


def timed(script: str, *args: str, repeat: int) -> dict[str, float]:
    """Median, min and max seconds of ``script`` (each repeat a fresh interpreter, imports not
    timed) and the largest peak RSS in MiB."""
    times, peaks = [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", PRELUDE + script + EPILOGUE, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"benchmark script failed:\n{out.stderr[-3000:]}")
        seconds, peak = out.stdout.split()[-2:]
        times.append(float(seconds))
        peaks.append(float(peak))
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "peak_rss_mib": round(max(peaks), 1),
        "repeat": repeat,
    }


def bench_summary(work: Path, rows: int, days: int, repeat: int) -> dict[str, Any]:
    """``sales_summary`` over ``rows`` rows of ``sales_data`` spread over ``days`` days."""
    from native import sales_data_day

    folder = work / "lake/sales_data"
    folder.mkdir(parents=True)
    first = date(2024, 1, 1)
    span = [first + timedelta(days=n) for n in range(days)]
    for day in span:
        (folder / f"{day}.parquet").write_bytes(sales_data_day(day, rows // days))
    keys = (span[0].isoformat(), span[-1].isoformat())
    product = timed(SUMMARY_DAGSTER, str(work), *keys, repeat=repeat)
    bare = timed(SUMMARY_POLARS, str(work), repeat=repeat)
    return {
        "rows": rows,
        "days": days,
        "sales_summary": product,
        "bare_polars": bare,
        "time_ratio": round(product["median_s"] / bare["median_s"], 2),
        "memory_ratio": round(product["peak_rss_mib"] / bare["peak_rss_mib"], 2),
    }


def bench_validation(work: Path, rows: int, repeat: int) -> dict[str, Any]:
    """One store file of ``rows`` rows: validation and staging against ``pl.read_csv``."""
    day = date(2024, 3, 1)
    folder = work / str(day)
    folder.mkdir(parents=True)
    source = folder / "store_001.csv"
    source.write_bytes(large_store_csv(day, "store_001", rows))
    product = timed(VALIDATE, str(source), repeat=repeat)
    bare = timed(READ_CSV, str(source), repeat=repeat)
    product_rate = rows / product["median_s"]
    bare_rate = rows / bare["median_s"]
    return {
        "rows": rows,
        "file_mb": round(source.stat().st_size / 2**20, 1),
        "validation": product | {"rows_per_s": round(product_rate)},
        "read_csv": bare | {"rows_per_s": round(bare_rate)},
        "speed_fraction": round(product_rate / bare_rate, 2),
    }
