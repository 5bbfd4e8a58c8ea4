"""The landing sensor's cursor: recent window, slow sweep, ETag changes, no duplicates."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from ingestion.defs.sales.sensors import (
    LandingCursor,
    LandingWatch,
    TickPlan,
    plan_tick,
    sales_landing_sensor,
)
from lakehouse.storage import LocalObjectStore, ObjectStore

NOW = datetime(2024, 6, 10, 9, 0, tzinfo=UTC)  # partitions exist up to 2024-06-09
WATCH = LandingWatch(window_days=3, sweep_interval_seconds=3600)


def _key(day: str, store: str = "store_001") -> str:
    return f"landing/sales/{day}/{store}.csv"


def _tick(store: ObjectStore, cursor: str | None, now: datetime = NOW) -> TickPlan:
    return plan_tick(store, cursor, now, WATCH)


def _days(plan: TickPlan) -> list[str | None]:
    return [r.partition_key for r in plan.run_requests]


def test_first_tick_sweeps_everything_and_requests_each_day_once(any_store: ObjectStore) -> None:
    any_store.put(_key("2024-06-09"), b"a")
    any_store.put(_key("2024-06-09", "store_002"), b"b")
    any_store.put(_key("2024-02-01"), b"c")
    plan = _tick(any_store, None)
    assert plan.swept
    assert _days(plan) == ["2024-02-01", "2024-06-09"]
    etag_a = next(any_store.list_objects(_key("2024-06-09"))).etag
    run_key = plan.run_requests[1].run_key
    assert run_key is not None
    assert run_key.startswith(f"2024-06-09:store_001@{etag_a},store_002@")


def test_a_repeated_tick_requests_nothing(any_store: ObjectStore) -> None:
    any_store.put(_key("2024-06-09"), b"a")
    first = _tick(any_store, None)
    second = _tick(any_store, first.cursor.dump(), NOW + timedelta(seconds=30))
    assert not second.swept and second.run_requests == []


def test_a_lost_cursor_update_reproduces_the_same_run_key(local_store: ObjectStore) -> None:
    # If a tick's cursor were lost, the retried tick asks for the same run key, which
    # Dagster refuses to launch twice.
    local_store.put(_key("2024-06-09"), b"a")
    assert _tick(local_store, None).run_requests == _tick(local_store, None).run_requests


def test_reupload_runs_again_only_when_the_content_changes(any_store: ObjectStore) -> None:
    any_store.put(_key("2024-06-08"), b"bad")
    cursor = _tick(any_store, None).cursor.dump()
    any_store.put(_key("2024-06-08"), b"bad")  # same bytes, same ETag
    same = _tick(any_store, cursor, NOW + timedelta(seconds=10))
    assert same.run_requests == []
    any_store.put(_key("2024-06-08"), b"fixed")
    fixed = _tick(any_store, same.cursor.dump(), NOW + timedelta(seconds=20))
    new_etag = next(any_store.list_objects(_key("2024-06-08"))).etag
    assert [r.run_key for r in fixed.run_requests] == [f"2024-06-08:store_001@{new_etag}"]


def test_another_store_for_a_handled_day_reruns_the_day(local_store: ObjectStore) -> None:
    local_store.put(_key("2024-06-09"), b"a")
    cursor = _tick(local_store, None).cursor.dump()
    local_store.put(_key("2024-06-09", "store_002"), b"b")
    plan = _tick(local_store, cursor, NOW + timedelta(seconds=10))
    assert _days(plan) == ["2024-06-09"]
    assert plan.run_requests[0].tags["ingestion/files"] == "2"


def test_window_ticks_list_only_recent_days_and_the_sweep_catches_late_files(
    local_store: ObjectStore,
) -> None:
    cursor = _tick(local_store, None).cursor.dump()  # sweep at NOW
    local_store.put(_key("2024-05-01"), b"very late")
    local_store.put(_key("2024-06-08"), b"recent")
    window_tick = _tick(local_store, cursor, NOW + timedelta(minutes=5))
    assert not window_tick.swept and window_tick.prefixes_listed == 4
    assert _days(window_tick) == ["2024-06-08"]
    sweep_tick = _tick(local_store, window_tick.cursor.dump(), NOW + timedelta(hours=1))
    assert sweep_tick.swept and sweep_tick.prefixes_listed == 1
    assert _days(sweep_tick) == ["2024-05-01"]


def test_older_days_are_compacted_and_still_recognised(local_store: ObjectStore) -> None:
    local_store.put(_key("2024-06-09"), b"a")
    first = _tick(local_store, None)
    assert "2024-06-09" in first.cursor.recent
    later = NOW + timedelta(days=10)
    aged = _tick(local_store, first.cursor.dump(), later)
    assert aged.run_requests == [] and aged.swept
    assert "2024-06-09" not in aged.cursor.recent and "2024-06-09" in aged.cursor.older
    local_store.put(_key("2024-06-09"), b"corrected long after")
    again = _tick(local_store, aged.cursor.dump(), later + timedelta(hours=1))
    assert _days(again) == ["2024-06-09"]


def test_files_that_map_to_no_partition_are_reported_by_key(local_store: ObjectStore) -> None:
    local_store.put("landing/sales/2024-02-30/store_001.csv", b"x")
    local_store.put(_key("2023-12-31"), b"x")
    local_store.put("landing/sales/2024-06-01/notes.txt", b"x")
    plan = _tick(local_store, None)
    assert plan.run_requests == []
    assert len(plan.unmappable) == 3
    joined = "\n".join(plan.unmappable)
    for key in ("2024-02-30/store_001.csv", "2023-12-31/store_001.csv", "notes.txt"):
        assert key in joined
    assert "before the first partition 2024-01-01" in joined


def test_a_file_for_today_waits_for_the_day_to_end(local_store: ObjectStore) -> None:
    local_store.put(_key("2024-06-10"), b"today")
    plan = _tick(local_store, None)
    assert plan.run_requests == [] and plan.waiting == [_key("2024-06-10")]
    tomorrow = _tick(local_store, plan.cursor.dump(), NOW + timedelta(days=1))
    assert _days(tomorrow) == ["2024-06-10"]


def test_an_unreadable_cursor_starts_over() -> None:
    assert LandingCursor.load("not json") == LandingCursor()
    assert LandingCursor.load('{"v": 999}') == LandingCursor()


def test_the_sensor_requests_runs_and_observes_the_landing_area(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LocalObjectStore(root=str(tmp_path))
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    store.put(_key(yesterday), b"x")
    context = dg.build_sensor_context(
        cursor=None, resources={"object_store": store, "landing_watch": WATCH}
    )
    result = sales_landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    assert [r.partition_key for r in result.run_requests or []] == [yesterday]
    observation = (result.asset_events or [])[0]
    assert isinstance(observation, dg.AssetObservation)
    assert observation.asset_key == dg.AssetKey(["s3", "landing", "sales"])
    assert LandingCursor.load(result.cursor).recent == {
        yesterday: {"store_001": next(store.list_objects(_key(yesterday))).etag}
    }


@pytest.mark.parametrize("days", [0, 7])
def test_window_size_is_configurable(local_store: ObjectStore, days: int) -> None:
    watch = LandingWatch(window_days=days, sweep_interval_seconds=3600)
    cursor = plan_tick(local_store, None, NOW, watch).cursor.dump()
    edge = (NOW.date() - timedelta(days=days)).isoformat()
    local_store.put(_key(edge), b"at the edge of the window")
    plan = plan_tick(local_store, cursor, NOW + timedelta(seconds=1), watch)
    assert plan.prefixes_listed == days + 1
    assert _days(plan) == ([edge] if edge < "2024-06-10" else [])
