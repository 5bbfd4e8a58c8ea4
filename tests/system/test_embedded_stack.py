"""`make dev`'s defaults: SQLite storage, the var/ folder as the bucket, an embedded PostgreSQL.

The launcher runs with nothing configured (as on a fresh clone) and seeds two days of demo
data; then a store file is dropped into the folder, as a user would.
"""

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from native_stack import Stack, running_stack, wait_until

from lakehouse.seed import SeedConfig, store_csv

pytestmark = pytest.mark.system

CONFIGURED = ("DAGSTER_", "LAKEHOUSE_", "INGESTION_", "AWS_")
MATERIALIZED = """
query M($key: AssetKeyInput!, $partitions: [String!]) { assetOrError(assetKey: $key) {
  ... on Asset { assetMaterializations(partitions: $partitions) {
    partition runId timestamp } } } }"""
METRICS = Path(__file__).resolve().parents[2] / "artifacts" / "system-metrics.json"


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    work = tmp_path_factory.mktemp("embedded")
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIGURED)}
    env["LAKEHOUSE_VAR_DIR"] = str(work / "var")  # instead of the checkout's var/
    with running_stack(env, work, "--seed-days", "2") as (url, log_path):
        yield Stack(url, log_path), work / "var"


def _newest_seeded_day(var: Path) -> str:
    """The last seeded day, read from the folder: yesterday when the launcher seeded, which is
    not yesterday any more if midnight (UTC) passed since (CI once started this at 23:59)."""
    newest = max(p.name for p in (var / "landing" / "sales").iterdir())
    assert newest in {(_yesterday() - timedelta(days=1)).isoformat(), _yesterday().isoformat()}
    return newest


def _materialized(stack: Stack, key: str, day: str) -> list[dict]:
    data = stack.gql(MATERIALIZED, key={"path": [key]}, partitions=[day])
    return data["assetOrError"]["assetMaterializations"]


def test_embedded_defaults_are_sqlite_and_a_local_folder(embedded: tuple[Stack, Path]) -> None:
    _, var = embedded
    config = (var / "dagster_home" / "dagster.yaml").read_text()
    assert "sqlite" in config and "postgres" not in config
    assert "enabled: false" in config  # telemetry
    assert (var / "pg" / "PG_VERSION").is_file()
    yesterday = _newest_seeded_day(var)
    assert sorted(p.name for p in (var / "landing" / "sales" / yesterday).iterdir())[0] == (
        "store_001.csv"
    )


def test_seeded_days_flow_to_sales_summary(embedded: tuple[Stack, Path]) -> None:
    stack, var = embedded
    yesterday = _newest_seeded_day(var)
    wait_until(
        f"sales_summary {yesterday} from the seeded data",
        lambda: _materialized(stack, "sales_summary", yesterday),
        deadline=240,
    )


def test_a_file_dropped_into_the_folder_flows_through(embedded: tuple[Stack, Path]) -> None:
    stack, var = embedded
    day = datetime.now(UTC).date() - timedelta(days=4)  # not seeded, even after a midnight
    path = var / "landing" / "sales" / day.isoformat() / "store_042.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(store_csv(SeedConfig(start=day, end=day), day, "store_042"))
    wait_until(f"sales_data {day}", lambda: _materialized(stack, "sales_data", day.isoformat()))
    wait_until(
        f"sales_summary {day}",
        lambda: _materialized(stack, "sales_summary", day.isoformat()),
        deadline=180,
    )
    lake = var / "lake" / "sales_summary" / f"{day.isoformat()}.parquet"
    assert lake.is_file() and lake.stat().st_size > 0


def test_a_file_forty_days_late_lands_at_make_devs_defaults(embedded: tuple[Stack, Path]) -> None:
    stack, var = embedded
    day = datetime.now(UTC).date() - timedelta(days=40)
    path = var / "landing" / "sales" / day.isoformat() / "store_042.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    put_at = time.time()
    path.write_bytes(store_csv(SeedConfig(start=day, end=day), day, "store_042"))
    [landed] = wait_until(
        f"sales_data {day}", lambda: _materialized(stack, "sales_data", day.isoformat())
    )
    latency = round(int(landed["timestamp"]) / 1000 - put_at, 1)
    METRICS.parent.mkdir(exist_ok=True)
    found = json.loads(METRICS.read_text()) if METRICS.is_file() else {}
    METRICS.write_text(
        json.dumps({**found, "make_dev_late_file_40_days_put_to_sales_data_s": latency}, indent=2)
    )
