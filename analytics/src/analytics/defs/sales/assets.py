"""Analytics' assets: daily and monthly sales summaries, built with polars from ``sales_data``.

``sales_data`` belongs to the ingestion location. Here it is only named, by key, with the same
partitions and the IO manager that reads it from the lake; the contract test holds both sides
to the same key, partitions and columns.
"""

from collections.abc import Sequence
from datetime import date, timedelta

import dagster as dg
import polars as pl

from analytics.defs.sales.partitions import daily_partitions, monthly_partitions
from lakehouse.automation import eager_any_day, handled_unless_deps_updated_meanwhile
from lakehouse.config import TRANSIENT_RETRY_POLICY, docs_url
from lakehouse.io_manager import ALLOW_MISSING_PARTITIONS, PARTITION_EXPR, table_schema

OWNER = "team:analytics"

# The columns of sales_data that analytics reads, with their types: the contract's other side.
# sales_data has one row per order line (store_id, order_id, product_id); an order is
# (store_id, order_id), since each store numbers its own orders.
SALES_DATA_COLUMNS: dict[str, pl.DataType] = {
    "store_id": pl.String(),
    "order_id": pl.String(),
    "order_date": pl.Date(),
    "region": pl.String(),
    "product_id": pl.String(),
    "quantity": pl.Int64(),
    "unit_price": pl.Decimal(12, 2),
}

sales_data = dg.AssetSpec(
    key="sales_data",
    partitions_def=daily_partitions,
    description="Owned by the ingestion location; read here from the lake by key.",
).with_io_manager_key("lake_io_manager")

# Revenue sums are decimal(38, 2): with the landing contract's bounds a line is below 1e16, so
# no realistic volume of lines can overflow them (decimal(18, 2) could, for one backfill run).
REVENUE = pl.Decimal(38, 2)

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "order_date": pl.Date(),
    "region": pl.String(),
    "product_id": pl.String(),
    "orders": pl.Int64(),
    "units": pl.Int64(),
    "revenue": REVENUE,
}
SUMMARY_DESCRIPTIONS = {
    "order_date": "UTC day; the partition.",
    "region": "Sales region.",
    "product_id": "Product SKU.",
    "orders": "Distinct orders (store_id, order_id) that include the product.",
    "units": "Units sold (sum of quantity).",
    "revenue": "Sum of quantity x unit_price.",
}

ROLLUP_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "region": pl.String(),
    "orders": pl.Int64(),
    "units": pl.Int64(),
    "revenue": REVENUE,
    "days_with_sales": pl.Int64(),
}
ROLLUP_DESCRIPTIONS = {
    "month": "First day of the calendar month (UTC); the partition.",
    "region": "Sales region.",
    "orders": "Orders in the month.",
    "units": "Units sold in the month.",
    "revenue": "Revenue in the month.",
    "days_with_sales": "Days of the month with at least one order in the region.",
}


def summarize(sales: pl.LazyFrame) -> pl.LazyFrame:
    """Per day, region and product: orders, units and revenue (lazy; any range of days)."""
    return (
        sales.group_by("order_date", "region", "product_id")
        .agg(
            pl.struct("store_id", "order_id").n_unique().cast(pl.Int64).alias("orders"),
            pl.col("quantity").sum().cast(pl.Int64).alias("units"),
            (pl.col("quantity").cast(REVENUE) * pl.col("unit_price").cast(REVENUE))
            .sum()
            .cast(REVENUE)
            .alias("revenue"),
        )
        .sort("order_date", "region", "product_id")
        .select(list(SUMMARY_SCHEMA))
    )


def rollup_months(summary: pl.LazyFrame) -> pl.LazyFrame:
    """Per calendar month and region, from the daily summary."""
    return (
        summary.with_columns(pl.col("order_date").dt.month_start().alias("month"))
        .group_by("month", "region")
        .agg(
            pl.col("orders").sum().cast(pl.Int64),
            pl.col("units").sum().cast(pl.Int64),
            pl.col("revenue").sum().cast(REVENUE),
            pl.col("order_date").n_unique().cast(pl.Int64).alias("days_with_sales"),
        )
        .sort("month", "region")
        .select(list(ROLLUP_SCHEMA))
    )


def _partition_metadata(frame: pl.DataFrame, date_range: str, docs: str) -> dict[str, object]:
    revenue = frame["revenue"].sum() if frame.height else 0
    return {
        "dagster/row_count": frame.height,
        "total_revenue": dg.MetadataValue.float(float(revenue or 0)),
        "total_units": int(frame["units"].sum() or 0) if frame.height else 0,
        "date_range": date_range,
        "owner": OWNER,
        "docs": docs_url(docs),
    }


def _days(keys: Sequence[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{keys[0]} … {keys[-1]} ({len(keys)} days)"


# Materialize a day whenever its sales_data lands, for any day (late ones too, not just the
# latest window), but never while a blocking check on that day's sales_data has failed.
# eager_any_day: eager() with the shared workaround for a forgotten update
# (lakehouse.automation, dagster-io/dagster#33587).
sales_summary_condition = (
    eager_any_day() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager_any_day_once_upstream_checks_pass")


@dg.asset(
    partitions_def=daily_partitions,
    ins={"sales_data": dg.AssetIn(key=sales_data.key)},
    io_manager_key="lake_io_manager",
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=sales_summary_condition,
    # It reads and writes the lake: an S3 outage is retried, not a lost day (automation does not
    # request a day again after a failed run).
    retry_policy=TRANSIENT_RETRY_POLICY,
    group_name="analytics",
    owners=[OWNER],
    kinds={"polars", "parquet"},
    metadata={
        PARTITION_EXPR: "order_date",
        "dagster/column_schema": table_schema(pl.Schema(SUMMARY_SCHEMA), SUMMARY_DESCRIPTIONS),
        "docs": docs_url("sales_summary"),
    },
)
def sales_summary(context: dg.AssetExecutionContext, sales_data: pl.LazyFrame) -> pl.DataFrame:
    """Daily sales per region and product: orders, units, revenue.

    Grain: one row per (order_date, region, product_id). Source: sales_data (ingestion) for the
    same days. A backfill of any range is one run: polars scans every day's parquet in one lazy
    pass and the lake IO manager writes one object per day.
    """
    keys = context.partition_keys
    summary = summarize(sales_data.select(list(SALES_DATA_COLUMNS))).collect()
    by_day = {
        str(part["order_date"][0]): part
        for part in summary.partition_by("order_date", maintain_order=True)
    }
    empty = summary.clear()
    for key in keys:
        day_frame = by_day.get(key, empty)
        context.add_asset_metadata(
            _partition_metadata(day_frame, key, "sales_summary"), partition_key=key
        )
    total = float(summary["revenue"].sum() or 0) if summary.height else 0.0
    context.log.info(f"sales_summary {_days(keys)}: {summary.height} rows, revenue {total:,.2f}")
    return summary


@dg.asset(
    partitions_def=monthly_partitions,
    ins={
        "sales_summary": dg.AssetIn(
            key=sales_summary.key,
            # A month reads whichever of its days exist: the current month is month-to-date and
            # days before the first data simply have no rows.
            partition_mapping=dg.TimeWindowPartitionMapping(
                allow_nonexistent_upstream_partitions=True
            ),
            metadata={ALLOW_MISSING_PARTITIONS: True},
        )
    },
    io_manager_key="lake_io_manager",
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=TRANSIENT_RETRY_POLICY,
    automation_condition=(
        dg.AutomationCondition.eager()
        .without(~dg.AutomationCondition.any_deps_missing())
        .replace(
            "in_latest_time_window",
            dg.AutomationCondition.in_latest_time_window(lookback_delta=timedelta(days=62)),
        )
        .replace("handled", handled_unless_deps_updated_meanwhile)
        .with_label("eager_recent_months_with_partial_days")
    ),
    group_name="analytics",
    owners=[OWNER],
    kinds={"polars", "parquet"},
    metadata={
        PARTITION_EXPR: "month",
        "dagster/column_schema": table_schema(pl.Schema(ROLLUP_SCHEMA), ROLLUP_DESCRIPTIONS),
        "docs": docs_url("sales_monthly_rollup"),
    },
)
def sales_monthly_rollup(
    context: dg.AssetExecutionContext, sales_summary: pl.LazyFrame
) -> pl.DataFrame:
    """Monthly sales per region, rolled up from the daily sales_summary.

    Grain: one row per (month, region). Partition mapping: a monthly partition reads all the
    daily partitions of its month; the current month is a partition too (month to date) and
    is refreshed as its days land.
    """
    rollup = rollup_months(sales_summary).collect()
    for key in context.partition_keys:
        month = rollup.filter(pl.col("month") == date.fromisoformat(key))
        context.add_asset_metadata(
            _partition_metadata(month, key[:7], "sales_monthly_rollup"), partition_key=key
        )
    return rollup
