"""sales_data materialized against a real Postgres server and a real S3 endpoint on loopback."""

import io
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import psycopg
import pytest

from ingestion.defs.sales.assets import landing_area, sales_data, source_sales_table
from ingestion.defs.sales.checks import sales_data_checks
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.sensors import source_sales_observation_sensor
from lakehouse.config import lake_resources
from lakehouse.seed import SeedConfig, online_rows, seed_database, seed_landing, store_csv
from lakehouse.storage import ObjectStore

pytestmark = pytest.mark.component

CONFIG = SeedConfig(
    start=date(2024, 3, 1), end=date(2024, 3, 3), stores=3, orders_per_store=20, online_orders=15
)
ASSETS = [source_sales_table, landing_area, sales_data, sales_data_checks]


@pytest.fixture
def seeded(source_db: tuple[str, str], s3_store: ObjectStore) -> dict[str, object]:
    admin_url, reader_url = source_db
    with psycopg.connect(admin_url, autocommit=True) as conn:
        seed_database(conn, CONFIG)
    seed_landing(s3_store, CONFIG)
    return {**lake_resources(s3_store), "source_db": SourceDatabase(url=reader_url)}


def _run(resources: dict[str, object], day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(ASSETS, partition_key=day, resources=resources, raise_on_error=False)


def _lake(store: ObjectStore, day: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(store.get(f"lake/sales_data/{day}.parquet")))


def test_a_day_lands_from_both_sources_deduplicated(
    seeded: dict[str, object], s3_store: ObjectStore
) -> None:
    # A store that also keyed in one of the web orders: the web shop's row must win.
    web_order = online_rows(CONFIG, date(2024, 3, 1))[0]
    s3_store.put(
        "landing/sales/2024-03-01/store_900.csv",
        b"order_id,order_ts,store_id,region,product_id,quantity,unit_price\n"
        + f"{web_order[0]},2024-03-01T12:00:00Z,store_900,west,sku-0001,9,1.00\n".encode(),
    )
    result = _run(seeded, "2024-03-01")
    assert result.success

    landed = _lake(s3_store, "2024-03-01")
    assert landed.height == 15 + 3 * 20
    assert landed["order_id"].is_unique().all()
    assert landed.filter(pl.col("order_id") == web_order[0])["source"].to_list() == [
        "postgres:source.sales"
    ]
    assert landed["order_date"].unique().to_list() == [date(2024, 3, 1)]

    metadata = result.asset_materializations_for_node("sales_data")[0].metadata
    assert metadata["dagster/row_count"].value == 75
    assert metadata["rows_online"].value == 15
    assert metadata["rows_from_files"].value == 60
    assert metadata["duplicates_dropped"].value == 1
    files = metadata["files_read"].value.records  # type: ignore[union-attr]
    listed = {o.key: o.etag for o in s3_store.list_objects("landing/sales/2024-03-01/")}
    assert {r.data["file"]: r.data["etag"] for r in files} == listed
    assert "2024-03-01" in str(metadata["date_range"].value)
    assert metadata["owner"].value == "team:ingestion"
    assert {c.name for c in metadata["dagster/column_schema"].value.columns} >= {  # type: ignore[union-attr]
        "order_id",
        "order_date",
        "quantity",
        "unit_price",
    }

    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "check_order_id_unique": True,
        "check_keys_not_null": True,
        "check_quantity_positive": True,
        "check_unit_price_non_negative": True,
    }
    assert {e.partition for e in result.get_asset_check_evaluations()} == {"2024-03-01"}


def test_a_malformed_file_fails_its_day_only_and_stays_in_place(
    seeded: dict[str, object], s3_store: ObjectStore
) -> None:
    bad_key = "landing/sales/2024-03-02/store_002.csv"
    lines = store_csv(CONFIG, date(2024, 3, 2), "store_002").decode().splitlines()
    fields = lines[5].split(",")
    fields[5] = "0"  # quantity on data row 5
    lines[5] = ",".join(fields)
    bad_bytes = ("\n".join(lines) + "\n").encode()
    s3_store.put(bad_key, bad_bytes)

    failed = _run(seeded, "2024-03-02")
    assert not failed.success
    failure = failed.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert f"{bad_key}, row 5 (line 6), column quantity: expected an integer >= 1, got '0'" in (
        failure.message
    )
    # Not retried: a bad file stays bad. Not moved: the object is where the store put it.
    assert not [e for e in failed.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert s3_store.get(bad_key) == bad_bytes
    assert not s3_store.exists("lake/sales_data/2024-03-02.parquet")

    assert _run(seeded, "2024-03-03").success  # other days keep flowing

    s3_store.put(bad_key, store_csv(CONFIG, date(2024, 3, 2), "store_002"))  # corrected
    assert _run(seeded, "2024-03-02").success
    assert _lake(s3_store, "2024-03-02").height == 15 + 60


def test_a_bad_row_in_the_source_table_fails_the_blocking_check(
    seeded: dict[str, object], source_db: tuple[str, str], s3_store: ObjectStore
) -> None:
    admin_url, _ = source_db
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE source.sales SET unit_price = -5 WHERE order_id = %s",
            (online_rows(CONFIG, date(2024, 3, 3))[2][0],),
        )
    result = _run(seeded, "2024-03-03")
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["check_unit_price_non_negative"] is False
    assert checks["check_quantity_positive"] is True
    assert not result.success  # a failed blocking check fails the run


def test_sales_data_declares_its_retry_policy_and_pool() -> None:
    # Declared configuration only: a real transient-failure retry is not exercised here.
    policy = sales_data.op.retry_policy
    assert policy is not None and policy.max_retries == 3
    assert sales_data.op.pool == "source_db"


def test_source_observations_follow_the_table(source_db: tuple[str, str]) -> None:
    admin_url, reader_url = source_db
    with psycopg.connect(admin_url, autocommit=True) as conn:
        seed_database(conn, CONFIG)
    instance = dg.DagsterInstance.ephemeral()
    resources = {"source_db": SourceDatabase(url=reader_url)}

    first = source_sales_observation_sensor(
        dg.build_sensor_context(instance=instance, resources=resources)
    )
    assert isinstance(first, dg.SensorResult)
    # Stored as the daemon stores a sensor's asset events, then read back from the instance.
    for event in first.asset_events or []:
        instance.report_runless_asset_event(event)  # type: ignore[arg-type]
    records = instance.fetch_observations(dg.AssetKey(["postgres", "source", "sales"]), limit=5)
    assert len(records.records) == 1
    observed = records.records[0].asset_observation
    assert observed is not None
    latest = max(row[7] for day in CONFIG.days() for row in online_rows(CONFIG, day))
    assert observed.metadata["dagster/row_count"].value == 45
    assert observed.metadata["dagster/last_updated_timestamp"].value == pytest.approx(
        latest.timestamp()  # type: ignore[attr-defined]
    )

    unchanged = source_sales_observation_sensor(
        dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor)
    )
    assert isinstance(unchanged, dg.SkipReason)

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO source.sales (order_id, order_ts, updated_at) VALUES ('late', %s, %s)",
            (datetime(2024, 3, 3, 23, tzinfo=UTC), datetime(2024, 3, 4, 8, tzinfo=UTC)),
        )
    changed = source_sales_observation_sensor(
        dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor)
    )
    assert isinstance(changed, dg.SensorResult)
    event = (changed.asset_events or [])[0]
    assert event.metadata["dagster/row_count"].value == 46  # type: ignore[union-attr]
    assert event.metadata["last_updated_at"].value == "2024-03-04T08:00:00+00:00"  # type: ignore[union-attr]
