"""The blocking checks on sales_data, on days with and without each defect."""

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from ingestion.defs.sales.checks import SALES_DATA_CHECKS, evaluate_sales_data
from ingestion.defs.sales.validation import SALES_SCHEMA

TS = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _row(
    order_id: str | None = "a",
    quantity: int | None = 1,
    price: str | None = "1.00",
    region: str | None = "north",
    store_id: str = "online",
    product_id: str = "sku-1",
) -> tuple[object, ...]:
    return (
        order_id,
        TS,
        date(2024, 3, 1),
        store_id,
        region,
        product_id,
        quantity,
        None if price is None else Decimal(price),
        TS,
        "postgres:source.sales",
    )


def _results(*rows: tuple[object, ...]) -> dict[str, tuple[bool, int]]:
    frame = pl.DataFrame(list(rows), schema=SALES_SCHEMA, orient="row").lazy()
    return {o.name: (o.passed, o.failing) for o in evaluate_sales_data(frame)}


def test_clean_day_passes_every_check() -> None:
    assert _results(_row("a"), _row("b")) == {
        "check_order_line_unique": (True, 0),
        "check_keys_not_null": (True, 0),
        "check_quantity_in_range": (True, 0),
        "check_unit_price_in_range": (True, 0),
    }


def test_the_checks_are_the_declared_blocking_specs() -> None:
    assert {spec.name for spec in SALES_DATA_CHECKS} == set(_results(_row()))
    assert all(spec.blocking for spec in SALES_DATA_CHECKS)


def test_the_same_order_id_in_two_stores_or_for_two_products_is_no_duplicate() -> None:
    results = _results(
        _row("1001", store_id="store_001"),
        _row("1001", store_id="store_002"),
        _row("1001", store_id="store_001", product_id="sku-2"),
    )
    assert results["check_order_line_unique"] == (True, 0)


@pytest.mark.parametrize(
    ("rows", "failing"),
    [
        ((_row("a"), _row("a")), ("check_order_line_unique", 2)),
        ((_row("a"), _row("b", region=None)), ("check_keys_not_null", 1)),
        ((_row("a", quantity=0), _row("b")), ("check_quantity_in_range", 1)),
        ((_row("a", quantity=-5), _row("b")), ("check_quantity_in_range", 1)),
        ((_row("a", quantity=2_000_000_000), _row("b")), ("check_quantity_in_range", 1)),
        ((_row("a", quantity=None), _row("b")), ("check_quantity_in_range", 1)),
        ((_row("a", price="-0.01"), _row("b")), ("check_unit_price_in_range", 1)),
        ((_row("a", price=None), _row("b")), ("check_unit_price_in_range", 1)),
    ],
)
def test_each_defect_fails_exactly_its_check(rows: tuple, failing: tuple[str, int]) -> None:  # type: ignore[type-arg]
    results = _results(*rows)
    failed = {name: count for name, (passed, count) in results.items() if not passed}
    assert failed == dict([failing])


def test_a_failure_names_the_orders() -> None:
    frame = pl.DataFrame(
        [_row("a", quantity=-5), _row("b")], schema=SALES_SCHEMA, orient="row"
    ).lazy()
    outcome = next(o for o in evaluate_sales_data(frame) if not o.passed)
    assert str(outcome) == (
        "check_quantity_in_range: 1 of 2 rows have a quantity outside 1 … 1,000,000 (order ids: a)"
    )
    result = outcome.result()
    assert not result.passed and result.metadata["failing_rows"].value == 1  # type: ignore[union-attr]


def test_empty_day_passes() -> None:
    assert all(passed for passed, _ in _results().values())
