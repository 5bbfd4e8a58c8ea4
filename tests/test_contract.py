"""The contract across the location boundary: key, partitions and columns of sales_data."""

import dagster as dg
import pytest
from locations import LOCATIONS, ROOT, imported_modules, repository

from analytics.defs.sales.assets import SALES_DATA_COLUMNS
from lakehouse.io_manager import LakeIOManager, polars_type

SALES_DATA = dg.AssetKey("sales_data")


def test_analytics_declares_sales_data_with_ingestions_key_and_partitions() -> None:
    ingestion = repository("ingestion").asset_graph.get(SALES_DATA)
    analytics = repository("analytics").asset_graph.get(SALES_DATA)
    assert ingestion.is_materializable and not analytics.is_materializable
    assert ingestion.partitions_def is not None
    assert analytics.partitions_def == ingestion.partitions_def
    summary = repository("analytics").asset_graph.get(dg.AssetKey("sales_summary"))
    assert summary.partitions_def == ingestion.partitions_def
    assert SALES_DATA in summary.parent_keys


def test_the_columns_analytics_reads_are_the_ones_ingestion_writes() -> None:
    schema = repository("ingestion").asset_graph.get(SALES_DATA).metadata["dagster/column_schema"]
    written = {column.name: polars_type(column.type) for column in schema.columns}
    for name, dtype in SALES_DATA_COLUMNS.items():
        assert name in written, f"analytics reads {name}, which ingestion does not write"
        assert written[name] == dtype, f"{name}: ingestion writes {written[name]}, not {dtype}"


def test_both_sides_read_and_write_the_same_lake() -> None:
    managers = {
        name: (LOCATIONS[name].resources or {})["lake_io_manager"]
        for name in ("ingestion", "analytics")
    }
    assert all(isinstance(m, LakeIOManager) for m in managers.values())
    assert managers["ingestion"].prefix == managers["analytics"].prefix  # type: ignore[attr-defined]
    spec = repository("analytics").assets_defs_by_key[SALES_DATA]
    assert spec.get_io_manager_key_for_asset_key(SALES_DATA) == "lake_io_manager"
    assert (
        repository("ingestion")
        .assets_defs_by_key[SALES_DATA]
        .get_io_manager_key_for_asset_key(SALES_DATA)
        == "lake_io_manager"
    )


def test_only_sales_data_is_shared_between_the_locations() -> None:
    keys = {
        name: set(repository(name).asset_graph.get_all_asset_keys())
        for name in ("ingestion", "analytics")
    }
    assert keys["ingestion"] & keys["analytics"] == {SALES_DATA}


@pytest.mark.parametrize(
    ("location", "other"), [("analytics", "ingestion"), ("ingestion", "analytics")]
)
def test_a_location_never_imports_the_other(location: str, other: str) -> None:
    assert other not in imported_modules(ROOT / location / "src")
    assert other not in imported_modules(ROOT / "lakehouse" / "src")
