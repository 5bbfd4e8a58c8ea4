"""The fault tier's session: the recorder every fault test writes its row into, and the writer
that renders RELIABILITY.md and artifacts/reliability.json when the session ends (only when a
fault test recorded something, so a tier that deselects these tests never touches them)."""

import os
import shlex
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

# The compose harness (tests/compose/compose_stack.py) is shared with the compose tier.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compose"))

from reliability import Reliability

ROOT = Path(__file__).resolve().parents[2]
RECORDER = Reliability()


@pytest.fixture(scope="session")
def reliability() -> Reliability:
    return RECORDER


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[Any]:
    report = yield
    if report.failed:
        RECORDER.finish(item.nodeid, "failed")
    elif report.when == "call" and report.passed:
        RECORDER.finish(item.nodeid, "passed")
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not RECORDER.rows:
        return
    command = os.environ.get("FAULTS_COMMAND") or shlex.join(
        ["pytest", *session.config.invocation_params.args]
    )
    sizes = {k: v for k, v in os.environ.items() if k.startswith("FAULTS_BURST_")}
    if sizes:
        command = f"{shlex.join(f'{k}={v}' for k, v in sorted(sizes.items()))} {command}"
    RECORDER.write(ROOT / "RELIABILITY.md", ROOT / "artifacts" / "reliability.json", command)
