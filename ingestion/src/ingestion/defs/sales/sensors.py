"""Sensors of ingestion: store files in the landing area, and the source table's state.

``sales_landing_sensor`` runs a day again whenever the set of its files (store -> ETag) differs
from the set its last landing run was requested for: a new file, a correction, a return to an
earlier version (A -> B -> A), a removal, a removal and re-upload. The same set never runs
twice: run keys are ``<day>#<generation>:<digest>``, where the digest names the exact set of
file versions in 16 hex digits and the generation counts the day's changes, so a key has the
same small size for 5 stores or 5,000 and never comes back for a later change.

Where the state lives: the generation and digest of each landing run are tags on the run, so
the Dagster instance is the record of what each day was last run for. The cursor holds only
what keeps ticks cheap, bounded whatever the number of stores: the state of the recent
window's days, one digest per month of history, and where the rolling sweep stands (the
daemon writes the cursor into every tick row, so it must stay small).

What a tick costs: one listing per day of the recent window (``window_days`` before today and
today), plus a rolling sweep of the older history in month slices, for at most
``sweep_budget_ms`` per tick (at least one month); a new sweep cycle starts at most every
``sweep_interval_seconds``. A month whose listing digest has not changed since the last visit
costs nothing more; a changed month looks up its days' last landing run in the instance. So the
sweep's frequency follows its own cost: a small history is swept in one tick every interval, a
large one continuously within the budget, and a very late file is found within one interval
plus one cycle (BENCHMARKS.md has the figures at 100,000 objects).

Keys under the prefix that are not a store's daily file (folder markers, ``README.txt``,
``X.CSV``, sub-folders, days that are not ``YYYY-MM-DD``) are strays: skipped and logged here
exactly as ``sales_data`` skips them.
"""

import calendar
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from ingestion.defs.sales.assets import landing_area, source_sales_table
from ingestion.defs.sales.jobs import daily_ingest_job
from ingestion.defs.sales.partitions import daily_partitions
from ingestion.defs.sales.resources import SourceDatabase
from lakehouse.config import env_int
from lakehouse.landing import (
    LANDING_PREFIX,
    LandingPath,
    Stray,
    classify_key,
    day_prefix,
    parse_day,
)
from lakehouse.storage import ObjectInfo, ObjectStore

CURSOR_VERSION = 2
DIGEST_CHARS = 16
TRIGGER_TAG = "ingestion/trigger"
GENERATION_TAG = "ingestion/landing_generation"
DIGEST_TAG = "ingestion/landing_digest"
FILES_TAG = "ingestion/files"


class LandingWatch(dg.ConfigurableResource):
    """How far back every tick looks, and how much time each tick may spend on older history."""

    window_days: int = Field(default=3, ge=0, description="Days before today listed each tick.")
    sweep_budget_ms: int = Field(
        default=1000,
        ge=0,
        description="Milliseconds per tick for the rolling sweep of older months (at least one "
        "month is listed per tick).",
    )
    sweep_interval_seconds: int = Field(
        default=30,
        ge=0,
        description="Least seconds between the starts of two sweep cycles: a small history is "
        "swept every interval, a large one continuously within the per-tick budget.",
    )


def files_digest(files: Mapping[str, str]) -> str:
    """The exact set of file versions of a day (store id -> ETag), in a fixed-size name."""
    text = "\n".join(f"{store}@{etag}" for store, etag in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]


@dataclass(frozen=True)
class DayState:
    """What a day's last landing run was requested for."""

    generation: int
    digest: str


# What each of some days last ran for: days never run by the sensor are absent.
History = Callable[[Sequence[str]], Mapping[str, DayState]]


def instance_history(instance: dg.DagsterInstance) -> History:
    """The last landing run of each day, read from the instance's run tags: one query for a
    whole month of days (tag values may be a list), newest run first."""

    def last_requested(days: Sequence[str]) -> Mapping[str, DayState]:
        if not days:
            return {}
        records = instance.get_run_records(
            # By tags only, not by job name: the trigger tag is this sensor's own, and runs
            # from before the job's rename (sales_ingest_job) still count.
            filters=dg.RunsFilter(tags={"dagster/partition": list(days), TRIGGER_TAG: "landing"}),
        )
        found: dict[str, DayState] = {}
        for record in records:  # newest first: the first run seen for a day is its last
            tags = record.dagster_run.tags
            day = tags.get("dagster/partition", "")
            if day in found:
                continue
            try:
                found[day] = DayState(int(tags[GENERATION_TAG]), tags[DIGEST_TAG])
            except (KeyError, ValueError):  # a landing run from before run keys carried these
                found[day] = DayState(0, "")
        return found

    return last_requested


@dataclass
class LandingCursor:
    """What keeps ticks cheap: recent days' states, a digest per older month, the sweep's place."""

    recent: dict[str, DayState] = field(default_factory=dict)
    months: dict[str, str] = field(default_factory=dict)
    sweep_next: str = ""  # the month the sweep lists next; unknown ("") starts a new cycle
    cycle_started: float = 0.0  # when the current (or last) sweep cycle started

    @classmethod
    def load(cls, raw: str | None) -> "LandingCursor":
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            if data.get("v") != CURSOR_VERSION:
                return cls()
            return cls(
                recent={d: DayState(int(g), str(h)) for d, (g, h) in data["recent"].items()},
                months={str(m): str(h) for m, h in data["months"].items()},
                sweep_next=str(data.get("next", "")),
                cycle_started=float(data.get("started", 0.0)),
            )
        except (ValueError, AttributeError, TypeError, KeyError):
            return cls()

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "recent": {d: [s.generation, s.digest] for d, s in sorted(self.recent.items())},
                "months": dict(sorted(self.months.items())),
                "next": self.sweep_next,
                "started": round(self.cycle_started, 1),
            },
            separators=(",", ":"),
        )


@dataclass
class TickPlan:
    run_requests: list[dg.RunRequest]
    cursor: LandingCursor
    strays: list[Stray]
    waiting: list[str]  # keys for a day that has not ended yet
    prefixes_listed: int
    months_swept: list[str]
    cycle_completed: bool
    history_lookups: int  # queries to the instance (one per changed month, at most)


def window_days(today: date, days: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(days, -1, -1)]


def month_days(month: str) -> list[date]:
    year, number = int(month[:4]), int(month[5:7])
    return [date(year, number, d) for d in range(1, calendar.monthrange(year, number)[1] + 1)]


def months_between(first: date, last: date) -> list[str]:
    months, year, number = [], first.year, first.month
    while (year, number) <= (last.year, last.month):
        months.append(f"{year:04d}-{number:02d}")
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


def _split(listing: Iterable[ObjectInfo]) -> tuple[dict[date, dict[str, str]], list[Stray]]:
    by_day: dict[date, dict[str, str]] = {}
    strays: list[Stray] = []
    for info in listing:
        classified = classify_key(info.key)
        if isinstance(classified, LandingPath):
            by_day.setdefault(classified.day, {})[classified.store_id] = info.etag
        else:
            strays.append(classified)
    return by_day, strays


class _Planner:
    def __init__(self, history: History) -> None:
        self.history = history
        self.requests: list[dg.RunRequest] = []
        self.lookups = 0

    def last(self, days: Sequence[str]) -> Mapping[str, DayState]:
        if not days:
            return {}
        self.lookups += 1
        return self.history(days)

    def decide(self, day: str, files: Mapping[str, str], state: DayState | None) -> DayState | None:
        """Request a run when the day's files differ from what it last ran for."""
        digest = files_digest(files)
        if state is not None and state.digest == digest:
            return state
        if state is None and not files:
            return None  # never had files, has none: the nightly schedule covers the day
        generation = (state.generation if state else 0) + 1
        self.requests.append(
            dg.RunRequest(
                run_key=f"{day}#{generation}:{digest}",
                partition_key=day,
                tags={
                    TRIGGER_TAG: "landing",
                    FILES_TAG: str(len(files)),
                    GENERATION_TAG: str(generation),
                    DIGEST_TAG: digest,
                },
            )
        )
        return DayState(generation, digest)


def plan_tick(
    store: ObjectStore,
    raw_cursor: str | None,
    now: datetime,
    watch: LandingWatch,
    history: History,
    clock: Callable[[], float] = time.monotonic,
) -> TickPlan:
    """Decide one tick: which days to run, and the cursor to keep (no side effects)."""
    started = clock()
    cursor = LandingCursor.load(raw_cursor)
    planner = _Planner(history)
    today = now.astimezone(UTC).date()
    with dg.partition_loading_context(effective_dt=now):
        last_key = daily_partitions.get_last_partition_key()
    first = date.fromisoformat(daily_partitions.get_first_partition_key() or "2024-01-01")
    last = date.fromisoformat(last_key) if last_key else first - timedelta(days=1)
    strays: list[Stray] = []
    waiting: list[str] = []
    listed = 0

    # The recent window, every tick: the cursor says what each day last ran for.
    window = window_days(today, watch.window_days)
    recent: dict[str, DayState] = {}
    known = planner.last(
        [d.isoformat() for d in window if first <= d <= last and d.isoformat() not in cursor.recent]
    )
    for day in window:
        objects = list(store.list_objects(day_prefix(day)))
        listed += 1
        by_day, day_strays = _split(objects)
        strays.extend(day_strays)
        files = by_day.get(day, {})
        if day > last:
            waiting.extend(f"{day_prefix(day)}{store_id}.csv" for store_id in sorted(files))
            continue
        if day < first:
            strays.extend(
                Stray(f"{day_prefix(day)}{s}.csv", f"{day} is before the first partition {first}")
                for s in files
            )
            continue
        key = day.isoformat()
        state = cursor.recent[key] if key in cursor.recent else known.get(key)
        decided = planner.decide(key, files, state)
        if decided is not None:
            recent[key] = decided
    cursor.recent = recent

    # The rolling sweep of older history, month by month, within the budget.
    months = months_between(first, min(last, window[0] - timedelta(days=1)))
    swept: list[str] = []
    cycle_completed = False
    if cursor.sweep_next not in months and months:
        cursor.sweep_next = months[0]
    starting = bool(months) and cursor.sweep_next == months[0]
    if starting and now.timestamp() - cursor.cycle_started < watch.sweep_interval_seconds:
        months = []  # the last cycle was recent: this tick lists only the window
    if months:
        if starting:
            cursor.cycle_started = now.timestamp()
            # Start of a cycle: keys directly under the prefix, folders that are no day, and days
            # before the first partition (no month of the sweep lists those).
            folders, objects = store.list_folder(LANDING_PREFIX)
            listed += 1
            strays.extend(Stray(o.key, "not in a <YYYY-MM-DD>/ folder") for o in objects)
            for folder in folders:
                folder_day = parse_day(folder[len(LANDING_PREFIX) : -1])
                if folder_day is None:
                    reason = f"{folder[len(LANDING_PREFIX) : -1]!r} is not a day (YYYY-MM-DD)"
                    strays.append(Stray(folder, reason))
                elif folder_day < first:
                    reason = f"{folder_day} is before the first partition {first}"
                    strays.append(Stray(folder, reason))
        budget = watch.sweep_budget_ms / 1000
        position = months.index(cursor.sweep_next)
        while position < len(months):
            month = months[position]
            objects = list(store.list_objects(f"{LANDING_PREFIX}{month}-"))
            listed += 1
            by_day, month_strays = _split(objects)
            strays.extend(month_strays)
            older = {d: f for d, f in by_day.items() if first <= d < window[0]}
            digest = files_digest(
                {f"{d}/{s}": e for d, files in older.items() for s, e in files.items()}
            )[:12]
            if cursor.months.get(month) != digest:
                days = [d for d in month_days(month) if first <= d < window[0]]
                states = planner.last([d.isoformat() for d in days])
                for day in days:
                    key = day.isoformat()
                    planner.decide(key, older.get(day, {}), states.get(key))
                cursor.months[month] = digest
            swept.append(month)
            position += 1
            if clock() - started >= budget:
                break
        cycle_completed = position >= len(months)
        cursor.sweep_next = months[0] if cycle_completed else months[position]
        cursor.months = {m: h for m, h in cursor.months.items() if m in months}
    return TickPlan(
        run_requests=planner.requests,
        cursor=cursor,
        strays=list({s.key: s for s in strays}.values()),  # a window day is swept too
        waiting=waiting,
        prefixes_listed=listed,
        months_swept=swept,
        cycle_completed=cycle_completed,
        history_lookups=planner.lookups,
    )


MAX_LOGGED = 20


@dg.sensor(
    job=daily_ingest_job,
    # Every loop of the sensor daemon, which loops every 5 s: a file waits 2.5 s on average for
    # the tick that sees it (Dagster's default, 30 s, makes that 15 s). Not 5: a tick starts
    # slightly after its loop, so the next loop finds less than 5 s elapsed and skips one.
    minimum_interval_seconds=env_int("INGESTION_LANDING_SENSOR_SECONDS", 1, minimum=1),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts sales_data for a day whenever the set of its store files under "
        f"{LANDING_PREFIX}<day>/ changes (new, corrected, reverted, removed), however late: the "
        "recent window every tick, older months in a rolling sweep with a per-tick budget. "
        "Keys that are not a store's daily file are logged and skipped."
    ),
)
def sales_landing_sensor(
    context: dg.SensorEvaluationContext, object_store: ObjectStore, landing_watch: LandingWatch
) -> dg.SensorResult:
    plan = plan_tick(
        object_store,
        context.cursor,
        datetime.now(UTC),
        landing_watch,
        instance_history(context.instance),
    )
    if plan.strays:
        shown = "; ".join(str(s) for s in plan.strays[:MAX_LOGGED])
        more = (
            f" (and {len(plan.strays) - MAX_LOGGED} more)" if len(plan.strays) > MAX_LOGGED else ""
        )
        context.log.warning(
            f"skipped {len(plan.strays)} key(s) that are no store file: {shown}{more}"
        )
    if plan.waiting:
        context.log.info(
            f"{len(plan.waiting)} file(s) wait for their day to end: {plan.waiting[:MAX_LOGGED]}"
        )
    swept = ", ".join(plan.months_swept) or "no month"
    context.log.info(
        f"listed {plan.prefixes_listed} prefix(es); swept {swept}"
        f"{' (cycle complete)' if plan.cycle_completed else ''}; "
        f"{plan.history_lookups} run lookup(s); {len(plan.run_requests)} day(s) to run"
    )
    events: list[dg.AssetObservation] = []
    if plan.run_requests:
        events.append(
            dg.AssetObservation(
                asset_key=landing_area.key,
                metadata={
                    "days_with_changed_files": dg.MetadataValue.json(
                        [r.partition_key for r in plan.run_requests]
                    ),
                    "stray_keys": len(plan.strays),
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
