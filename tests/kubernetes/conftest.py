"""Fixtures of the Kubernetes deployment's offline checks: the values file, what the chart renders
from it, and the environment its processes get from the settings ConfigMap."""

from pathlib import Path
from typing import Any

import pytest
from chart_render import ROOT, instance_config, load_values

SETTINGS_FILE = ROOT / "deploy/kubernetes/settings.env"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as `kubectl create configmap --from-env-file` reads them."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value
    return entries


@pytest.fixture(scope="session")
def values() -> dict[str, Any]:
    return load_values()


@pytest.fixture(scope="session")
def rendered_instance(values: dict[str, Any]) -> dict[str, Any]:
    return instance_config(values)


@pytest.fixture(scope="session")
def settings() -> dict[str, str]:
    return read_env_file(SETTINGS_FILE)


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig whose API server is a closed loopback port: enough to build Kubernetes
    clients (which connect lazily), never to reach a cluster."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        """apiVersion: v1
kind: Config
clusters:
  - name: offline
    cluster: {server: "https://127.0.0.1:9"}
users:
  - name: offline
    user: {token: not-a-real-token}
contexts:
  - name: offline
    context: {cluster: offline, user: offline, namespace: lakehouse}
current-context: offline
"""
    )
    return path
