"""The blocking checks on sales_data, on frames with and without each defect."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ingestion.defs.sales.checks import evaluate_sales_data
from ingestion.defs.sales.validation import frame_from_rows

TS = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _row(
    order_id: str | None = "a",
    quantity: int | None = 1,
    price: str | None = "1.00",
    region: str | None = "north",
) -> tuple[object, ...]:
    return (
        order_id,
        TS,
        date(2024, 3, 1),
        "online",
        region,
        "sku-1",
        quantity,
        None if price is None else Decimal(price),
        TS,
        "postgres:source.sales",
    )


def _results(*rows: tuple[object, ...]) -> dict[str, tuple[bool, int]]:
    return {
        r.check_name: (r.passed, r.metadata["failing_rows"].value)  # type: ignore[union-attr]
        for r in evaluate_sales_data(frame_from_rows(rows))
        if r.check_name
    }


def test_clean_day_passes_every_check() -> None:
    assert _results(_row("a"), _row("b")) == {
        "check_order_id_unique": (True, 0),
        "check_keys_not_null": (True, 0),
        "check_quantity_positive": (True, 0),
        "check_unit_price_non_negative": (True, 0),
    }


@pytest.mark.parametrize(
    ("rows", "failing"),
    [
        ((_row("a"), _row("a")), ("check_order_id_unique", 2)),
        ((_row("a"), _row("b", region=None)), ("check_keys_not_null", 1)),
        ((_row("a", quantity=0), _row("b")), ("check_quantity_positive", 1)),
        ((_row("a", quantity=None), _row("b")), ("check_quantity_positive", 1)),
        ((_row("a", price="-0.01"), _row("b")), ("check_unit_price_non_negative", 1)),
        ((_row("a", price=None), _row("b")), ("check_unit_price_non_negative", 1)),
    ],
)
def test_each_defect_fails_exactly_its_check(rows: tuple, failing: tuple[str, int]) -> None:  # type: ignore[type-arg]
    results = _results(*rows)
    failed = {name: count for name, (passed, count) in results.items() if not passed}
    assert failed == dict([failing])


def test_empty_day_passes() -> None:
    assert all(passed for passed, _ in _results().values())
