"""deploy/kubernetes/values.yaml and dagster.yaml describe the same Dagster instance: the queue,
its limits and the pools, run monitoring and crash-only retries, the daemon's threads, tick
retention, telemetry and the community dialog, freshness, the compute logs' bucket and prefix,
Postgres storage. Changing one of them without the other fails here.

The Kubernetes side is what the chart renders from the values (chart_render.instance_config).
Where the chart writes a key that dagster.yaml leaves out, the rendered value must be Dagster's
own default for it. Tick retention is compared as Dagster resolves it per tick status, with
dagster._core.instance.config.get_default_tick_retention_settings / get_tick_retention_settings
(private: the only statement of those defaults, the same functions the instance calls).
"""

import copy
import re
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from chart_render import ROOT, instance_config
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.instance.config import (
    get_default_tick_retention_settings,
    get_tick_retention_settings,
)

# Shared sections that must be equal as written.
SAME = (
    "telemetry",
    "nux",
    "freshness",
    "concurrency",
    "run_coordinator",
    "run_retries",
    "sensors",
    "schedules",
)
# run_monitoring keys the chart always writes, at Dagster's default when dagster.yaml omits them
# (DagsterInstance.run_monitoring_max_resume_run_attempts and ..._free_slots_after_run_end_seconds
# both default to 0).
CHART_WRITES_AT_DEFAULT = {"max_resume_run_attempts": 0, "free_slots_after_run_end_seconds": 0}
RETENTION = {
    "schedule": InstigatorType.SCHEDULE,
    "sensor": InstigatorType.SENSOR,
    "auto_materialize": InstigatorType.AUTO_MATERIALIZE,
}


def _retention(section: Mapping[str, Any] | None, key: str) -> dict[str, int]:
    resolved = get_tick_retention_settings(
        (section or {}).get(key), get_default_tick_retention_settings(RETENTION[key])
    )
    return {status.value: days for status, days in resolved.items()}


def instance_differences(
    dagster_yaml: Mapping[str, Any], rendered: Mapping[str, Any], settings: Mapping[str, str]
) -> list[str]:
    """Each setting the two instances disagree on, said in words."""
    found = []

    def same(what: str, compose: Any, kubernetes: Any) -> None:
        if compose != kubernetes:
            found.append(f"{what}: dagster.yaml {compose!r}, values.yaml renders {kubernetes!r}")

    for key in SAME:
        same(key, dagster_yaml.get(key), rendered.get(key))

    monitoring = dict(rendered.get("run_monitoring") or {})
    for key, default in CHART_WRITES_AT_DEFAULT.items():
        if key not in (dagster_yaml.get("run_monitoring") or {}):
            same(f"run_monitoring.{key} (Dagster's default)", default, monitoring.pop(key, default))
    same("run_monitoring", dagster_yaml.get("run_monitoring"), monitoring)

    for key in RETENTION:
        same(
            f"retention.{key}",
            _retention(dagster_yaml.get("retention"), key),
            _retention(rendered.get("retention"), key),
        )

    logs, k8s_logs = dagster_yaml["compute_logs"], rendered["compute_logs"]
    same(
        "compute_logs class",
        (logs["module"], logs["class"]),
        (k8s_logs["module"], k8s_logs["class"]),
    )
    config, k8s_config = dict(logs["config"]), dict(k8s_logs["config"])
    # dagster.yaml reads the region from AWS_REGION; the chart writes it as given.
    if config.pop("region", None) == {"env": "AWS_REGION"}:
        same(
            "compute_logs.region (settings.env AWS_REGION)",
            settings.get("AWS_REGION"),
            k8s_config.pop("region", None),
        )
    if "verify" not in config:
        same("compute_logs.verify (Dagster's default)", True, k8s_config.pop("verify", True))
    same("compute_logs.config", config, k8s_config)

    same("storage", list(dagster_yaml.get("storage", {})), ["postgres"])
    for key in ("run_storage", "event_log_storage", "schedule_storage"):
        same(f"{key} module", "dagster_postgres", rendered[key]["module"].split(".")[0])
    return found


@pytest.fixture(scope="module")
def dagster_yaml() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "dagster.yaml").read_text())


def test_values_render_the_instance_of_dagster_yaml(
    dagster_yaml: dict[str, Any], rendered_instance: dict[str, Any], settings: dict[str, str]
) -> None:
    assert instance_differences(dagster_yaml, rendered_instance, settings) == []


@pytest.mark.parametrize(
    ("side", "path", "value", "reported"),
    [
        ("values", "concurrency.runs.maxConcurrentRuns", 5, "concurrency"),
        ("values", "dagsterDaemon.runRetries.maxRetries", 3, "run_retries"),
        ("values", "retention.sensor.purgeAfterDays.failure", 7, "retention.sensor"),
        (
            "values",
            "computeLogManager.config.s3ComputeLogManager.region",
            "eu-west-1",
            "compute_logs.region",
        ),
        ("dagster.yaml", "compute_logs.config.prefix", "logs", "compute_logs.config"),
        ("dagster.yaml", "run_monitoring.poll_interval_seconds", 60, "run_monitoring"),
        ("dagster.yaml", "concurrency.pools.default_limit", 1, "concurrency"),
    ],
)
def test_a_change_on_one_side_only_is_reported(
    values: dict[str, Any],
    dagster_yaml: dict[str, Any],
    settings: dict[str, str],
    side: str,
    path: str,
    value: Any,
    reported: str,
) -> None:
    values, dagster_yaml = copy.deepcopy(values), copy.deepcopy(dagster_yaml)
    *parents, last = path.split(".")
    node = values if side == "values" else dagster_yaml
    for key in parents:
        node = node[key]
    node[last] = value
    differences = instance_differences(dagster_yaml, instance_config(values), settings)
    assert any(d.startswith(reported) for d in differences), differences


def test_postgres_names_are_composes(values: dict[str, Any]) -> None:
    """The database and role the chart's instance uses are the ones compose's init creates."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["x-instance-env"]
    default_user = re.fullmatch(r"\$\{DAGSTER_POSTGRES_USER:-(\w+)\}", env["DAGSTER_POSTGRES_USER"])
    assert default_user, env["DAGSTER_POSTGRES_USER"]
    assert values["postgresql"]["postgresqlUsername"] == default_user.group(1)
    assert values["postgresql"]["postgresqlDatabase"] == env["DAGSTER_POSTGRES_DB"]
    assert values["postgresql"]["enabled"] is False
