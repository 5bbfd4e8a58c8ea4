"""For tests that need a Docker engine: the `docker` CLI, the images deploy/images/build.sh
built, and skipping without them (failing under REQUIRE_DOCKER=1, as CI runs)."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMAGES_ENV = ROOT / "build" / "images.env"


def unavailable(reason: str) -> None:
    """Skip, saying why; under REQUIRE_DOCKER=1 (CI) fail instead, so nothing is silently lost."""
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"{reason} (REQUIRE_DOCKER=1)")
    pytest.skip(reason)


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result.stdout.strip()


def built_images(what: str) -> dict[str, str]:
    """The image names deploy/images/build.sh recorded (INGESTION_IMAGE=…), once an engine
    answers; otherwise the calling tests skip (or fail under REQUIRE_DOCKER=1)."""
    try:
        subprocess.run(["docker", "info"], capture_output=True, check=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        unavailable(f"no Docker engine reachable: {what} skipped")
    if not IMAGES_ENV.is_file():
        unavailable(f"no images built (run deploy/images/build.sh): {what} skipped")
    return dict(line.split("=", 1) for line in IMAGES_ENV.read_text().split() if "=" in line)
