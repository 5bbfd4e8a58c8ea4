"""A third team joins: `make location` in a scratch copy of the checkout, then the native stack
with three code servers on Postgres storage and S3.

Proves that the new location loads next to the other two, that its sample asset materializes by
itself from `sales_summary` across the boundary once a store file lands, and that ingestion and
analytics serve the same assets as their snapshots (tests/snapshots/) say.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from native_stack import Stack, materializations, production_stack, wait_until
from scratch import ROOT, make_location, scratch_copy

from lakehouse.landing import landing_key
from lakehouse.seed import SeedConfig, store_csv
from lakehouse_testing.servers import PostgresServer, S3Server

pytestmark = pytest.mark.system

NEW = "marketing"
DAY = datetime.now(UTC).date() - timedelta(days=2)
CONFIG = SeedConfig(start=DAY, end=DAY, stores=2, orders_per_store=15, online_orders=0)
WORKSPACE = """{
  workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename } } } }
  assetNodes { assetKey { path } dependencyKeys { path } groupName isMaterializable
               owners { ... on TeamAssetOwner { team } }
               repository { location { name } } }
}"""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch copy with `make location NAME=marketing TEAM=marketing` run in it."""
    root = make_location(scratch_copy(tmp_path_factory.mktemp("third-location")), NEW, NEW)
    lock = (root / NEW / "requirements.lock").read_text()
    assert "dagster==1.13.27" in lock and "polars==" in lock
    return root


@pytest.fixture(scope="module")
def three(
    checkout: Path,
    postgres: PostgresServer,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("three-stack")
    with production_stack("third", postgres, s3_server, work, root=checkout) as started:
        yield started


def _nodes(stack: Stack) -> dict[str, dict]:
    return {"/".join(n["assetKey"]["path"]): n for n in stack.gql(WORKSPACE)["assetNodes"]}


def test_three_locations_load(three: Stack) -> None:
    data = three.gql(WORKSPACE)
    entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
    assert set(entries) == {"ingestion", "analytics", NEW}
    for name, entry in entries.items():
        assert entry["loadStatus"] == "LOADED", name
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", name
    own = [
        n
        for n in data["assetNodes"]
        if n["repository"]["location"]["name"] == NEW and n["isMaterializable"]
    ]
    assert own, "the new location serves no asset"
    for node in own:
        assert node["assetKey"]["path"][0] == NEW  # stored under lake/marketing/
        assert {"team": NEW} in node["owners"]
    assert any({"path": ["sales_summary"]} in n["dependencyKeys"] for n in own)


def test_the_existing_locations_serve_what_their_snapshots_say(three: Stack) -> None:
    nodes = _nodes(three)
    for location in ("ingestion", "analytics"):
        snapshot = json.loads((ROOT / "tests" / "snapshots" / f"{location}.json").read_text())
        served = {
            key: {
                "materializable": n["isMaterializable"],
                "group": n["groupName"],
                "deps": sorted("/".join(d["path"]) for d in n["dependencyKeys"]),
            }
            for key, n in nodes.items()
            if n["repository"]["location"]["name"] == location
        }
        expected = {
            key: {k: asset[k] for k in ("materializable", "group", "deps")}
            for key, asset in snapshot["assets"].items()
            if asset["materializable"]
        }
        assert {k: v for k, v in served.items() if v["materializable"]} == expected, location


def test_the_new_asset_materializes_from_sales_summary_by_itself(three: Stack) -> None:
    for store in ("store_001", "store_002"):
        three.put(landing_key(DAY, store), store_csv(CONFIG, DAY, store))
    day = DAY.isoformat()
    wait_until(
        f"sales_summary {day}",
        lambda: materializations(three, ["sales_summary"], day),
        deadline=300,
    )
    own = [
        key
        for key, n in _nodes(three).items()
        if n["repository"]["location"]["name"] == NEW
        and n["isMaterializable"]
        and {"path": ["sales_summary"]} in n["dependencyKeys"]
    ]
    for key in own:
        found = wait_until(
            f"{key} {day} after sales_summary",
            lambda key=key: materializations(three, key.split("/"), day),
            deadline=300,
        )
        assert found[0]["partition"] == day
        lake = three.s3.list_objects_v2(Bucket=three.bucket, Prefix=f"lake/{key}/")
        assert any(day in item["Key"] for item in lake.get("Contents", [])), lake
