"""The daemon supervisor's passes against a real Docker engine and a Dagster instance on Postgres.

Runs are added to the instance in the states a daemon crash leaves them in; their containers are
real ones (the Dagster image), on a network of this test's own, labelled the way Dagster's
DockerRunLauncher labels them. What the supervisor does end to end (a killed or hung daemon in
the compose deployment) is the fault tier's (tests/faults).
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import docker
import pytest
from dagster._core.storage.tags import MAX_RETRIES_TAG, WILL_RETRY_TAG
from dagster_docker.docker_run_launcher import DOCKER_CONTAINER_ID_TAG
from docker_engine import built_images
from lakehouse_platform.launcher import WORKER_EXIT_TAG
from lakehouse_platform.supervisor import (
    Settings,
    daemon_live,
    reconcile_starting_runs,
    remove_finished_containers,
)

from lakehouse_testing.servers import PostgresServer

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def image() -> str:
    return built_images("supervisor test")["DAGSTER_IMAGE"]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    engine = docker.from_env()
    yield engine
    engine.close()


@pytest.fixture
def network(client: Any) -> Iterator[str]:
    name = f"lh-supervisor-{uuid.uuid4().hex[:8]}"
    net = client.networks.create(name)
    yield name
    for container in client.containers.list(all=True, filters={"network": name}):
        container.remove(force=True)
    net.remove()


@pytest.fixture
def instance(postgres: PostgresServer) -> Iterator[dg.DagsterInstance]:
    url = postgres.create_database(f"supervisor_{uuid.uuid4().hex[:8]}")
    overrides = {
        "storage": {"postgres": {"postgres_url": url}},
        "run_retries": {"enabled": True, "max_retries": 2},
    }
    with dg.instance_for_test(overrides=overrides) as pg:
        yield pg


def _run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, **tags: str) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="daily_ingest_job", run_id=str(uuid.uuid4()), status=status)
    instance.add_run(run)
    if tags:
        instance.add_run_tags(run.run_id, tags)
    stored = instance.get_run_by_id(run.run_id)
    assert stored is not None
    return stored


def _container(client: Any, image: str, network: str, run_id: str, command: list[str]) -> Any:
    return client.containers.create(
        image,
        command,
        labels={"dagster/run_id": run_id, "dagster/job_name": "daily_ingest_job"},
        network=network,
        mem_limit="64m",
        memswap_limit="64m",
    )


def _wait_exited(container: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            return
        time.sleep(0.5)
    raise AssertionError(f"container {container.short_id} still {container.status}")


def _failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert records, f"no RUN_FAILURE for {run_id}"
    return records[-1].event_log_entry.dagster_event.message or ""


def test_after_a_crash_orphaned_launches_fail_at_once_and_their_containers_go(
    instance: dg.DagsterInstance, client: Any, image: str, network: str
) -> None:
    settings = Settings(network=network)
    # Crashed between create and start: a container in state "created".
    created = _run(instance, dg.DagsterRunStatus.STARTING)
    orphan = _container(client, image, network, created.run_id, ["sleep", "600"])
    instance.add_run_tags(created.run_id, {DOCKER_CONTAINER_ID_TAG: orphan.id})
    # Crashed before creating anything.
    bare = _run(instance, dg.DagsterRunStatus.STARTING)
    # A worker that is still starting up: running, left alone.
    alive = _run(instance, dg.DagsterRunStatus.STARTING)
    running = _container(client, image, network, alive.run_id, ["sleep", "600"])
    running.start()
    instance.add_run_tags(alive.run_id, {DOCKER_CONTAINER_ID_TAG: running.id})

    # While a daemon runs, a launch may be between its steps: nothing is judged but exits.
    during = reconcile_starting_runs(instance, client, settings, daemon_running=True)
    assert during.failed == {} and during.removed == []

    found = reconcile_starting_runs(instance, client, settings, daemon_running=False)

    assert set(found.failed) == {created.run_id, bare.run_id}
    assert found.removed == [orphan.id]
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(orphan.id)
    assert "created but never started" in _failure_message(instance, created.run_id)
    assert "before its container was created" in _failure_message(instance, bare.run_id)
    for run_id in (created.run_id, bare.run_id):
        failed = instance.get_run_by_id(run_id)
        assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
        # A crash is what run retries are for.
        assert failed.tags.get(WILL_RETRY_TAG) == "true", failed.tags
    still = instance.get_run_by_id(alive.run_id)
    assert still is not None and still.status == dg.DagsterRunStatus.STARTING


def test_a_worker_killed_for_memory_fails_with_why_and_is_not_retried(
    instance: dg.DagsterInstance, client: Any, image: str, network: str
) -> None:
    run = _run(instance, dg.DagsterRunStatus.STARTING)
    hog = _container(
        client,
        image,
        network,
        run.run_id,
        ["python", "-c", "print('loading the day', flush=True); b = b'x' * (512 << 20)"],
    )
    instance.add_run_tags(run.run_id, {DOCKER_CONTAINER_ID_TAG: hog.id})
    hog.start()
    _wait_exited(hog)

    found = reconcile_starting_runs(
        instance, client, Settings(network=network), daemon_running=True
    )

    assert set(found.failed) == {run.run_id}
    message = _failure_message(instance, run.run_id)
    assert "killed for exceeding its memory limit (64 MiB" in message, message
    assert "exit code 137" in message and "Not retried" in message, message
    assert "loading the day" in message, message  # the last log lines
    failed = instance.get_run_by_id(run.run_id)
    assert failed is not None
    assert failed.tags[WORKER_EXIT_TAG] == "oom"
    assert failed.tags[MAX_RETRIES_TAG] == "0"
    assert failed.tags.get(WILL_RETRY_TAG) == "false", failed.tags
    # Kept until its run is finished (it is now), then kept for `docker logs` a while.
    assert remove_finished_containers(instance, client, Settings(network=network)) == []
    later = time.time() + 2 * 3600
    removed = remove_finished_containers(instance, client, Settings(network=network), now=later)
    assert removed == [hog.id]


def test_finished_runs_containers_are_removed_and_unfinished_ones_kept(
    instance: dg.DagsterInstance, client: Any, image: str, network: str
) -> None:
    settings = Settings(network=network)
    done = _run(instance, dg.DagsterRunStatus.SUCCESS)
    in_flight = _run(instance, dg.DagsterRunStatus.STARTED)
    containers = {}
    for run in (done, in_flight):
        c = _container(client, image, network, run.run_id, ["true"])
        c.start()
        _wait_exited(c)
        containers[run.run_id] = c.id
    # Another deployment's run container (another network) is never touched.
    elsewhere = client.containers.create(
        image, ["true"], labels={"dagster/run_id": done.run_id}, network="none"
    )
    try:
        removed = remove_finished_containers(instance, client, settings)
        assert removed == [containers[done.run_id]]
        client.containers.get(containers[in_flight.run_id])  # run monitoring still reads it
        client.containers.get(elsewhere.id)
    finally:
        elsewhere.remove(force=True)


def test_liveness_is_dagsters_and_a_database_outage_is_not_a_hang(tmp_path: Path) -> None:
    from dagster._daemon.types import DaemonHeartbeat

    server = PostgresServer(tmp_path / "pg").start()
    try:
        url = server.create_database("heartbeats")
        overrides = {"storage": {"postgres": {"postgres_url": url}}}
        with dg.instance_for_test(overrides=overrides) as instance:
            settings = Settings(tolerance=60)
            now = time.time()
            for daemon_type in instance.get_required_daemon_types():
                instance.add_daemon_heartbeat(DaemonHeartbeat(now, daemon_type, None, None))
            assert daemon_live(instance, settings) is True
            for daemon_type in instance.get_required_daemon_types():
                instance.add_daemon_heartbeat(DaemonHeartbeat(now - 600, daemon_type, None, None))
            assert daemon_live(instance, settings) is False
            server.stop()
            assert daemon_live(instance, settings) is None
    finally:
        server.stop()
