"""Ingestion's assets: the two external sources, and ``sales_data`` landed from both."""

import resource
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from ingestion.defs.sales.checks import SALES_DATA_CHECKS, evaluate_sales_data
from ingestion.defs.sales.partitions import daily_partitions
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.validation import (
    COLUMN_DESCRIPTIONS,
    SALES_SCHEMA,
    LandingFileError,
    RowError,
    show,
    validate_store_file,
)
from lakehouse.config import TRANSIENT_RETRY_POLICY, docs_url
from lakehouse.io_manager import PARTITION_EXPR, table_schema
from lakehouse.landing import (
    CSV_COLUMNS,
    KEY_LAYOUT,
    LANDING_PREFIX,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    LandingPath,
    Stray,
    classify_key,
    day_prefix,
)
from lakehouse.storage import ObjectStore

# Runs that query the operational database share this pool; its limit (dagster.yaml, or
# `dagster instance concurrency set source_db N`) protects the web shop from a wide backfill.
SOURCE_DB_POOL = "source_db"
ONLINE_SOURCE = "postgres:source.sales"
OWNER = "team:ingestion"

source_sales_table = dg.AssetSpec(
    key=["postgres", "source", "sales"],
    description=(
        "Online orders as the web shop writes them: one row per order in the operational "
        "Postgres database (schema `source`, table `sales`). Not produced by Dagster; "
        "`source_sales_observation_sensor` records its row count and last change."
    ),
    group_name="sources",
    owners=["team:web-shop"],
    kinds={"postgres"},
    metadata={
        "database": "shop (operational Postgres)",
        "schema": "source",
        "table": "sales",
        "dagster/table_name": "shop.source.sales",
        "access": "read-only role, through the `source_db` concurrency pool",
        "docs": docs_url("postgres-source-sales"),
    },
)

landing_area = dg.AssetSpec(
    key=["s3", *LANDING_PREFIX.strip("/").split("/")],  # the key mirrors where the files land
    description=(
        f"Where stores drop one CSV per store per day: `{KEY_LAYOUT}`, header "
        f"`{','.join(CSV_COLUMNS)}`. Not produced by Dagster; `sales_landing_sensor` notices "
        "new, corrected and removed files, however late."
    ),
    group_name="sources",
    owners=["team:stores"],
    kinds={"s3", "csv"},
    metadata={
        "prefix": LANDING_PREFIX,
        "layout": KEY_LAYOUT,
        "rules": (
            "one line per (order_id, product_id); order_ts ISO 8601 on the path's day (UTC); "
            f"1 <= quantity <= {MAX_QUANTITY:,}; 0 <= unit_price <= {MAX_UNIT_PRICE:,}, "
            "2 decimals; other keys under the prefix are skipped"
        ),
        "docs": docs_url("s3-landing-sales"),
    },
)


# A store's line identical to a web-shop line in all of these is the store's copy of a web order
# (click and collect): the web shop's line wins and the copy is dropped, counted and listed.
COPY_KEY = ["order_id", "order_ts", "product_id", "quantity", "unit_price"]
LISTED = 20  # rows shown in metadata tables (counts are always complete)


def _online_rows(online: pl.DataFrame) -> pl.DataFrame:
    return online.with_columns(
        pl.col("order_ts").dt.date().alias("order_date"),
        pl.lit(ONLINE_SOURCE).alias("source"),
    ).select(list(SALES_SCHEMA))


def _table(records: list[dict[str, Any]], columns: dict[str, str]) -> dg.MetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in records],
        schema=dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t in columns.items()]),
    )


ERROR_COLUMNS = {
    "file": "string",
    "row": "int",
    "column": "string",
    "expected": "string",
    "got": "string",
}


def _failure(day: date, errors: list[RowError], counts: dict[str, int], files: int) -> dg.Failure:
    shown = "\n".join(f"- {e}" for e in errors)
    summary = ", ".join(f"{key} ({n} error{'s' if n != 1 else ''})" for key, n in counts.items())
    return dg.Failure(
        description=(
            f"sales_data {day.isoformat()}: {len(counts)} of {files} landing file(s) rejected: "
            f"{summary}. Nothing was written for this day and the files were left where they "
            f"are. Fix and re-upload the file(s) to run the day again.\n{shown}"
        ),
        metadata={
            "errors": _table(
                [
                    {
                        "file": e.key,
                        "row": e.row,
                        "column": e.column,
                        "expected": e.expected,
                        "got": e.got,
                    }
                    for e in errors
                ],
                ERROR_COLUMNS,
            ),
            "errors_per_file": dg.MetadataValue.json(counts),
        },
        # A bad file stays bad on retry: fail once, clearly, and wait for a corrected upload.
        allow_retries=False,
    )


def _unreadable(key: str, exc: Exception) -> LandingFileError:
    # Anything else the parser raises is still about this file's bytes, never transient.
    detail = show(f"{type(exc).__name__}: {exc}")
    return LandingFileError(key, [RowError(key, 0, "(file)", "a CSV file polars can read", detail)])


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class StagedFiles:
    """A day's store files, validated into local parquet files (or the errors that refused them)."""

    parquet: list[Path] = field(default_factory=list)
    files_read: list[dict[str, Any]] = field(default_factory=list)
    copies: list[dict[str, Any]] = field(default_factory=list)  # the first LISTED only
    copies_dropped: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_per_file: dict[str, int] = field(default_factory=dict)


def stage_store_files(
    files: list[LandingPath],
    store: ObjectStore,
    web_lines: pl.DataFrame,
    staging: Path,
) -> StagedFiles:
    """Download, validate and stage each file in turn, one at a time, so memory is bounded by
    the largest file; drop the store's exact copies of web-shop lines (``web_lines``)."""
    out = StagedFiles()
    web = web_lines.lazy()
    for n, path in enumerate(files):
        local = staging / f"{n:05d}.csv"
        got = store.download(path.key, local)  # transient errors: the asset's retry policy
        parsed, target = staging / f"{n:05d}.all.parquet", staging / f"{n:05d}.parquet"
        try:
            try:
                validate_store_file(path, local).sink_parquet(parsed)
                valid = pl.scan_parquet(parsed)
                valid.join(web, on=COPY_KEY, how="anti", nulls_equal=True).sink_parquet(target)
                counted, copied = pl.collect_all(
                    [
                        pl.scan_parquet(target).select(pl.len()),
                        valid.join(web, on=COPY_KEY, how="semi", nulls_equal=True).select(
                            "order_id", "product_id"
                        ),
                    ],
                    engine="streaming",
                )
            except LandingFileError:
                raise
            except Exception as exc:
                raise _unreadable(path.key, exc) from exc
        except LandingFileError as exc:
            out.errors.extend(exc.errors)
            out.errors_per_file[path.key] = exc.total
            continue
        finally:
            local.unlink(missing_ok=True)
            parsed.unlink(missing_ok=True)
        out.parquet.append(target)
        out.files_read.append(
            {"file": path.key, "etag": got.etag, "rows": int(counted.item()) + copied.height}
        )
        out.copies_dropped += copied.height
        out.copies.extend(
            {"file": path.key, "order_id": r["order_id"], "product_id": r["product_id"]}
            for r in copied.head(max(0, LISTED - len(out.copies))).iter_rows(named=True)
        )
    return out


@dg.asset(
    partitions_def=daily_partitions,
    deps=[source_sales_table, landing_area],
    io_manager_key="lake_io_manager",
    check_specs=SALES_DATA_CHECKS,
    pool=SOURCE_DB_POOL,
    # Transient S3 or database errors (timeouts, restarts) are retried with backoff; bad
    # input raises a Failure that forbids retries.
    retry_policy=TRANSIENT_RETRY_POLICY,
    group_name="ingestion",
    owners=[OWNER],
    kinds={"polars", "parquet"},
    metadata={
        PARTITION_EXPR: "order_date",
        "dagster/column_schema": table_schema(pl.Schema(SALES_SCHEMA), COLUMN_DESCRIPTIONS),
        "docs": docs_url("sales_data"),
    },
)
def sales_data(
    context: dg.AssetExecutionContext, source_db: SourceDatabase, object_store: ObjectStore
) -> Iterator[dg.AssetCheckResult | dg.Output[pl.LazyFrame]]:
    """Every order line of one UTC day, from both channels, validated, audited, then published.

    Grain: one row per order line (store_id, order_id, product_id); nothing is deduplicated
    away except a store's exact copy of a web-shop line (counted and listed). Sources: the web
    shop's `source.sales` rows whose order_ts falls on the day, plus every store file under
    `landing/sales/<day>/` (other keys there are skipped and listed). A malformed file fails
    the day (naming file, row and column) and writes nothing; other days are unaffected.
    Write-audit-publish: files are validated and staged on local disk, the blocking checks run
    on the staged day, and `lake/sales_data/<day>.parquet` is written only if they all pass.
    Memory stays bounded by streaming each file through polars.
    """
    day = date.fromisoformat(context.partition_key)
    online = _online_rows(source_db.online_orders(day))

    listed = list(object_store.list_objects(day_prefix(day)))
    files: list[LandingPath] = []
    strays: list[Stray] = []
    for info in listed:
        classified = classify_key(info.key)
        if isinstance(classified, Stray):
            strays.append(classified)
            context.log.warning(f"skipped (not a store file): {classified}")
        else:  # under the day's prefix, a store file is that day's
            files.append(classified)

    staging = Path(tempfile.mkdtemp(prefix=f"sales_data-{day}-"))
    try:
        staged = stage_store_files(files, object_store, online.select(COPY_KEY), staging)
        if staged.errors:
            raise _failure(day, staged.errors[:LISTED], staged.errors_per_file, len(files))
        files_read, copies_dropped = staged.files_read, staged.copies_dropped
        day_frame = pl.concat([online.lazy(), *(pl.scan_parquet(p) for p in staged.parquet)])
        outcomes = evaluate_sales_data(day_frame)
        failed = [o for o in outcomes if not o.passed]
        if failed:
            for outcome in outcomes:
                yield outcome.result()
            raise dg.Failure(
                description=(
                    f"sales_data {day.isoformat()} was not published: blocking check(s) failed: "
                    + "; ".join(str(o) for o in failed)
                    + ". The lake keeps the day's last version that passed (if any), so nothing "
                    "downstream is built from these rows. Fix the source rows and rerun the day."
                ),
                metadata={"failed_checks": dg.MetadataValue.json([o.name for o in failed])},
                allow_retries=False,
            )

        summary = day_frame.select(
            pl.len().alias("rows"),
            (pl.col("source") == ONLINE_SOURCE).sum().alias("online"),
            pl.col("order_ts").min().alias("first"),
            pl.col("order_ts").max().alias("last"),
        ).collect(engine="streaming")
        rows, rows_online = int(summary["rows"][0]), int(summary["online"][0])
        first, last = summary["first"][0], summary["last"][0]
        context.log.info(
            f"sales_data {day}: {rows} order lines ({rows_online} online, {len(files_read)} store "
            f"files, {copies_dropped} store copies of web orders dropped, {len(strays)} stray "
            f"keys skipped)"
        )
        yield dg.Output(
            day_frame,
            metadata={
                "dagster/row_count": rows,
                "date_range": f"{first!s} … {last!s}" if rows else "no orders",
                "rows_online": rows_online,
                "rows_from_files": rows - rows_online,
                "files_read": _table(
                    files_read, {"file": "string", "etag": "string", "rows": "int"}
                ),
                "store_copies_of_web_orders_dropped": copies_dropped,
                "store_copies_of_web_orders": _table(
                    staged.copies, {"file": "string", "order_id": "string", "product_id": "string"}
                ),
                "skipped_keys": _table(
                    [{"key": s.key, "reason": s.reason} for s in strays[:LISTED]],
                    {"key": "string", "reason": "string"},
                ),
                "skipped_keys_count": len(strays),
                "peak_rss_mib": dg.MetadataValue.float(_peak_rss_mib()),
                "owner": OWNER,
                "docs": docs_url("sales_data"),
            },
        )
        # Recorded after the materialization they audited, so Dagster ties them to it (and
        # analytics' automation sees this day's blocking checks as passed).
        for outcome in outcomes:
            yield outcome.result()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
