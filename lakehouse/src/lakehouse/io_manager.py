"""The lake: one parquet object per asset partition, under ``lake/<asset key>/``.

Written by one location, read by the other across the location boundary: ingestion writes
``sales_data``; analytics reads it by key. Multi-partition runs (a single-run backfill) hand over
one frame for the whole range; it is split on the asset's ``partition_expr`` column so every
partition still gets its own object, and a later one-day run rewrites only that day.
"""

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from lakehouse.storage import ObjectStore

LAKE_PREFIX = "lake"
PARTITION_EXPR = "partition_expr"
ALLOW_MISSING_PARTITIONS = "allow_missing_partitions"


def lake_folder(prefix: str, asset_key: dg.AssetKey) -> str:
    """Where a partitioned asset's objects live: ``<prefix>/<asset key path>/``."""
    return "/".join([prefix, *asset_key.path]) + "/"


def lake_key(prefix: str, asset_key: dg.AssetKey, partition_key: str | None) -> str:
    folder = lake_folder(prefix, asset_key)
    return f"{folder}{partition_key}.parquet" if partition_key else f"{folder[:-1]}.parquet"


class LakeIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as parquet in the object store, one object per partition."""

    store: dg.ResourceDependency[ObjectStore]
    prefix: str = Field(default=LAKE_PREFIX, description="Key prefix of the lake in the store.")

    def _write(self, key: str, frame: pl.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        self.store.put(key, buffer.getvalue())

    def _sink(self, key: str, frame: pl.LazyFrame) -> None:
        # Streamed to a local file and uploaded from it: a day of any size never sits in
        # memory whole, and readers see the old object until the new one is complete.
        with tempfile.TemporaryDirectory(prefix="lake-") as tmp:
            path = Path(tmp) / "object.parquet"
            frame.sink_parquet(path, compression="zstd", statistics=True)
            self.store.put_file(key, path)

    def handle_output(
        self, context: dg.OutputContext, obj: pl.DataFrame | pl.LazyFrame | None
    ) -> None:
        if obj is None:
            return
        asset_key = context.asset_key
        single = (
            lake_key(self.prefix, asset_key, None)
            if not context.has_asset_partitions
            else lake_key(self.prefix, asset_key, context.asset_partition_keys[0])
            if len(context.asset_partition_keys) == 1
            else None
        )
        if single is not None:
            if isinstance(obj, pl.LazyFrame):
                self._sink(single, obj)
            else:
                self._write(single, obj)
            return
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        partition_keys = list(context.asset_partition_keys)
        column = (context.definition_metadata or {}).get(PARTITION_EXPR)
        if not column:
            raise dg.Failure(
                f"{asset_key.to_user_string()} materialized {len(partition_keys)} partitions in "
                f"one run but declares no '{PARTITION_EXPR}' metadata naming the column to split "
                "them on",
                allow_retries=False,
            )
        as_text = frame.with_columns(pl.col(str(column)).cast(pl.String).alias("__partition"))
        by_partition = {
            str(part["__partition"][0]): part.drop("__partition")
            for part in as_text.partition_by("__partition", maintain_order=True)
        }
        unknown = sorted(set(by_partition) - set(partition_keys))
        if unknown:
            raise dg.Failure(
                f"{asset_key.to_user_string()}: rows with {column} = {unknown[:5]} fall outside "
                f"the partitions of this run ({partition_keys[0]} … {partition_keys[-1]})",
                allow_retries=False,
            )
        empty = frame.clear()
        for partition_key in partition_keys:
            self._write(
                lake_key(self.prefix, asset_key, partition_key),
                by_partition.get(partition_key, empty),
            )

    def _existing(self, keys: Sequence[str]) -> list[str]:
        # A few partitions: ask for each. Many (a backfill range, a month): one listing of the
        # asset's folder is cheaper than a request per partition.
        if len(keys) <= 4:
            return [key for key in keys if self.store.exists(key)]
        folder = keys[0].rsplit("/", 1)[0] + "/"
        stored = {info.key for info in self.store.list_objects(folder)}
        return [key for key in keys if key in stored]

    def scan_stored_partitions(
        self, asset_key: dg.AssetKey, partition_prefix: str
    ) -> pl.LazyFrame | None:
        """Every stored partition of an asset, under this manager's ``prefix``, whose key starts
        with ``partition_prefix`` (e.g. the days of one month, ``"2024-03-"``), or None when
        there is none. For a reader that wants what exists rather than a partition range (a
        check on the current month: its future days are not missing, just not yet there)."""
        folder = lake_folder(self.prefix, asset_key)
        keys = [info.key for info in self.store.list_objects(folder + partition_prefix)]
        if not keys:
            return None
        return pl.scan_parquet(
            [self.store.uri(key) for key in keys],
            storage_options=self.store.polars_storage_options(),
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame:
        upstream = context.upstream_output
        asset_key = context.asset_key
        if context.has_asset_partitions:
            partition_keys: Sequence[str | None] = list(context.asset_partition_keys)
        else:
            partition_keys = [None]
        keys = [lake_key(self.prefix, asset_key, pk) for pk in partition_keys]
        input_metadata = context.definition_metadata or {}
        allow_missing = bool(input_metadata.get(ALLOW_MISSING_PARTITIONS, False))
        present = self._existing(keys)
        missing = sorted(set(keys) - set(present))
        if missing and not allow_missing:
            raise dg.Failure(
                f"{asset_key.to_user_string()} has not been materialized for "
                f"{len(missing)} of the {len(keys)} partitions this step reads "
                f"(first missing: {self.store.uri(missing[0])})",
                # Permanent for this run: a retry would only wait to fail the same way.
                allow_retries=False,
            )
        if not present:
            schema = _empty_schema(upstream)
            frame = pl.DataFrame(schema=schema)
            return frame.lazy() if _wants_lazy(context) else frame
        lazy = pl.scan_parquet(
            [self.store.uri(key) for key in present],
            storage_options=self.store.polars_storage_options(),
        )
        return lazy if _wants_lazy(context) else lazy.collect()


def _wants_lazy(context: dg.InputContext) -> bool:
    return context.dagster_type.typing_type is pl.LazyFrame


def _empty_schema(upstream: dg.OutputContext | None) -> dict[str, pl.DataType]:
    # Nothing to read: give the consumer the schema the producer declared, so a group-by on an
    # empty range still finds its columns.
    if upstream is None:
        return {}
    declared = (upstream.definition_metadata or {}).get("dagster/column_schema")
    if not isinstance(declared, dg.TableSchema):
        return {}
    return {column.name: polars_type(column.type) for column in declared.columns}


_POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "decimal(12,2)": pl.Decimal(12, 2),
    "decimal(18,2)": pl.Decimal(18, 2),
    "decimal(38,2)": pl.Decimal(38, 2),
}


def polars_type(name: str) -> pl.DataType:
    """The polars type behind a column type named in a ``TableSchema``."""
    try:
        return _POLARS_TYPES[name]
    except KeyError:
        raise ValueError(f"no polars type for schema type {name!r}") from None


def table_schema(schema: pl.Schema, descriptions: dict[str, str]) -> dg.TableSchema:
    """A ``TableSchema`` for the UI from a polars schema, with each column described."""
    names = {v: k for k, v in _POLARS_TYPES.items()}
    columns = []
    for name, dtype in schema.items():
        type_name = names.get(dtype, str(dtype).lower())
        columns.append(
            dg.TableColumn(name=name, type=type_name, description=descriptions.get(name))
        )
    return dg.TableSchema(columns=columns)
