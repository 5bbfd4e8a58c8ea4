"""The contract across the location boundary: key, partitions and columns of sales_data."""

import dagster as dg
import pytest
from locations import LISTED, LOCATIONS, ROOT, imported_modules, repository

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
    ("location", "other"), [(a, b) for a in LOCATIONS for b in LOCATIONS if a != b]
)
def test_a_location_never_imports_another(location: str, other: str) -> None:
    assert other not in imported_modules(ROOT / location / "src")
    assert other not in imported_modules(ROOT / "lakehouse" / "src")


def _materialized_by() -> dict[dg.AssetKey, list[str]]:
    """Each materializable asset key -> the locations that materialize it."""
    found: dict[dg.AssetKey, list[str]] = {}
    for name in LOCATIONS:
        graph = repository(name).asset_graph
        for key in graph.get_all_asset_keys():
            if graph.get(key).is_materializable:
                found.setdefault(key, []).append(name)
    return found


def test_every_asset_is_materialized_by_exactly_one_location() -> None:
    shared = {
        k.to_user_string(): names for k, names in _materialized_by().items() if len(names) > 1
    }
    assert shared == {}


@pytest.mark.parametrize("location", list(LOCATIONS))
def test_what_a_location_reads_from_another_it_declares_by_key_with_the_same_partitions(
    location: str,
) -> None:
    """A dependency across the boundary is an external asset spec with the owner's key and
    partitions; the owner must exist (a renamed or removed upstream fails here, not at night)."""
    owners = {key: names[0] for key, names in _materialized_by().items()}
    teams = {f"team:{entry.team}" for entry in LISTED.values()}
    graph = repository(location).asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            continue
        owner = owners.get(key)
        if owner is None:
            # A source nobody here materializes (the web shop's table, the stores' files): it
            # names the outside team that writes it. A reference to a location's asset that no
            # location materializes any more (renamed, removed) names none and fails here.
            assert node.owners and not set(node.owners) & teams, (
                f"{location} reads {key.to_user_string()}, which no location materializes"
            )
            continue
        upstream = repository(owner).asset_graph.get(key)
        assert node.partitions_def == upstream.partitions_def, (
            f"{location} declares {key.to_user_string()} with other partitions than {owner}"
        )


@pytest.mark.parametrize("location", list(LOCATIONS))
def test_a_locations_assets_are_owned_by_its_team(location: str) -> None:
    team = f"team:{LISTED[location].team}"
    graph = repository(location).asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert team in node.owners, f"{key.to_user_string()} of {location}: {node.owners}"
