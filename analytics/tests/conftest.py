"""Helpers for analytics tests: sales_data as ingestion would have landed it, from the generator.

Analytics never imports ingestion; these frames are built from the contract's columns only.
"""

import io
from collections.abc import Callable, Iterator
from datetime import date

import dagster as dg
import polars as pl
import pytest

from analytics.defs.sales.assets import SALES_DATA_COLUMNS
from lakehouse.seed import SeedConfig, online_rows, store_rows
from lakehouse.storage import ObjectStore


def sales_frame(config: SeedConfig, day: date) -> pl.DataFrame:
    rows = [r[:7] for r in online_rows(config, day)] + [
        r for store in config.store_ids() for r in store_rows(config, day, store)
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "order_id": pl.String(),
            "order_ts": pl.Datetime("us", "UTC"),
            "store_id": pl.String(),
            "region": pl.String(),
            "product_id": pl.String(),
            "quantity": pl.Int64(),
            "unit_price": pl.Decimal(12, 2),
        },
        orient="row",
    )
    return frame.with_columns(pl.col("order_ts").dt.date().alias("order_date"))


def _land(store: ObjectStore, config: SeedConfig) -> dict[str, pl.DataFrame]:
    frames = {}
    for day in config.days():
        frame = sales_frame(config, day)
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        store.put(f"lake/sales_data/{day.isoformat()}.parquet", buffer.getvalue())
        frames[day.isoformat()] = frame.select(list(SALES_DATA_COLUMNS))
    return frames


@pytest.fixture(scope="session")
def instance() -> Iterator[dg.DagsterInstance]:
    """One instance with a reference (schedule contexts need one) for the whole session: an
    instance disposed mid-session lingers in Dagster's definitions-loading context and breaks
    later materializations. Tests using it work on days of their own."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def land_sales_data() -> Callable[[ObjectStore, SeedConfig], dict[str, pl.DataFrame]]:
    """Writes one parquet per day where ingestion's IO manager would; returns the frames."""
    return _land
