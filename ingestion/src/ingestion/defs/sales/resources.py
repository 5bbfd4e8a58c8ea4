"""The operational database that holds online orders, read through a read-only role."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import dagster as dg
import polars as pl
import psycopg
from pydantic import Field

from ingestion.defs.sales.validation import SALES_SCHEMA
from lakehouse.landing import SOURCE_COLUMNS, SOURCE_TABLE

# What sales_data takes from ``source.sales``: every column, typed as the lake holds them (the
# lake schema is the one home of the types).
ONLINE_SCHEMA: dict[str, pl.DataType] = {name: SALES_SCHEMA[name] for name in SOURCE_COLUMNS}

ONLINE_ORDERS_SQL = f"""
    SELECT {", ".join(ONLINE_SCHEMA)}
    FROM {SOURCE_TABLE}
    WHERE order_ts >= %(start)s AND order_ts < %(end)s
    ORDER BY order_id
"""

TABLE_STATE_SQL = f"SELECT count(*), max(updated_at) FROM {SOURCE_TABLE}"


@dataclass(frozen=True)
class TableState:
    row_count: int
    last_updated_at: datetime | None


class SourceDatabase(dg.ConfigurableResource):
    """``source.sales`` in the web shop's Postgres. Connect as a role that can only read it."""

    url: str = Field(
        description="libpq URL of the read-only role, e.g. postgresql://reader@host/db"
    )
    connect_timeout_seconds: int = Field(default=10)
    statement_timeout_ms: int = Field(default=120_000)

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(
            self.url,
            connect_timeout=self.connect_timeout_seconds,
            options=f"-c statement_timeout={self.statement_timeout_ms}",
        )
        # Belt and braces on top of the role's own default: this code never writes.
        conn.read_only = True
        return conn

    def online_orders(self, day: date) -> pl.DataFrame:
        """Every order placed on ``day`` (UTC), as the table holds it."""
        start = datetime.combine(day, time(0), tzinfo=UTC)
        params = {"start": start, "end": start + timedelta(days=1)}
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(ONLINE_ORDERS_SQL, params)
            rows = cur.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in ONLINE_SCHEMA]
        data = {
            name: pl.Series(name, list(values), dtype=dtype, strict=False)
            if name != "unit_price"
            else pl.Series(name, [_money(v) for v in values], dtype=dtype)
            for (name, dtype), values in zip(ONLINE_SCHEMA.items(), columns, strict=True)
        }
        return pl.DataFrame(data)

    def table_state(self) -> TableState:
        with self._connect() as conn:
            row = conn.execute(TABLE_STATE_SQL).fetchone()
        assert row is not None
        return TableState(row_count=int(row[0]), last_updated_at=row[1])


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))
