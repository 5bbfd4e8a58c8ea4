"""The landing contract: where stores drop their daily files, what a file holds, and its bounds.

One home for what the stores, the demo generator (:mod:`lakehouse.seed`) and ingestion must
agree on: everything else in the code derives the prefix, the key layout and the CSV header from
here (``tests/test_one_home.py`` fails on a second copy). README's "Landing contract" section
states the same rules for people. The lake schema of ``sales_data`` is not here: ingestion owns
that asset and is its only writer, so the schema lives with it
(``ingestion.defs.sales.validation.SALES_SCHEMA``); nothing in this library reads its rows.

- Key: ``landing/sales/<YYYY-MM-DD>/<store_id>.csv``: a strict ISO day (``2024-03-08``, never
  ``2024-W10-5`` or ``2024-3-8``), a store id of letters, digits, ``_`` and ``-``, and the
  lower-case ``.csv`` extension. Every other key under the prefix (an S3 console's zero-byte
  "folder" object, a ``README.txt``, ``X.CSV``, a sub-folder) is a *stray*: skipped with a
  warning, never a failed day.
- File: UTF-8 CSV with the header ``CSV_COLUMNS`` in that order; one order line per row.
- Grain: an order line is (store_id, order_id, product_id). A store numbers its own orders, so
  the same order_id in two stores' files is two different orders; one order may hold several
  products (one line each); a repeated (order_id, product_id) in one file is an error.
- Bounds: ``1 <= quantity <= MAX_QUANTITY`` and ``0 <= unit_price <= MAX_UNIT_PRICE`` with at
  most two decimals, so a line's revenue stays below 1e16 and the sums downstream (decimal with
  38 digits) cannot overflow.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

LANDING_PREFIX = "landing/sales/"
CSV_COLUMNS = ("order_id", "order_ts", "store_id", "region", "product_id", "quantity", "unit_price")
KEY_LAYOUT = f"{LANDING_PREFIX}<YYYY-MM-DD>/<store_id>.csv"
# The web shop's ``source.sales`` holds the same order lines as the stores' files, plus when each
# row last changed, in this order (``sql/source_schema.sql``; a test holds the two equal).
SOURCE_TABLE = "source.sales"
SOURCE_COLUMNS = (*CSV_COLUMNS, "updated_at")

MAX_QUANTITY = 1_000_000
MAX_UNIT_PRICE = Decimal("9999999999.99")  # what the lake's decimal(12, 2) column can hold
MAX_ID_LENGTH = 64

DAY_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
STORE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class LandingPath:
    """What a landing key says: the day (the partition) and the store."""

    key: str
    day: date
    store_id: str


@dataclass(frozen=True)
class Stray:
    """A key under the landing prefix that is not a store's daily file, and why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


def landing_key(day: date, store_id: str) -> str:
    return f"{LANDING_PREFIX}{day.isoformat()}/{store_id}.csv"


def day_prefix(day: date | str) -> str:
    text = day.isoformat() if isinstance(day, date) else day
    return f"{LANDING_PREFIX}{text}/"


def parse_day(text: str) -> date | None:
    """A strict ``YYYY-MM-DD`` day, or None (``date.fromisoformat`` also takes week dates)."""
    if not DAY_PATTERN.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def classify_key(key: str) -> LandingPath | Stray:
    """A store's daily file, or a stray with the reason, for any key under the prefix."""
    if not key.startswith(LANDING_PREFIX):
        return Stray(key, f"not under {LANDING_PREFIX}")
    parts = key[len(LANDING_PREFIX) :].split("/")
    if key.endswith("/"):
        return Stray(key, "a folder marker (zero-byte object ending in '/')")
    if len(parts) != 2:
        return Stray(key, f"not of the form {KEY_LAYOUT}")
    day_text, file_name = parts
    day = parse_day(day_text)
    if day is None:
        return Stray(key, f"{day_text!r} is not a day (YYYY-MM-DD)")
    if not file_name.endswith(".csv"):
        return Stray(key, f"{file_name!r} is not a <store_id>.csv file")
    store_id = file_name[: -len(".csv")]
    if not STORE_ID_PATTERN.match(store_id):
        return Stray(key, f"{store_id!r} is not a store id (letters, digits, '_', '-')")
    return LandingPath(key=key, day=day, store_id=store_id)
