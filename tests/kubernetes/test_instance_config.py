"""The instance configuration the chart renders from deploy/kubernetes/values.yaml loads in Dagster
with dagster-k8s installed, as the webserver, the daemon and every run Job would load it.

The ConfigMap's dagster.yaml comes from chart_render.instance_config (which follows the chart's
templates/configmap-instance.yaml and helpers/instance/*.tpl of chart 1.13.x; see its docstring).
Dagster reads it through `InstanceRef.from_dir` (dagster._core.instance.ref, a private API): it
runs Dagster's own validation of a dagster.yaml (the schema, and the refusal of run limits under
`run_coordinator` next to `concurrency`) and resolves each part's class without opening the
database, which a unit test has none of; `DagsterInstance.from_config` would connect to Postgres.
The Postgres storages' configuration is checked against their classes' config schemas with
`dagster._config.process_config` (private) for the same reason: building them connects.

In a cluster the launcher loads its in-cluster configuration, which fails anywhere else; here its
config points at a kubeconfig whose API server is a closed loopback port (nothing is contacted).
"""

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import NAMESPACE, RELEASE, ChartRenderError, instance_config
from dagster import DagsterInvalidConfigError
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.ref import InstanceRef
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_k8s import K8sRunLauncher


def _write_instance(directory: Path, config: dict[str, Any], kubeconfig: Path) -> Path:
    config = {**config, "run_launcher": dict(config["run_launcher"])}
    config["run_launcher"]["config"] = {
        **config["run_launcher"]["config"],
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return directory


@pytest.fixture
def process_env(monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> dict[str, str]:
    """What a Dagster pod's environment holds: the settings ConfigMap and the Secrets' keys
    (placeholder values: nothing here connects)."""
    env = {
        **settings,
        "DAGSTER_PG_PASSWORD": "placeholder",
        "AWS_ACCESS_KEY_ID": "placeholder",
        "AWS_SECRET_ACCESS_KEY": "placeholder",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_instance_config_loads_in_dagster_with_the_k8s_launcher(
    rendered_instance: dict[str, Any],
    tmp_path: Path,
    kubeconfig: Path,
    process_env: dict[str, str],
) -> None:
    ref = InstanceRef.from_dir(
        str(_write_instance(tmp_path / "home", rendered_instance, kubeconfig))
    )

    launcher = ref.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.job_namespace == NAMESPACE
    assert launcher.instance_config_map == f"{RELEASE}-dagster-instance"
    assert launcher.postgres_password_secret == "lakehouse-postgresql"
    assert launcher.dagster_home == "/opt/dagster/home"  # the Dagster image's DAGSTER_HOME
    assert launcher.env_secrets == ["lakehouse-compute-logs-s3"]
    assert launcher.security_context["allowPrivilegeEscalation"] is False

    coordinator = ref.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)

    logs = ref.compute_log_manager
    assert isinstance(logs, S3ComputeLogManager)
    assert logs.inst_data is not None
    assert logs.inst_data.config_dict["bucket"] == {"env": "LAKEHOUSE_S3_BUCKET"}
    assert logs.inst_data.config_dict["prefix"] == "dagster/compute-logs"
    assert logs.inst_data.config_dict["region"] == process_env["AWS_REGION"]

    # The three storages are Postgres, each valid for its class, the password from the Secret.
    storages = ref.storage_data.config_dict  # CompositeStorage of run, event log, schedule
    assert set(storages) == {"run_storage", "event_log_storage", "schedule_storage"}
    for part in storages.values():
        klass = getattr(importlib.import_module(part["module_name"]), part["class_name"])
        assert part["module_name"].startswith("dagster_postgres."), part
        config = yaml.safe_load(part["config_yaml"])
        result = process_config(resolve_to_config_type(klass.config_type()), config)
        assert result.success, result.errors
        db = result.value["postgres_db"]
        assert db["password"] == process_env["DAGSTER_PG_PASSWORD"]
        assert (db["username"], db["db_name"], db["port"]) == ("dagster", "dagster", 5432)

    assert ref.settings["telemetry"] == {"enabled": False}
    assert ref.settings["nux"] == {"enabled": False}
    assert ref.settings["run_retries"]["retry_on_asset_or_op_failure"] is False


def test_the_launcher_needs_its_cluster_configuration_off_cluster(
    rendered_instance: dict[str, Any], tmp_path: Path, process_env: dict[str, str]
) -> None:
    """As rendered (in-cluster configuration), building the launcher here fails: the test above
    proves the rest of the configuration, not a launcher that silently needs no cluster."""
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered_instance))
    ref = InstanceRef.from_dir(str(tmp_path))
    with pytest.raises(Exception, match=r"(?i)service host/port is not set"):
        _ = ref.run_launcher


def test_run_limits_under_run_coordinator_are_refused(
    values: dict[str, Any], rendered_instance: dict[str, Any], tmp_path: Path, kubeconfig: Path
) -> None:
    """The trap: with `concurrency` in the instance, Dagster refuses run limits under
    `run_coordinator`; the chart refuses them in values already."""
    both = {
        **values,
        "dagsterDaemon": {
            **values["dagsterDaemon"],
            "runCoordinator": {
                **values["dagsterDaemon"]["runCoordinator"],
                "config": {"queuedRunCoordinator": {"maxConcurrentRuns": 4}},
            },
        },
    }
    with pytest.raises(ChartRenderError, match="maxConcurrentRuns"):
        instance_config(both)

    refused = dict(rendered_instance)
    refused["run_coordinator"] = {
        **rendered_instance["run_coordinator"],
        "config": {"max_concurrent_runs": 4},
    }
    with pytest.raises(DagsterInvalidConfigError, match="incompatible with the `concurrency"):
        InstanceRef.from_dir(str(_write_instance(tmp_path, refused, kubeconfig)))


def test_run_coordinator_carries_no_run_limit(rendered_instance: dict[str, Any]) -> None:
    config = rendered_instance["run_coordinator"].get("config", {})
    assert "max_concurrent_runs" not in config and "tag_concurrency_limits" not in config
    assert rendered_instance["concurrency"]["runs"]["max_concurrent_runs"] > 0
