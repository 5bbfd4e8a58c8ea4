"""Helpers for analytics tests: sales_data as ingestion would have landed it, from the generator.

Analytics never imports ingestion; these frames are built from the columns analytics reads
(``SALES_DATA_COLUMNS``) and the generator's lines, which follow the landing contract's column
order (``lakehouse.landing.CSV_COLUMNS``).
"""

import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import pytest

from analytics.defs.sales.assets import SALES_DATA_COLUMNS, sales_data
from lakehouse.io_manager import LAKE_PREFIX, lake_key
from lakehouse.landing import CSV_COLUMNS
from lakehouse.seed import SeedConfig, online_rows, store_rows
from lakehouse.storage import ObjectStore


def sales_frame(config: SeedConfig, day: date) -> pl.DataFrame:
    """The day's order lines from the generator, in the columns (and types) analytics reads."""
    lines = [*online_rows(config, day)]
    lines += [r for store in config.store_ids() for r in store_rows(config, day, store)]
    records = []
    for line in lines:
        # Both generators' lines start with the landing columns, in their order.
        record = dict(zip(CSV_COLUMNS, line[: len(CSV_COLUMNS)], strict=True))
        ordered = record["order_ts"]
        assert isinstance(ordered, datetime)
        record["order_date"] = ordered.astimezone(UTC).date()
        records.append({name: record[name] for name in SALES_DATA_COLUMNS})
    return pl.DataFrame(records, schema=SALES_DATA_COLUMNS)


def _land(
    store: ObjectStore, config: SeedConfig, prefix: str = LAKE_PREFIX
) -> dict[str, pl.DataFrame]:
    frames = {}
    for day in config.days():
        frame = sales_frame(config, day)
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        store.put(lake_key(prefix, sales_data.key, day.isoformat()), buffer.getvalue())
        frames[day.isoformat()] = frame
    return frames


@pytest.fixture(scope="session")
def instance() -> Iterator[dg.DagsterInstance]:
    """One instance with a reference (schedule contexts need one) for the whole session: an
    instance disposed mid-session lingers in Dagster's definitions-loading context and breaks
    later materializations. Tests using it work on days of their own."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def land_sales_data() -> Callable[..., dict[str, pl.DataFrame]]:
    """Writes one parquet per day where ingestion's IO manager would (under ``prefix``, by
    default the lake's); returns the frames."""
    return _land
