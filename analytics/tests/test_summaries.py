"""Summary logic (unit) and materializations over a range in one run (component)."""

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import polars as pl
import pytest

from analytics.defs.sales.assets import (
    SALES_DATA_COLUMNS,
    SUMMARY_SCHEMA,
    rollup_months,
    sales_data,
    sales_monthly_rollup,
    sales_summary,
    summarize,
)
from analytics.defs.sales.checks import (
    check_rollup_matches_daily,
    check_summary_reconciles_with_sales_data,
    check_summary_values_valid,
    reconcile,
    rollup_mismatches,
)
from analytics.defs.sales.schedules import daily_sales_schedule
from lakehouse.config import TRANSIENT_RETRY_POLICY, lake_resources
from lakehouse.io_manager import LakeIOManager
from lakehouse.seed import SeedConfig
from lakehouse.storage import ObjectStore

D1, D2 = date(2024, 3, 1), date(2024, 3, 2)
Landing = Callable[..., dict[str, pl.DataFrame]]  # (store, config, prefix=the lake's)


def _sales(*rows: tuple[str, date, str, str, int, str], store: str = "store_001") -> pl.LazyFrame:
    records = [
        {
            "store_id": store,
            "order_id": o,
            "order_date": d,
            "region": r,
            "product_id": p,
            "quantity": q,
            "unit_price": Decimal(u),
        }
        for o, d, r, p, q, u in rows
    ]
    return pl.DataFrame(records, schema=SALES_DATA_COLUMNS).lazy()


SALES = _sales(
    ("a", D1, "north", "sku-1", 2, "1.50"),
    ("b", D1, "north", "sku-1", 1, "1.50"),
    ("c", D1, "south", "sku-2", 3, "10.00"),
    ("d", D2, "north", "sku-1", 1, "2.25"),
)


def test_summary_counts_orders_units_and_revenue_per_day_region_product() -> None:
    out = summarize(SALES).collect()
    assert dict(out.schema) == SUMMARY_SCHEMA
    assert out.rows() == [
        (D1, "north", "sku-1", 2, 3, Decimal("4.50")),
        (D1, "south", "sku-2", 1, 3, Decimal("30.00")),
        (D2, "north", "sku-1", 1, 1, Decimal("2.25")),
    ]


def test_an_order_is_a_store_and_an_id_and_may_hold_several_products() -> None:
    # Order 1001 with two products at one store, and another store's own order 1001.
    lines = pl.concat(
        [
            _sales(
                ("1001", D1, "north", "sku-1", 2, "10.00"),
                ("1001", D1, "north", "sku-2", 1, "199.00"),
            ),
            _sales(("1001", D1, "north", "sku-1", 1, "5.00"), store="store_002"),
        ]
    )
    out = summarize(lines).collect()
    assert out.select("product_id", "orders", "units", "revenue").rows() == [
        ("sku-1", 2, 3, Decimal("25.00")),
        ("sku-2", 1, 1, Decimal("199.00")),
    ]
    assert out["revenue"].sum() == Decimal("224.00")


def test_sums_at_the_contracts_bounds_do_not_overflow() -> None:
    # 200,000 lines at the largest quantity and price the landing contract admits.
    lines = (
        _sales(("x", D1, "north", "sku-1", 1_000_000, "9999999999.99"))
        .collect()
        .sample(200_000, with_replacement=True)
        .lazy()
    )
    out = summarize(lines).collect()
    assert out["revenue"][0] == Decimal("1999999999998000000000.00")
    assert rollup_months(summarize(lines)).collect()["revenue"][0] == out["revenue"][0]


def test_rollup_sums_days_into_months() -> None:
    out = rollup_months(summarize(SALES)).collect()
    assert out.rows() == [
        (date(2024, 3, 1), "north", 3, 4, Decimal("6.75"), 2),
        (date(2024, 3, 1), "south", 1, 3, Decimal("30.00"), 1),
    ]


def test_reconcile_finds_the_day_that_disagrees() -> None:
    summary = summarize(SALES).collect()
    assert reconcile(summary, SALES).height == 0
    tampered = summary.with_columns(
        pl.when(pl.col("order_date") == D2)
        .then(pl.col("units") + 1)
        .otherwise(pl.col("units"))
        .alias("units")
    )
    assert reconcile(tampered, SALES)["order_date"].to_list() == [D2]
    assert reconcile(summary.filter(pl.col("order_date") == D1), SALES)["order_date"].to_list() == [
        D2
    ]


def test_rollup_mismatch_names_the_month_and_region_that_changed() -> None:
    summary = summarize(SALES)
    rollup = rollup_months(summary).collect()
    assert rollup_mismatches(rollup, summary).height == 0
    later = summary.with_columns(
        pl.when(pl.col("region") == "south")
        .then(pl.col("units") + 1)
        .otherwise(pl.col("units"))
        .alias("units")
    )
    assert rollup_mismatches(rollup, later).select("month", "region").rows() == [
        (date(2024, 3, 1), "south")
    ]


@pytest.mark.parametrize("hour", [1, 13])
def test_both_schedule_ticks_target_the_previous_utc_day(
    hour: int, instance: dg.DagsterInstance
) -> None:
    tick = datetime(2024, 3, 5, hour, tzinfo=UTC)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="sales_data", partition="2024-03-04")
    )
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
    request = daily_sales_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-03-04"
    assert daily_sales_schedule.cron_schedule == "0 1,13 * * *"
    assert daily_sales_schedule.execution_timezone == "UTC"


def test_the_schedule_skips_a_day_sales_data_does_not_hold(instance: dg.DagsterInstance) -> None:
    # sales_data publishes a day only when its blocking checks pass: no materialization means
    # the day failed them (or never ran), and there is nothing to build from.
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="sales_data", partition="2024-05-09")
    )
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2024, 5, 11, 1, tzinfo=UTC)
    )
    skipped = daily_sales_schedule(context)
    assert isinstance(skipped, dg.SkipReason)
    assert "sales_data 2024-05-10 is not in the lake" in (skipped.skip_message or "")


CONFIG = SeedConfig(
    start=date(2024, 3, 1), end=date(2024, 3, 3), stores=2, orders_per_store=30, online_orders=20
)
ALL = [
    sales_data,
    sales_summary,
    sales_monthly_rollup,
    check_summary_reconciles_with_sales_data,
    check_summary_values_valid,
    check_rollup_matches_daily,
]


def _range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.mark.component
def test_a_three_day_range_is_one_run_with_per_day_metadata(
    s3_store: ObjectStore, land_sales_data: Landing
) -> None:
    frames = land_sales_data(s3_store, CONFIG)
    result = dg.materialize(
        ALL,
        selection=[sales_summary],
        resources=lake_resources(s3_store),
        tags=_range_tags("2024-03-01", "2024-03-03"),
    )
    assert result.success
    materializations = result.asset_materializations_for_node("sales_summary")
    assert sorted(m.partition for m in materializations) == [  # type: ignore[type-var]
        "2024-03-01",
        "2024-03-02",
        "2024-03-03",
    ]
    for m in materializations:
        expected = summarize(frames[str(m.partition)].lazy()).collect()
        stored = pl.read_parquet(
            io.BytesIO(s3_store.get(f"lake/sales_summary/{m.partition}.parquet"))
        )
        assert stored.equals(expected)
        assert m.metadata["dagster/row_count"].value == expected.height
        revenue = m.metadata["total_revenue"].value
        assert isinstance(revenue, float)
        assert revenue == pytest.approx(float(expected["revenue"].sum()))
    revenues = {m.metadata["total_revenue"].value for m in materializations}
    assert len(revenues) == 3  # each day's own figure, not the range's
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "check_summary_reconciles_with_sales_data": True,
        "check_summary_values_valid": True,
    }


@pytest.mark.component
def test_month_to_date_rollup_reads_only_the_days_that_exist(
    s3_store: ObjectStore, land_sales_data: Landing
) -> None:
    land_sales_data(s3_store, CONFIG)
    resources = lake_resources(s3_store)
    assert dg.materialize(
        ALL,
        selection=[sales_summary],
        resources=resources,
        tags=_range_tags("2024-03-01", "2024-03-03"),
    ).success
    result = dg.materialize(
        ALL, selection=[sales_monthly_rollup], partition_key="2024-03-01", resources=resources
    )
    assert result.success
    rollup = pl.read_parquet(
        io.BytesIO(s3_store.get("lake/sales_monthly_rollup/2024-03-01.parquet"))
    )
    assert set(rollup["days_with_sales"].to_list()) <= {1, 2, 3}
    assert rollup["month"].unique().to_list() == [date(2024, 3, 1)]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"check_rollup_matches_daily": True}


@pytest.mark.component
def test_the_rollup_check_reads_the_days_where_the_io_manager_keeps_them(
    s3_store: ObjectStore, land_sales_data: Landing
) -> None:
    # A lake under another prefix (a second environment sharing the bucket, say): the check
    # must list the month's days through the configured IO manager, not at the default prefix.
    prefix = "lake-staging"
    land_sales_data(s3_store, CONFIG, prefix=prefix)
    resources = {
        "object_store": s3_store,
        "lake_io_manager": LakeIOManager(store=s3_store, prefix=prefix),
    }
    assert dg.materialize(
        ALL,
        selection=[sales_summary],
        resources=resources,
        tags=_range_tags("2024-03-01", "2024-03-03"),
    ).success
    result = dg.materialize(
        ALL, selection=[sales_monthly_rollup], partition_key="2024-03-01", resources=resources
    )
    assert result.success
    assert s3_store.exists(f"{prefix}/sales_monthly_rollup/2024-03-01.parquet")
    assert not list(s3_store.list_objects("lake/"))
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "check_rollup_matches_daily"
    assert evaluation.passed, evaluation.metadata


@pytest.mark.component
def test_summary_for_a_day_that_never_landed_fails_clearly(s3_store: ObjectStore) -> None:
    result = dg.materialize(
        ALL,
        selection=[sales_summary],
        partition_key="2024-04-01",
        resources=lake_resources(s3_store),
        raise_on_error=False,
    )
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None and "sales_data has not been materialized" in error.message


def test_both_assets_retry_transient_errors_of_the_lake() -> None:
    # An S3 outage during a run must not lose the day: automation does not request it again.
    assert sales_summary.op.retry_policy == TRANSIENT_RETRY_POLICY
    assert sales_monthly_rollup.op.retry_policy == TRANSIENT_RETRY_POLICY
