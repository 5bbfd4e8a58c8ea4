"""Each rule of the landing contract, and the error that names file, row and column."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ingestion.defs.sales.validation import (
    SALES_SCHEMA,
    LandingFileError,
    LandingPath,
    LandingPathError,
    parse_landing_key,
    parse_store_file,
)

KEY = "landing/sales/2024-03-01/store_007.csv"
PATH = LandingPath(key=KEY, day=date(2024, 3, 1), store_id="store_007")
HEADER = "order_id,order_ts,store_id,region,product_id,quantity,unit_price\n"
GOOD = "s7-1,2024-03-01T10:00:00+00:00,store_007,north,sku-1,2,9.99\n"


def _file(*rows: str) -> bytes:
    return (HEADER + "".join(rows)).encode()


def _error(data: bytes) -> LandingFileError:
    with pytest.raises(LandingFileError) as caught:
        parse_store_file(PATH, data)
    return caught.value


def test_valid_file_becomes_rows_in_the_lake_schema() -> None:
    frame = parse_store_file(
        PATH, _file(GOOD, "s7-2,2024-03-01T23:59:59Z,store_007,north,sku-2,1,0\n")
    )
    assert dict(frame.schema) == SALES_SCHEMA
    assert frame["order_id"].to_list() == ["s7-1", "s7-2"]
    assert frame["order_ts"][1] == datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC)
    assert frame["unit_price"].to_list() == [Decimal("9.99"), Decimal("0.00")]
    assert frame["source"].unique().to_list() == [KEY]


def test_offsets_are_converted_to_utc_and_naive_times_taken_as_utc() -> None:
    frame = parse_store_file(
        PATH,
        _file(
            "a,2024-03-01T10:30:00+02:00,store_007,north,sku-1,1,1\n",
            "b,2024-03-01T10:30:00,store_007,north,sku-1,1,1\n",
        ),
    )
    assert [t.hour for t in frame["order_ts"]] == [8, 10]


@pytest.mark.parametrize(
    ("row", "column", "expected"),
    [
        (",2024-03-01T10:00:00Z,store_007,north,sku-1,1,1", "order_id", "non-empty order id"),
        ("x,yesterday,store_007,north,sku-1,1,1", "order_ts", "ISO 8601"),
        ("x,2024-03-02T00:00:00Z,store_007,north,sku-1,1,1", "order_ts", "a time on 2024-03-01"),
        ("x,2024-03-01T10:00:00Z,store_008,north,sku-1,1,1", "store_id", "'store_007'"),
        ("x,2024-03-01T10:00:00Z,store_007,,sku-1,1,1", "region", "non-empty region"),
        ("x,2024-03-01T10:00:00Z,store_007,north, ,1,1", "product_id", "non-empty product"),
        ("x,2024-03-01T10:00:00Z,store_007,north,sku-1,0,1", "quantity", "integer >= 1"),
        ("x,2024-03-01T10:00:00Z,store_007,north,sku-1,1.5,1", "quantity", "integer >= 1"),
        ("x,2024-03-01T10:00:00Z,store_007,north,sku-1,2,-1", "unit_price", "number >= 0"),
        ("x,2024-03-01T10:00:00Z,store_007,north,sku-1,2,1.001", "unit_price", "2 decimals"),
        ("x,2024-03-01T10:00:00Z,store_007,north,sku-1,2,abc", "unit_price", "number >= 0"),
    ],
)
def test_each_rule_names_file_row_and_column(row: str, column: str, expected: str) -> None:
    error = _error(_file(GOOD, GOOD.replace("s7-1", "s7-2"), row + "\n"))
    assert len(error.errors) == 1
    found = error.errors[0]
    assert (found.key, found.row, found.column) == (KEY, 3, column)
    assert expected in found.expected
    message = str(error)
    assert message.startswith(f"{KEY}, row 3 (line 4), column {column}: expected")


def test_wrong_field_count_is_reported_for_the_row() -> None:
    error = _error(_file(GOOD, "x,2024-03-01T10:00:00Z,store_007,north\n"))
    assert str(error.errors[0]) == (
        f"{KEY}, row 2 (line 3), column (row): expected 7 fields, got 4 fields"
    )


def test_wrong_header_is_reported() -> None:
    error = _error(b"id,ts,store,region,product,qty,price\n" + GOOD.encode())
    assert error.errors[0].column == "(header)"
    assert "order_id,order_ts" in str(error)


def test_every_bad_field_is_listed_up_to_a_limit() -> None:
    rows = [f"x{n},2024-03-01T10:00:00Z,store_007,north,sku-1,0,-1\n" for n in range(30)]
    error = _error(_file(*rows))
    assert len(error.errors) == 20 and error.truncated
    assert {e.column for e in error.errors} == {"quantity", "unit_price"}


def test_non_utf8_file_is_rejected() -> None:
    assert _error(HEADER.encode() + b"\xff\xfe\n").errors[0].expected == "UTF-8 text"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("landing/sales/2024-13-01/store_001.csv", "not a date"),
        ("landing/sales/20240301/store_001.csv", "not a date"),
        ("landing/sales/2024-03-01/store 001.txt", "<store_id>.csv"),
        ("landing/sales/2024-03-01/extra/store_001.csv", "expected landing/sales/"),
        ("landing/other/2024-03-01/store_001.csv", "not under landing/sales/"),
    ],
)
def test_unmappable_keys_are_refused_with_a_reason(key: str, reason: str) -> None:
    with pytest.raises(LandingPathError, match=reason):
        parse_landing_key(key)


def test_landing_key_maps_to_day_and_store() -> None:
    assert parse_landing_key(KEY) == PATH
