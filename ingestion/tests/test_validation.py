"""Each rule of the landing contract, and the error that names file, row and column.

Hostile values (huge numbers, other digit scripts, exponents, huge fields, bad bytes) must all
become row errors; nothing may escape as another exception, which the asset would retry.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ingestion.defs.sales.validation import (
    MAX_ERRORS_PER_FILE,
    SALES_SCHEMA,
    LandingFileError,
    parse_store_file,
    validate_store_file,
)
from lakehouse.landing import MAX_QUANTITY, LandingPath

# Literal on purpose, as a store would write them: derived from lakehouse.landing, these tests
# would follow an accidental change to the contract instead of failing on it.
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


def _row(**fields: str) -> str:
    values = {
        "order_id": "x",
        "order_ts": "2024-03-01T10:00:00Z",
        "store_id": "store_007",
        "region": "north",
        "product_id": "sku-1",
        "quantity": "1",
        "unit_price": "1",
        **fields,
    }
    return ",".join(values.values()) + "\n"


def test_valid_file_becomes_rows_in_the_lake_schema() -> None:
    frame = parse_store_file(
        PATH, _file(GOOD, "s7-2,2024-03-01T23:59:59Z,store_007,north,sku-2,1,0\n")
    )
    assert dict(frame.schema) == SALES_SCHEMA
    assert frame["order_id"].to_list() == ["s7-1", "s7-2"]
    assert frame["order_ts"][1] == datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC)
    assert frame["order_date"].to_list() == [date(2024, 3, 1)] * 2
    assert frame["unit_price"].to_list() == [Decimal("9.99"), Decimal("0.00")]
    assert frame["source"].unique().to_list() == [KEY]


def test_a_local_file_validates_like_its_bytes(tmp_path: Path) -> None:
    source = tmp_path / "store_007.csv"
    source.write_bytes(_file(GOOD))
    assert validate_store_file(PATH, source).collect().equals(parse_store_file(PATH, _file(GOOD)))


@pytest.mark.parametrize(
    ("text", "hour"),
    [
        ("2024-03-01T10:30:00+02:00", 8),
        ("2024-03-01T10:30:00+0200", 8),
        ("2024-03-01T10:30:00", 10),  # no offset: UTC, the stores' documented convention
        ("2024-03-01 10:30:00Z", 10),
        ("2024-03-01T10:30", 10),
        ("2024-03-01T10:30:00.123456789Z", 10),
    ],
)
def test_iso_timestamps_are_converted_to_utc(text: str, hour: int) -> None:
    frame = parse_store_file(PATH, _file(_row(order_ts=text)))
    assert frame["order_ts"][0].hour == hour


def test_one_order_may_hold_several_products_and_stores_share_ids() -> None:
    # Order 1001 with two products: two lines, both kept (the grain is the order line).
    frame = parse_store_file(
        PATH,
        _file(_row(order_id="1001", product_id="sku-1"), _row(order_id="1001", product_id="sku-2")),
    )
    assert frame.height == 2


@pytest.mark.parametrize(
    ("fields", "column", "expected"),
    [
        ({"order_id": ""}, "order_id", "an id of 1-64"),
        ({"order_id": "a b"}, "order_id", "an id of 1-64"),
        ({"order_id": "x" * 65}, "order_id", "an id of 1-64"),
        ({"order_ts": "yesterday"}, "order_ts", "ISO 8601"),
        ({"order_ts": "2024-02-30T10:00:00Z"}, "order_ts", "ISO 8601"),
        ({"order_ts": "2024-03-01T25:00:00Z"}, "order_ts", "ISO 8601"),
        ({"order_ts": "2024-03-02T00:00:00Z"}, "order_ts", "a time on 2024-03-01"),
        ({"order_ts": "2024-03-01T23:30:00-01:00"}, "order_ts", "a time on 2024-03-01"),
        ({"store_id": "store_008"}, "store_id", "'store_007'"),
        ({"store_id": "store_007 "}, "store_id", "'store_007'"),
        ({"store_id": '"store_007\n"'}, "store_id", "'store_007'"),
        ({"region": ""}, "region", "a non-empty name"),
        ({"region": " north"}, "region", "a non-empty name"),
        ({"region": '"no\trth"'}, "region", "a non-empty name"),
        ({"product_id": ""}, "product_id", "an id of 1-64"),
        ({"quantity": "0"}, "quantity", "1 to 1,000,000"),
        ({"quantity": "1000001"}, "quantity", "1 to 1,000,000"),
        ({"quantity": "99999999999999999999"}, "quantity", "1 to 1,000,000"),
        ({"quantity": "1.5"}, "quantity", "1 to 1,000,000"),
        ({"quantity": "1_000"}, "quantity", "ASCII digits"),
        ({"quantity": "+5"}, "quantity", "ASCII digits"),
        ({"quantity": "-5"}, "quantity", "ASCII digits"),
        ({"quantity": "\u0665"}, "quantity", "ASCII digits"),  # Arabic-Indic five
        ({"quantity": "1e3"}, "quantity", "ASCII digits"),
        ({"quantity": " 5"}, "quantity", "ASCII digits"),
        ({"unit_price": "-1"}, "unit_price", "from 0 to 9999999999.99"),
        ({"unit_price": "1.001"}, "unit_price", "at most 2 decimals"),
        ({"unit_price": "abc"}, "unit_price", "from 0 to"),
        ({"unit_price": "10000000000"}, "unit_price", "from 0 to 9999999999.99"),
        ({"unit_price": "1e3"}, "unit_price", "from 0 to"),
        ({"unit_price": "1e999999"}, "unit_price", "from 0 to"),
        ({"unit_price": "NaN"}, "unit_price", "from 0 to"),
        ({"unit_price": "1,5"}, "(row)", "7 fields"),
    ],
)
def test_each_rule_names_file_row_and_column(
    fields: dict[str, str], column: str, expected: str
) -> None:
    error = _error(_file(GOOD, GOOD.replace("s7-1", "s7-2"), _row(**fields)))
    found = error.errors[0]
    assert (found.key, found.row, found.column) == (KEY, 3, column)
    assert expected in found.expected
    assert str(error).startswith(f"{KEY}, row 3 (line 4), column {column}: expected")


def test_the_largest_values_within_bounds_are_taken() -> None:
    frame = parse_store_file(
        PATH, _file(_row(quantity=str(MAX_QUANTITY), unit_price="9999999999.99"))
    )
    assert frame["quantity"][0] == MAX_QUANTITY
    assert frame["unit_price"][0] == Decimal("9999999999.99")


def test_a_repeated_order_line_is_an_error_naming_both_rows() -> None:
    error = _error(
        _file(
            _row(order_id="1001", product_id="sku-1"),
            _row(order_id="1001", product_id="sku-2"),
            _row(order_id="1001", product_id="sku-1", quantity="3"),
        )
    )
    [found] = error.errors
    assert (found.row, found.column) == (3, "product_id")
    assert found.got == "order '1001' with product 'sku-1' again (first on row 1)"


def test_a_huge_field_is_shown_cut_with_its_length() -> None:
    error = _error(_file(_row(unit_price="9" * 140_000)))
    assert error.errors[0].got.endswith("… (140,000 characters)")
    assert len(str(error)) < 1000


def test_a_line_break_inside_a_field_is_an_error_and_later_lines_stay_exact() -> None:
    error = _error(_file(_row(region='"no\nrth"'), GOOD, _row(order_id="y", quantity="0")))
    assert [(e.row, e.line, e.column) for e in error.errors] == [
        (1, 2, "region"),
        (3, 5, "quantity"),
    ]


def test_extra_fields_are_reported_for_the_row() -> None:
    error = _error(_file(GOOD, GOOD.strip() + ",extra\n"))
    assert str(error.errors[0]) == (
        f"{KEY}, row 2 (line 3), column (row): expected 7 fields, got more fields "
        "(a ',' outside quotes?)"
    )


def test_missing_fields_show_as_empty_values() -> None:
    error = _error(_file("x,2024-03-01T10:00:00Z,store_007,north\n"))
    assert [e.column for e in error.errors] == ["product_id", "quantity", "unit_price"]
    assert {e.got for e in error.errors} == {"'' (empty)"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"id,ts,store,region,product,qty,price\n" + GOOD.encode(), "order_id,order_ts"),
        (b"", "an empty file"),
        (HEADER.strip().encode() + b",extra\n", "order_id,order_ts"),
    ],
)
def test_a_wrong_header_is_reported(data: bytes, expected: str) -> None:
    found = _error(data).errors[0]
    assert (found.row, found.column) == (0, "(header)")
    assert expected in found.expected + found.got


def test_bom_crlf_and_blank_lines_are_accepted() -> None:
    data = b"\xef\xbb\xbf" + _file(GOOD).replace(b"\n", b"\r\n") + b"\r\n\r\n"
    assert parse_store_file(PATH, data).height == 1


def test_a_header_only_file_has_no_rows() -> None:
    assert parse_store_file(PATH, _file()).height == 0


def test_non_utf8_bytes_are_reported_with_their_line() -> None:
    found = _error(_file(GOOD) + b"x,2024-03-01T10:00:00Z,store_007,\xff,sku-1,1,1\n").errors[0]
    assert (found.column, found.expected, found.got, found.line) == (
        "(file)",
        "UTF-8 text",
        "byte 0xff",
        3,
    )


def test_broken_quoting_is_reported_for_its_row() -> None:
    found = _error(_file(GOOD, 'x,"2024-03-01T10:00:00Z,store_007,north,sku-1,1,1\n')).errors[0]
    assert (found.row, found.column) == (2, "(row)")


def test_every_bad_field_is_counted_and_the_first_are_listed() -> None:
    rows = [_row(order_id=f"x{n}", quantity="0", unit_price="-1") for n in range(30)]
    error = _error(_file(*rows))
    assert len(error.errors) == MAX_ERRORS_PER_FILE and error.total == 60
    assert [e.row for e in error.errors[:4]] == [1, 1, 2, 2]
    assert "40 more errors" in str(error)


def test_a_million_rows_validate_streaming(tmp_path: Path) -> None:
    # Correctness at the scale stores send (speed and memory are measured by make bench).
    rows = 1_000_000
    source = tmp_path / "big.csv"
    pl.DataFrame({"n": range(rows)}).select(
        pl.format("o{}", pl.col("n")).alias("order_id"),
        pl.lit("2024-03-01T12:00:00Z").alias("order_ts"),
        pl.lit("store_007").alias("store_id"),
        pl.lit("north").alias("region"),
        pl.format("sku-{}", pl.col("n") % 7).alias("product_id"),
        (pl.col("n") % 5 + 1).alias("quantity"),
        pl.lit("2.50").alias("unit_price"),
    ).write_csv(source)
    totals = (
        validate_store_file(PATH, source)
        .select(pl.len(), pl.col("quantity").sum())
        .collect(engine="streaming")
    )
    assert totals.row(0) == (rows, sum(n % 5 + 1 for n in range(rows)))
    with source.open("a") as handle:
        handle.write("o-bad,2024-03-01T12:00:00Z,store_007,north,sku-1,0,1\n")
    found = _error_for(source).errors[0]
    assert (found.row, found.column) == (rows + 1, "quantity")


def _error_for(source: Path) -> LandingFileError:
    with pytest.raises(LandingFileError) as caught:
        validate_store_file(PATH, source)
    return caught.value
