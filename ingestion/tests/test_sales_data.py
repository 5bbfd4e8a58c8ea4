"""sales_data materialized against a real Postgres server and a real S3 server (SeaweedFS)."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import polars as pl
import psycopg
import pytest

from ingestion.defs.sales.assets import landing_area, sales_data, source_sales_table
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.sensors import source_sales_observation_sensor
from lakehouse.config import TRANSIENT_RETRY_POLICY, lake_resources
from lakehouse.landing import CSV_COLUMNS
from lakehouse.seed import SeedConfig, online_rows, seed_database, seed_landing, store_csv
from lakehouse.storage import ObjectStore

pytestmark = pytest.mark.component

CONFIG = SeedConfig(
    start=date(2024, 3, 1), end=date(2024, 3, 3), stores=3, orders_per_store=20, online_orders=15
)
ASSETS = [source_sales_table, landing_area, sales_data]
HEADER = ",".join(CSV_COLUMNS) + "\n"


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


def _retried(result: dg.ExecuteInProcessResult) -> bool:
    return any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    return error.message


def test_a_day_lands_every_order_line_from_both_sources(
    seeded: dict[str, object], s3_store: ObjectStore
) -> None:
    web = online_rows(CONFIG, date(2024, 3, 1))[0]
    web_ts = web[1].isoformat()  # type: ignore[attr-defined]
    # store_900: an exact copy of a web line (click and collect: dropped, listed), the same web
    # order id with different content (the store's own line: kept), and order 1001 with two
    # products; store_901 has an order 1001 of its own.
    s3_store.put(
        "landing/sales/2024-03-01/store_900.csv",
        (
            HEADER
            + f"{web[0]},{web_ts},store_900,west,{web[4]},{web[5]},{web[6]}\n"
            + f"{web[0]},2024-03-01T12:00:00Z,store_900,west,sku-0001,9,1.00\n"
            + "1001,2024-03-01T09:00:00Z,store_900,west,sku-0001,2,10.00\n"
            + "1001,2024-03-01T09:00:00Z,store_900,west,sku-0002,1,199.00\n"
        ).encode(),
    )
    s3_store.put(
        "landing/sales/2024-03-01/store_901.csv",
        (HEADER + "1001,2024-03-01T09:30:00Z,store_901,east,sku-0001,1,5.00\n").encode(),
    )
    result = _run(seeded, "2024-03-01")
    assert result.success

    landed = _lake(s3_store, "2024-03-01")
    assert landed.height == 15 + 3 * 20 + 3 + 1
    assert landed.select("store_id", "order_id", "product_id").is_unique().all()
    copies = landed.filter(pl.col("order_id") == web[0])
    assert sorted(copies["source"].to_list()) == [
        "landing/sales/2024-03-01/store_900.csv",
        "postgres:source.sales",
    ]
    order_1001 = landed.filter(pl.col("order_id") == "1001")
    assert order_1001.height == 3
    revenue = (order_1001["quantity"] * order_1001["unit_price"]).sum()
    assert revenue == Decimal("224.00")

    metadata = result.asset_materializations_for_node("sales_data")[0].metadata
    assert metadata["dagster/row_count"].value == 79
    assert metadata["rows_online"].value == 15
    assert metadata["rows_from_files"].value == 64
    assert metadata["store_copies_of_web_orders_dropped"].value == 1
    dropped = metadata["store_copies_of_web_orders"].value.records  # type: ignore[union-attr]
    assert [r.data["order_id"] for r in dropped] == [web[0]]
    files = metadata["files_read"].value.records  # type: ignore[union-attr]
    listed = {o.key: o.etag for o in s3_store.list_objects("landing/sales/2024-03-01/")}
    assert {r.data["file"]: r.data["etag"] for r in files} == listed
    assert next(r.data["rows"] for r in files if "store_900" in str(r.data["file"])) == 4
    assert metadata["peak_rss_mib"].value > 0  # type: ignore[operator]
    assert metadata["owner"].value == "team:ingestion"

    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "check_order_line_unique": True,
        "check_keys_not_null": True,
        "check_quantity_in_range": True,
        "check_unit_price_in_range": True,
    }
    assert {e.partition for e in result.get_asset_check_evaluations()} == {"2024-03-01"}


def test_stray_keys_are_skipped_and_listed_never_failing_the_day(
    seeded: dict[str, object], s3_store: ObjectStore
) -> None:
    strays = [
        "landing/sales/2024-03-02/",
        "landing/sales/2024-03-02/README.txt",
        "landing/sales/2024-03-02/X.CSV",
        "landing/sales/2024-03-02/archive/store_001.csv",
    ]
    for key in strays:
        s3_store.put(key, b"not a store file")
    result = _run(seeded, "2024-03-02")
    assert result.success
    metadata = result.asset_materializations_for_node("sales_data")[0].metadata
    assert metadata["skipped_keys_count"].value == 4
    skipped = metadata["skipped_keys"].value.records  # type: ignore[union-attr]
    assert sorted(r.data["key"] for r in skipped) == sorted(strays)
    assert _lake(s3_store, "2024-03-02").height == 15 + 60


def test_a_malformed_file_fails_its_day_once_and_stays_in_place(
    seeded: dict[str, object], s3_store: ObjectStore
) -> None:
    bad_key = "landing/sales/2024-03-02/store_002.csv"
    lines = store_csv(CONFIG, date(2024, 3, 2), "store_002").decode().splitlines()
    fields = lines[5].split(",")
    fields[5] = "0"  # quantity on data row 5
    lines[5] = ",".join(fields)
    fields = lines[7].split(",")
    fields[6] = "1e999999"  # a hostile price on data row 7
    lines[7] = ",".join(fields)
    bad_bytes = ("\n".join(lines) + "\n").encode()
    s3_store.put(bad_key, bad_bytes)

    failed = _run(seeded, "2024-03-02")
    assert not failed.success
    message = _failure_message(failed)
    assert f"{bad_key}, row 5 (line 6), column quantity: expected a whole number" in message
    assert f"{bad_key}, row 7 (line 8), column unit_price: expected a number" in message
    assert "got '1e999999'" in message
    # Not retried: a bad file stays bad. Not moved: the object is where the store put it.
    assert not _retried(failed)
    assert s3_store.get(bad_key) == bad_bytes
    assert not s3_store.exists("lake/sales_data/2024-03-02.parquet")

    assert _run(seeded, "2024-03-03").success  # other days keep flowing

    s3_store.put(bad_key, store_csv(CONFIG, date(2024, 3, 2), "store_002"))  # corrected
    assert _run(seeded, "2024-03-02").success
    assert _lake(s3_store, "2024-03-02").height == 15 + 60


def test_a_failed_blocking_check_publishes_nothing_and_keeps_the_last_good_day(
    seeded: dict[str, object], source_db: tuple[str, str], s3_store: ObjectStore
) -> None:
    assert _run(seeded, "2024-03-03").success
    good = _lake(s3_store, "2024-03-03")
    admin_url, _ = source_db
    bad_order = online_rows(CONFIG, date(2024, 3, 3))[2][0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("UPDATE source.sales SET quantity = -5 WHERE order_id = %s", (bad_order,))
    result = _run(seeded, "2024-03-03")
    assert not result.success and not _retried(result)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["check_quantity_in_range"] is False
    assert checks["check_unit_price_in_range"] is True
    message = _failure_message(result)
    assert "was not published" in message and bad_order in message
    assert result.asset_materializations_for_node("sales_data") == []
    assert _lake(s3_store, "2024-03-03").equals(good)  # the lake still holds the day that passed


def test_sales_data_declares_its_retry_policy_and_pool() -> None:
    # Declared configuration only: a real transient-failure retry is not exercised here.
    assert sales_data.op.retry_policy == TRANSIENT_RETRY_POLICY
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
