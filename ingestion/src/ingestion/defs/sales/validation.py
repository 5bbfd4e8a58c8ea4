"""Parsing and validating the stores' daily CSV drops.

A file is taken whole or not at all: any bad row rejects the file (and so its day's run), with
errors that name the file, the row, the column and what was expected. The file itself is never
moved or changed; a corrected re-upload gets a new ETag and the landing sensor runs the day again.
"""

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import polars as pl

LANDING_PREFIX = "landing/sales/"
CSV_COLUMNS = ("order_id", "order_ts", "store_id", "region", "product_id", "quantity", "unit_price")
MAX_ERRORS_PER_FILE = 20
STORE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")

# The lake's sales_data schema. ``order_date`` is the partition column; ``source`` says where
# each row came from (the database table, or the landing file's key).
SALES_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(),
    "order_ts": pl.Datetime("us", "UTC"),
    "order_date": pl.Date(),
    "store_id": pl.String(),
    "region": pl.String(),
    "product_id": pl.String(),
    "quantity": pl.Int64(),
    "unit_price": pl.Decimal(12, 2),
    "updated_at": pl.Datetime("us", "UTC"),
    "source": pl.String(),
}

COLUMN_DESCRIPTIONS = {
    "order_id": "Order identifier, unique across all sources (deduplicated on it).",
    "order_ts": "When the order was placed (UTC).",
    "order_date": "UTC day of order_ts; the partition.",
    "store_id": "Store that sold it; 'online' for web orders.",
    "region": "Sales region of the store (or of the web customer).",
    "product_id": "Product SKU.",
    "quantity": "Units ordered (>= 1).",
    "unit_price": "Price per unit at order time (>= 0, 2 decimals).",
    "updated_at": "Last change in the source table; empty for store files.",
    "source": "'postgres:source.sales' or the landing file's key.",
}


@dataclass(frozen=True)
class LandingPath:
    """What a landing key says: the day (partition) and the store."""

    key: str
    day: date
    store_id: str


class LandingPathError(ValueError):
    """A key under the landing prefix that does not map to a day and a store."""


def parse_landing_key(key: str) -> LandingPath:
    """``landing/sales/<YYYY-MM-DD>/<store_id>.csv`` → day and store, or a clear error."""
    if not key.startswith(LANDING_PREFIX):
        raise LandingPathError(f"{key}: not under {LANDING_PREFIX}")
    parts = key[len(LANDING_PREFIX) :].split("/")
    if len(parts) != 2:
        raise LandingPathError(f"{key}: expected {LANDING_PREFIX}<YYYY-MM-DD>/<store_id>.csv")
    day_text, file_name = parts
    try:
        day = date.fromisoformat(day_text)
        if len(day_text) != 10:
            raise ValueError(day_text)
    except ValueError:
        raise LandingPathError(f"{key}: {day_text!r} is not a date (YYYY-MM-DD)") from None
    if not file_name.endswith(".csv") or not STORE_ID_PATTERN.match(file_name[:-4]):
        raise LandingPathError(f"{key}: expected a file named <store_id>.csv, got {file_name!r}")
    return LandingPath(key=key, day=day, store_id=file_name[:-4])


@dataclass(frozen=True)
class RowError:
    key: str
    row: int  # 1-based data row; the header is row 0
    column: str
    expected: str
    got: str

    def __str__(self) -> str:
        where = "header" if self.row == 0 else f"row {self.row} (line {self.row + 1})"
        return (
            f"{self.key}, {where}, column {self.column}: expected {self.expected}, got {self.got}"
        )


class LandingFileError(ValueError):
    """A landing file that cannot be taken; carries every error found (up to a limit)."""

    def __init__(self, key: str, errors: Sequence[RowError], truncated: bool = False):
        self.key = key
        self.errors = list(errors)
        self.truncated = truncated
        more = " (more errors not shown)" if truncated else ""
        super().__init__("\n".join(str(e) for e in self.errors) + more)


def _check_row(
    path: LandingPath, row_number: int, fields: dict[str, str]
) -> tuple[list[RowError], tuple[object, ...] | None]:
    errors: list[RowError] = []

    def fail(column: str, expected: str) -> None:
        errors.append(RowError(path.key, row_number, column, expected, repr(fields[column])))

    order_id = fields["order_id"].strip()
    if not order_id:
        fail("order_id", "a non-empty order id")

    order_ts: datetime | None = None
    try:
        parsed = datetime.fromisoformat(fields["order_ts"].strip())
        # A timestamp without an offset is taken as UTC, the stores' documented convention.
        order_ts = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError:
        fail("order_ts", "an ISO 8601 timestamp such as 2024-03-01T14:05:00+00:00")
    if order_ts is not None and order_ts.date() != path.day:
        fail("order_ts", f"a time on {path.day.isoformat()} (UTC), the day in the file's path")
        order_ts = None

    store_id = fields["store_id"].strip()
    if store_id != path.store_id:
        fail("store_id", f"{path.store_id!r}, the store named by the file")

    region = fields["region"].strip()
    if not region:
        fail("region", "a non-empty region")
    product_id = fields["product_id"].strip()
    if not product_id:
        fail("product_id", "a non-empty product id")

    quantity: int | None = None
    try:
        quantity = int(fields["quantity"].strip())
    except ValueError:
        pass
    if quantity is None or quantity < 1:
        fail("quantity", "an integer >= 1")
        quantity = None

    price: Decimal | None = None
    try:
        price = Decimal(fields["unit_price"].strip())
        if not price.is_finite() or price < 0 or price.as_tuple().exponent < -2:  # type: ignore[operator]
            price = None
    except InvalidOperation:
        price = None
    if price is None:
        fail("unit_price", "a number >= 0 with at most 2 decimals")

    if errors:
        return errors, None
    assert order_ts is not None
    return [], (
        order_id,
        order_ts,
        order_ts.date(),
        store_id,
        region,
        product_id,
        quantity,
        price.quantize(Decimal("0.01")) if price is not None else None,
        None,
        path.key,
    )


def parse_store_file(path: LandingPath, data: bytes) -> pl.DataFrame:
    """Validate one store's file and return its rows in the lake's schema.

    Raises :class:`LandingFileError` listing each bad field by file, row and column.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LandingFileError(
            path.key, [RowError(path.key, 0, "(file)", "UTF-8 text", f"byte {exc.start} invalid")]
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != CSV_COLUMNS:
        got = ",".join(header) if header else "an empty file"
        raise LandingFileError(
            path.key, [RowError(path.key, 0, "(header)", ",".join(CSV_COLUMNS), repr(got))]
        )

    errors: list[RowError] = []
    rows: list[tuple[object, ...]] = []
    truncated = False
    for row_number, record in enumerate(reader, start=1):
        if not record:  # blank line
            continue
        if len(record) != len(CSV_COLUMNS):
            errors.append(
                RowError(
                    path.key,
                    row_number,
                    "(row)",
                    f"{len(CSV_COLUMNS)} fields",
                    f"{len(record)} fields",
                )
            )
        else:
            row_errors, parsed = _check_row(
                path, row_number, dict(zip(CSV_COLUMNS, record, strict=True))
            )
            errors.extend(row_errors)
            if parsed is not None:
                rows.append(parsed)
        if len(errors) >= MAX_ERRORS_PER_FILE:
            truncated = True
            break
    if errors:
        raise LandingFileError(path.key, errors[:MAX_ERRORS_PER_FILE], truncated)
    return frame_from_rows(rows)


def frame_from_rows(rows: Sequence[tuple[object, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SALES_SCHEMA, orient="row")


def empty_sales_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=SALES_SCHEMA)
