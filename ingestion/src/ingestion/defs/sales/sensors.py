"""Sensors of ingestion: new store files in the landing area, and the source table's state.

``sales_landing_sensor`` keeps a tick's cost bounded by the recent window, not by history:
it lists only the day prefixes of the last ``window_days`` days, and lists the whole landing
prefix only every ``sweep_interval_seconds`` to catch very late files. Its cursor remembers the
(file, ETag) pairs handled per recent day and a digest per older day. A day runs again when its
set of files or any file's ETag changes; the run key is the day plus every (file, ETag) pair, so
a repeated tick can never start a duplicate run and a corrected re-upload always starts one.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from ingestion.defs.sales.assets import landing_area, source_sales_table
from ingestion.defs.sales.jobs import sales_ingest_job
from ingestion.defs.sales.partitions import daily_partitions
from ingestion.defs.sales.resources import SourceDatabase
from ingestion.defs.sales.validation import LANDING_PREFIX, LandingPathError, parse_landing_key
from lakehouse.storage import ObjectInfo, ObjectStore

CURSOR_VERSION = 1


class LandingWatch(dg.ConfigurableResource):
    """How far back each tick looks, and how often the whole landing area is swept."""

    window_days: int = Field(default=3, ge=0, description="Days before today listed each tick.")
    sweep_interval_seconds: int = Field(
        default=3600, ge=0, description="Seconds between full listings of the landing prefix."
    )


def _digest(files: Mapping[str, str]) -> str:
    text = "\n".join(f"{name}@{etag}" for name, etag in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class LandingCursor:
    """What the sensor has handled: pairs for recent days, one digest per older day."""

    recent: dict[str, dict[str, str]] = field(default_factory=dict)
    older: dict[str, str] = field(default_factory=dict)
    swept_at: float = 0.0

    @classmethod
    def load(cls, raw: str | None) -> "LandingCursor":
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            if data.get("v") != CURSOR_VERSION:
                return cls()
            return cls(
                recent={d: dict(f) for d, f in data.get("recent", {}).items()},
                older=dict(data.get("older", {})),
                swept_at=float(data.get("swept_at", 0.0)),
            )
        except (ValueError, AttributeError, TypeError):
            return cls()

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "recent": self.recent,
                "older": self.older,
                "swept_at": self.swept_at,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    def is_handled(self, day: str, files: Mapping[str, str]) -> bool:
        if day in self.recent:
            return self.recent[day] == dict(files)
        return self.older.get(day) == _digest(files)

    def mark(self, day: str, files: Mapping[str, str]) -> None:
        self.older.pop(day, None)
        self.recent[day] = dict(files)

    def compact(self, oldest_recent_day: str) -> None:
        for day in [d for d in self.recent if d < oldest_recent_day]:
            self.older[day] = _digest(self.recent.pop(day))


@dataclass
class TickPlan:
    run_requests: list[dg.RunRequest]
    cursor: LandingCursor
    unmappable: list[str]  # "key: reason"
    waiting: list[str]  # keys for a day that has not ended yet
    swept: bool
    prefixes_listed: int


def window_days(today: date, days: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(days, -1, -1)]


def plan_tick(
    store: ObjectStore, raw_cursor: str | None, now: datetime, watch: LandingWatch
) -> TickPlan:
    """Decide one tick: which days to run, and the cursor to keep (no side effects)."""
    cursor = LandingCursor.load(raw_cursor)
    now_ts = now.timestamp()
    sweep = now_ts - cursor.swept_at >= watch.sweep_interval_seconds
    today = now.astimezone(UTC).date()
    if sweep:
        listings: Iterable[ObjectInfo] = store.list_objects(LANDING_PREFIX)
        prefixes = 1
    else:
        days = window_days(today, watch.window_days)
        listings = (info for day in days for info in store.list_objects(f"{LANDING_PREFIX}{day}/"))
        prefixes = len(days)

    with dg.partition_loading_context(effective_dt=now):
        last_partition = daily_partitions.get_last_partition_key()
    first_partition = daily_partitions.get_first_partition_key()
    by_day: dict[str, dict[str, str]] = {}
    unmappable: list[str] = []
    waiting: list[str] = []
    for info in listings:
        try:
            path = parse_landing_key(info.key)
        except LandingPathError as exc:
            unmappable.append(str(exc))
            continue
        day = path.day.isoformat()
        if first_partition is None or day < first_partition:
            unmappable.append(f"{info.key}: {day} is before the first partition {first_partition}")
        elif last_partition is None or day > last_partition:
            waiting.append(info.key)  # the day's partition opens when the day ends (UTC)
        else:
            by_day.setdefault(day, {})[path.store_id] = info.etag

    requests = []
    for day, files in sorted(by_day.items()):
        if cursor.is_handled(day, files):
            continue
        pairs = ",".join(f"{store_id}@{etag}" for store_id, etag in sorted(files.items()))
        requests.append(
            dg.RunRequest(
                run_key=f"{day}:{pairs}",
                partition_key=day,
                tags={"ingestion/trigger": "landing", "ingestion/files": str(len(files))},
            )
        )
        cursor.mark(day, files)
    if sweep:
        cursor.swept_at = now_ts
    cursor.compact(min(window_days(today, watch.window_days)).isoformat())
    return TickPlan(requests, cursor, unmappable, waiting, sweep, prefixes)


@dg.sensor(
    job=sales_ingest_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts sales_data for a day when a store file lands or is corrected under "
        "landing/sales/<day>/. Lists the recent window each tick and sweeps the whole prefix "
        "hourly for very late files; files that map to no partition are logged by key."
    ),
)
def sales_landing_sensor(
    context: dg.SensorEvaluationContext, object_store: ObjectStore, landing_watch: LandingWatch
) -> dg.SensorResult:
    plan = plan_tick(object_store, context.cursor, datetime.now(UTC), landing_watch)
    for problem in plan.unmappable:
        context.log.warning(f"cannot map to a partition: {problem}")
    if plan.waiting:
        context.log.info(f"{len(plan.waiting)} file(s) wait for their day to end: {plan.waiting}")
    context.log.info(
        f"listed {plan.prefixes_listed} prefix(es){' (full sweep)' if plan.swept else ''}; "
        f"{len(plan.run_requests)} day(s) to run"
    )
    events = []
    if plan.run_requests:
        events.append(
            dg.AssetObservation(
                asset_key=landing_area.key,
                metadata={
                    "days_with_new_files": dg.MetadataValue.json(
                        [r.partition_key for r in plan.run_requests]
                    ),
                    "unmappable_files": len(plan.unmappable),
                },
            )
        )
    return dg.SensorResult(
        run_requests=plan.run_requests, cursor=plan.cursor.dump(), asset_events=events
    )


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Records the row count and latest updated_at of postgres/source/sales as an "
        "observation whenever they change, so the UI shows when the source last changed."
    ),
)
def source_sales_observation_sensor(
    context: dg.SensorEvaluationContext, source_db: SourceDatabase
) -> dg.SensorResult | dg.SkipReason:
    state = source_db.table_state()
    last = state.last_updated_at
    updated = last.astimezone(UTC).isoformat() if last else None
    fingerprint = f"{state.row_count}|{updated}"
    if fingerprint == context.cursor:
        return dg.SkipReason(f"source.sales unchanged: {state.row_count} rows, last {updated}")
    metadata: dict[str, Any] = {
        "dagster/row_count": state.row_count,
        "last_updated_at": updated or "never",
    }
    if state.last_updated_at is not None:
        metadata["dagster/last_updated_timestamp"] = dg.MetadataValue.timestamp(
            state.last_updated_at
        )
    return dg.SensorResult(
        asset_events=[dg.AssetObservation(asset_key=source_sales_table.key, metadata=metadata)],
        cursor=fingerprint,
    )
