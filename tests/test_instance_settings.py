"""The native stack (make dev) runs the compose deployment's instance settings: dagster.yaml's,
all but how compose runs Dagster (storage, run launcher, compute logs). deploy/local/stack.py
reads them from dagster.yaml when it writes $DAGSTER_HOME/dagster.yaml; these tests hold what it
writes to that, for both storage variants and with make bench's overrides.

dagster.yaml and the Helm values are held equal by
tests/kubernetes/test_values_follow_dagster_yaml.py.
"""

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

ROOT = Path(__file__).resolve().parents[1]
DAGSTER_YAML = yaml.safe_load((ROOT / "dagster.yaml").read_text())
BASELINE = ROOT / "bench/baseline-instance.yaml"
# dagster.yaml's sections the native stack leaves out, and why: compose keeps the records in its
# Postgres service (the native stack: INSTANCE_DIR/<variant>.yaml), starts each run in a
# container (the native stack: Dagster's default, a subprocess) and writes stdout/stderr to the
# bucket (the native stack: Dagster's default, files under $DAGSTER_HOME).
COMPOSE_ONLY = {"storage", "run_launcher", "compute_logs"}
# The variables the native instance may read: the stack sets DAGSTER_HOME itself and chooses the
# Postgres variant when DAGSTER_POSTGRES_URL is set. Any other would be one compose sets.
NATIVE_INSTANCE_VARIABLES = {"DAGSTER_HOME", "DAGSTER_POSTGRES_URL"}
VARIANTS = {"embedded": "sqlite", "postgres": "postgres"}


def _stack() -> ModuleType:
    """deploy/local/stack.py, imported by path (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("lakehouse_stack", ROOT / "deploy/local/stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _written(
    variant: str, home: Path, monkeypatch: pytest.MonkeyPatch, overrides: Path | None = None
) -> dict[str, Any]:
    """The $DAGSTER_HOME/dagster.yaml `stack.py up` writes for ``variant``."""
    if variant == "postgres":
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", "postgresql://dagster@127.0.0.1:5432/dagster")
    else:
        monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    assert _stack().write_instance_config(home, overrides) == variant
    return yaml.safe_load((home / "dagster.yaml").read_text())


def _env_names(node: Any) -> set[str]:
    """Every variable an instance setting reads (``{env: NAME}``)."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*map(_env_names, node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*map(_env_names, node)) if node else set()
    return set()


@pytest.mark.parametrize("variant", VARIANTS)
def test_native_instance_is_dagster_yaml_but_how_compose_runs_it(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _written(variant, tmp_path, monkeypatch)
    differing = sorted(
        key
        for key in set(DAGSTER_YAML) | set(written)
        if key not in COMPOSE_ONLY and DAGSTER_YAML.get(key) != written.get(key)
    )
    assert differing == [], "sections of the native instance that are not dagster.yaml's"
    assert set(written) == set(DAGSTER_YAML) - COMPOSE_ONLY | {"storage"}
    assert list(written["storage"]) == [VARIANTS[variant]]


@pytest.mark.parametrize("variant", VARIANTS)
def test_native_instance_reads_only_what_the_native_stack_sets(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A section added to dagster.yaml that reads a variable only compose sets belongs in the
    stack's COMPOSE_ONLY_SECTIONS (and here), or make dev would not start."""
    written = _written(variant, tmp_path, monkeypatch)
    assert _env_names(written) <= NATIVE_INSTANCE_VARIABLES


@pytest.mark.parametrize("variant", VARIANTS)
def test_native_instance_is_one_dagster_accepts(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _written(variant, tmp_path, monkeypatch)
    # Validates every section against Dagster's instance schema, as the daemon does at start.
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_monitoring"] == DAGSTER_YAML["run_monitoring"]


def test_overrides_replace_only_their_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = yaml.safe_load(BASELINE.read_text())
    written = _written("embedded", tmp_path, monkeypatch, BASELINE)
    for key, section in overrides.items():
        assert written[key] == section, key
    plain = _written("embedded", tmp_path / "plain", monkeypatch)
    assert {k: v for k, v in written.items() if k not in overrides} == {
        k: v for k, v in plain.items() if k not in overrides
    }
    assert list(written) == list(plain)  # replaced in place
