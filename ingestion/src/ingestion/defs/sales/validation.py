"""Validating the stores' daily CSV files: vectorized with polars, every rule one expression.

A file is taken whole or not at all: any bad row rejects the file (and so its day's run), with
errors that name the file, the row (and physical line), the column, what was expected and what
was found. The file itself is never moved or changed; a corrected re-upload gets a new ETag and
the landing sensor runs the day again. The rules and bounds are the landing contract
(:mod:`lakehouse.landing`); README's "Landing contract" states them for people.

Cost: one polars parse of the file as text columns plus a handful of column expressions, so a
1,000,000-row file validates in about a second and memory stays a small multiple of the file's
size (BENCHMARKS.md has the figures). Nothing here raises anything but :class:`LandingFileError`
for bad input, so a hostile value can never look like a transient error and be retried.

``SALES_SCHEMA`` is the lake schema of ``sales_data``, and this is its one home. Ingestion owns
``sales_data`` (it alone writes it), so its schema lives with its writer; nothing in the shared
library reads or writes those rows, so it is not there. The shared library holds only what the
demo generator (``lakehouse.seed``) and ingestion must both know: the landing contract
(``lakehouse.landing``: prefix, key layout, CSV columns, bounds). Everything else here derives
from the two: the CSV columns' lake types, the online rows' schema (``resources.ONLINE_SCHEMA``),
the published ``dagster/column_schema``. Analytics, which may not import ingestion, states the
columns it reads itself (``SALES_DATA_COLUMNS``); ``tests/test_contract.py`` holds that to the
schema published here.
"""

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lakehouse.landing import (
    CSV_COLUMNS,
    MAX_ID_LENGTH,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    LandingPath,
)

MAX_ERRORS_PER_FILE = 20
GOT_CHARS = 60  # a value longer than this is shown cut, with its length

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
    "order_id": "Order identifier, unique within its store ('online': the web shop's own ids).",
    "order_ts": "When the order was placed (UTC).",
    "order_date": "UTC day of order_ts; the partition.",
    "store_id": "Store that sold it; 'online' for web orders.",
    "region": "Sales region of the store (or of the web customer).",
    "product_id": "Product SKU. One row per (store_id, order_id, product_id): an order line.",
    "quantity": f"Units of the product on the line (1 … {MAX_QUANTITY:,}).",
    "unit_price": f"Price per unit at order time (0 … {MAX_UNIT_PRICE:,}, 2 decimals).",
    "updated_at": "Last change in the source table; empty for store files.",
    "source": "'postgres:source.sales' or the landing file's key.",
}

_ID = rf"^[A-Za-z0-9][A-Za-z0-9_.:#/-]{{0,{MAX_ID_LENGTH - 1}}}$"
_TEXT = r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]{0,62}[^\x00-\x1f\x7f\s])?$"
_TIMESTAMP = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2})(:[0-9]{2})?(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_QUANTITY = r"^[0-9]{1,7}$"  # ASCII digits only: no sign, no '_', no exponent, no other scripts
_PRICE = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"

EXPECTED = {
    "order_id": f"an id of 1-{MAX_ID_LENGTH} letters, digits or _.:#/- (starting with a letter or "
    "digit)",
    "order_ts": "an ISO 8601 timestamp such as 2024-03-01T14:05:00+00:00 (no offset: UTC)",
    "region": "a non-empty name of at most 64 characters, no control characters or "
    "surrounding spaces",
    "product_id": f"an id of 1-{MAX_ID_LENGTH} letters, digits or _.:#/- (starting with a letter "
    "or digit)",
    "quantity": f"a whole number from 1 to {MAX_QUANTITY:,} in ASCII digits",
    "unit_price": f"a number from 0 to {MAX_UNIT_PRICE} with at most 2 decimals, ASCII digits "
    "and '.'",
}


@dataclass(frozen=True)
class RowError:
    key: str
    row: int  # 1-based data row; the header is row 0
    column: str
    expected: str
    got: str
    line: int | None = None  # physical line in the file, when it differs from row + 1

    def __str__(self) -> str:
        line = self.line if self.line is not None else self.row + 1
        where = "header" if self.row == 0 else f"row {self.row} (line {line})"
        return (
            f"{self.key}, {where}, column {self.column}: expected {self.expected}, got {self.got}"
        )


class LandingFileError(ValueError):
    """A landing file that cannot be taken; carries the first errors found."""

    def __init__(self, key: str, errors: Sequence[RowError], total: int | None = None):
        self.key = key
        self.errors = list(errors)
        self.total = total if total is not None else len(self.errors)
        more = (
            f"\n({self.total - len(self.errors)} more errors in {key} not shown)"
            if self.total > len(self.errors)
            else ""
        )
        super().__init__("\n".join(str(e) for e in self.errors) + more)


def show(value: str | None) -> str:
    """A value as an error shows it: quoted, control characters escaped, long ones cut."""
    if value is None:
        return "nothing (missing field)"
    if value == "":
        return "'' (empty)"
    if len(value) > GOT_CHARS:
        return f"{value[:GOT_CHARS]!r}… ({len(value):,} characters)"
    return repr(value)


_FIELDS = [f"f{i}" for i in range(len(CSV_COLUMNS) + 1)]  # one more, to see extra fields
_TEXT_COLUMNS = [*CSV_COLUMNS, "_extra"]
CsvSource = Path | bytes


def _scan_fields(source: CsvSource) -> pl.LazyFrame:
    """Every line as text fields with its row number (row 0 is the header), not yet read."""
    return (
        pl.scan_csv(
            source,
            has_header=False,
            schema=dict.fromkeys(_FIELDS, pl.String()),
            missing_columns="insert",
            truncate_ragged_lines=True,
            empty_string_is_null=False,
            raise_if_empty=False,
            quote_char='"',
        )
        .rename(dict(zip(_FIELDS, _TEXT_COLUMNS, strict=True)))
        .with_row_index("row")
        .with_columns(pl.col("row").cast(pl.Int64))
    )


def _read_bytes(source: CsvSource) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else source


def _structure_error(key: str, source: CsvSource, exc: Exception) -> RowError:
    """Where a file that polars cannot parse goes wrong, found the slow way (bad files only)."""
    body = _read_bytes(source)
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = body.count(b"\n", 0, bad.start) + 1
        return RowError(
            key, max(line - 1, 0), "(file)", "UTF-8 text", f"byte 0x{body[bad.start]:02x}", line
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    read = 0  # records read so far; the header is record 0
    try:
        for _record in reader:
            read += 1
    except csv.Error as error:
        return RowError(key, read, "(row)", "CSV fields, quoted with '\"' when needed", str(error))
    return RowError(key, 0, "(file)", "a CSV file", str(exc).splitlines()[0][:200])


def _typed() -> list[pl.Expr]:
    """The columns parsed from text: null where a value breaks the contract."""
    fast = pl.col("order_ts").str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_unit="us")
    stamp = pl.col("order_ts").str.extract_groups(_TIMESTAMP)
    canonical = pl.concat_str(
        stamp.struct.field("1"),
        pl.lit("T"),
        stamp.struct.field("2"),
        stamp.struct.field("3").fill_null(":00"),
        stamp.struct.field("4").fill_null(""),
        stamp.struct.field("5")
        .fill_null("+00:00")
        .str.replace("^Z$", "+00:00")
        .str.replace(r"^([+-][0-9]{2})([0-9]{2})$", "$1:$2"),
    )
    general = canonical.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
    return [
        # The common form parses directly; any other ISO 8601 form goes through the general one.
        pl.coalesce(fast, general).dt.convert_time_zone("UTC").alias("_ts"),
        pl.when(pl.col("quantity").str.contains(_QUANTITY))
        .then(pl.col("quantity").cast(SALES_SCHEMA["quantity"], strict=False))
        .alias("_quantity"),
        pl.when(pl.col("unit_price").str.contains(_PRICE))
        .then(pl.col("unit_price").cast(SALES_SCHEMA["unit_price"], strict=False))
        .alias("_price"),
    ]


def _rules(path: LandingPath) -> list[tuple[str, pl.Expr, str]]:
    """(column, bad?, expected) for every field rule, in the order errors are listed."""
    day = path.day.isoformat()
    return [
        ("(row)", pl.col("_extra") != "", f"{len(CSV_COLUMNS)} fields"),
        ("order_id", ~pl.col("order_id").str.contains(_ID), EXPECTED["order_id"]),
        ("order_ts", pl.col("_ts").is_null(), EXPECTED["order_ts"]),
        (
            "order_ts",
            pl.col("_ts").is_not_null() & (pl.col("_ts").dt.date().cast(pl.String) != day),
            f"a time on {day} (UTC), the day in the file's path",
        ),
        (
            "store_id",
            pl.col("store_id") != path.store_id,
            f"{path.store_id!r}, the store named by the file",
        ),
        ("region", ~pl.col("region").str.contains(_TEXT), EXPECTED["region"]),
        ("product_id", ~pl.col("product_id").str.contains(_ID), EXPECTED["product_id"]),
        (
            "quantity",
            pl.col("_quantity").is_null() | ~pl.col("_quantity").is_between(1, MAX_QUANTITY),
            EXPECTED["quantity"],
        ),
        ("unit_price", pl.col("_price").is_null(), EXPECTED["unit_price"]),
    ]


def _field_value(column: str, record: dict[str, object]) -> str:
    if column == "(row)":
        return "more fields (a ',' outside quotes?)"
    value = record[column]
    return show(value if isinstance(value, str) or value is None else str(value))


def _duplicate_errors(key: str, rows: pl.LazyFrame) -> tuple[list[RowError], int]:
    """Repeated (order_id, product_id) pairs: hashed to find candidates cheaply, then compared
    exactly, so a hash collision never becomes an error."""
    pair_hash = (pl.col("order_id").hash(1) ^ pl.col("product_id").hash(2)).alias("_pair")
    candidates = (
        rows.select(pair_hash).group_by("_pair").len().filter(pl.col("len") > 1).select("_pair")
    ).collect(engine="streaming")
    if candidates.height == 0:
        return [], 0
    repeated = (
        rows.with_columns(pair_hash)
        .filter(pl.col("_pair").is_in(candidates["_pair"].implode()))
        .select("row", "line", "order_id", "product_id")
        .collect(engine="streaming")
        .with_columns(pl.col("row").min().over("order_id", "product_id").alias("first"))
        .filter(pl.col("row") != pl.col("first"))
        .sort("row")
    )
    errors = [
        RowError(
            key,
            r["row"],
            "product_id",
            "one line per order and product (add repeated lines up into one quantity)",
            f"order {show(r['order_id'])} with product {show(r['product_id'])} again "
            f"(first on row {r['first']})",
            r["line"],
        )
        for r in repeated.head(MAX_ERRORS_PER_FILE).iter_rows(named=True)
    ]
    return errors, repeated.height


def validate_store_file(path: LandingPath, source: CsvSource) -> pl.LazyFrame:
    """Validate one store's file (a local file or its bytes) and return its rows in the lake's
    schema, as a lazy frame that reads the file again when collected or sunk.

    Streams through the file, so memory stays bounded whatever its length. Raises
    :class:`LandingFileError` listing the first bad fields by file, row (line) and column.
    """
    fields = _scan_fields(source)
    try:
        header = fields.head(1).collect()
    except pl.exceptions.PolarsError as exc:
        raise LandingFileError(path.key, [_structure_error(path.key, source, exc)]) from None
    values = tuple(header.select(_TEXT_COLUMNS).row(0)) if header.height else ()
    names = (values[0].removeprefix("\ufeff"), *values[1:]) if values else ()
    if names != (*CSV_COLUMNS, ""):
        got = ",".join(v for v in names if v)
        raise LandingFileError(
            path.key,
            [
                RowError(
                    path.key,
                    0,
                    "(header)",
                    ",".join(CSV_COLUMNS),
                    show(got) if got else "an empty file",
                )
            ],
        )
    # Blank lines (every field empty) carry nothing: skipped, as CSV readers do. Only quoted
    # fields can hold a line break (an error: a field must fit on its line), so only then do
    # physical lines and rows drift apart; count the breaks so every error names its line.
    rows = fields.filter(
        (pl.col("row") > 0) & pl.any_horizontal(pl.col(c) != "" for c in _TEXT_COLUMNS)
    )
    breaks = pl.sum_horizontal(
        pl.col(c).str.count_matches("\n", literal=True) for c in CSV_COLUMNS
    ).cast(pl.Int64)
    if _may_quote(source):
        line = pl.col("row") + 1 + breaks.cum_sum() - breaks
    else:
        line = pl.col("row") + 1
    rows = rows.with_columns(line.alias("line"))
    typed = rows.with_columns(_typed())
    rules = _rules(path)
    bad_any = pl.any_horizontal(bad for _, bad, _ in rules)
    try:
        total, first = pl.collect_all(
            [
                typed.select(pl.sum_horizontal(bad.cast(pl.Int64).sum() for _, bad, _ in rules)),
                typed.filter(bad_any).head(MAX_ERRORS_PER_FILE),
            ],
            engine="streaming",
        )
        duplicates, duplicate_count = _duplicate_errors(path.key, rows)
    except pl.exceptions.PolarsError as exc:
        raise LandingFileError(path.key, [_structure_error(path.key, source, exc)]) from None
    errors: list[tuple[int, int, RowError]] = []
    if first.height:
        flags = first.select(bad.alias(f"_bad{n}") for n, (_, bad, _) in enumerate(rules))
        for record, flagged in zip(first.iter_rows(named=True), flags.iter_rows(), strict=True):
            for n, ((column, _, expected), is_bad) in enumerate(zip(rules, flagged, strict=True)):
                if is_bad:
                    errors.append(
                        (
                            record["row"],
                            n,
                            RowError(
                                path.key,
                                record["row"],
                                column,
                                expected,
                                _field_value(column, record),
                                record["line"],
                            ),
                        )
                    )
    errors += [(error.row, len(rules), error) for error in duplicates]
    count = int(total.item()) + duplicate_count
    if count:
        shown = [error for _, _, error in sorted(errors, key=lambda e: (e[0], e[1]))]
        raise LandingFileError(path.key, shown[:MAX_ERRORS_PER_FILE], count)
    return typed.select(
        pl.col("order_id"),
        pl.col("_ts").alias("order_ts"),
        pl.col("_ts").dt.date().alias("order_date"),
        pl.col("store_id"),
        pl.col("region"),
        pl.col("product_id"),
        pl.col("_quantity").alias("quantity"),
        pl.col("_price").alias("unit_price"),
        pl.lit(None, dtype=SALES_SCHEMA["updated_at"]).alias("updated_at"),
        pl.lit(path.key).alias("source"),
    )


def _may_quote(source: CsvSource) -> bool:
    if isinstance(source, bytes):
        return b'"' in source
    with source.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if b'"' in chunk:
                return True
    return False


def parse_store_file(path: LandingPath, data: bytes) -> pl.DataFrame:
    """:func:`validate_store_file` for a file's bytes, collected (tests, small files)."""
    return validate_store_file(path, data).collect()
