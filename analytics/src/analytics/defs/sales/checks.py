"""Checks on analytics' assets, evaluated over the partitions a run materialized.

Partitioned like their assets, so a check reads only the days (or month) of its run. An
unpartitioned check on a partitioned asset would load every partition since 2024-01-01.
"""

import dagster as dg
import polars as pl

from analytics.defs.sales.assets import (
    SALES_DATA_COLUMNS,
    SUMMARY_SCHEMA,
    rollup_months,
    sales_data,
    sales_monthly_rollup,
    sales_summary,
    summarize,
)
from analytics.defs.sales.partitions import daily_partitions, monthly_partitions
from lakehouse.io_manager import LakeIOManager

TOTALS = ("orders", "units", "revenue")


def reconcile(summary: pl.DataFrame, sales: pl.LazyFrame) -> pl.DataFrame:
    """Days whose totals differ between sales_summary and a fresh aggregate of sales_data."""
    expected = (
        summarize(sales.select(list(SALES_DATA_COLUMNS)))
        .group_by("order_date")
        .agg(pl.col(c).sum() for c in TOTALS)
        .collect()
    )
    actual = summary.group_by("order_date").agg(pl.col(c).sum() for c in TOTALS)
    joined = expected.join(actual, on="order_date", how="full", suffix="_summary", coalesce=True)
    differs = pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_summary")) for c in TOTALS)
    return joined.filter(differs).sort("order_date")


@dg.asset_check(
    asset=sales_summary,
    additional_ins={"sales_data": dg.AssetIn(key=sales_data.key)},
    partitions_def=daily_partitions,
    blocking=True,
    description=(
        "Orders, units and revenue per day in sales_summary equal those recomputed from "
        "sales_data for the same days. A failure means the summary is stale or wrong: rerun "
        "the day(s) listed in the metadata."
    ),
)
def check_summary_reconciles_with_sales_data(
    sales_summary: pl.DataFrame, sales_data: pl.LazyFrame
) -> dg.AssetCheckResult:
    mismatched = reconcile(sales_summary, sales_data)
    return dg.AssetCheckResult(
        passed=mismatched.height == 0,
        description=None
        if mismatched.height == 0
        else f"{mismatched.height} day(s) disagree with sales_data",
        metadata={
            "days_checked": sales_summary["order_date"].n_unique(),
            "days_mismatched": dg.MetadataValue.json(
                [str(d) for d in mismatched["order_date"].to_list()]
            ),
        },
    )


def _invalid_summary_rows(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.filter(
        pl.any_horizontal(pl.col(c).is_null() for c in summary.columns)
        | (pl.col("revenue") < 0)
        | (pl.col("orders") < 1)
        | (pl.col("units") < pl.col("orders"))
    )


@dg.asset_check(
    asset=sales_summary,
    partitions_def=daily_partitions,
    description=(
        "Every row has all its columns, revenue >= 0, at least one order, and at least as many "
        "units as orders."
    ),
)
def check_summary_values_valid(sales_summary: pl.DataFrame) -> dg.AssetCheckResult:
    bad = _invalid_summary_rows(sales_summary)
    return dg.AssetCheckResult(
        passed=bad.height == 0,
        metadata={"failing_rows": bad.height, "rows_checked": sales_summary.height},
    )


def rollup_mismatches(rollup: pl.DataFrame, summary: pl.LazyFrame) -> pl.DataFrame:
    """(month, region) rows whose totals differ from a fresh rollup of the daily summary."""
    expected = rollup_months(summary).collect()
    joined = expected.join(
        rollup, on=["month", "region"], how="full", suffix="_rollup", coalesce=True
    )
    return joined.filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_rollup")) for c in TOTALS)
    ).sort("month", "region")


@dg.asset_check(
    asset=sales_monthly_rollup,
    partitions_def=monthly_partitions,
    additional_deps=[sales_summary],
    description=(
        "Each month's orders, units and revenue per region equal the sum of its days in "
        "sales_summary. A failure means a day changed after the month was rolled up."
    ),
)
def check_rollup_matches_daily(
    context: dg.AssetCheckExecutionContext,
    sales_monthly_rollup: pl.DataFrame,
    lake_io_manager: dg.ResourceParam[LakeIOManager],
) -> dg.AssetCheckResult:
    # The month's days are read as they are stored (month to date for the current month):
    # a partition mapping here would also ask for the month's future days, which do not exist.
    # They are listed by the IO manager that wrote them, so its configured prefix is honoured.
    months = context.op_execution_context.partition_keys
    days = [
        frame
        for month in months
        if (frame := lake_io_manager.scan_stored_partitions(sales_summary.key, month[:8]))
        is not None
    ]
    summary = pl.concat(days) if days else pl.LazyFrame(schema=SUMMARY_SCHEMA)
    differs = rollup_mismatches(sales_monthly_rollup, summary)
    return dg.AssetCheckResult(
        passed=differs.height == 0,
        metadata={
            "rows_checked": sales_monthly_rollup.height,
            "months_checked": len(months),
            "mismatched": dg.MetadataValue.json(
                [f"{r['month']} {r['region']}" for r in differs.iter_rows(named=True)]
            ),
        },
    )
