"""Ingestion's assets: the two external sources, and ``sales_data`` landed from both."""

from collections import Counter
from datetime import date

import dagster as dg
import polars as pl

from ingestion.defs.sales.partitions import daily_partitions
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.validation import (
    COLUMN_DESCRIPTIONS,
    LANDING_PREFIX,
    SALES_SCHEMA,
    LandingFileError,
    LandingPathError,
    RowError,
    parse_landing_key,
    parse_store_file,
)
from lakehouse.config import docs_url
from lakehouse.io_manager import PARTITION_EXPR, table_schema
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
    key=["s3", "landing", "sales"],
    description=(
        "Where stores drop one CSV per store per day: "
        "`landing/sales/<YYYY-MM-DD>/<store_id>.csv`, header "
        "`order_id,order_ts,store_id,region,product_id,quantity,unit_price`. Not produced by "
        "Dagster; `sales_landing_sensor` notices new and corrected files."
    ),
    group_name="sources",
    owners=["team:stores"],
    kinds={"s3", "csv"},
    metadata={
        "prefix": LANDING_PREFIX,
        "layout": f"{LANDING_PREFIX}<YYYY-MM-DD>/<store_id>.csv",
        "rules": "order_ts ISO 8601 on the path's day (UTC); quantity >= 1; unit_price >= 0",
        "docs": docs_url("s3-landing-sales"),
    },
)


def _online_rows(online: pl.DataFrame) -> pl.DataFrame:
    return online.with_columns(
        pl.col("order_ts").dt.date().alias("order_date"),
        pl.lit(ONLINE_SOURCE).alias("source"),
    ).select(list(SALES_SCHEMA))


def _failure(day: date, errors: list[RowError], files: int, bad_files: int) -> dg.Failure:
    shown = "\n".join(f"- {e}" for e in errors)
    return dg.Failure(
        description=(
            f"sales_data {day.isoformat()}: {bad_files} of {files} landing file(s) rejected; "
            f"nothing was written for this day and the files were left where they are. Fix and "
            f"re-upload the file(s) to run the day again.\n{shown}"
        ),
        metadata={
            "errors": dg.MetadataValue.table(
                records=[
                    dg.TableRecord(
                        {
                            "file": e.key,
                            "row": e.row,
                            "column": e.column,
                            "expected": e.expected,
                            "got": e.got,
                        }
                    )
                    for e in errors
                ],
                schema=dg.TableSchema(
                    columns=[
                        dg.TableColumn("file", "string"),
                        dg.TableColumn("row", "int"),
                        dg.TableColumn("column", "string"),
                        dg.TableColumn("expected", "string"),
                        dg.TableColumn("got", "string"),
                    ]
                ),
            )
        },
        # A bad file stays bad on retry: fail once, clearly, and wait for a corrected upload.
        allow_retries=False,
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[source_sales_table, landing_area],
    io_manager_key="lake_io_manager",
    pool=SOURCE_DB_POOL,
    # Transient S3 or database errors (timeouts, restarts) are retried with backoff; bad
    # input raises a Failure that forbids retries.
    retry_policy=dg.RetryPolicy(
        max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
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
) -> pl.DataFrame:
    """Every order of one UTC day, from both channels, validated and deduplicated.

    Grain: one row per order_id. Sources: the web shop's `source.sales` rows whose order_ts
    falls on the day, plus every store file under `landing/sales/<day>/`. A malformed file
    fails the day (naming file, row and column) and writes nothing; other days are unaffected.
    Stored as parquet at `lake/sales_data/<day>.parquet`.
    """
    day = date.fromisoformat(context.partition_key)
    online = _online_rows(source_db.online_orders(day))

    frames = [online]
    errors: list[RowError] = []
    files_read: list[dg.TableRecord] = []
    listed = list(object_store.list_objects(f"{LANDING_PREFIX}{day.isoformat()}/"))
    bad_files = 0
    for info in listed:
        try:
            path = parse_landing_key(info.key)
            frame = parse_store_file(path, object_store.get(info.key))
        except LandingPathError as exc:
            bad_files += 1
            errors.append(RowError(info.key, 0, "(path)", "<YYYY-MM-DD>/<store_id>.csv", str(exc)))
            continue
        except LandingFileError as exc:
            bad_files += 1
            errors.extend(exc.errors)
            continue
        frames.append(frame)
        files_read.append(
            dg.TableRecord({"file": info.key, "etag": info.etag, "rows": frame.height})
        )
    if errors:
        raise _failure(day, errors, len(listed), bad_files)

    combined = pl.concat(frames, how="vertical")
    # The web shop's row wins over a store's copy of the same order; then files in key order.
    deduplicated = combined.unique(subset="order_id", keep="first", maintain_order=True).sort(
        "order_id"
    )
    rows_per_source = Counter(deduplicated["source"].to_list())
    first, last = deduplicated["order_ts"].min(), deduplicated["order_ts"].max()
    context.add_output_metadata(
        {
            "dagster/row_count": deduplicated.height,
            "dagster/column_schema": table_schema(deduplicated.schema, COLUMN_DESCRIPTIONS),
            "date_range": f"{first!s} … {last!s}" if deduplicated.height else "no orders",
            "rows_online": rows_per_source.get(ONLINE_SOURCE, 0),
            "rows_from_files": deduplicated.height - rows_per_source.get(ONLINE_SOURCE, 0),
            "rows_per_source": dict(sorted(rows_per_source.items())),
            "duplicates_dropped": combined.height - deduplicated.height,
            "files_read": dg.MetadataValue.table(
                records=files_read,
                schema=dg.TableSchema(
                    columns=[
                        dg.TableColumn("file", "string"),
                        dg.TableColumn("etag", "string"),
                        dg.TableColumn("rows", "int"),
                    ]
                ),
            ),
            "owner": OWNER,
            "docs": docs_url("sales_data"),
        }
    )
    context.log.info(
        f"sales_data {day}: {deduplicated.height} orders "
        f"({rows_per_source.get(ONLINE_SOURCE, 0)} online, {len(files_read)} store files, "
        f"{combined.height - deduplicated.height} duplicates dropped)"
    )
    return deduplicated
