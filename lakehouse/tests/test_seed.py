"""The demo generator is deterministic and writes valid, realistic data."""

import csv
import io
import re
from datetime import date

import psycopg
import pytest

from lakehouse.landing import CSV_COLUMNS, SOURCE_COLUMNS, SOURCE_TABLE
from lakehouse.seed import (
    SeedConfig,
    online_rows,
    seed_database,
    seed_landing,
    source_schema_sql,
    store_csv,
)

CONFIG = SeedConfig(
    start=date(2024, 3, 1), end=date(2024, 3, 3), stores=3, orders_per_store=25, online_orders=10
)


def test_same_seed_same_bytes_and_different_seed_differs() -> None:
    day = date(2024, 3, 2)
    assert store_csv(CONFIG, day, "store_001") == store_csv(CONFIG, day, "store_001")
    other = SeedConfig(start=CONFIG.start, end=CONFIG.end, seed=8)
    assert store_csv(CONFIG, day, "store_001") != store_csv(other, day, "store_001")


def test_store_file_follows_the_landing_contract() -> None:
    day = date(2024, 3, 2)
    rows = list(csv.reader(io.StringIO(store_csv(CONFIG, day, "store_002").decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = rows[1:]
    assert len(body) == 25
    assert len({r[0] for r in body}) == 25
    assert all(r[1].startswith("2024-03-02T") and r[2] == "store_002" for r in body)
    assert all(int(r[5]) >= 1 and float(r[6]) >= 0 for r in body)


def test_the_source_tables_ddl_has_the_contracts_columns_in_order() -> None:
    # The table is created from sql/source_schema.sql; the seeder's INSERT and ingestion's
    # SELECT are built from SOURCE_COLUMNS. Parsed from the DDL, so a column added to one and not
    # the other fails here.
    body = re.search(
        rf"CREATE TABLE IF NOT EXISTS {re.escape(SOURCE_TABLE)} \((.*?)\n\);",
        source_schema_sql(),
        re.DOTALL,
    )
    assert body is not None
    declared = tuple(line.split()[0] for line in body.group(1).strip().splitlines())
    assert declared == SOURCE_COLUMNS
    day = date(2024, 3, 1)
    assert {len(row) for row in online_rows(SeedConfig(start=day, end=day), day)} == {
        len(SOURCE_COLUMNS)
    }


def test_seed_landing_writes_one_file_per_store_per_day(local_store) -> None:  # type: ignore[no-untyped-def]
    keys = seed_landing(local_store, CONFIG)
    assert len(keys) == 9
    assert keys[0] == "landing/sales/2024-03-01/store_001.csv"


@pytest.mark.component
def test_seed_database_is_idempotent(source_db: tuple[str, str]) -> None:
    admin_url, _ = source_db
    with psycopg.connect(admin_url, autocommit=True) as conn:
        assert seed_database(conn, CONFIG) == 30
        seed_database(conn, CONFIG)
        count, days = conn.execute(
            "SELECT count(*), count(DISTINCT (order_ts AT TIME ZONE 'UTC')::date) FROM source.sales"
        ).fetchone()  # type: ignore[misc]
    assert (count, days) == (30, 3)


@pytest.mark.component
def test_reader_role_cannot_write(source_db: tuple[str, str]) -> None:
    _, reader_url = source_db
    with psycopg.connect(reader_url) as conn:
        assert conn.execute("SELECT count(*) FROM source.sales").fetchone() == (0,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM source.sales")
