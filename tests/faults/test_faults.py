"""Step 8, faults: the compose deployment driven from outside while one of its parts fails.

One deployment of its own (project ``lakehouse-faults-…``) for the module, started once with
`make up` from the built images (tests/compose/compose_stack.py, shared with the compose tier).
Stores put files with their own S3 key, runs are followed through GraphQL, and each fault is
injected from the host while files land and runs are in flight. Every test records its row
(what the product did, time to recover, runs lost or duplicated, data lost) before it asserts,
so RELIABILITY.md shows the figures of a failing run too. Timings are recorded, never asserted:
the waits are deadlines only.

Exactly-once landing is counted, not assumed: for every day a test put files for, the landing
run of the day's final set of files (its digest tag) must have succeeded, no run key may have
succeeded twice, `sales_data` must have one materialization per successful run, and
`lake/sales_data/<day>.parquet` must hold every row of every file put (store by store).

The tests run in file order, each on days of its own: F3, F4, F5, F1, F2, F6, F8, F7.
"""

import io
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import polars as pl
import pytest
import yaml
from botocore.exceptions import ClientError
from compose_files import ROOT
from compose_stack import BUCKET, LONG_RUNNING, ComposeStack, compose_deployment
from docker_engine import docker
from native_stack import GraphQLError, materializations, tags_of
from reliability import Reliability

from ingestion.defs.sales.sensors import DIGEST_TAG, TRIGGER_TAG, files_digest
from lakehouse.seed import SeedConfig, landing_key, store_csv

pytestmark = pytest.mark.faults

T = TypeVar("T")
TODAY = datetime.now(UTC).date()
INGEST = "daily_ingest_job"
LANDING_SENSOR = "sales_landing_sensor"
IN_PROGRESS = ["STARTING", "STARTED", "CANCELING"]
# F7's burst. The issue's size, 100 days x 10 stores (1,000 files), drained in 934 s here (one
# landing run and one analytics run per day, each in its own container, two landing runs at a
# time): more than CI's budget allows for one test. Run it with
# FAULTS_BURST_DAYS=100 FAULTS_BURST_STORES=10 make test-faults (RELIABILITY.md records the
# sizes with the command; the committed one is that run). The default keeps the 1,000 files and
# puts them on 10 days, so it drains in about two minutes.
BURST_DAYS = int(os.environ.get("FAULTS_BURST_DAYS", "10"))
BURST_STORES = int(os.environ.get("FAULTS_BURST_STORES", "100"))


def _days(first_back: int, count: int) -> list[date]:
    """``count`` days, the newest ``first_back`` days before today: each fault owns its own."""
    return [TODAY - timedelta(days=first_back + n) for n in range(count)]


F3_DAYS, F3_PROBE = _days(10, 4), TODAY - timedelta(days=15)
F4_DAYS, F4_PROBE = _days(20, 2), TODAY - timedelta(days=23)
F5_DAYS, F5_LATE, F5_AFTER = _days(30, 3), TODAY - timedelta(days=34), TODAY - timedelta(days=35)
BURST = _days(101, BURST_DAYS)

RUNS_IN = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs {
  results { runId status jobName startTime endTime tags { key value } } } } }"""
SENSOR = """query Sensor($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status
    typeSpecificData { ... on SensorData { lastCursor } }
    ticks(limit: 200) { tickId status timestamp cursor error { message } } } } } }"""
WORKSPACE = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  updatedTimestamp locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
STEP_EVENTS = """query Events($runId: ID!) { logsForRun(runId: $runId) {
  ... on EventConnection { events { __typename } } } }"""
LAUNCH = """mutation L($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    with compose_deployment(
        tmp_path_factory.mktemp("faults"),
        "lakehouse-faults",
        artifact_name="compose-faults",
        env={
            # Alerts go to a receiver on the deployment's network (the `hook` fixture).
            "LAKEHOUSE_ALERT_WEBHOOK_URL": "http://hook:8080/",
            # Well below the supervisor's 120 s, so F2 sees the sentinel's alert before the
            # restart on a loaded machine too.
            "SENTINEL_DAEMON_STALE_SECONDS": "45",
        },
    ) as deployment:
        yield deployment


# --- observing from outside -----------------------------------------------------------------


def observe(probe: Callable[[], T | None], deadline: float, every: float = 2.0) -> T | None:
    """``probe``'s first truthy answer within ``deadline`` seconds, else None (never raises on a
    timeout, so the test can record what it saw before it asserts). Errors of a service that is
    down (connection refused, a GraphQL error) count as "not yet"."""
    end = time.monotonic() + deadline
    while True:
        try:
            found = probe()
        except (OSError, GraphQLError, KeyError, TypeError):
            found = None
        if found:
            return found
        if time.monotonic() >= end:
            return None
        time.sleep(every)


def _runs(deployment: ComposeStack, **filter_: Any) -> list[dict[str, Any]]:
    return deployment.stack.gql(RUNS_IN, filter=filter_)["runsOrError"]["results"]


def in_progress(deployment: ComposeStack) -> list[dict[str, Any]]:
    return _runs(deployment, statuses=IN_PROGRESS)


def landing_sensor(deployment: ComposeStack) -> dict[str, Any]:
    selector = {
        "repositoryName": "__repository__",
        "repositoryLocationName": "ingestion",
        "sensorName": LANDING_SENSOR,
    }
    return deployment.stack.gql(SENSOR, selector=selector)["sensorOrError"]["sensorState"]


def ticks_since(deployment: ComposeStack, since: float) -> list[dict[str, Any]]:
    """The landing sensor's ticks that started after ``since``, oldest first."""
    ticks = [t for t in landing_sensor(deployment)["ticks"] if t["timestamp"] > since]
    return sorted(ticks, key=lambda t: t["timestamp"])


def first_good_tick(deployment: ComposeStack, since: float) -> dict[str, Any] | None:
    return next(
        (t for t in ticks_since(deployment, since) if t["status"] in ("SUCCESS", "SKIPPED")), None
    )


def locations(deployment: ComposeStack) -> dict[str, dict[str, Any]]:
    data = deployment.stack.gql(WORKSPACE)["workspaceOrError"]["locationEntries"]
    return {e["name"]: e for e in data}


def loaded(entry: dict[str, Any]) -> bool:
    return (
        entry["loadStatus"] == "LOADED"
        and (entry["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
    )


def container(deployment: ComposeStack, service: str) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(docker("inspect", deployment.container_id(service)))[0]
    return details


def healthy(deployment: ComposeStack, *services: str) -> bool:
    for service in services or LONG_RUNNING:
        state = container(deployment, service)["State"]
        if not state["Running"] or state.get("Health", {}).get("Status") != "healthy":
            return False
    return True


def step_retries(deployment: ComposeStack, run_ids: list[str]) -> int:
    """Steps that were retried (ExecutionStepUpForRetryEvent) across ``run_ids``."""
    total = 0
    for run_id in run_ids:
        events = deployment.stack.gql(STEP_EVENTS, runId=run_id)["logsForRun"]["events"]
        total += sum(1 for e in events if e["__typename"] == "ExecutionStepUpForRetryEvent")
    return total


def launch_summary(deployment: ComposeStack, day: date) -> str:
    """A run of analytics' daily_sales_job for a landed day, as the UI launches it."""
    launched = deployment.stack.gql(
        LAUNCH,
        params={
            "selector": {
                "repositoryLocationName": "analytics",
                "repositoryName": "__repository__",
                "jobName": "daily_sales_job",
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": str(day)}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id: str = launched["run"]["runId"]
    return run_id


def run_status(deployment: ComposeStack, run_id: str) -> str:
    found = _runs(deployment, runIds=[run_id])
    return found[0]["status"] if found else "UNKNOWN"


def finished_status(deployment: ComposeStack, run_id: str) -> str | None:
    status = run_status(deployment, run_id)
    return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None


# --- landing files and counting what landed ---------------------------------------------------


@dataclass
class PutFile:
    etag: str
    rows: int


# day -> store id -> what was put last
Puts = dict[date, dict[str, PutFile]]


def put_files(deployment: ComposeStack, files: list[tuple[date, str]], seed: int = 7) -> Puts:
    """Each (day, store) file put the way a store uploads it (the stores' key), many at once."""
    stores = deployment.s3("stores")

    def put(day_store: tuple[date, str]) -> tuple[date, str, PutFile]:
        day, store_id = day_store
        body = store_csv(SeedConfig(start=day, end=day, seed=seed), day, store_id)
        response = stores.put_object(Bucket=BUCKET, Key=landing_key(day, store_id), Body=body)
        return day, store_id, PutFile(response["ETag"].strip('"'), body.count(b"\n") - 1)

    out: Puts = {}
    with ThreadPoolExecutor(max_workers=16) as pool:
        for day, store_id, put_file in pool.map(put, files):
            out.setdefault(day, {})[store_id] = put_file
    return out


def merge(*puts: Puts) -> Puts:
    out: Puts = {}
    for p in puts:
        for day, files in p.items():
            out.setdefault(day, {}).update(files)
    return out


def digest(files: dict[str, PutFile]) -> str:
    return files_digest({store: f.etag for store, f in files.items()})


def landing_runs(deployment: ComposeStack) -> dict[str, list[dict[str, Any]]]:
    """Every run of the landing job, by day (one query)."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for run in _runs(deployment, pipelineName=INGEST):
        by_day.setdefault(tags_of(run).get("dagster/partition", ""), []).append(run)
    return by_day


def all_landed(deployment: ComposeStack, puts: Puts) -> bool:
    """Every day's final set of files has a successful landing run."""
    by_day = landing_runs(deployment)
    return all(
        any(
            r["status"] == "SUCCESS" and tags_of(r).get(DIGEST_TAG) == digest(files)
            for r in by_day.get(str(day), [])
        )
        for day, files in puts.items()
    )


@dataclass
class Ledger:
    days: int
    files: int
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    runs_lost: list[str] = field(default_factory=list)  # days whose final files never ran
    runs_duplicated: int = 0  # successful runs beyond one per run key
    extra_materializations: int = 0  # sales_data materializations beyond one per success
    files_lost: list[str] = field(default_factory=list)  # keys whose rows are not in the lake

    @property
    def duplicated(self) -> int:
        """Work done twice: successful runs beyond one per run key, and materializations
        beyond one per successful run."""
        return self.runs_duplicated + self.extra_materializations

    @property
    def data_lost(self) -> str:
        if not self.files_lost:
            return f"none (0 of {self.files} files)"
        return f"{len(self.files_lost)} of {self.files} files: {self.files_lost[:5]}"


def account(deployment: ComposeStack, puts: Puts) -> Ledger:
    ledger = Ledger(days=len(puts), files=sum(len(f) for f in puts.values()))
    by_day = landing_runs(deployment)
    admin = deployment.s3("admin")
    for day, files in sorted(puts.items()):
        day_runs = by_day.get(str(day), [])
        ledger.runs += len(day_runs)
        ledger.failed_runs += [r["runId"] for r in day_runs if r["status"] == "FAILURE"]
        succeeded = [r for r in day_runs if r["status"] == "SUCCESS"]
        keys = Counter(tags_of(r).get("dagster/run_key", r["runId"]) for r in succeeded)
        ledger.runs_duplicated += sum(n - 1 for n in keys.values())
        if not any(tags_of(r).get(DIGEST_TAG) == digest(files) for r in succeeded):
            ledger.runs_lost.append(str(day))
        made = materializations(deployment.stack, ["sales_data"], str(day))
        ledger.extra_materializations += max(0, len(made) - len(succeeded))
        try:
            body = admin.get_object(Bucket=BUCKET, Key=f"lake/sales_data/{day}.parquet")
            lake = pl.read_parquet(io.BytesIO(body["Body"].read()))
            rows = dict(lake.group_by("store_id").len().iter_rows())
        except ClientError:
            rows = {}
        ledger.files_lost += [
            landing_key(day, store) for store, f in files.items() if rows.get(store) != f.rows
        ]
    return ledger


def landing_days_run_since(deployment: ComposeStack, since: float) -> Counter[str]:
    """Landing runs created after ``since``, by day."""
    return Counter(
        tags_of(r).get("dagster/partition", "")
        for r in _runs(deployment, pipelineName=INGEST, createdAfter=since)
    )


# --- the queue's limits, from dagster.yaml ------------------------------------------------------


@dataclass
class QueueLimits:
    max_concurrent_runs: int
    tag_limits: list[dict[str, Any]]
    pool_limit: int

    @classmethod
    def from_instance_yaml(cls) -> "QueueLimits":
        concurrency = yaml.safe_load((ROOT / "dagster.yaml").read_text())["concurrency"]
        return cls(
            max_concurrent_runs=concurrency["runs"]["max_concurrent_runs"],
            tag_limits=concurrency["runs"].get("tag_concurrency_limits", []),
            pool_limit=concurrency["pools"]["default_limit"],
        )

    def measure(self, running: list[dict[str, Any]]) -> dict[str, int]:
        """How much of each limit ``running`` (runs in progress at one instant) uses."""
        used = {"max_concurrent_runs": len(running)}
        tags = [tags_of(r) for r in running]
        for limit in self.tag_limits:
            key, value = limit["key"], limit.get("value")
            name = f"tag {key}={value}" if isinstance(value, str) else f"tag {key}"
            if isinstance(value, dict) and value.get("applyLimitPerUniqueValue"):
                per_value = Counter(t[key] for t in tags if key in t)
                used[f"{name} (per value)"] = max(per_value.values(), default=0)
            elif isinstance(value, str):
                used[name] = sum(1 for t in tags if t.get(key) == value)
            else:
                used[name] = sum(1 for t in tags if key in t)
        # sales_data (pool source_db) is what the landing job materializes.
        used["pool source_db"] = sum(1 for r in running if r["jobName"] == INGEST)
        return used

    def allowed(self) -> dict[str, int]:
        out = {"max_concurrent_runs": self.max_concurrent_runs}
        for limit in self.tag_limits:
            key, value = limit["key"], limit.get("value")
            name = f"tag {key}={value}" if isinstance(value, str) else f"tag {key}"
            if isinstance(value, dict) and value.get("applyLimitPerUniqueValue"):
                name += " (per value)"
            out[name] = limit["limit"]
        out["pool source_db"] = self.pool_limit
        return out


class QueueSampler:
    """Samples the runs in progress every ``every`` seconds in a thread; keeps the peak use of
    each limit and how many samples it took."""

    def __init__(self, deployment: ComposeStack, limits: QueueLimits, every: float = 2.0) -> None:
        self.deployment, self.limits, self.every = deployment, limits, every
        self.peak: dict[str, int] = {}
        self.samples = 0
        self.errors = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                used = self.limits.measure(in_progress(self.deployment))
            except (OSError, GraphQLError):
                self.errors += 1
            else:
                self.samples += 1
                for name, n in used.items():
                    self.peak[name] = max(self.peak.get(name, 0), n)
            self.stop_event.wait(self.every)

    def __enter__(self) -> "QueueSampler":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=60)


def since(start: float) -> float:
    return round(time.time() - start, 1)


# --- the faults -------------------------------------------------------------------------------


def test_deployment_is_up_and_idle(deployment: ComposeStack) -> None:
    """The starting point every fault is measured from: all healthy, both locations loaded,
    the landing sensor ticking, nothing in the bucket."""
    deployment.healthy()
    assert all(loaded(e) for e in locations(deployment).values())
    assert observe(lambda: first_good_tick(deployment, 0), deadline=180)
    assert deployment.objects() == {}


def test_f3_postgres_restart(
    deployment: ComposeStack, reliability: Reliability, request: pytest.FixtureRequest
) -> None:
    """Postgres restarts while runs are in flight: every service reconnects by itself; no
    materialization is lost and no run is duplicated."""
    restarts_before = {s: container(deployment, s)["RestartCount"] for s in LONG_RUNNING}
    puts = put_files(deployment, [(d, f"store_{n:03d}") for d in F3_DAYS for n in range(1, 4)])
    in_flight = observe(lambda: in_progress(deployment), deadline=300, every=1) or []

    started = time.time()
    deployment.compose("restart", "postgres")
    restarted = since(started)
    times: dict[str, float | None] = {"postgres_restart_command_s": restarted}
    healthy_pg = observe(lambda: healthy(deployment, "postgres"), deadline=180, every=1)
    times["postgres_healthy_s"] = since(started) if healthy_pg else None
    web = observe(lambda: locations(deployment), deadline=300, every=1)
    times["webserver_answers_s"] = since(started) if web else None
    tick = observe(lambda: first_good_tick(deployment, started + restarted), deadline=300)
    times["first_good_landing_tick_s"] = round(tick["timestamp"] - started, 1) if tick else None
    all_healthy = observe(lambda: healthy(deployment), deadline=300)
    times["all_services_healthy_s"] = since(started) if all_healthy else None

    probe = put_files(deployment, [(F3_PROBE, "store_001")])
    puts = merge(puts, probe)
    drained = observe(lambda: all_landed(deployment, puts), deadline=900)
    times["all_days_landed_s"] = since(started) if drained else None
    ledger = account(deployment, puts)
    restarts = {
        s: container(deployment, s)["RestartCount"] - restarts_before[s] for s in LONG_RUNNING
    }
    back = [times[k] for k in ("postgres_healthy_s", "webserver_answers_s")]
    back.append(times["first_good_landing_tick_s"])
    back.append(times["all_services_healthy_s"])
    recovered = None if None in back else max(v for v in back if v is not None)
    reliability.record(
        "F3",
        test=request.node.nodeid,
        behaviour=(
            f"`docker compose restart postgres` with {len(in_flight)} run(s) in progress: "
            f"webserver, daemon and code servers reconnected by themselves "
            f"(container restarts: {sum(restarts.values())}); {ledger.days} days "
            f"({ledger.files} files) landed through {ledger.runs} landing runs, "
            f"{len(ledger.failed_runs)} of them failed"
        ),
        recovery_seconds=recovered,
        recovery=(
            "from the restart command until Postgres was healthy, the webserver answered, "
            "the landing sensor ticked successfully and every service was healthy"
        ),
        runs_lost=len(ledger.runs_lost),
        runs_duplicated=ledger.duplicated,
        data_lost=ledger.data_lost,
        runs_in_progress_at_restart=len(in_flight),
        container_restarts=restarts,
        failed_landing_runs=len(ledger.failed_runs),
        **times,
    )
    assert drained, f"not every day landed after the restart: {ledger}"
    assert ledger.runs_lost == [] and ledger.files_lost == [], ledger
    assert ledger.duplicated == 0, ledger
    assert recovered is not None, times
    assert all(loaded(e) for e in locations(deployment).values())


def test_f4_code_server_crash(
    deployment: ComposeStack, reliability: Reliability, request: pytest.FixtureRequest
) -> None:
    """The ingestion code server's main process is killed (a crash, not a stop): it comes back
    by itself, the webserver and the daemon use it again without a Reload, and analytics' runs
    carry on."""
    puts = put_files(deployment, [(F4_DAYS[0], "store_001"), (F4_DAYS[0], "store_002")])
    assert observe(lambda: all_landed(deployment, puts), deadline=600), "no landing before F4"
    analytics_run = launch_summary(deployment, F3_DAYS[0])
    ingestion = container(deployment, "ingestion")
    analytics_failures_before = {
        r["runId"] for r in _runs(deployment, statuses=["FAILURE"]) if r["jobName"] != INGEST
    }

    # What a crash looks like to Docker: the main process dies (`docker kill` would be a stop).
    killed = time.time()
    os.kill(ingestion["State"]["Pid"], signal.SIGKILL)
    analytics_seen: list[bool] = []
    web_lost = False

    def back_in_webserver() -> bool:
        """Samples both locations as the webserver serves them; True once ingestion is loaded
        from the restarted server."""
        nonlocal web_lost
        entries = locations(deployment)
        analytics_seen.append(loaded(entries["analytics"]))
        entry = entries["ingestion"]
        if not loaded(entry):
            web_lost = True
            return False
        return entry["updatedTimestamp"] > killed

    def sampled(probe: Callable[[], bool]) -> Callable[[], bool]:
        def both() -> bool:
            back_in_webserver()
            return probe()

        return both

    times: dict[str, float | None] = {}
    restarted = observe(
        sampled(
            lambda: container(deployment, "ingestion")["RestartCount"] > ingestion["RestartCount"]
        ),
        deadline=180,
        every=0.5,
    )
    times["container_restarted_s"] = since(killed) if restarted else None
    up = observe(sampled(lambda: healthy(deployment, "ingestion")), deadline=300, every=1)
    times["container_healthy_s"] = since(killed) if up else None
    web = observe(back_in_webserver, deadline=300, every=1)
    times["loaded_in_webserver_s"] = since(killed) if web else None
    tick = observe(lambda: first_good_tick(deployment, killed), deadline=300)
    times["first_good_landing_tick_s"] = round(tick["timestamp"] - killed, 1) if tick else None
    failed_ticks = [t for t in ticks_since(deployment, killed) if t["status"] == "FAILURE"]

    probe = put_files(deployment, [(F4_PROBE, "store_001")])
    puts = merge(puts, probe)
    landed = observe(lambda: all_landed(deployment, puts), deadline=600)
    times["file_put_after_crash_landed_s"] = since(killed) if landed else None
    summary = observe(lambda: finished_status(deployment, analytics_run), deadline=600)
    analytics_failures = {
        r["runId"] for r in _runs(deployment, statuses=["FAILURE"]) if r["jobName"] != INGEST
    } - analytics_failures_before
    ledger = account(deployment, puts)
    back = [times["loaded_in_webserver_s"], times["first_good_landing_tick_s"]]
    recovered = None if None in back else max(v for v in back if v is not None)
    reliability.record(
        "F4",
        test=request.node.nodeid,
        behaviour=(
            f"kill -9 of the ingestion code server: Docker restarted it (unless-stopped); the "
            f"webserver {'showed it unavailable, then ' if web_lost else ''}reloaded it by "
            f"itself; the daemon's landing sensor failed {len(failed_ticks)} tick(s), then "
            f"ticked again with no Reload; analytics stayed loaded in "
            f"{sum(analytics_seen)} of {len(analytics_seen)} samples and its run in flight "
            f"ended {summary}"
        ),
        recovery_seconds=recovered,
        recovery=(
            "from the kill until the webserver served the location reloaded from the new "
            "server and the daemon's landing sensor ticked successfully"
        ),
        runs_lost=len(ledger.runs_lost) + len(analytics_failures),
        runs_duplicated=ledger.duplicated,
        data_lost=ledger.data_lost,
        failed_landing_ticks=len(failed_ticks),
        analytics_runs_failed=len(analytics_failures),
        **times,
    )
    assert restarted and up, "the code server did not come back by itself"
    assert web, "the webserver did not load the restarted location by itself"
    assert tick, "the daemon's landing sensor did not tick successfully after the crash"
    assert landed, f"a file put after the crash did not land: {ledger}"
    assert summary == "SUCCESS" and not analytics_failures, (summary, analytics_failures)
    assert all(analytics_seen), "analytics was not LOADED throughout the ingestion crash"
    assert ledger.runs_lost == [] and ledger.files_lost == [], ledger
    assert ledger.duplicated == 0, ledger


OUTAGE_SECONDS = 60


def test_f5_s3_down_for_a_minute(
    deployment: ComposeStack, reliability: Reliability, request: pytest.FixtureRequest
) -> None:
    """The S3 server is stopped for 60 s while landing and analytics runs are in flight and a
    file waits to be noticed: ticks fail then recover, runs retry and succeed, the sensor's
    cursor is intact and nothing is skipped."""
    cursor_before = json.loads(landing_sensor(deployment)["typeSpecificData"]["lastCursor"])
    puts = put_files(deployment, [(d, f"store_{n:03d}") for d in F5_DAYS for n in range(1, 3)])
    in_flight = observe(
        lambda: [r for r in in_progress(deployment) if r["jobName"] == INGEST],
        deadline=300,
        every=1,
    )
    analytics_run = launch_summary(deployment, F3_DAYS[1])
    observe(lambda: run_status(deployment, analytics_run) in IN_PROGRESS, deadline=120, every=1)
    # Put just before the outage: whether or not a tick saw it, it must land.
    late = put_files(deployment, [(F5_LATE, "store_001")])
    puts = merge(puts, late)
    running_at_stop = in_progress(deployment)

    stopped = time.time()
    deployment.compose("stop", "s3")
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.time() - stopped)))
    back = time.time()
    deployment.compose("start", "s3")
    outage = round(back - stopped, 1)

    times: dict[str, float | None] = {"outage_s": outage}
    s3_up = observe(lambda: healthy(deployment, "s3"), deadline=180, every=1)
    times["s3_healthy_s"] = since(back) if s3_up else None
    tick = observe(lambda: first_good_tick(deployment, back), deadline=300)
    times["first_good_landing_tick_s"] = round(tick["timestamp"] - back, 1) if tick else None
    after = put_files(deployment, [(F5_AFTER, "store_001")])
    puts = merge(puts, after)
    landed = observe(lambda: all_landed(deployment, puts), deadline=900)
    times["all_days_landed_s"] = since(back) if landed else None
    summary = observe(lambda: finished_status(deployment, analytics_run), deadline=600)

    ticks = ticks_since(deployment, stopped)
    failed_ticks = [t for t in ticks if t["status"] == "FAILURE" and t["timestamp"] < back + 30]
    cursor_after = json.loads(landing_sensor(deployment)["typeSpecificData"]["lastCursor"])
    # Days that already ran before the outage must not run again because of it.
    rerun = {
        d: n
        for d, n in landing_days_run_since(deployment, stopped).items()
        if date.fromisoformat(d) not in puts
    }
    ledger = account(deployment, puts)
    retried = step_retries(deployment, [r["runId"] for r in running_at_stop])
    failed_in_flight = [
        r["runId"] for r in running_at_stop if finished_status(deployment, r["runId"]) != "SUCCESS"
    ]
    recovered = times["first_good_landing_tick_s"]
    reliability.record(
        "F5",
        test=request.node.nodeid,
        behaviour=(
            f"`docker compose stop s3` for {outage:.0f} s with {len(running_at_stop)} run(s) in "
            f"progress: the landing sensor failed {len(failed_ticks)} tick(s) and kept its "
            f"cursor; the runs in flight retried {retried} step(s) and "
            f"{len(running_at_stop) - len(failed_in_flight)} of {len(running_at_stop)} "
            f"succeeded; the file put just before the outage and the one put after it landed"
            f"{'' if landed else ' (not all)'}"
        ),
        recovery_seconds=recovered,
        recovery="from the S3 server's start until the landing sensor's first successful tick",
        runs_lost=len(ledger.runs_lost) + len(failed_in_flight),
        runs_duplicated=ledger.duplicated + len(rerun),
        data_lost=ledger.data_lost,
        runs_in_progress_at_stop=len(running_at_stop),
        landing_runs_in_progress_before_stop=len(in_flight or []),
        step_retries=retried,
        failed_ticks=len(failed_ticks),
        analytics_run_in_flight=summary,
        days_rerun_without_change=rerun,
        **times,
    )
    assert failed_ticks, "the landing sensor did not notice the outage"
    assert tick, "the landing sensor did not recover"
    # The cursor carried on from where it was: same format, every recent day still known at
    # the same or a later generation (a reset cursor would have forgotten them).
    assert cursor_after["v"] == cursor_before["v"]
    for day, (generation, _digest) in cursor_before["recent"].items():
        if day in cursor_after["recent"]:
            assert cursor_after["recent"][day][0] >= generation, (day, cursor_after)
    assert landed, f"not every day landed after the outage: {ledger}"
    assert failed_in_flight == [], f"runs in flight did not survive the outage: {failed_in_flight}"
    assert summary == "SUCCESS", f"the analytics run in flight ended {summary}"
    assert rerun == {}, f"days ran again though their files did not change: {rerun}"
    assert ledger.runs_lost == [] and ledger.files_lost == [], ledger
    assert ledger.duplicated == 0, ledger


# --- the daemon, its supervisor and the alerts (F1, F2, F6, F8) ----------------------------------

HOOK_SERVER = """
import http.server, json, sys, time
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        sys.stdout.write(json.dumps({"received": time.time(), **body}) + "\\n")
        sys.stdout.flush()
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", 8080), Hook).serve_forever()
"""
FAILURE_MESSAGE = """query Events($runId: ID!) { logsForRun(runId: $runId) {
  ... on EventConnection { events { __typename ... on RunFailureEvent { message } } } } }"""
RUN_TAGS = """query Run($runId: ID!) { runOrError(runId: $runId) { ... on Run {
  runId status tags { key value } } } }"""
REEXECUTE = """mutation R($params: ReexecutionParams!) { launchRunReexecution(
  reexecutionParams: $params) { __typename ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message } } }"""


class Hook:
    """A webhook receiver on the deployment's network (alias ``hook``), as Slack would be."""

    def __init__(self, deployment: ComposeStack) -> None:
        self.name = f"{deployment.project}-hook"
        docker(
            "run", "-d", "--name", self.name, "--network", deployment.project,
            "--network-alias", "hook", "--label", f"lakehouse-test={deployment.project}",
            deployment.images["DAGSTER_IMAGE"], "python", "-c", HOOK_SERVER,
        )  # fmt: skip

    def alerts(self) -> list[dict[str, Any]]:
        out = docker("logs", self.name, check=False)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def matching(self, *words: str, after: int = 0) -> list[dict[str, Any]]:
        return [a for a in self.alerts()[after:] if all(w in a.get("text", "") for w in words)]


@pytest.fixture(scope="module")
def hook(deployment: ComposeStack) -> Hook:
    return Hook(deployment)


def daemon_processes(deployment: ComposeStack) -> dict[str, int]:
    """The daemon container's processes by role, host PIDs (`docker top`)."""
    found: dict[str, int] = {}
    for line in docker("top", deployment.container_id("daemon"), "-eo", "pid,args").splitlines():
        pid, _, args = line.strip().partition(" ")
        if "lakehouse_platform.supervisor" in args:
            found["supervisor"] = int(pid)
        elif "dagster-daemon run" in args:
            found["daemon"] = int(pid)
    return found


DAEMON_HEALTH = """{ instance { daemonHealth { allDaemonStatuses {
  daemonType required lastHeartbeatTime } } } }"""


def heartbeats_since(deployment: ComposeStack, moment: float) -> bool:
    """Every required daemon thread has written a heartbeat after ``moment`` (epoch seconds)."""
    statuses = deployment.stack.gql(DAEMON_HEALTH)["instance"]["daemonHealth"]
    required = [s for s in statuses["allDaemonStatuses"] if s["required"]]
    return bool(required) and all((s["lastHeartbeatTime"] or 0) > moment for s in required)


def run_containers(deployment: ComposeStack) -> list[dict[str, Any]]:
    """Every run container on the deployment's network, in any state."""
    ids = docker(
        "ps", "-aq", "--filter", "label=dagster/run_id", "--filter",
        f"network={deployment.project}",
    ).split()  # fmt: skip
    return json.loads(docker("inspect", *ids)) if ids else []


def orphans(deployment: ComposeStack) -> list[str]:
    """Run containers that nothing will remove: never started, or exited after their run
    succeeded (a failed run's container is kept on purpose, for `docker logs`)."""
    left = []
    for c in run_containers(deployment):
        run_id = c["Config"]["Labels"]["dagster/run_id"]
        if c["State"]["Status"] == "created":
            left.append(f"{c['Id'][:12]} created ({run_id})")
        elif c["State"]["Status"] == "exited" and run_status(deployment, run_id) == "SUCCESS":
            left.append(f"{c['Id'][:12]} exited after SUCCESS ({run_id})")
    return left


def failure_message(deployment: ComposeStack, run_id: str) -> str:
    events = deployment.stack.gql(FAILURE_MESSAGE, runId=run_id)["logsForRun"]["events"]
    return " ".join(e["message"] for e in events if e["__typename"] == "RunFailureEvent")


def run_tags(deployment: ComposeStack, run_id: str) -> dict[str, str]:
    run = deployment.stack.gql(RUN_TAGS, runId=run_id)["runOrError"]
    return {t["key"]: t["value"] for t in run["tags"]}


def day_runs(deployment: ComposeStack, day: date) -> list[dict[str, Any]]:
    return landing_runs(deployment).get(str(day), [])


# Days inside the landing window: found by the first tick, not the sweep.
F1_DAY, F2_DAY, F6_DAY = (TODAY - timedelta(days=n) for n in (1, 2, 3))


def test_f1_daemon_crash_mid_run(
    deployment: ComposeStack,
    hook: Hook,
    reliability: Reliability,
    request: pytest.FixtureRequest,
) -> None:
    """The daemon's main process is killed while a landing run is being launched: the restart
    policy brings it back, the run does not wait for a timeout, the day lands exactly once and
    no run container is left behind."""
    before = container(deployment, "daemon")
    put_at = time.time()
    puts = put_files(deployment, [(F1_DAY, f"store_{n:03d}") for n in range(1, 4)])

    def launching() -> dict[str, Any] | None:
        runs = [r for r in day_runs(deployment, F1_DAY) if r["status"] in IN_PROGRESS]
        return runs[0] if runs else None

    run = observe(launching, deadline=300, every=0.2)
    assert run, "no landing run started for the day"
    state_at_kill = run["status"]
    killed = time.time()
    os.kill(before["State"]["Pid"], signal.SIGKILL)
    times: dict[str, float | None] = {"put_to_kill_s": round(killed - put_at, 1)}
    back = observe(
        lambda: (
            container(deployment, "daemon")["RestartCount"] > before["RestartCount"]
            and container(deployment, "daemon")["State"]["Running"]
        ),
        deadline=120,
        every=0.2,
    )
    times["daemon_restarted_s"] = since(killed) if back else None
    ended = observe(lambda: finished_status(deployment, run["runId"]), deadline=600)
    times["run_resolved_s"] = since(killed) if ended else None
    landed = observe(lambda: all_landed(deployment, puts), deadline=600)
    times["day_landed_s"] = since(killed) if landed else None
    times["put_to_landed_s"] = since(put_at) if landed else None
    up = observe(lambda: healthy(deployment, "daemon"), deadline=300)
    times["daemon_healthy_s"] = since(killed) if up else None
    # Working, not only started: two rounds of heartbeats (30 s apart) after the restart. A
    # daemon that hangs after the crash is restarted by its supervisor within this deadline.
    beating = observe(lambda: heartbeats_since(deployment, killed + 35), deadline=400)
    times["daemon_heartbeating_again_s"] = since(killed) if beating else None
    restarts = container(deployment, "daemon")["RestartCount"] - before["RestartCount"]
    hung_note = " (its supervisor restarted a daemon that hung after the crash)" * (restarts > 1)
    # Finished runs' containers go within a supervisor pass or two.
    observe(lambda: not orphans(deployment), deadline=120)
    left = orphans(deployment)
    message = failure_message(deployment, run["runId"]) if ended == "FAILURE" else ""
    ledger = account(deployment, puts)
    reliability.record(
        "F1",
        test=request.node.nodeid,
        behaviour=(
            f"kill -9 of the daemon container's main process with the day's landing run "
            f"{state_at_kill}: Docker restarted the container (unless-stopped); the run ended "
            f"{ended}{' (' + message.splitlines()[0][:160] + ')' if message else ''}; "
            f"{len(ledger.failed_runs)} failed and {ledger.runs} landing run(s) in all; "
            f"{len(left)} run container(s) left behind; the daemon container was restarted "
            f"{restarts} time(s) before it was heartbeating again{hung_note}"
        ),
        recovery_seconds=times["day_landed_s"],
        recovery="from the kill until the day's files were in the lake",
        runs_lost=len(ledger.runs_lost),
        runs_duplicated=ledger.duplicated,
        data_lost=ledger.data_lost,
        run_state_at_kill=state_at_kill,
        orphaned_containers=left,
        daemon_container_restarts=restarts,
        **times,
    )
    assert back, "the daemon did not come back by itself"
    assert ended, f"the run in flight was still {run_status(deployment, run['runId'])}"
    assert beating, "the daemon never heartbeated again after the crash"
    assert landed, f"the day did not land after the crash: {ledger}"
    assert ledger.runs_lost == [] and ledger.files_lost == [], ledger
    assert ledger.duplicated == 0, ledger
    assert left == [], left


def test_f2_daemon_hung(
    deployment: ComposeStack,
    hook: Hook,
    reliability: Reliability,
    request: pytest.FixtureRequest,
) -> None:
    """The daemon process stops (SIGSTOP: alive, no heartbeats): its supervisor notices the
    heartbeats stopped and exits, the restart policy starts a new container, and a file put
    during the hang lands. The sentinel reports the daemon down meanwhile."""
    # From a daemon that is working: heartbeats written in the last 35 s.
    assert observe(lambda: heartbeats_since(deployment, time.time() - 35), deadline=400)
    before = container(deployment, "daemon")
    alerts_before = len(hook.alerts())
    pids = daemon_processes(deployment)
    assert "daemon" in pids, pids
    hung = time.time()
    os.kill(pids["daemon"], signal.SIGSTOP)
    puts = put_files(deployment, [(F2_DAY, "store_001"), (F2_DAY, "store_002")])
    times: dict[str, float | None] = {}
    seen_unhealthy: list[float] = []

    def restarted_yet() -> bool:
        state = container(deployment, "daemon")
        if state["State"].get("Health", {}).get("Status") == "unhealthy" and not seen_unhealthy:
            seen_unhealthy.append(since(hung))
        return bool(state["RestartCount"] > before["RestartCount"])

    restarted = observe(restarted_yet, deadline=400, every=1)
    unhealthy = bool(seen_unhealthy)
    times["marked_unhealthy_s"] = seen_unhealthy[0] if seen_unhealthy else None
    times["restarted_s"] = since(hung) if restarted else None
    up = observe(lambda: healthy(deployment, "daemon"), deadline=300)
    times["healthy_again_s"] = since(hung) if up else None
    landed = observe(lambda: all_landed(deployment, puts), deadline=600)
    times["file_put_during_hang_landed_s"] = since(hung) if landed else None
    down_alert = hook.matching("Dagster daemon DOWN", after=alerts_before)
    if down_alert:
        SENTINEL_SEEN["daemon_down_alert_s"] = round(down_alert[0]["received"] - hung, 1)
    ledger = account(deployment, puts)
    reliability.record(
        "F2",
        test=request.node.nodeid,
        behaviour=(
            "SIGSTOP of `dagster-daemon run` (alive, no heartbeats): its supervisor killed it "
            "once the heartbeats were older than DAGSTER_DAEMON_HEARTBEAT_TOLERANCE + 30 s and "
            "exited, and the restart policy started a new container (the healthcheck "
            f"{'had marked it unhealthy' if unhealthy else 'had not yet marked it unhealthy'}); "
            "the sentinel "
            f"{'alerted that the daemon was down' if down_alert else 'sent no alert'}"
        ),
        recovery_seconds=times["restarted_s"],
        recovery="from the SIGSTOP until the container was restarted",
        runs_lost=len(ledger.runs_lost),
        runs_duplicated=ledger.duplicated,
        data_lost=ledger.data_lost,
        **times,
    )
    assert restarted, "a hung daemon was not restarted"
    assert down_alert, "the sentinel did not report the hung daemon"
    assert landed, f"a file put during the hang did not land: {ledger}"
    assert ledger.runs_lost == [] and ledger.files_lost == [], ledger
    assert ledger.duplicated == 0, ledger


def recreate_ingestion(deployment: ComposeStack, **env: str) -> None:
    """The ingestion code server recreated with ``env`` over .env (shell variables win)."""
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(deployment.env_file), "up", "-d", "--no-build",
         "--wait", "ingestion"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**deployment.process_env, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


def test_f6_run_container_killed_for_memory(
    deployment: ComposeStack,
    hook: Hook,
    reliability: Reliability,
    request: pytest.FixtureRequest,
) -> None:
    """Ingestion's runs get a memory limit far below what a worker needs: the run's container is
    killed by the kernel, the run fails saying so (OOM, the limit, the last log lines), it is
    not retried, the alert says the same; with the limit back, re-executing the run lands the
    day."""
    recreate_ingestion(deployment, INGESTION_RUN_MEMORY="64m")
    alerts_before = len(hook.alerts())
    put_at = time.time()
    puts = put_files(deployment, [(F6_DAY, "store_001")])
    try:
        run = observe(lambda: day_runs(deployment, F6_DAY), deadline=300, every=1)
        assert run, "no landing run for the day"
        run_id = run[0]["runId"]
        ended = observe(lambda: finished_status(deployment, run_id), deadline=400, every=1)
        failed_after = since(put_at) if ended else None
        message = failure_message(deployment, run_id)
        alert = observe(
            lambda: hook.matching("memory limit", run_id, after=alerts_before), deadline=180
        )
        alerted_after = since(put_at) if alert else None
        # Run retries would have launched a retry within a loop or two of the daemon.
        time.sleep(30)
        retries = [r for r in day_runs(deployment, F6_DAY) if r["runId"] != run_id]
        tags = run_tags(deployment, run_id)
    finally:
        recreate_ingestion(deployment)
    relaunched = deployment.stack.gql(
        REEXECUTE, params={"parentRunId": run_id, "strategy": "ALL_STEPS"}
    )["launchRunReexecution"]
    assert relaunched["__typename"] == "LaunchRunSuccess", relaunched
    again = relaunched["run"]["runId"]
    redone = observe(lambda: finished_status(deployment, again), deadline=600)
    ledger = account(deployment, puts)
    reliability.record(
        "F6",
        test=request.node.nodeid,
        behaviour=(
            f"a landing run under INGESTION_RUN_MEMORY=64m: its container was killed by the "
            f"kernel and the run ended {ended}, its message starting "
            f'"{message.strip().splitlines()[0][:200] if message else ""}"; '
            f"{len(retries)} automatic retr{'y' if len(retries) == 1 else 'ies'}; the alert "
            f"{'carried the same message' if alert else 'never came'}; with the limit back, "
            f"re-executing the run ended {redone}"
        ),
        recovery_seconds=failed_after,
        recovery="from the put until the run was failed with the OOM message",
        runs_lost=len(ledger.runs_lost),
        runs_duplicated=ledger.duplicated,
        data_lost=ledger.data_lost,
        alert_after_put_s=alerted_after,
        worker_exit_tag=tags.get("lakehouse/worker_exit"),
    )
    assert ended == "FAILURE", ended
    assert "killed for exceeding its memory limit (64 MiB" in message, message
    assert "Last 20 log lines" in message, message
    assert tags.get("lakehouse/worker_exit") == "oom" and tags.get("dagster/will_retry") == "false"
    assert retries == [], "a run killed for memory was retried"
    assert alert, f"no alert with the OOM message: {hook.alerts()[alerts_before:]}"
    assert redone == "SUCCESS", redone
    assert ledger.files_lost == [], ledger


# F2 leaves what the sentinel said about the hung daemon here, for F8's row.
SENTINEL_SEEN: dict[str, Any] = {}
F8_NEVER_LANDED = TODAY - timedelta(days=400)


def test_f8_alerts_with_the_ingestion_code_server_down(
    deployment: ComposeStack,
    hook: Hook,
    reliability: Reliability,
    request: pytest.FixtureRequest,
) -> None:
    """With ingestion's code server down (where the run-failure alert sensor lives), the sentinel
    says so; an analytics run that fails meanwhile is alerted once the location is back (late,
    not lost). F2 showed the daemon's side: the sentinel reported the hung daemon."""
    alerts_before = len(hook.alerts())
    stopped = time.time()
    deployment.compose("stop", "ingestion")
    try:
        failing = launch_summary(deployment, F8_NEVER_LANDED)
        down = observe(
            lambda: hook.matching("Code location ingestion DOWN", after=alerts_before),
            deadline=300,
        )
        down_after = since(stopped) if down else None
        failed = observe(lambda: finished_status(deployment, failing), deadline=600)
    finally:
        deployment.compose("start", "ingestion")
    started = time.time()
    back = observe(
        lambda: hook.matching("Code location ingestion RECOVERED", after=alerts_before),
        deadline=300,
    )
    back_after = since(started) if back else None
    late = observe(lambda: hook.matching("Run failed", failing, after=alerts_before), 300)
    late_after = since(started) if late else None
    daemon_alert = SENTINEL_SEEN.get("daemon_down_alert_s")
    reliability.record(
        "F8",
        test=request.node.nodeid,
        behaviour=(
            f"ingestion's code server stopped: the sentinel posted "
            f'"{down[0]["text"].splitlines()[0] if down else "nothing"}"; an analytics run '
            f"that ended {failed} meanwhile was alerted {late_after} s after the location was "
            f"back (the run-failure sensor resumes from its cursor); with the daemon hung (F2) "
            f"the sentinel alerted after {daemon_alert} s"
        ),
        recovery_seconds=down_after,
        recovery="from stopping the code server until the sentinel's DOWN alert arrived",
        runs_lost=0 if late else 1,
        runs_duplicated=0,
        data_lost="none",
        location_recovered_alert_after_start_s=back_after,
        late_run_failure_alert_after_start_s=late_after,
        daemon_down_alert_during_hang_s=daemon_alert,
    )
    assert down, f"no DOWN alert for ingestion: {hook.alerts()[alerts_before:]}"
    assert back, "no RECOVERED alert for ingestion"
    assert failed == "FAILURE", failed
    assert late, "the run that failed while ingestion was down was never alerted"


def summaries_done(deployment: ComposeStack, days: list[date]) -> bool:
    return (
        not in_progress(deployment)
        and not _runs(deployment, statuses=["QUEUED"])
        and all(materializations(deployment.stack, ["sales_summary"], str(d)) for d in days)
    )


def test_f7_a_burst_of_files_across_many_days(
    deployment: ComposeStack, reliability: Reliability, request: pytest.FixtureRequest
) -> None:
    """BURST_STORES files for each of BURST_DAYS days (1,000 files across 100 days at full
    size) put at once: every file lands once, the queue's limits hold while it drains."""
    limits = QueueLimits.from_instance_yaml()
    files = [(d, f"store_{n:03d}") for d in BURST for n in range(1, BURST_STORES + 1)]
    with QueueSampler(deployment, limits) as sampler:
        started = time.time()
        puts = put_files(deployment, files)
        put_seconds = since(started)
        # Generous (about 9 s per day was measured at full size); the figure is the result.
        deadline = 600 + 60 * len(BURST)
        landed = observe(lambda: all_landed(deployment, puts), deadline=deadline, every=5)
        landed_s = since(started) if landed else None
        drained = observe(lambda: summaries_done(deployment, BURST), deadline=deadline, every=5)
        drained_s = since(started) if drained else None
    ledger = account(deployment, puts)
    allowed = limits.allowed()
    exceeded = {k: v for k, v in sampler.peak.items() if v > allowed[k]}
    summary_runs = [
        r
        for r in _runs(deployment, createdAfter=started)
        if r["jobName"] != INGEST and tags_of(r).get(TRIGGER_TAG) is None
    ]
    reliability.record(
        "F7",
        test=request.node.nodeid,
        behaviour=(
            f"{ledger.files} files across {ledger.days} days put at once ({put_seconds:.0f} s "
            f"to upload): {ledger.runs} landing runs ({len(ledger.failed_runs)} failed) and "
            f"{len(summary_runs)} analytics runs drained through the queue; peak use of each "
            f"limit {sampler.peak} against {allowed}"
        ),
        recovery_seconds=drained_s,
        recovery=(
            "time to drain: from the first put until every day had landed and was summarized "
            "and no run was queued or in progress"
        ),
        runs_lost=len(ledger.runs_lost),
        runs_duplicated=ledger.duplicated,
        data_lost=ledger.data_lost,
        burst_days=len(BURST),
        burst_stores_per_day=BURST_STORES,
        files=ledger.files,
        upload_s=put_seconds,
        all_landed_s=landed_s,
        drained_s=drained_s,
        landing_runs=ledger.runs,
        analytics_runs=len(summary_runs),
        queue_peak=sampler.peak,
        queue_limits=allowed,
        queue_samples=sampler.samples,
    )
    assert landed, f"not every day landed: {ledger}"
    assert drained, "the queue did not drain"
    assert sampler.samples > 0
    assert exceeded == {}, f"queue limits exceeded: {exceeded} (limits {allowed})"
    assert ledger.runs_lost == [] and ledger.files_lost == [], ledger
    assert ledger.duplicated == 0, ledger
