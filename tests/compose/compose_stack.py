"""The compose deployment as the tests drive it from outside: shared by the compose tier
(tests/compose/test_compose.py) and the fault-injection tier (tests/faults/test_faults.py).

`compose_deployment` starts one deployment the way a user starts it (`make up`, with a Docker
config that has no compose plugin, so `make` must install the dev lock's Compose binary), from
the images deploy/images/build.sh recorded in build/images.env and the offline stand-ins of the
pinned Postgres and SeaweedFS releases (build/stand-ins.env), under a project name of its own;
it talks only to 127.0.0.1 ports, to that project's containers, and to one-off containers on its
network. `ComposeStack` is the handle: compose and make against its .env, S3 clients per key,
Postgres connections, the webserver's GraphQL (``stack``).
"""

import base64
import json
import os
import secrets
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
from compose_files import ROOT, clean_environ, generated_env, stand_in_images, write_env
from docker_engine import built_images, docker, unavailable
from native_stack import Stack

from lakehouse import s3_access
from lakehouse_testing.servers import free_port

ARTIFACTS = ROOT / "artifacts"
LONG_RUNNING = (
    "postgres",
    "s3",
    "ingestion",
    "analytics",
    "daemon",
    "webserver",
    "webserver-viewer",
    "proxy",
    "sentinel",
)
# The front door's users every deployment gets (`make user`), one per role.
USERS = {"editor": "ed-editor", "viewer": "vi-viewer"}
CA_PATH = "/data/caddy/pki/authorities/local/root.crt"
ONE_SHOTS = ("s3-config", "init", "migrate")
BUCKET = "sales-lake"


def basic_auth(name: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class ComposeStack:
    env_file: Path
    # Secrets: kept out of repr, so no assertion message prints them.
    env: dict[str, str] = field(repr=False)
    process_env: dict[str, str] = field(repr=False)
    stack: Stack
    images: dict[str, str]
    plugin_was_missing: bool
    metrics: dict[str, Any] = field(default_factory=dict, repr=False)
    run_containers: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    # role -> (name, password) of the front door's users.
    logins: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    ca_file: Path | None = None

    @property
    def front_door(self) -> str:
        return f"https://localhost:{self.env['PROXY_HTTPS_PORT']}"

    def tls_context(self) -> ssl.SSLContext:
        """Verifies the proxy's certificate against its internal CA (fetched after `make up`)."""
        assert self.ca_file is not None, "the proxy's CA was not fetched"
        return ssl.create_default_context(cafile=str(self.ca_file))

    def as_user(self, role: str | None, url: str | None = None) -> Stack:
        """GraphQL and HTTP through the front door as the ``role``'s user (None: no login)."""
        return Stack(
            url or self.front_door,
            self.stack.log_path,
            headers=basic_auth(*self.logins[role]) if role is not None else {},
            ssl_context=self.tls_context(),
        )

    def reconfigure(self, changes: dict[str, str], *services: str) -> None:
        """Write ``changes`` into .env and recreate ``services`` with them (nothing else)."""
        write_env(self.env_file, changes)
        self.compose("up", "-d", "--no-build", "--no-deps", "--wait", *services, timeout=600)

    def fetch_ca(self) -> None:
        """The proxy's root certificate, read from its volume: again after `down -v`, which
        drops the volume and so the CA."""
        ca = self.env_file.parent / "proxy-root.crt"
        ca.write_text(self.compose("exec", "-T", "proxy", "cat", CA_PATH))
        self.ca_file = ca
        # The tests drive the deployment as an editor would, through the proxy.
        self.stack = self.as_user("editor")

    @property
    def project(self) -> str:
        return self.env["COMPOSE_PROJECT_NAME"]

    def compose(self, *args: str, timeout: int = 600, check: bool = True) -> str:
        result = subprocess.run(
            ["docker", "compose", "--env-file", str(self.env_file), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.process_env,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"compose {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def make(self, target: str) -> subprocess.CompletedProcess[str]:
        """`make <target>` as a user runs it, against this deployment's .env (images are built
        already: --no-build)."""
        return subprocess.run(
            [
                "make",
                "--no-print-directory",
                target,
                f"ENV_FILE={self.env_file}",
                "COMPOSE_UP_FLAGS=--no-build",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env=self.process_env,
        )

    def script(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / "deploy/compose" / name), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**self.process_env, "COMPOSE": f"docker compose --env-file {self.env_file}"},
        )

    def container_id(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def s3(self, identity: str) -> Any:
        key_var, secret_var = s3_access.credential_variables(identity)
        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.env['S3_PORT']}",
            region_name="us-east-1",
            aws_access_key_id=self.env[key_var],
            aws_secret_access_key=self.env[secret_var],
        )

    def pg(self, user: str, password: str, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=int(self.env["POSTGRES_PORT"]),
            user=user,
            password=password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return self.pg("postgres", self.env["POSTGRES_PASSWORD"], dbname)

    def objects(self, with_logs: bool = False) -> dict[str, str]:
        """Objects in the bucket, key -> ETag (read with the admin key); compute logs only
        ``with_logs`` (sensors write tick logs there by themselves from the first minute)."""
        paginator = self.s3("admin").get_paginator("list_objects_v2")
        return {
            item["Key"]: item["ETag"].strip('"')
            for page in paginator.paginate(Bucket=BUCKET)
            for item in page.get("Contents", [])
            if with_logs or not item["Key"].startswith(s3_access.COMPUTE_LOGS)
        }

    def orders(self) -> dict[str, int]:
        with self.superuser("shop") as conn:
            return dict(conn.execute("SELECT order_id, quantity FROM source.sales").fetchall())

    def run_ids(self) -> set[str] | None:
        try:
            return {r["runId"] for r in self.stack.gql(RUNS, filter={})["runsOrError"]["results"]}
        except OSError:
            return None

    def init_log(self) -> str:
        return self.compose("logs", "--no-color", "init")

    def healthy(self) -> None:
        rows = [
            json.loads(line)
            for line in self.compose("ps", "-a", "--format", "json").splitlines()
            if line.strip()
        ]
        state = {row["Service"]: row for row in rows}
        for service in LONG_RUNNING:
            assert state[service]["Health"] == "healthy", state[service]
        for one_shot in ONE_SHOTS:
            assert state[one_shot]["State"] == "exited", state[one_shot]
            assert state[one_shot]["ExitCode"] == 0, state[one_shot]


RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs {
  results { runId status jobName startTime endTime
            repositoryOrigin { repositoryLocationName } } } } }"""
ENGINE_EVENTS = """query Events($runId: ID!) { logsForRun(runId: $runId) {
  ... on EventConnection { events { __typename ... on MessageEvent { message }
    ... on LogsCapturedEvent { fileKey stepKeys } } } } }"""
CAPTURED = """query Logs($key: [String!]!) { capturedLogs(logKey: $key) { stdout stderr } }"""


class RunContainerWatcher:
    """Inspects every run container of the deployment the moment the engine creates it.

    A successful run's container is removed as soon as the daemon's supervisor sees it exited,
    so `docker inspect` after the fact may find nothing; `docker events` announces each creation
    before the container even starts, which leaves seconds to read its configuration.
    """

    def __init__(self, network: str, found: dict[str, dict[str, Any]]) -> None:
        self.network = network
        self.found = found
        self.proc = subprocess.Popen(
            [
                "docker",
                "events",
                "--filter",
                "type=container",
                "--filter",
                "event=create",
                "--filter",
                "label=dagster/run_id",
                "--format",
                "{{.Actor.ID}}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            container = line.strip()
            raw = docker("inspect", container, check=False)
            if not raw:
                continue
            details = json.loads(raw)[0]
            if self.network in (details["NetworkSettings"]["Networks"] or {}) or (
                details["HostConfig"]["NetworkMode"] == self.network
            ):
                self.found[container] = details

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@contextmanager
def compose_deployment(
    work: Path,
    project_prefix: str,
    *,
    env: dict[str, str] | None = None,
    artifact_name: str = "compose-test",
    metrics_name: str | None = None,
) -> Iterator[ComposeStack]:
    """`make up` of a deployment of its own (project ``<project_prefix>-<random>``) in ``work``,
    torn down with its volumes at the end; ``env`` is written into its .env over `make env`'s.

    Afterwards the services' logs go to artifacts/<artifact_name>.log and the metrics the tests
    gathered to artifacts/<metrics_name>.json (when named).
    """
    images = built_images(f"{artifact_name} tier")
    stand_ins = stand_in_images()
    if stand_ins is None:
        unavailable("no offline stand-ins (build/stand-ins.env): run deploy/images/ci-build.sh")
    assert stand_ins is not None

    def tag(name: str) -> str:
        return images[f"{name}_IMAGE"].rsplit(":", 1)[1]

    project = f"{project_prefix}-{uuid.uuid4().hex[:6]}"
    # As README's offline path says: `make env`, then the stand-ins' names appended.
    env_file = generated_env(
        work / ".env",
        **stand_ins,
        COMPOSE_PROJECT_NAME=project,
        DAGSTER_RUN_NETWORK=project,
        IMAGE_PREFIX=images["INGESTION_IMAGE"].split("/", 1)[0],
        PROXY_HTTPS_PORT=str(free_port()),
        PROXY_HTTP_PORT=str(free_port()),
        PROXY_USERS_FILE=str(work / "users.caddy"),
        S3_PORT=str(free_port()),
        POSTGRES_PORT=str(free_port()),
        **(env or {}),
    )
    # Another image of the same releases, e.g. the official ones where a registry is reachable.
    overrides = {
        name: os.environ[f"COMPOSE_TEST_{name}"]
        for name in ("POSTGRES_IMAGE", "S3_IMAGE")
        if os.environ.get(f"COMPOSE_TEST_{name}")
    }
    if overrides:
        write_env(env_file, overrides)
    values = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    docker_config = work / "docker-config"
    docker_config.mkdir()
    process_env = {
        **clean_environ(),
        # A Docker config with no plugins: `make up` has to make `docker compose` work itself.
        "DOCKER_CONFIG": str(docker_config),
        "INGESTION_TAG": tag("INGESTION"),
        "ANALYTICS_TAG": tag("ANALYTICS"),
        "DAGSTER_TAG": tag("DAGSTER"),
        # `make down` also stops a `make dev` stack: only one in this deployment's own folder.
        "LAKEHOUSE_VAR_DIR": str(work / "var"),
    }
    plugin_was_missing = (
        subprocess.run(
            ["docker", "compose", "version"], capture_output=True, env=process_env, check=False
        ).returncode
        != 0
    )
    # As README says: one `make user` per login (the password on standard input here).
    logins = {role: (name, secrets.token_urlsafe(18)) for role, name in USERS.items()}
    for role, (name, password) in logins.items():
        added = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "user",
                f"NAME={name}",
                f"ROLE={role}",
                f"ENV_FILE={env_file}",
            ],
            cwd=ROOT,
            input=password + "\n",
            capture_output=True,
            text=True,
            check=False,
            env=process_env,
            timeout=120,
        )
        assert added.returncode == 0, added.stderr[-2000:]
    deployment = ComposeStack(
        env_file=env_file,
        env=values,
        process_env=process_env,
        stack=Stack("", work / "compose.log"),  # through the front door once it is up
        images=images,
        plugin_was_missing=plugin_was_missing,
        logins=logins,
    )
    watcher = RunContainerWatcher(project, deployment.run_containers)
    try:
        started = time.monotonic()
        result = deployment.make("up")
        assert result.returncode == 0, (
            f"make up failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        deployment.metrics["make_up_seconds_to_healthy"] = round(time.monotonic() - started, 1)
        deployment.fetch_ca()
        yield deployment
    finally:
        watcher.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        logs = deployment.compose("logs", "--no-color", timeout=120, check=False)
        (ARTIFACTS / f"{artifact_name}.log").write_text(logs)
        if metrics_name:
            (ARTIFACTS / f"{metrics_name}.json").write_text(
                json.dumps(deployment.metrics, indent=2)
            )
        leftovers = docker("ps", "-aq", "--filter", f"label=lakehouse-test={project}").split()
        # Failed runs' containers are kept for an hour by design: not past the deployment.
        leftovers += docker(
            "ps", "-aq", "--filter", "label=dagster/run_id", "--filter", f"network={project}"
        ).split()
        for leftover in leftovers:
            docker("rm", "-f", leftover, check=False)
        deployment.compose(
            "--profile", "*", "down", "-v", "--remove-orphans", timeout=300, check=False
        )
