"""Talking to a running stack from outside: GraphQL, S3, and waiting on deadlines."""

import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from lakehouse import locations
from lakehouse.seed import prepare_source_database
from lakehouse_testing.servers import ADMIN, PostgresServer, S3Server, free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
READY_DEADLINE = 240


class GraphQLError(AssertionError):
    pass


@dataclass
class Stack:
    url: str
    log_path: Path
    s3: Any = None  # boto3 client on the stack's S3 endpoint (S3 variant)
    bucket: str = ""
    source_admin_url: str = ""
    # Through the compose deployment's front door: a login, and the proxy's CA to verify it.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    def open(self, path: str, data: bytes | None = None, timeout: float = 30) -> Any:
        """urlopen of ``<url><path>`` with this stack's login and CA."""
        headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
        request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers)
        return urllib.request.urlopen(request, timeout=timeout, context=self.ssl_context)

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        with self.open("/graphql", body) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise GraphQLError(json.dumps(payload["errors"], indent=1)[:2000])
        return payload["data"]

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()


def wait_until(
    what: str, probe: Callable[[], T | None], deadline: float = 150, every: float = 1.0
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    end = time.monotonic() + deadline
    last: T | None = None
    while time.monotonic() < end:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what} (last: {last!r})")


@contextmanager
def running_stack(
    env: dict[str, str], work: Path, *extra: str, root: Path = ROOT
) -> Iterator[tuple[str, Path]]:
    """Run `deploy/local/stack.py up` of the checkout at ``root`` until the block ends, then
    stop it as Ctrl-C would. Every location of its deploy/locations.toml gets a free port."""
    names = list(locations.load(root / "deploy" / "locations.toml"))
    ports = [free_port() for _ in range(len(names) + 1)]
    port = ports[0]
    log_path = work / "stack.log"
    command = [
        sys.executable,
        str(root / "deploy/local/stack.py"),
        "up",
        *extra,
        "--port",
        str(ports[0]),
    ]
    for name, location_port in zip(names, ports[1:], strict=True):
        command += ["--location-port", f"{name}={location_port}"]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_until(
                "the stack to report ready",
                lambda: proc.poll() is not None or b"[stack] ready:" in log_path.read_bytes(),
                READY_DEADLINE,
            )
            assert proc.poll() is None, f"stack exited: {log_path.read_text()[-4000:]}"
            yield f"http://127.0.0.1:{port}", log_path
        finally:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C in `make dev` sends
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            assert code == 0, f"the stack did not stop cleanly ({code}); see {log_path}"
            listening = [p for p in ports if _listening(p)]
            assert listening == [], f"still listening after the stack stopped: {listening}"


@contextmanager
def production_stack(
    name: str,
    postgres: PostgresServer,
    s3_server: S3Server,
    work: Path,
    root: Path = ROOT,
    **env: str,
) -> Iterator[Stack]:
    """The production-shaped variant of the checkout at ``root``: Postgres storage (database
    dagster_<name>), its own S3 bucket, an external source database (shop_<name>), and the
    landing sensor at its default settings (days older than the window come by the sweep)."""
    dagster_url = postgres.create_database(f"dagster_{name}")
    source_name = f"shop_{name}"
    source_admin = postgres.create_database(source_name)
    with psycopg.connect(source_admin, autocommit=True) as conn:
        prepare_source_database(conn, "ingestion_reader", None)
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(work / "dagster_home"),
        "LAKEHOUSE_VAR_DIR": str(work / "var"),
        "DAGSTER_POSTGRES_URL": dagster_url,
        "INGESTION_SOURCE_DB_URL": postgres.url(source_name, user="ingestion_reader"),
        "LAKEHOUSE_STORAGE": "s3",
        "LAKEHOUSE_S3_BUCKET": bucket,
        "LAKEHOUSE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": ADMIN.access_key,
        "AWS_SECRET_ACCESS_KEY": ADMIN.secret_key,
        "AWS_REGION": "us-east-1",
        **env,
    }
    with running_stack(environment, work, "--seed-days", "0", root=root) as (url, log_path):
        yield Stack(url, log_path, s3=s3, bucket=bucket, source_admin_url=source_admin)


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# GraphQL the system tests share.
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status jobName startTime endTime tags { key value }
                            repositoryOrigin { repositoryLocationName } } }
  }
}"""

MATERIALIZATIONS = """
query Materializations($key: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $key) {
    ... on Asset { assetMaterializations(partitions: $partitions) {
      partition runId timestamp metadataEntries { label
        ... on IntMetadataEntry { intValue }
        ... on FloatMetadataEntry { floatValue }
        ... on TextMetadataEntry { text } } } }
  }
}"""

RUN_EVENTS = """
query Events($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename
      ... on MessageEvent { message }
      ... on ExecutionStepFailureEvent { stepKey error { message } } } }
  }
}"""


def runs(stack: Stack, job: str | None = None, partition: str | None = None) -> list[dict]:
    filter_: dict[str, Any] = {}
    if job:
        filter_["pipelineName"] = job
    if partition:
        filter_["tags"] = [{"key": "dagster/partition", "value": partition}]
    return stack.gql(RUNS, filter=filter_)["runsOrError"]["results"]


def finished(found: list[dict]) -> list[dict]:
    return [r for r in found if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]


def tags_of(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def materializations(stack: Stack, key: list[str], partition: str) -> list[dict]:
    data = stack.gql(MATERIALIZATIONS, key={"path": key}, partitions=[partition])
    return data["assetOrError"]["assetMaterializations"]


def metadata_of(materialization: dict) -> dict[str, Any]:
    return {
        e["label"]: e.get("intValue", e.get("floatValue", e.get("text")))
        for e in materialization["metadataEntries"]
    }


def run_events(stack: Stack, run_id: str) -> list[dict]:
    return stack.gql(RUN_EVENTS, runId=run_id)["logsForRun"]["events"]


SENSOR_TICKS = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { status ticks(limit: 50) { tickId status timestamp
      logEvents { events { message level } } } } }
  }
}"""


def sensor_ticks(stack: Stack, location: str, sensor: str) -> list[dict]:
    selector = {
        "repositoryName": "__repository__",
        "repositoryLocationName": location,
        "sensorName": sensor,
    }
    return stack.gql(SENSOR_TICKS, selector=selector)["sensorOrError"]["sensorState"]["ticks"]


def wait_for_ticks_after(stack: Stack, location: str, sensor: str, after: float, n: int) -> None:
    wait_until(
        f"{n} ticks of {sensor} after {after}",
        lambda: (
            len([t for t in sensor_ticks(stack, location, sensor) if t["timestamp"] > after]) >= n
        ),
    )


# Freshness: one file followed from its put to sales_summary of its day (make bench's P1 and the
# compose test use the same probe).
RUN_TIMES = """
query R($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { creationTime startTime } }
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { timestamp } } }
  }
}"""


def first_materialization_after(
    stack: Stack, key: str, partition: str, after: float, deadline: float
) -> dict[str, Any]:
    """The first materialization of ``key`` for ``partition`` later than ``after`` (epoch s)."""

    def probe() -> dict[str, Any] | None:
        later = [
            m
            for m in materializations(stack, [key], partition)
            if int(m["timestamp"]) / 1000 > after
        ]
        return min(later, key=lambda m: int(m["timestamp"])) if later else None

    return wait_until(f"{key} {partition} materialized after {after:.1f}", probe, deadline, 0.5)


def run_times(stack: Stack, run_id: str) -> dict[str, float]:
    """When a run was created, left the queue (RUN_STARTING: handed to the launcher) and
    started (RUN_START: its worker is up), in epoch seconds."""
    data = stack.gql(RUN_TIMES, runId=run_id)
    events = {
        e["__typename"]: int(e["timestamp"]) / 1000
        for e in data["logsForRun"]["events"]
        if e.get("timestamp")
    }
    created = float(data["runOrError"]["creationTime"])
    dequeued = events.get("RunStartingEvent", created)
    started = data["runOrError"]["startTime"] or events.get("RunStartEvent", dequeued)
    return {"created": created, "dequeued": dequeued, "started": float(started)}


def follow_file(
    stack: Stack, put: Callable[[], None], day: str, deadline: float = 300
) -> dict[str, float]:
    """Call ``put`` (one store file for ``day``), then wait for the first ``sales_data`` and the
    next ``sales_summary`` of that day: the seconds each stage took, both runs' summed."""
    put_at = time.time()
    put()
    landed = first_materialization_after(stack, "sales_data", day, put_at, deadline)
    landed_at = int(landed["timestamp"]) / 1000
    ingest = run_times(stack, landed["runId"])
    summary = first_materialization_after(stack, "sales_summary", day, landed_at, deadline)
    summary_at = int(summary["timestamp"]) / 1000
    analytics = run_times(stack, summary["runId"])
    return {
        "total_s": summary_at - put_at,
        "sensor_wait_s": ingest["created"] - put_at,
        "queue_s": (ingest["dequeued"] - ingest["created"])
        + (analytics["dequeued"] - analytics["created"]),
        "run_start_s": (ingest["started"] - ingest["dequeued"])
        + (analytics["started"] - analytics["dequeued"]),
        "compute_s": (landed_at - ingest["started"]) + (summary_at - analytics["started"]),
        "automation_wait_s": analytics["created"] - landed_at,
        "put_to_sales_data_s": landed_at - put_at,
    }


def freshness_summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    """p50, min, max of the totals and the median of each stage."""
    totals = [s["total_s"] for s in samples]
    return {
        "files": len(samples),
        "p50_s": round(statistics.median(totals), 2),
        "min_s": round(min(totals), 2),
        "max_s": round(max(totals), 2),
        "stage_medians_s": {
            name: round(statistics.median(s[name] for s in samples), 2)
            for name in samples[0]
            if name != "total_s"
        },
        "samples_s": [round(t, 2) for t in totals],
    }
