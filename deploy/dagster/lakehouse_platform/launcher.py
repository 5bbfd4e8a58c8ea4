"""The run launcher: Dagster's DockerRunLauncher, saying why a run's container died.

Run containers are kept when they exit (``auto_remove: false`` in dagster.yaml) until the run is
finished and its failure message holds what an operator needs: the exit code, whether the kernel
killed it for memory and at what limit, and the container's last log lines. The daemon's
supervisor removes them afterwards (``supervisor.remove_finished_containers``).

A worker killed for memory is not retried: run retries would start the same work under the same
limit and be killed again. Its run gets ``dagster/max_retries=0`` before the failure is reported,
so Dagster's own retry decision (read when the failure event is stored) says no.
"""

from dataclasses import dataclass
from typing import Any

from dagster import DagsterInstance, DagsterRun
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import MAX_RETRIES_TAG
from dagster_docker import DockerRunLauncher

LAST_LINES = 20
# The run tag that records why the worker died ("oom" or "exit <code>"), for alerts and queries.
WORKER_EXIT_TAG = "lakehouse/worker_exit"


@dataclass(frozen=True)
class WorkerExit:
    """What is left of a run worker container that stopped without finishing its run."""

    container_id: str
    state: str
    exit_code: int | None
    oom_killed: bool
    memory_limit_bytes: int
    last_lines: str

    @classmethod
    def of(cls, container: Any) -> "WorkerExit":
        """From a docker SDK container (its attrs as `docker inspect` prints them)."""
        state = container.attrs.get("State") or {}
        host = container.attrs.get("HostConfig") or {}
        try:
            raw = container.logs(tail=LAST_LINES, stdout=True, stderr=True)
            last = raw.decode("utf-8", errors="replace").rstrip()
        except Exception as error:  # the message must be written anyway
            last = f"(logs unavailable: {error})"
        return cls(
            container_id=container.id,
            state=state.get("Status") or container.status,
            exit_code=state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
            memory_limit_bytes=int(host.get("Memory") or 0),
            last_lines=last,
        )

    @property
    def out_of_memory(self) -> bool:
        # Exit 137 is SIGKILL; with a memory limit set, the kernel's OOM killer is the usual
        # sender. OOMKilled is not always set under cgroup v2 when the killed process is PID 1.
        return self.oom_killed or (self.exit_code == 137 and self.memory_limit_bytes > 0)

    def tag(self) -> str:
        return "oom" if self.out_of_memory else f"exit {self.exit_code}"

    def message(self) -> str:
        short = self.container_id[:12]
        limit = _size(self.memory_limit_bytes) if self.memory_limit_bytes else "no limit"
        if self.out_of_memory:
            head = (
                f"The run's container {short} was killed for exceeding its memory limit "
                f"({limit}; OOMKilled={str(self.oom_killed).lower()}, exit code "
                f"{self.exit_code}). Not retried: it would run out of memory again. Raise the "
                "limit (mem_limit in dagster.yaml's run_launcher container_kwargs, or the "
                "location's <LOCATION>_RUN_MEMORY in .env) or run fewer partitions per run, "
                "then re-execute the run."
            )
        elif self.state == "created":
            head = (
                f"The run's container {short} was created but never started: the daemon that "
                "launched it stopped in between. The container was removed; run retries "
                "launch the run again."
            )
        else:
            head = (
                f"The run's container {short} exited with code {self.exit_code} before the run "
                f"finished (memory limit {limit}). Run retries launch it again if any are left."
            )
        return f"{head}\nLast {LAST_LINES} log lines:\n{self.last_lines or '(none)'}"


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= factor:
            return f"{n / factor:g} {unit}"
    return f"{n} bytes"


def record_exit(instance: DagsterInstance, run: DagsterRun, worker: WorkerExit) -> None:
    """Tag the run with how its worker died; for a memory kill, switch its retries off."""
    tags = {WORKER_EXIT_TAG: worker.tag()}
    if worker.out_of_memory:
        tags[MAX_RETRIES_TAG] = "0"
    instance.add_run_tags(run.run_id, tags)


class LakehouseDockerRunLauncher(DockerRunLauncher):
    """DockerRunLauncher whose health check reports why a run's container stopped.

    Run monitoring calls ``check_run_worker_health`` for STARTED runs; the message returned for
    a failed worker becomes the run's failure message, which the run-failure alert forwards.
    """

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        container = self._get_container(run)
        if container is None or container.status == "running":
            return super().check_run_worker_health(run)
        worker = WorkerExit.of(container)
        record_exit(self._instance, run, worker)
        return CheckRunHealthResult(WorkerStatus.FAILED, msg=worker.message())
