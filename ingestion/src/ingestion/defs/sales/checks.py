"""Blocking quality checks on ``sales_data``, one result per day.

Blocking: within a run a failure stops anything downstream; across the location boundary,
analytics' automation waits on them (``all_deps_blocking_checks_passed``), so a bad day never
reaches ``sales_summary``. Store files are validated on the way in, but the web shop's table has
no such constraints, so these checks are the gate for its rows.
"""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from ingestion.defs.sales.partitions import daily_partitions

KEY_COLUMNS = ("order_id", "order_ts", "order_date", "store_id", "region", "product_id")
SAMPLE_SIZE = 10


def _spec(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=name,
        asset="sales_data",
        description=description,
        blocking=True,
        partitions_def=daily_partitions,
    )


SALES_DATA_CHECKS = [
    _spec(
        "check_order_id_unique",
        "Each order_id appears once in the day. A failure means deduplication broke: "
        "downstream revenue would double count.",
    ),
    _spec(
        "check_keys_not_null",
        f"No empty key column ({', '.join(KEY_COLUMNS)}). A failure usually means the web "
        "shop wrote incomplete rows.",
    ),
    _spec(
        "check_quantity_positive",
        "quantity >= 1 on every row. A failure usually means a refund or a test order in the "
        "web shop's table.",
    ),
    _spec(
        "check_unit_price_non_negative",
        "unit_price >= 0 on every row (and present). A failure usually means a pricing error "
        "in the web shop.",
    ),
]


def _result(name: str, bad: pl.DataFrame, what: str, total: int) -> dg.AssetCheckResult:
    sample = bad["order_id"].head(SAMPLE_SIZE).to_list() if "order_id" in bad.columns else []
    return dg.AssetCheckResult(
        check_name=name,
        passed=bad.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if bad.height == 0 else f"{bad.height} of {total} rows {what}",
        metadata={
            "failing_rows": bad.height,
            "rows_checked": total,
            "sample_order_ids": dg.MetadataValue.json(sample),
        },
    )


def evaluate_sales_data(frame: pl.DataFrame) -> Iterator[dg.AssetCheckResult]:
    """The four checks over one day's frame (pure, so unit tests call it directly)."""
    total = frame.height
    duplicated = frame.filter(pl.col("order_id").is_duplicated())
    yield _result("check_order_id_unique", duplicated, "share an order_id", total)
    null_keys = frame.filter(pl.any_horizontal(pl.col(c).is_null() for c in KEY_COLUMNS))
    yield _result("check_keys_not_null", null_keys, "have an empty key column", total)
    bad_quantity = frame.filter(pl.col("quantity").is_null() | (pl.col("quantity") < 1))
    yield _result("check_quantity_positive", bad_quantity, "have quantity < 1", total)
    bad_price = frame.filter(pl.col("unit_price").is_null() | (pl.col("unit_price") < 0))
    yield _result("check_unit_price_non_negative", bad_price, "have unit_price < 0", total)


@dg.multi_asset_check(
    specs=SALES_DATA_CHECKS,
    ins={"sales_data": dg.AssetIn(key="sales_data")},
    description="Reads the day's parquet once and evaluates the four blocking checks.",
)
def sales_data_checks(sales_data: pl.DataFrame) -> Iterator[dg.AssetCheckResult]:
    yield from evaluate_sales_data(sales_data)
