"""The lake IO manager: one parquet object per partition, range runs split, reads across runs."""

import io
from datetime import date

import dagster as dg
import polars as pl
import pytest

from lakehouse.io_manager import LakeIOManager
from lakehouse.storage import ObjectStore

days = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")


@dg.asset(
    partitions_def=days,
    io_manager_key="lake",
    metadata={"partition_expr": "day"},
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def numbers(context: dg.AssetExecutionContext) -> pl.DataFrame:
    keys = context.partition_keys
    return pl.DataFrame(
        {"day": [date.fromisoformat(k) for k in keys[:-1]], "n": list(range(len(keys) - 1))}
    )


@dg.asset(
    partitions_def=days,
    io_manager_key="lake",
    metadata={"partition_expr": "day"},
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def doubled(numbers: pl.LazyFrame) -> pl.DataFrame:
    return numbers.with_columns(pl.col("n") * 2).collect()


def _materialize(store: ObjectStore, selection: list, first: str, last: str) -> None:  # type: ignore[type-arg]
    result = dg.materialize(
        selection,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        resources={"lake": LakeIOManager(store=store)},
    )
    assert result.success


@pytest.mark.component
def test_range_run_writes_each_partition_even_empty_ones(any_store: ObjectStore) -> None:
    _materialize(any_store, [numbers], "2024-03-01", "2024-03-03")
    keys = [o.key for o in any_store.list_objects("lake/numbers/")]
    assert keys == [f"lake/numbers/2024-03-0{d}.parquet" for d in (1, 2, 3)]
    last = pl.read_parquet(any_store.get("lake/numbers/2024-03-03.parquet"))
    assert last.height == 0 and last.columns == ["day", "n"]


@pytest.mark.component
def test_downstream_reads_the_range_lazily(any_store: ObjectStore) -> None:
    _materialize(any_store, [numbers], "2024-03-01", "2024-03-03")
    _materialize(any_store, [numbers.to_source_asset(), doubled], "2024-03-01", "2024-03-02")
    out = pl.read_parquet(any_store.get("lake/doubled/2024-03-02.parquet"))
    assert out["n"].to_list() == [2]


@pytest.mark.component
def test_reading_a_missing_partition_fails_naming_it(local_store: ObjectStore) -> None:
    with pytest.raises(
        dg.Failure, match=r"numbers has not been materialized.*2024-04-01"
    ) as failed:
        dg.materialize(
            [numbers.to_source_asset(), doubled],
            partition_key="2024-04-01",
            resources={"lake": LakeIOManager(store=local_store)},
        )
    # Permanent: the assets' retry policy must not spend minutes retrying it.
    assert failed.value.allow_retries is False


def test_stored_partitions_are_listed_under_the_managers_own_prefix(
    local_store: ObjectStore,
) -> None:
    def put(key: str, n: int) -> None:
        buffer = io.BytesIO()
        pl.DataFrame({"n": [n]}).write_parquet(buffer)
        local_store.put(key, buffer.getvalue())

    put("staging/numbers/2024-03-01.parquet", 1)
    put("staging/numbers/2024-03-02.parquet", 2)
    put("staging/numbers/2024-04-01.parquet", 4)
    put("lake/numbers/2024-03-03.parquet", 3)  # the default prefix: another lake
    manager = LakeIOManager(store=local_store, prefix="staging")
    march = manager.scan_stored_partitions(dg.AssetKey("numbers"), "2024-03-")
    assert march is not None
    assert sorted(march.collect()["n"].to_list()) == [1, 2]
    assert manager.scan_stored_partitions(dg.AssetKey("numbers"), "2024-05-") is None
