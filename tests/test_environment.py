"""Every list of environment variables agrees with the others and with the code that reads them.

The lists: the README's configuration table, `.env.example`, docker-compose.yml (each service's
`environment`, and the `${NAME}` it reads from .env), the run launcher's `env_vars` in
dagster.yaml, each code server's container context (DAGSTER_CONTAINER_CONTEXT), and the
`{env: NAME}` of dagster.yaml, workspace.yaml and deploy/local/instance/. What the code reads: every
string literal shaped like a variable name (upper case, at least one underscore) in the product's
Python (the locations, the shared library but its test support, deploy/), and the per-location
and per-identity S3 key names, which are built from the location's or the identity's name.

A variable missing from a run's environment leaves the run stuck in STARTING or failing on a
default; one missing from a service is a setting of .env that silently does nothing. The
Kubernetes lists follow compose's: tests/kubernetes/test_values.py holds settings.env equal to
compose's x-instance-env and each location's Secret and `env` equal to its x-<location>-env.
"""

import ast
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakehouse.config import s3_credential_variables
from lakehouse.s3_access import POLICY, credential_variables

ROOT = Path(__file__).resolve().parents[1]
LOCATIONS = ("ingestion", "analytics")
NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
# Test support shipped in the library: not the product's reads.
TEST_SUPPORT = {"testing.py", "pytest_plugin.py"}

# --- Exceptions, each with its reason -----------------------------------------------------------

# Read by a location, but not set for compose's code servers and runs.
NOT_SET_BY_COMPOSE = {
    # Only with LAKEHOUSE_STORAGE=local (make dev); compose's processes use S3.
    "LAKEHOUSE_LOCAL_ROOT": "the local stand-in bucket, make dev only",
    # boto3's own chain, read only when set; the deployment uses AWS_REGION and explicit keys.
    "AWS_DEFAULT_REGION": "boto3's fallback for AWS_REGION",
    "AWS_SESSION_TOKEN": "temporary credentials, unused by the deployment's static keys",
}
# Read by a location's code server but never needed by its runs: alerts are sent by sensors,
# which the code server evaluates; no asset or op sends one. The webhook URL may hold a token, so
# it stays where it is used.
NOT_FOR_RUNS = {"LAKEHOUSE_ALERT_WEBHOOK_URL", "LAKEHOUSE_UI_BASE_URL"}
# Read by a deployment process but not a setting: compose fixes the value, or the default is the
# only one that works with the rest of the deployment.
INTERNAL = {
    # The healthchecks in docker-compose.yml read these files at their default paths.
    "LAKEHOUSE_DAEMON_LIVE_FILE": "the daemon supervisor's liveness file",
    "SENTINEL_LIVENESS_FILE": "the sentinel's liveness file (a unit test moves it)",
    "LAKEHOUSE_SUPERVISOR_INTERVAL_SECONDS": "the supervisor's loop, 10 s",
    # The names init creates; compose's other services spell out the same defaults.
    "POSTGRES_HOST": "init's Postgres server, compose's `postgres` service",
    "POSTGRES_SUPERUSER": "the cluster superuser, `postgres` as the image creates it",
    "SOURCE_DB_NAME": "the web shop's database, `shop`",
    "SOURCE_DB_READER_ROLE": "ingestion's read-only role, `ingestion_reader`",
    "SENTINEL_WORKSPACE": "the sentinel's workspace.yaml, where compose mounts it",
    "LAKEHOUSE_LOCATIONS_FILE": "deploy/locations.toml, where compose mounts it for s3-config",
    # In the README's table for make dev; in compose, the Dagster image sets it (ENV in
    # deploy/dagster/Dockerfile) to where dagster.yaml is mounted.
    "DAGSTER_HOME": "the Dagster image's instance folder",
    # deploy/compose/env.py's default file; `make up ENV_FILE=...` passes it as --env-file.
    "ENV_FILE": "the .env that env.py checks when run by hand",
}
# In the README's table but not in .env.example.
NOT_IN_ENV_EXAMPLE = {
    "SEED_DAYS": "set once on `docker compose run -e SEED_DAYS=7 init`, else every up seeds",
    "INGESTION_TAG": "set by make up from git (deploy/images/tags.sh), in the environment",
    "ANALYTICS_TAG": "set by make up from git",
    "DAGSTER_TAG": "set by make up from git",
    "DAGSTER_INGESTION_HOST": "set by make dev's launcher and by compose",
    "DAGSTER_INGESTION_PORT": "set by make dev's launcher and by compose",
    "DAGSTER_ANALYTICS_HOST": "set by make dev's launcher and by compose",
    "DAGSTER_ANALYTICS_PORT": "set by make dev's launcher and by compose",
    "DAGSTER_POSTGRES_HOST": "set by compose: its postgres service",
    "DAGSTER_POSTGRES_PORT": "set by compose: its postgres service",
    "DAGSTER_POSTGRES_DB": "set by compose: the database init creates",
    **{
        name: "compose sets it from S3_<LOCATION>_*; make dev: the AWS_* chain"
        for location in LOCATIONS
        for name in s3_credential_variables(location)
    },
}
# What each compose service that runs the product's own code runs (checked against `command`).
SERVICE_CODE = {
    "daemon": (
        "lakehouse_platform.supervisor",
        [
            "deploy/dagster/lakehouse_platform/supervisor.py",
            "deploy/dagster/lakehouse_platform/launcher.py",
        ],
    ),
    "sentinel": ("lakehouse_platform.sentinel", ["deploy/dagster/lakehouse_platform/sentinel.py"]),
    "init": ("lakehouse-init", ["lakehouse/src/lakehouse/init.py"]),
    "s3-config": ("lakehouse.s3_access", ["lakehouse/src/lakehouse/s3_access.py"]),
}


# --- Parsers ------------------------------------------------------------------------------------


def literal_names(paths: Iterable[Path]) -> set[str]:
    """String literals shaped like a variable name, in these Python files."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if NAME.fullmatch(node.value):
                    found.add(node.value)
    return found


def python_files(*relative: str) -> list[Path]:
    files: list[Path] = []
    for rel in relative:
        path = ROOT / rel
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if f.name not in TEST_SUPPORT]


def _lakehouse_module(name: str) -> Path | None:
    base = ROOT / "lakehouse/src" / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def location_files(location: str) -> set[Path]:
    """The location's modules and every module of the shared library they import, transitively."""
    todo = python_files(f"{location}/src/{location}")
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                module = _lakehouse_module(name) if name.split(".")[0] == "lakehouse" else None
                if module is not None:
                    todo.append(module)
    return seen


@functools.cache
def location_reads(location: str) -> set[str]:
    return literal_names(location_files(location)) | set(s3_credential_variables(location))


@functools.cache
def product_reads() -> set[str]:
    """Everything the product's Python reads (deploy/ and the library included)."""
    files = python_files("lakehouse/src/lakehouse", "deploy")
    names = literal_names(files) | location_reads("ingestion") | location_reads("analytics")
    return names | {n for identity in POLICY for n in credential_variables(identity)}


def yaml_env_names(node: Any) -> set[str]:
    """The variables ``{env: NAME}`` nodes read."""
    if isinstance(node, dict):
        own = {node["env"]} if set(node) == {"env"} else set()
        return own.union(*map(yaml_env_names, node.values()))
    if isinstance(node, list):
        return set().union(*map(yaml_env_names, node))
    return set()


def load(relative: str) -> Any:
    return yaml.safe_load((ROOT / relative).read_text())


def instance_reads() -> set[str]:
    return yaml_env_names(load("dagster.yaml"))


def yaml_reads() -> set[str]:
    """What the instance and workspace files of both topologies read."""
    files = ["dagster.yaml", "workspace.yaml"]
    files += [str(p.relative_to(ROOT)) for p in (ROOT / "deploy/local/instance").glob("*.yaml")]
    return set().union(*(yaml_env_names(load(f)) for f in files))


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


@functools.cache
def compose() -> dict[str, Any]:
    return load("docker-compose.yml")


def compose_interpolations() -> set[str]:
    """What docker-compose.yml reads from .env (or the shell): ``${NAME...}``."""
    return {m for s in _strings(compose()) for m in re.findall(r"\$\{([A-Z][A-Z0-9_]*)", s)}


def service_env(service: str) -> set[str]:
    return set(compose()["services"][service].get("environment") or {})


def container_context(location: str) -> set[str]:
    raw = compose()["services"][location]["environment"]["DAGSTER_CONTAINER_CONTEXT"]
    return set(json.loads(raw)["docker"]["env_vars"])


def launcher_env_vars() -> set[str]:
    return set(load("dagster.yaml")["run_launcher"]["config"]["env_vars"])


@functools.cache
def env_example() -> set[str]:
    """Each variable `.env.example` assigns, or shows commented out with its default."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?[ \t]*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


@functools.cache
def readme_table() -> list[list[str]]:
    """The names in the first column of each row of README's configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "README: the configuration table under ## Configuration"
    return [re.findall(r"`([^`]+)`", row.split("|")[1]) for row in rows]


def readme_names() -> set[str]:
    return {name for row in readme_table() for name in row}


def _problems(found: Mapping[str, Iterable[str]]) -> list[str]:
    return [f"{name}: {why}" for name, whys in sorted(found.items()) for why in sorted(whys)]


# --- Checks -------------------------------------------------------------------------------------


def location_problems(
    location: str, launcher: set[str], context: set[str], server: set[str], daemon: set[str]
) -> list[str]:
    """Each variable the location reads must reach its code server and its runs (through the
    launcher's list or its container context), and the daemon must hold every name it passes."""
    found: dict[str, set[str]] = {}
    reads = location_reads(location) - set(NOT_SET_BY_COMPOSE)
    for name in sorted(reads - server):
        found.setdefault(name, set()).add(f"read by {location}, not set on its code server")
    for name in sorted(reads - NOT_FOR_RUNS - launcher - context):
        found.setdefault(name, set()).add(
            f"read by {location}, not passed to its runs (dagster.yaml run_launcher.env_vars or "
            "its DAGSTER_CONTAINER_CONTEXT): its runs start without it"
        )
    for name in sorted(context - reads):
        found.setdefault(name, set()).add(f"in {location}'s container context, read by nothing")
    for name in sorted((launcher | context) - daemon):
        found.setdefault(name, set()).add(
            "passed to runs but not in the daemon's environment: the launch fails"
        )
    return _problems(found)


def test_what_each_location_reads_reaches_its_code_server_and_its_runs() -> None:
    launcher, daemon = launcher_env_vars(), service_env("daemon")
    problems = []
    for location in LOCATIONS:
        problems += location_problems(
            location, launcher, container_context(location), service_env(location), daemon
        )
    assert problems == []


def test_a_variable_dropped_from_the_launcher_list_is_reported() -> None:
    launcher, daemon = launcher_env_vars(), service_env("daemon")
    for dropped in ("LAKEHOUSE_S3_BUCKET", "LAKEHOUSE_DOCS_BASE_URL"):
        problems = location_problems(
            "analytics",
            launcher - {dropped},
            container_context("analytics"),
            service_env("analytics"),
            daemon,
        )
        assert any(p.startswith(f"{dropped}: read by analytics, not passed") for p in problems)


def test_the_launcher_list_is_what_runs_read() -> None:
    """Runs load the instance (dagster.yaml's variables) and a location's definitions; the list
    holds what every location reads and nothing else."""
    launcher = launcher_env_vars()
    assert instance_reads() <= launcher
    every_location = set.intersection(*map(location_reads, LOCATIONS))
    run_reads = instance_reads() | every_location - set(NOT_SET_BY_COMPOSE)
    assert launcher - run_reads == set(), "in run_launcher.env_vars, read by no run"
    for location in LOCATIONS:  # a location's own variables go through its context
        assert not container_context(location) & launcher, location


def test_every_dagster_process_has_what_its_config_files_read() -> None:
    services = compose()["services"]
    for reads_from, file_reads, expected in (
        ("dagster.yaml", instance_reads(), {"daemon", "webserver", "migrate", "sentinel"}),
        ("workspace.yaml", yaml_env_names(load("workspace.yaml")), {"daemon", "webserver"}),
    ):
        mounting = [
            name
            for name, service in services.items()
            if any(str(v).startswith(f"./{reads_from}:") for v in service.get("volumes", []))
        ]
        assert expected <= set(mounting), reads_from
        for name in mounting:
            assert file_reads - service_env(name) == set(), (name, reads_from)


def test_each_service_running_the_products_code_gets_what_it_reads() -> None:
    services = compose()["services"]
    problems = []
    for service, (entry, paths) in SERVICE_CODE.items():
        assert entry in " ".join(services[service]["command"]), service
        reads = literal_names(python_files(*paths))
        if service == "s3-config":
            reads |= {n for identity in POLICY for n in credential_variables(identity)}
        problems += [
            f"{name}: read by {service}'s code, not in its environment"
            for name in sorted(reads - service_env(service) - set(INTERNAL))
        ]
    assert problems == []


def test_readme_names_each_variable_in_full() -> None:
    """One row may list several variables, each written out, so that a search finds it."""
    partial = [name for row in readme_table() for name in row if not NAME.fullmatch(name)]
    assert partial == []


def test_env_example_is_documented_and_used() -> None:
    readme, used = readme_names(), product_reads() | yaml_reads() | compose_interpolations()
    problems = [f"{n}: in .env.example, not in README's table" for n in env_example() - readme]
    problems += [f"{n}: in .env.example, read by nothing" for n in env_example() - used]
    assert sorted(problems) == []


def test_readme_rows_name_variables_something_reads() -> None:
    used = product_reads() | yaml_reads() | compose_interpolations()
    assert sorted(readme_names() - used) == []


def test_readme_variables_are_in_env_example() -> None:
    missing = readme_names() - env_example() - set(NOT_IN_ENV_EXAMPLE)
    assert sorted(missing) == []
    assert set(NOT_IN_ENV_EXAMPLE) <= readme_names(), "stale exceptions"


def test_every_variable_read_is_documented() -> None:
    """What the code, the config files and compose read is in README's table, or an exception
    above says why not."""
    reads = product_reads() | yaml_reads() | compose_interpolations()
    undocumented = reads - readme_names() - set(INTERNAL) - set(NOT_SET_BY_COMPOSE)
    assert sorted(undocumented) == []


@pytest.mark.parametrize("exceptions", [NOT_SET_BY_COMPOSE, NOT_FOR_RUNS, INTERNAL])
def test_exceptions_are_still_read(exceptions: Iterable[str]) -> None:
    assert set(exceptions) - product_reads() == set()
