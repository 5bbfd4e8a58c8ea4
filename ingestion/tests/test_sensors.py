"""The landing sensor: every change of a day's files runs the day once, however late, and ticks
stay cheap and small whatever the number of stores or the length of history."""

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import count

import dagster as dg
import pytest

from ingestion.defs.sales.jobs import daily_ingest_job
from ingestion.defs.sales.sensors import (
    DIGEST_TAG,
    GENERATION_TAG,
    DayState,
    History,
    LandingCursor,
    LandingWatch,
    TickPlan,
    files_digest,
    instance_history,
    plan_tick,
    sales_landing_sensor,
)
from lakehouse.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from lakehouse_testing.servers import PostgresServer

NOW = datetime(2024, 6, 10, 9, 0, tzinfo=UTC)  # partitions exist up to 2024-06-09
# Every tick sweeps (no interval), within a budget no test reaches: the tests below are about
# what a sweep finds; the interval and the budget have tests of their own.
WATCH = LandingWatch(window_days=3, sweep_budget_ms=10_000, sweep_interval_seconds=0)


def _key(day: str, store: str = "store_001") -> str:
    return f"landing/sales/{day}/{store}.csv"


class Recorder:
    """The runs a sensor's requests became, as the instance would remember them."""

    def __init__(self) -> None:
        self.runs: dict[str, DayState] = {}
        self.lookups = 0

    def history(self, days: Sequence[str]) -> Mapping[str, DayState]:
        self.lookups += 1
        return {d: self.runs[d] for d in days if d in self.runs}

    def record(self, plan: TickPlan) -> None:
        for request in plan.run_requests:
            assert request.partition_key is not None
            self.runs[request.partition_key] = DayState(
                int(request.tags[GENERATION_TAG]), request.tags[DIGEST_TAG]
            )


class Sensor:
    """Consecutive ticks, each seeing the cursor and the runs of the ticks before it."""

    def __init__(self, store: ObjectStore, watch: LandingWatch = WATCH) -> None:
        self.store, self.watch = store, watch
        self.cursor: str | None = None
        self.now = NOW
        self.recorder = Recorder()

    def tick(
        self, after: timedelta = timedelta(seconds=10), history: History | None = None
    ) -> TickPlan:
        self.now += after
        plan = plan_tick(
            self.store, self.cursor, self.now, self.watch, history or self.recorder.history
        )
        self.recorder.record(plan)
        self.cursor = plan.cursor.dump()
        return plan


def _days(plan: TickPlan) -> list[str | None]:
    return [r.partition_key for r in plan.run_requests]


def test_first_tick_finds_every_day_once_with_a_bounded_run_key(any_store: ObjectStore) -> None:
    any_store.put(_key("2024-06-09"), b"a")
    any_store.put(_key("2024-06-09", "store_002"), b"b")
    any_store.put(_key("2024-02-01"), b"c")
    sensor = Sensor(any_store)
    plan = sensor.tick()
    assert sorted(_days(plan)) == ["2024-02-01", "2024-06-09"]
    etags = {
        o.key.rsplit("/", 1)[1][:-4]: o.etag
        for o in any_store.list_objects(_key("2024-06-09")[:-13])
    }
    request = next(r for r in plan.run_requests if r.partition_key == "2024-06-09")
    assert request.run_key == f"2024-06-09#1:{files_digest(etags)}"
    assert request.tags["ingestion/files"] == "2"
    assert sensor.tick().run_requests == []


def test_run_keys_and_cursor_do_not_grow_with_the_number_of_stores(
    local_store: ObjectStore,
) -> None:
    for store in range(1000):
        local_store.put(_key("2024-06-09", f"store_{store:04d}"), f"{store}".encode())
    for day in range(1, 150):
        local_store.put(_key((date(2024, 6, 9) - timedelta(days=day)).isoformat()), b"x")
    plan = Sensor(local_store).tick()
    keys = [r.run_key or "" for r in plan.run_requests]
    assert len(keys) == 150 and max(len(k) for k in keys) == len("2024-06-09#1:") + 16
    assert len(plan.cursor.dump()) < 1024  # written into every tick row by the daemon


def test_a_repeated_tick_or_a_lost_cursor_never_duplicates_a_run(local_store: ObjectStore) -> None:
    local_store.put(_key("2024-06-09"), b"a")
    local_store.put(_key("2024-05-01"), b"b")
    sensor = Sensor(local_store)
    assert len(sensor.tick().run_requests) == 2
    assert sensor.tick().run_requests == []
    sensor.cursor = None  # the instance still knows what each day last ran for
    assert sensor.tick().run_requests == []


def test_same_bytes_again_do_not_run_new_bytes_do(any_store: ObjectStore) -> None:
    any_store.put(_key("2024-06-08"), b"bad")
    sensor = Sensor(any_store)
    sensor.tick()
    any_store.put(_key("2024-06-08"), b"bad")  # same bytes, same ETag
    assert sensor.tick().run_requests == []
    any_store.put(_key("2024-06-08"), b"fixed")
    [request] = sensor.tick().run_requests
    assert request.run_key is not None and request.run_key.startswith("2024-06-08#2:")


@pytest.mark.parametrize("day", ["2024-06-08", "2024-03-02"])  # in the window, and long before
def test_a_return_to_an_earlier_version_runs_again(any_store: ObjectStore, day: str) -> None:
    sensor = Sensor(any_store)
    keys = []
    for content in (b"A", b"B", b"A"):
        any_store.put(_key(day), content)
        [request] = sensor.tick().run_requests
        keys.append(request.run_key)
    assert len(set(keys)) == 3
    assert [k.split(":")[0] for k in keys if k] == [f"{day}#1", f"{day}#2", f"{day}#3"]
    assert keys[0] and keys[2] and keys[0].split(":")[1] == keys[2].split(":")[1]  # same files


def test_removing_a_file_and_putting_it_back_runs_both_times(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LocalObjectStore(root=str(tmp_path))
    for day in ("2024-06-08", "2024-04-15"):
        store.put(_key(day), b"a")
        store.put(_key(day, "store_002"), b"b")
    sensor = Sensor(store)
    assert len(sensor.tick().run_requests) == 2
    for day in ("2024-06-08", "2024-04-15"):
        (tmp_path / _key(day, "store_002")).unlink()
    removed = sensor.tick().run_requests
    assert sorted(r.partition_key or "" for r in removed) == ["2024-04-15", "2024-06-08"]
    assert {r.tags["ingestion/files"] for r in removed} == {"1"}
    for day in ("2024-06-08", "2024-04-15"):
        store.put(_key(day, "store_002"), b"b")  # the same bytes as before
    back = sensor.tick().run_requests
    assert {r.tags["ingestion/files"] for r in back} == {"2"}
    assert {(r.run_key or "").split(":")[0][-2:] for r in back} == {"#3"}


def test_removing_the_only_file_runs_the_day_without_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LocalObjectStore(root=str(tmp_path))
    store.put(_key("2024-06-08"), b"a")
    sensor = Sensor(store)
    sensor.tick()
    (tmp_path / _key("2024-06-08")).unlink()
    [request] = sensor.tick().run_requests
    assert request.tags["ingestion/files"] == "0"
    assert sensor.tick().run_requests == []


def test_a_very_late_file_is_found_by_the_next_tick(local_store: ObjectStore) -> None:
    for day in range(60):
        local_store.put(_key((date(2024, 6, 9) - timedelta(days=day)).isoformat()), b"x")
    sensor = Sensor(local_store)
    sensor.tick()
    local_store.put(_key("2024-04-30", "store_042"), b"late")  # 40 days back
    plan = sensor.tick()
    assert _days(plan) == ["2024-04-30"]
    assert plan.cycle_completed


def test_a_quiet_tick_lists_each_month_once_and_looks_nothing_up(local_store: ObjectStore) -> None:
    for day in range(100):
        local_store.put(_key((date(2024, 6, 9) - timedelta(days=day)).isoformat()), b"x")
    sensor = Sensor(local_store)
    sensor.tick()
    sensor.recorder.lookups = 0
    plan = sensor.tick()
    assert plan.run_requests == [] and sensor.recorder.lookups == 0
    # window: 4 days; sweep: the folder listing and one listing per month 2024-01 … 2024-06
    assert plan.prefixes_listed == 4 + 1 + 6


def test_the_sweep_budget_spreads_a_cycle_over_ticks(local_store: ObjectStore) -> None:
    sensor = Sensor(
        local_store, LandingWatch(window_days=3, sweep_budget_ms=0, sweep_interval_seconds=0)
    )
    first = sensor.tick()
    assert first.months_swept == ["2024-01"] and not first.cycle_completed
    local_store.put(_key("2024-01-15"), b"late")  # behind the sweep: found in the next cycle
    swept = [m for _ in range(5) for m in sensor.tick().months_swept]
    assert swept == ["2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    plan = sensor.tick()
    assert plan.months_swept == ["2024-01"] and _days(plan) == ["2024-01-15"]


def test_a_new_cycle_waits_for_the_interval_and_the_window_never_does(
    local_store: ObjectStore,
) -> None:
    sensor = Sensor(local_store, LandingWatch(window_days=3, sweep_interval_seconds=30))
    assert sensor.tick().cycle_completed  # at NOW + 10 s
    local_store.put(_key("2024-04-30"), b"late")
    local_store.put(_key("2024-06-09"), b"recent")
    quiet = sensor.tick()  # 10 s after the last cycle started: the window only
    assert quiet.months_swept == [] and _days(quiet) == ["2024-06-09"]
    assert quiet.prefixes_listed == 4
    sensor.tick()
    late = sensor.tick()  # 30 s after: a new cycle
    assert late.cycle_completed and _days(late) == ["2024-04-30"]


def test_a_time_budget_is_measured_by_the_clock(local_store: ObjectStore) -> None:
    ticks = count()
    plan = plan_tick(
        local_store,
        None,
        NOW,
        LandingWatch(window_days=3, sweep_budget_ms=2500),
        Recorder().history,
        clock=lambda: float(next(ticks)),  # one second passes between two readings
    )
    # Started at 0 s; after each month it reads 1, 2, 3 s: the third month crosses 2.5 s.
    assert plan.months_swept == ["2024-01", "2024-02", "2024-03"]


def test_files_for_today_wait_for_the_day_to_end(local_store: ObjectStore) -> None:
    local_store.put(_key("2024-06-10"), b"today")
    sensor = Sensor(local_store)
    plan = sensor.tick()
    assert plan.run_requests == [] and plan.waiting == [_key("2024-06-10")]
    assert _days(sensor.tick(after=timedelta(days=1))) == ["2024-06-10"]


def test_stray_keys_are_reported_and_never_run(s3_store: S3ObjectStore) -> None:
    strays = [
        "landing/sales/2024-06-08/",  # the "folder" an S3 console creates
        "landing/sales/2024-06-08/README.txt",
        "landing/sales/2024-06-08/X.CSV",
        "landing/sales/2024-06-08/sub/store_001.csv",
        "landing/sales/2024-W10-5/store_001.csv",
        "landing/sales/2024-02-30/store_001.csv",
        "landing/sales/2023-12-31/store_001.csv",  # before the first partition
        "landing/sales/notes.txt",
    ]
    for key in strays:
        s3_store.put(key, b"")
    plan = Sensor(s3_store).tick()
    assert plan.run_requests == []
    reported = "\n".join(str(s) for s in plan.strays)
    for key in strays:
        named_by_folder = ("W10", "02-30", "2023-12-31")
        folder = key.rsplit("/", 1)[0] + "/" if any(n in key for n in named_by_folder) else key
        assert folder in reported, key
    s3_store.put(_key("2024-06-08"), b"a")
    assert _days(Sensor(s3_store).tick()) == ["2024-06-08"]  # strays beside it change nothing


def test_an_unreadable_cursor_starts_over() -> None:
    assert LandingCursor.load("not json") == LandingCursor()
    assert LandingCursor.load('{"v": 1, "recent": {}}') == LandingCursor()


@pytest.fixture
def instance() -> dg.DagsterInstance:
    # Ephemeral and never disposed: a disposed instance handed to a sensor context lingers in
    # Dagster's definitions-loading context and breaks later tests in the session.
    return dg.DagsterInstance.ephemeral()


def _submit(
    instance: dg.DagsterInstance, plan: TickPlan, job_name: str = daily_ingest_job.name
) -> None:
    """What the daemon does with a tick's requests: a run per request, carrying its tags."""
    for request in plan.run_requests:
        instance.add_run(
            dg.DagsterRun(
                job_name=job_name,
                run_id=str(uuid.uuid4()),
                tags={
                    **request.tags,
                    "dagster/partition": request.partition_key or "",
                    "dagster/run_key": request.run_key or "",
                },
            )
        )


def test_the_instance_remembers_what_each_day_last_ran_for(
    local_store: ObjectStore, instance: dg.DagsterInstance
) -> None:
    history = instance_history(instance)
    local_store.put(_key("2024-03-02"), b"A")
    first = plan_tick(local_store, None, NOW, WATCH, history)
    _submit(instance, first)
    digest = first.run_requests[0].tags[DIGEST_TAG]
    assert history(["2024-03-02", "2024-03-03"]) == {"2024-03-02": DayState(1, digest)}
    # A new cursor (reset, or a new sensor) finds nothing to do, and counts on from there.
    assert plan_tick(local_store, None, NOW, WATCH, history).run_requests == []
    local_store.put(_key("2024-03-02"), b"B")
    [request] = plan_tick(local_store, None, NOW, WATCH, history).run_requests
    assert request.tags[GENERATION_TAG] == "2"


def test_runs_of_the_job_under_its_old_name_still_count(
    local_store: ObjectStore, instance: dg.DagsterInstance
) -> None:
    # The job was sales_ingest_job until it was renamed: an upgraded deployment whose cursor is
    # reset must not land every old day again.
    history = instance_history(instance)
    local_store.put(_key("2024-03-02"), b"A")
    _submit(instance, plan_tick(local_store, None, NOW, WATCH, history), "sales_ingest_job")
    assert plan_tick(local_store, None, NOW, WATCH, history).run_requests == []


def test_the_sensor_requests_runs_and_observes_the_landing_area(
    tmp_path, instance: dg.DagsterInstance
) -> None:  # type: ignore[no-untyped-def]
    store = LocalObjectStore(root=str(tmp_path))
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    store.put(_key(yesterday), b"x")
    store.put(f"landing/sales/{yesterday}/README.txt", b"x")
    context = dg.build_sensor_context(
        cursor=None, instance=instance, resources={"object_store": store, "landing_watch": WATCH}
    )
    result = sales_landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    assert [r.partition_key for r in result.run_requests or []] == [yesterday]
    observation = (result.asset_events or [])[0]
    assert isinstance(observation, dg.AssetObservation)
    assert observation.asset_key == dg.AssetKey(["s3", "landing", "sales"])
    assert observation.metadata["stray_keys"].value == 1
    assert yesterday in LandingCursor.load(result.cursor).recent


@pytest.mark.component
def test_run_keys_fit_postgres_run_storage_at_a_thousand_stores(
    postgres: PostgresServer, local_store: ObjectStore
) -> None:
    # Postgres indexes run tags in a btree limited to 2,704 bytes per row; the old run key (day
    # plus every store@etag pair) broke it at ~63 stores. SQLite has no such limit.
    url = postgres.create_database(f"dagster_{uuid.uuid4().hex[:8]}")
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as pg:
        too_long = {"dagster/run_key": secrets.token_hex(1750)}  # incompressible, like ETags
        with pytest.raises(Exception, match="index row size"):
            pg.add_run(dg.DagsterRun(job_name=daily_ingest_job.name, tags=too_long))
        for store in range(1000):
            local_store.put(_key("2024-06-09", f"store_{store:04d}"), f"{store}".encode())
        plan = plan_tick(local_store, None, NOW, WATCH, instance_history(pg))
        _submit(pg, plan)
        assert [r.tags["ingestion/files"] for r in plan.run_requests] == ["1000"]
        # The run is found again by its partition and trigger, and its key is not repeated.
        assert plan_tick(local_store, None, NOW, WATCH, instance_history(pg)).run_requests == []
