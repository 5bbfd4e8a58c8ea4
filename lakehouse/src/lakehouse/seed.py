"""Deterministic demo data: online orders in Postgres and stores' daily CSV drops.

The same seed, window and sizes always give the same bytes, so tests can compute expected
results and benchmarks can be repeated. Used by ``make dev`` (a week of recent data), by the
tests and by ``make bench`` (larger windows).

    lakehouse-seed --days 7 --db-url postgresql://... [--stores 5] [--orders-per-store 40]
"""

import argparse
import csv
import io
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib import resources

import psycopg
from psycopg import sql

from lakehouse.landing import CSV_COLUMNS, SOURCE_COLUMNS, SOURCE_TABLE, landing_key
from lakehouse.storage import ObjectStore

REGIONS = ("north", "south", "east", "west", "central")
ONLINE_STORE = "online"


@dataclass(frozen=True)
class SeedConfig:
    """What to generate: an inclusive window of UTC days and the volume per day."""

    start: date
    end: date
    stores: int = 5
    orders_per_store: int = 40
    online_orders: int = 60
    products: int = 20
    seed: int = 7

    def days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)

    def store_ids(self) -> list[str]:
        return [f"store_{n:03d}" for n in range(1, self.stores + 1)]


def _product(rng: random.Random, products: int) -> tuple[str, Decimal]:
    number = rng.randint(1, products)
    # A product's list price is fixed by its number, so prices look stable across days.
    price = Decimal(5 + (number * 37) % 195) + Decimal((number * 13) % 100) / 100
    return f"sku-{number:04d}", price


def _timestamp(rng: random.Random, day: date) -> datetime:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(24 * 3600))


def store_rows(config: SeedConfig, day: date, store_id: str) -> list[tuple[object, ...]]:
    """One store's order lines for the day, each a tuple in the order of ``CSV_COLUMNS``."""
    rng = random.Random(f"{config.seed}:{day.isoformat()}:{store_id}")
    region = REGIONS[(int(store_id.rsplit("_", 1)[-1]) - 1) % len(REGIONS)]
    rows: list[tuple[object, ...]] = []
    for n in range(1, config.orders_per_store + 1):
        product_id, price = _product(rng, config.products)
        rows.append(
            (
                f"{store_id}-{day:%Y%m%d}-{n:05d}",
                _timestamp(rng, day),
                store_id,
                region,
                product_id,
                rng.choice((1, 1, 1, 2, 2, 3, 5)),
                price,
            )
        )
    return rows


def store_csv(config: SeedConfig, day: date, store_id: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in store_rows(config, day, store_id):
        line = dict(zip(CSV_COLUMNS, row, strict=True))
        ts, price = line["order_ts"], line["unit_price"]
        assert isinstance(ts, datetime) and isinstance(price, Decimal)
        line |= {"order_ts": ts.isoformat(), "unit_price": f"{price:.2f}"}
        writer.writerow(line[name] for name in CSV_COLUMNS)
    return out.getvalue().encode()


def large_store_csv(day: date, store_id: str, rows: int, products: int = 20) -> bytes:
    """A valid store file of ``rows`` order lines, generated vectorized (a million rows in about
    a second, about 85 MB): for the tests and benchmarks at the scale stores send."""
    import polars as pl

    n = pl.col("n")
    start = datetime.combine(day, time(0), tzinfo=UTC)
    frame = pl.DataFrame({"n": pl.int_range(rows, eager=True)}).select(
        pl.format(f"{store_id}-{day:%Y%m%d}-{{}}", n).alias("order_id"),
        (pl.lit(start) + pl.duration(seconds=n * 86_399 // max(rows, 1)))
        .dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .alias("order_ts"),
        pl.lit(store_id).alias("store_id"),
        pl.lit(REGIONS[0]).alias("region"),
        pl.format("sku-{}", (n % products + 1).cast(pl.String).str.zfill(4)).alias("product_id"),
        (n % 5 + 1).alias("quantity"),
        pl.format("{}.{}", n % 190 + 5, (n % 100).cast(pl.String).str.zfill(2)).alias("unit_price"),
    )
    buffer = io.BytesIO()
    frame.select(CSV_COLUMNS).write_csv(buffer)  # the header and its order from the contract
    return buffer.getvalue()


def online_rows(config: SeedConfig, day: date) -> list[tuple[object, ...]]:
    """The web shop's order lines for the day, one value per ``SOURCE_COLUMNS``."""
    rng = random.Random(f"{config.seed}:{day.isoformat()}:{ONLINE_STORE}")
    rows: list[tuple[object, ...]] = []
    for n in range(1, config.online_orders + 1):
        product_id, price = _product(rng, config.products)
        ordered = _timestamp(rng, day)
        rows.append(
            (
                f"web-{day:%Y%m%d}-{n:06d}",
                ordered,
                ONLINE_STORE,
                rng.choice(REGIONS),
                product_id,
                rng.choice((1, 1, 2, 3)),
                price,
                ordered + timedelta(minutes=rng.randrange(1, 90)),
            )
        )
    return rows


def source_schema_sql() -> str:
    return resources.files("lakehouse").joinpath("sql/source_schema.sql").read_text()


def create_source_schema(conn: psycopg.Connection) -> None:
    conn.execute(source_schema_sql().encode())  # a trusted file shipped in the package


def ensure_reader_role(conn: psycopg.Connection, role: str, password: str | None) -> None:
    """A login role that can only read ``source.sales``: what ingestion connects as."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    ident = sql.Identifier(role)
    if not exists:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    if password:  # set on every run, so rotating the secret is a restart of the init step
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA source TO {}").format(ident))
    conn.execute(sql.SQL("GRANT SELECT ON source.sales TO {}").format(ident))
    conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))


def seed_database(conn: psycopg.Connection, config: SeedConfig) -> int:
    """Insert the window's demo online orders; returns the number of rows offered.

    Never changes an order that is already there: the table is the web shop's, and demo data
    must not overwrite a real order that happens to share an id.
    """
    create_source_schema(conn)
    rows = [row for day in config.days() for row in online_rows(config, day)]
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (order_id) DO NOTHING").format(
        sql.Identifier(*SOURCE_TABLE.split(".")),
        sql.SQL(", ").join(map(sql.Identifier, SOURCE_COLUMNS)),
        sql.SQL(", ").join(sql.Placeholder() * len(SOURCE_COLUMNS)),
    )
    with conn.cursor() as cur:
        cur.executemany(insert, rows)
    return len(rows)


def prepare_source_database(
    conn: psycopg.Connection, reader_role: str, reader_password: str | None, seed_days: int = 0
) -> int:
    """What every deployment does to the web shop's database: the table, the read-only role
    ingestion connects as, and optionally ``seed_days`` days of demo orders (rows written)."""
    create_source_schema(conn)
    ensure_reader_role(conn, reader_role, reader_password)
    return seed_database(conn, window_ending_yesterday(seed_days)) if seed_days > 0 else 0


def window_ending_yesterday(days: int, seed: int = 7) -> SeedConfig:
    """``days`` UTC days up to and including yesterday, with the default volumes."""
    end = datetime.now(UTC).date() - timedelta(days=1)
    return SeedConfig(start=end - timedelta(days=days - 1), end=end, seed=seed)


def seed_landing(store: ObjectStore, config: SeedConfig) -> list[str]:
    """Drop one CSV per store per day into the landing area; returns the keys written.

    A key that already exists is left alone: a store's real file is the only copy of its data,
    and demo data must never replace it.
    """
    keys = []
    for day in config.days():
        for store_id in config.store_ids():
            key = landing_key(day, store_id)
            if store.exists(key):
                continue
            store.put(key, store_csv(config, day, store_id))
            keys.append(key)
    return keys


def main(argv: list[str] | None = None) -> int:
    from lakehouse.config import object_store_from_env

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7, help="how many days, ending --end")
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=datetime.now(UTC).date() - timedelta(days=1),
        help="last day (UTC) to generate; default yesterday",
    )
    parser.add_argument("--stores", type=int, default=5)
    parser.add_argument("--orders-per-store", type=int, default=40)
    parser.add_argument("--online-orders", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db-url", help="admin connection to the source database")
    parser.add_argument("--reader-role", help="also create this read-only login role")
    parser.add_argument("--reader-password", help="password for --reader-role")
    parser.add_argument("--no-files", action="store_true", help="skip the landing area")
    args = parser.parse_args(argv)

    config = SeedConfig(
        start=args.end - timedelta(days=args.days - 1),
        end=args.end,
        stores=args.stores,
        orders_per_store=args.orders_per_store,
        online_orders=args.online_orders,
        seed=args.seed,
    )
    if args.db_url:
        with psycopg.connect(args.db_url, autocommit=True) as conn:
            written = seed_database(conn, config)
            if args.reader_role:
                ensure_reader_role(conn, args.reader_role, args.reader_password)
        print(f"source.sales: {written} online orders {config.start} … {config.end}")  # noqa: T201
    if not args.no_files:
        keys = seed_landing(object_store_from_env(), config)
        print(f"landing: {len(keys)} files {config.start} … {config.end}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
