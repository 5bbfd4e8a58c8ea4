"""The fault tier's record: one row per fault, measured by the test that injected it, rendered
into RELIABILITY.md and artifacts/reliability.json at the end of the session.

A fault test observes the deployment from outside and calls ``Reliability.record`` with what it
counted (runs lost or duplicated, data lost) and timed (seconds to recover). Nothing here is
typed in by hand: a row exists only when its test ran in this invocation, and a catalogued fault
whose test did not run is rendered as "not run". Timings are recorded, never asserted.

To add a fault: give it a line in ``FAULTS`` and call ``reliability.record("F<n>", ...)`` from its
test (the ``reliability`` fixture in tests/faults/conftest.py).
"""

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The faults of issue "Step 8 — Faults", by id: what is done to the deployment, and what must hold.
FAULTS: dict[str, tuple[str, str]] = {
    "F1": (
        "daemon crash mid-run (kill -9 of the daemon container's main process)",
        "the restart policy brings it back; the run in flight is resolved, never stuck in "
        "STARTING/STARTED; sensors resume from their cursors; every landed file ends in the lake "
        "exactly once; no orphaned containers",
    ),
    "F2": (
        "daemon hung (SIGSTOP: alive, no heartbeats)",
        "detected and restarted",
    ),
    "F3": (
        "Postgres restart",
        "every service reconnects unaided; no lost materializations, no duplicate runs",
    ),
    "F4": (
        "code server crash (kill -9 of the ingestion container's main process)",
        "back by itself, the location LOADED again in the webserver and the daemon without a "
        "Reload; the other location's runs unaffected",
    ),
    "F5": (
        "S3 server down for 60 s",
        "ticks fail and recover; runs retry transient errors and succeed; the cursor stays "
        "intact; nothing is skipped",
    ),
    "F6": (
        "run container killed for memory (exit 137)",
        "the run fails with a message an operator can act on (OOM, the limit, the last log "
        "lines), is not retried blindly, and the alert says the same",
    ),
    "F7": (
        "a burst of store files across many days at once",
        "all land, none dropped or duplicated; the queue's limits hold; time to drain measured",
    ),
    "F8": (
        "alerting with the ingestion code server (or the daemon) down",
        "someone is still told",
    ),
}


@dataclass
class FaultRow:
    fault_id: str
    fault: str
    expected: str
    # What the product did, in words composed by the test from what it observed.
    behaviour: str
    # Seconds from the end of the fault (or its injection, for an instant fault) until the test
    # saw the product serve again, as it defines "recovered" in ``recovery``.
    recovery_seconds: float | None
    recovery: str
    runs_lost: int
    runs_duplicated: int
    data_lost: str
    # Further figures the test measured (sizes, counts, timings), by name.
    measured: dict[str, Any] = field(default_factory=dict)
    test: str = ""
    outcome: str = "not finished"  # "passed" / "failed", set from the test's report


class Reliability:
    """Collects the rows of one pytest session."""

    def __init__(self) -> None:
        self.rows: dict[str, FaultRow] = {}
        self.outcomes: dict[str, str] = {}  # test node id -> outcome

    def record(
        self,
        fault_id: str,
        *,
        test: str,
        behaviour: str,
        recovery_seconds: float | None,
        recovery: str,
        runs_lost: int,
        runs_duplicated: int,
        data_lost: str,
        **measured: Any,
    ) -> FaultRow:
        fault, expected = FAULTS[fault_id]
        row = FaultRow(
            fault_id=fault_id,
            fault=fault,
            expected=expected,
            behaviour=behaviour,
            recovery_seconds=None if recovery_seconds is None else round(recovery_seconds, 1),
            recovery=recovery,
            runs_lost=runs_lost,
            runs_duplicated=runs_duplicated,
            data_lost=data_lost,
            measured=measured,
            test=test,
        )
        self.rows[fault_id] = row
        return row

    def finish(self, node_id: str, outcome: str) -> None:
        self.outcomes[node_id] = outcome
        for row in self.rows.values():
            if row.test == node_id:
                row.outcome = outcome

    def write(self, markdown: Path, artifact: Path, command: str) -> None:
        report = {
            "command": command,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "faults": [
                asdict(self.rows[f]) if f in self.rows else {"fault_id": f, "outcome": "not run"}
                for f in FAULTS
            ],
        }
        artifact.parent.mkdir(exist_ok=True)
        artifact.write_text(json.dumps(report, indent=2) + "\n")
        markdown.write_text(render(report, self.rows))


def machine() -> dict[str, Any]:
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    try:
        docker_version = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        docker_version = ""
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "docker": docker_version or "unknown",
        "os": f"{platform.system()} {platform.release()}",
    }


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value, separators=(', ', ': '))}`"
    return str(value)


def render(report: dict[str, Any], rows: dict[str, FaultRow]) -> str:
    m = report["machine"]
    lines = [
        "# Reliability",
        "",
        "What the deployment does when a part of it fails, measured by the fault tier "
        "(`tests/faults/test_faults.py`) on the compose deployment: each fault is injected from "
        "outside while store files land and runs are in flight, and every figure below was "
        "counted or timed by that run. Do not edit by hand: run the command again.",
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['date']}",
        f"- Machine: {m['cores']} cores, {m['memory_gib']} GiB memory, Docker {m['docker']}, "
        f"{m['os']}",
        "",
        "| Fault | What the product did | Time to recover | Runs lost | Runs duplicated "
        "| Data lost | Acceptance |",
        "|---|---|---|---|---|---|---|",
    ]
    for fault_id, (fault, _expected) in FAULTS.items():
        row = rows.get(fault_id)
        if row is None:
            lines.append(
                f"| {fault_id} {fault} | not run in this invocation | — | — | — | — | not run |"
            )
            continue
        lines.append(
            f"| {fault_id} {row.fault} | {row.behaviour} | {_seconds(row.recovery_seconds)} "
            f"| {row.runs_lost} | {row.runs_duplicated} | {row.data_lost} | {row.outcome} |"
        )
    for fault_id, (fault, expected) in FAULTS.items():
        lines += ["", f"## {fault_id}: {fault}", "", f"Expected: {expected}.", ""]
        row = rows.get(fault_id)
        if row is None:
            lines.append("Not run in this invocation.")
            continue
        lines += [
            f"{row.behaviour}. Time to recover: {_seconds(row.recovery_seconds)}, {row.recovery}. "
            f"Runs lost: {row.runs_lost}; runs duplicated: {row.runs_duplicated}; data lost: "
            f"{row.data_lost}. Acceptance checks: {row.outcome} (`{row.test}`).",
            "",
        ]
        lines += [f"- {name}: {_figure(value)}" for name, value in row.measured.items()]
    return "\n".join(lines) + "\n"
