"""The daemon container's first process: ``python -m lakehouse_platform.supervisor -- <daemon>``.

It does what Docker's restart policy and Dagster's run monitoring leave undone:

- **Launches a crash cut short.** A daemon killed between marking a run STARTING and starting
  its container leaves the run waiting for run monitoring's start timeout (minutes), and
  sometimes a container in state ``created`` that nothing ever removes. When the container
  starts, nothing of the old daemon runs any more, so every STARTING run without a running
  container is an orphan: before starting the daemon, the supervisor removes its container and
  fails the run with a message saying so, and run retries launch it again within seconds.
- **Workers that die while STARTING.** A run container that exits before its run has started
  (killed for memory while importing, say) is failed at once, with the exit code, the OOM flag,
  the memory limit and the last log lines (``launcher.WorkerExit``), instead of after the start
  timeout with none of that. Run monitoring handles STARTED runs, through the same message.
- **A hung daemon.** Compose does not restart a container its healthcheck calls unhealthy. The
  supervisor checks the daemons' heartbeats the way ``dagster-daemon liveness-check`` does (same
  function, same ``DAGSTER_DAEMON_HEARTBEAT_TOLERANCE``); when they have stopped while the
  database answers, it kills the daemon and exits non-zero, and the restart policy starts a new
  container. Chosen over an autoheal sidecar, which would need another image and the Docker
  socket (root on the host) for one job. What it cannot see: the whole container frozen
  (``docker pause``); the sentinel service reports that.
- **Health.** After each pass in which the heartbeats are fresh it touches ``/tmp/daemon-live``;
  the container's healthcheck only compares that file's age, instead of starting a Python
  process that took over its 15 s timeout on a busy host and called a working daemon unhealthy.
- **Finished run containers.** Run containers are kept when they exit, so the above can read
  them; they are removed once their run is finished (failed or canceled ones after
  ``LAKEHOUSE_KEEP_FAILED_CONTAINERS_SECONDS``, default an hour, for ``docker logs``).
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._daemon.controller import (
    DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS,
    DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
    all_daemons_live,
)
from dagster_docker.docker_run_launcher import DOCKER_CONTAINER_ID_TAG

from lakehouse_platform.launcher import WorkerExit, record_exit

logger = logging.getLogger("lakehouse.supervisor")

RUN_LABEL = "dagster/run_id"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass
class Settings:
    interval: float = 10.0
    tolerance: float = DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS
    keep_failed: float = 3600.0
    network: str | None = None
    live_file: Path = Path("/tmp/daemon-live")

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            interval=_env_float("LAKEHOUSE_SUPERVISOR_INTERVAL_SECONDS", 10.0),
            tolerance=_env_float(
                "DAGSTER_DAEMON_HEARTBEAT_TOLERANCE", DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS
            ),
            keep_failed=_env_float("LAKEHOUSE_KEEP_FAILED_CONTAINERS_SECONDS", 3600.0),
            network=os.environ.get("DAGSTER_RUN_NETWORK") or None,
            live_file=Path(os.environ.get("LAKEHOUSE_DAEMON_LIVE_FILE", "/tmp/daemon-live")),
        )


@dataclass
class Findings:
    """What one pass did, for logs and tests."""

    failed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)


def _run_containers(client: Any, network: str | None) -> list[Any]:
    """Every run container of this deployment (on its run network), in any state."""
    found = client.containers.list(all=True, filters={"label": RUN_LABEL})
    if network is None:
        return found
    return [
        c
        for c in found
        if network in ((c.attrs.get("NetworkSettings") or {}).get("Networks") or {})
        or (c.attrs.get("HostConfig") or {}).get("NetworkMode") == network
    ]


def _fail(instance: DagsterInstance, run: Any, message: str, findings: Findings) -> None:
    current = instance.get_run_by_id(run.run_id)
    if current is None or current.status != DagsterRunStatus.STARTING:
        return  # the worker moved on by itself meanwhile
    instance.report_run_failed(
        current,
        message,
        JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
    )
    findings.failed[run.run_id] = message
    logger.warning("run %s failed: %s", run.run_id, message.splitlines()[0])


def reconcile_starting_runs(
    instance: DagsterInstance, client: Any, settings: Settings, *, daemon_running: bool
) -> Findings:
    """Fail STARTING runs whose worker is gone.

    ``daemon_running=False`` (before the daemon starts): no launch can be in flight, so a run
    whose container is missing or only created is an orphan of a crashed launch. While the
    daemon runs, only containers that exited are judged: a launch may be between its steps.
    """
    findings = Findings()
    records = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTING]))
    if not records:
        return findings  # the usual pass: no need to ask the engine for its containers
    containers = {c.id: c for c in _run_containers(client, settings.network)}
    for record in records:
        run = record.dagster_run
        container = containers.get(run.tags.get(DOCKER_CONTAINER_ID_TAG, ""))
        if container is None:
            by_label = [c for c in containers.values() if c.labels.get(RUN_LABEL) == run.run_id]
            container = by_label[0] if by_label else None
        if container is not None and container.status in ("exited", "dead"):
            worker = WorkerExit.of(container)
            record_exit(instance, run, worker)
            _fail(instance, run, worker.message(), findings)
        elif daemon_running:
            continue
        elif container is None:
            _fail(
                instance,
                run,
                "The daemon stopped while launching this run, before its container was created."
                " Run retries launch it again.",
                findings,
            )
        elif container.status == "created":
            worker = WorkerExit.of(container)
            container.remove(force=True)
            findings.removed.append(container.id)
            _fail(instance, run, worker.message(), findings)
    return findings


def remove_finished_containers(
    instance: DagsterInstance, client: Any, settings: Settings, now: float | None = None
) -> list[str]:
    """Remove exited run containers whose run is finished (or gone)."""
    now = time.time() if now is None else now
    removed = []
    for container in _run_containers(client, settings.network):
        if container.status not in ("exited", "dead"):
            continue
        run = instance.get_run_by_id(container.labels.get(RUN_LABEL, ""))
        if run is not None and run.status not in FINISHED:
            continue  # run monitoring still has to read it
        if run is not None and run.status != DagsterRunStatus.SUCCESS:
            record = instance.get_run_record_by_id(run.run_id)
            ended = record.end_time if record and record.end_time else now
            if now - ended < settings.keep_failed:
                continue
        container.remove(force=True)
        removed.append(container.id)
    return removed


def daemon_live(instance: DagsterInstance, settings: Settings) -> bool | None:
    """``dagster-daemon liveness-check``'s answer; None when the database does not answer."""
    try:
        return all_daemons_live(
            instance,
            heartbeat_interval_seconds=DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
            heartbeat_tolerance_seconds=settings.tolerance,
        )
    except Exception:  # a database outage is not a hung daemon
        logger.warning("heartbeats unreadable (database unreachable?)", exc_info=True)
        return None


def _pass(name: str, action: Any) -> None:
    try:
        action()
    except Exception:  # one failed pass must not stop the supervisor
        logger.exception("%s failed; trying again next pass", name)


def supervise(command: Sequence[str], settings: Settings) -> int:
    client = docker.from_env()
    with DagsterInstance.get() as instance:
        _pass(
            "reconciling launches",
            lambda: reconcile_starting_runs(instance, client, settings, daemon_running=False),
        )
        child = subprocess.Popen(list(command))
        started = time.monotonic()

        def forward(signum: int, _frame: object) -> None:
            child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        # Heartbeats of a fresh daemon count only after it had time to write one.
        grace = DEFAULT_HEARTBEAT_INTERVAL_SECONDS + settings.tolerance
        while True:
            try:
                code = child.wait(timeout=settings.interval)
            except subprocess.TimeoutExpired:
                pass
            else:
                logger.warning("dagster-daemon exited with %s", code)
                return code
            _pass(
                "reconciling runs",
                lambda: reconcile_starting_runs(instance, client, settings, daemon_running=True),
            )
            _pass(
                "removing containers",
                lambda: remove_finished_containers(instance, client, settings),
            )
            live = daemon_live(instance, settings)
            if live:
                # The container's healthcheck reads this file's age: no Python start per check.
                settings.live_file.touch()
            if time.monotonic() - started > grace and live is False:
                logger.error(
                    "no daemon heartbeat for %.0f s while the database answers: the daemon is "
                    "hung; killing it so that the container restarts",
                    settings.tolerance + DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
                )
                child.kill()
                child.wait()
                return 70


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- dagster-daemon run ...")
    args = parser.parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:  # only the separator; a "--" inside the command is its own
        command = command[1:]
    command = command or ["dagster-daemon", "run"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.exit(supervise(command, Settings.from_env()))


if __name__ == "__main__":
    main()
