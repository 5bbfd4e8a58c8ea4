"""What Dagster's Helm chart renders from deploy/kubernetes/values.yaml, without Helm.

No Helm binary and no copy of the chart are available offline, so this module follows, in Python,
the parts of the chart (dagster-io/dagster, helm/dagster, chart 1.13.x) whose output the tests
check. Each function names the template it follows; where versions of a template differ, the one
that introduced the `concurrency` block (dagster-io/dagster commit 99dc34fc, the layout of the
1.13 charts) is followed:

- templates/configmap-instance.yaml (the instance's dagster.yaml), with
  templates/helpers/instance/_run-launcher.tpl (`dagsterYaml.runLauncher.k8s`),
  _postgresql.tpl, _compute-log-manager.tpl (`dagsterYaml.computeLogManager.s3`),
  _run-coordinator.tpl (`dagsterYaml.runCoordinator.queued`, concurrency-aware),
  _concurrency.tpl (`dagsterYaml.concurrency`, including its `fail`s) and _scheduler.tpl;
- templates/helpers/_helpers.tpl (`dagster.fullname`, `dagster.serviceAccountName`,
  `dagster.postgresql.host`, `dagster.postgresql.secretName`);
- charts/dagster-user-deployments/templates/helpers/_helpers.tpl
  (`dagsterUserDeployments.k8sContainerContext`, `dagster.fullname` of the subchart) and
  deployment-user.yaml (the code server's args, DAGSTER_CURRENT_IMAGE, DAGSTER_CONTAINER_CONTEXT),
  configmap-env-user.yaml, templates/configmap-workspace.yaml and
  templates/helpers/_service-webserver.tpl (the webservers' Service names).

Values are merged onto CHART_DEFAULTS as Helm coalesces them (maps merged key by key, lists and
scalars replaced, a null deleting the default). A `fail` in a template raises ChartRenderError.
"""

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
VALUES_FILE = ROOT / "deploy/kubernetes/values.yaml"
CHART_VERSION = "1.13.27"
RELEASE = "lakehouse"
NAMESPACE = "lakehouse"

# The defaults of the keys the followed templates read, as the chart's values.yaml has them
# (dagster-io/dagster helm/dagster/values.yaml at commit 0bd187e4), and for `concurrency` the
# chart's schema model (helm/dagster/schema/.../subschema/concurrency.py). Defaults matter: the
# retention block, for example, renders the chart's `started` and `autoMaterialize` entries.
_TICK_DEFAULTS = {"failure": -1, "skipped": 7, "started": -1, "success": -1}
CHART_DEFAULTS: dict[str, Any] = {
    "global": {
        "postgresqlSecretName": "dagster-postgresql-secret",
        "dagsterHome": "/opt/dagster/dagster_home",
        "serviceAccountName": "",
    },
    "nameOverride": "",
    "fullnameOverride": "",
    "imagePullSecrets": [],
    "serviceAccount": {"create": True, "name": ""},
    "scheduler": {"type": "DagsterDaemonScheduler", "config": {}},
    "runLauncher": {
        "type": "K8sRunLauncher",
        "config": {
            "k8sRunLauncher": {
                "imagePullPolicy": "Always",
                "jobNamespace": None,
                "loadInclusterConfig": True,
                "kubeconfigFile": None,
                "envConfigMaps": [],
                "envSecrets": [],
                "envVars": [],
                "volumes": [],
                "volumeMounts": [],
                "labels": {},
                "resources": {},
                "failPodOnRunFailure": False,
                "securityContext": None,
                "runK8sConfig": {},
            }
        },
    },
    "postgresql": {
        "enabled": True,
        "postgresqlHost": "",
        "postgresqlUsername": "test",
        "postgresqlPassword": "test",
        "postgresqlDatabase": "test",
        "postgresqlParams": {},
        "postgresqlScheme": "",
        "service": {"port": 5432},
    },
    "generatePostgresqlPasswordSecret": True,
    "computeLogManager": {"type": "NoOpComputeLogManager", "config": {}},
    "pythonLogs": {},
    "dagsterDaemon": {
        "enabled": True,
        "heartbeatTolerance": 1800,
        "runCoordinator": {
            "enabled": True,
            "type": "QueuedRunCoordinator",
            "config": {
                "queuedRunCoordinator": {
                    "maxConcurrentRuns": None,
                    "tagConcurrencyLimits": [],
                    "dequeueIntervalSeconds": None,
                    "dequeueUseThreads": True,
                    "dequeueNumWorkers": 4,
                }
            },
        },
        "runMonitoring": {
            "enabled": True,
            "startTimeoutSeconds": 300,
            "pollIntervalSeconds": 120,
            "maxResumeRunAttempts": 0,
            "freeSlotsAfterRunEndSeconds": 0,
        },
        "runRetries": {"enabled": True, "maxRetries": 0},
        "sensors": {"useThreads": True, "numWorkers": 4},
        "schedules": {"useThreads": True, "numWorkers": 4},
    },
    "telemetry": {"enabled": True},
    "retention": {
        "enabled": False,
        "schedule": {"purgeAfterDays": -1},
        "sensor": {"purgeAfterDays": dict(_TICK_DEFAULTS)},
        "autoMaterialize": {"purgeAfterDays": dict(_TICK_DEFAULTS)},
    },
    "concurrency": {"enabled": False, "pools": {}, "runs": {"tagConcurrencyLimits": []}},
    "additionalInstanceConfig": {},
    "dagster-user-deployments": {
        "enabled": True,
        "enableSubchart": True,
        "imagePullSecrets": [],
        "serviceAccount": {"create": True, "name": ""},
        "deployments": [],
    },
}


class ChartRenderError(Exception):
    """A `fail` in the chart's templates: `helm install` would stop with this message."""


def load_values(path: Path = VALUES_FILE) -> dict[str, Any]:
    """The values file as Helm reads it (YAML anchors and aliases resolved)."""
    values = yaml.safe_load(path.read_text())
    assert isinstance(values, dict), path
    return values


def coalesce(defaults: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of user values onto chart defaults: maps key by key, null deletes."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def chart_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return coalesce(CHART_DEFAULTS, values)


def truthy(value: Any) -> bool:
    """Go templates' `if`: false for nil, false, 0, "" and empty maps and lists."""
    return bool(value)


def _present(value: Any) -> bool:
    """`not (kindIs "invalid" value)`: set, even to 0 or false."""
    return value is not None


# --- templates/helpers/_helpers.tpl ----------------------------------------------------------


def fullname(values: Mapping[str, Any], chart_name: str = "dagster") -> str:
    """`dagster.fullname` (the subchart's has the same logic with its own chart name)."""
    glob = values.get("global") or {}
    override = glob.get("fullnameOverride") or values.get("fullnameOverride")
    if override:
        return str(override)[:63].rstrip("-")
    name = glob.get("nameOverride") or values.get("nameOverride") or chart_name
    if name in RELEASE:
        return RELEASE[:63].rstrip("-")
    return f"{RELEASE}-{name}"[:63].rstrip("-")


def service_account_name(values: Mapping[str, Any]) -> str:
    return (
        values["global"].get("serviceAccountName")
        or values["serviceAccount"].get("name")
        or fullname(values)
    )


def postgresql_secret_name(values: Mapping[str, Any]) -> str:
    return values["global"].get("postgresqlSecretName") or f"{fullname(values)}-postgresql-secret"


def webserver_fullname(user_values: Mapping[str, Any], read_only: bool = False) -> str:
    """`dagster.webserver.fullname`: the webserver's Deployment and Service (service-webserver.yaml
    renders a second one, with `-read-only`, when enableReadOnly is set)."""
    webserver = user_values.get("dagsterWebserver") or {}
    name = f"{RELEASE}-{webserver.get('nameOverride') or 'dagster-webserver'}"[:63].rstrip("-")
    return f"{name}-read-only" if read_only else name


def image_name(image: Mapping[str, Any]) -> str:
    """`dagster.dagsterImage.name`: repository:tag, the tag defaulting to the chart version."""
    return f"{image['repository']}:{image.get('tag') or CHART_VERSION}"


# --- templates/configmap-instance.yaml and helpers/instance/*.tpl -----------------------------


def _postgres_config(values: Mapping[str, Any]) -> dict[str, Any]:
    pg = values["postgresql"]
    host = f"{RELEASE}-postgresql" if pg["enabled"] else pg["postgresqlHost"]
    username: Any = pg["postgresqlUsername"]
    if values["global"].get("postgresqlSecretUsernameKey"):
        username = {"env": "DAGSTER_PG_USERNAME"}
    db: dict[str, Any] = {
        "username": username,
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": host,
        "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"],
        "params": pg["postgresqlParams"],
    }
    if truthy(pg.get("postgresqlScheme")):
        db["scheme"] = pg["postgresqlScheme"]
    return {"postgres_db": db}


def _k8s_run_launcher(values: Mapping[str, Any]) -> dict[str, Any]:
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    config: dict[str, Any] = {"load_incluster_config": k8s["loadInclusterConfig"]}
    if truthy(k8s.get("kubeconfigFile")):
        config["kubeconfig_file"] = k8s["kubeconfigFile"]
    config["job_namespace"] = k8s.get("jobNamespace") or NAMESPACE
    config["image_pull_policy"] = k8s["imagePullPolicy"]
    if truthy(values["imagePullSecrets"]):
        config["image_pull_secrets"] = values["imagePullSecrets"]
    config["service_account_name"] = service_account_name(values)
    if "image" in k8s:
        config["job_image"] = image_name(k8s["image"])
    config["dagster_home"] = values["global"]["dagsterHome"]
    config["instance_config_map"] = f"{fullname(values)}-instance"
    config["postgres_password_secret"] = postgresql_secret_name(values)
    if truthy(k8s["envConfigMaps"]):
        config["env_config_maps"] = [c["name"] for c in k8s["envConfigMaps"] if "name" in c]
    if truthy(k8s["envSecrets"]):
        config["env_secrets"] = [s["name"] for s in k8s["envSecrets"] if "name" in s]
    for key, out in [
        ("envVars", "env_vars"),
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
    ]:
        if truthy(k8s.get(key)):
            config[out] = k8s[key]
    if truthy(k8s.get("failPodOnRunFailure")):
        config["fail_pod_on_run_failure"] = True
    if truthy(k8s.get("schedulerName")):
        config["scheduler_name"] = k8s["schedulerName"]
    if truthy(k8s.get("securityContext")):
        config["security_context"] = k8s["securityContext"]
    run_k8s = k8s.get("runK8sConfig")
    if truthy(run_k8s):
        config["run_k8s_config"] = {
            out: run_k8s[key]
            for key, out in [
                ("containerConfig", "container_config"),
                ("podSpecConfig", "pod_spec_config"),
                ("podTemplateSpecMetadata", "pod_template_spec_metadata"),
                ("jobSpecConfig", "job_spec_config"),
                ("jobMetadata", "job_metadata"),
            ]
            if truthy(run_k8s.get(key))
        }
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def _string_source(value: Any) -> Any:
    """`stringSource`: a map ({env: NAME}) as is, a string as a string, anything else nothing."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        return value
    return None


def _compute_logs(values: Mapping[str, Any]) -> dict[str, Any]:
    kind = values["computeLogManager"]["type"]
    if kind == "NoOpComputeLogManager":
        return {
            "module": "dagster._core.storage.noop_compute_log_manager",
            "class": "NoOpComputeLogManager",
        }
    if kind != "S3ComputeLogManager":
        raise NotImplementedError(f"compute log manager {kind} is not followed here")
    s3 = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    config: dict[str, Any] = {"bucket": _string_source(s3["bucket"])}
    for key, out, source in [
        ("localDir", "local_dir", True),
        ("prefix", "prefix", True),
        ("useSsl", "use_ssl", False),
    ]:
        if truthy(s3.get(key)):
            config[out] = _string_source(s3[key]) if source else s3[key]
    config["verify"] = s3.get("verify") is not False
    for key, out, source in [
        ("verifyCertPath", "verify_cert_path", True),
        ("endpointUrl", "endpoint_url", True),
        ("skipEmptyFiles", "skip_empty_files", False),
        ("uploadInterval", "upload_interval", False),
        ("uploadExtraArgs", "upload_extra_args", False),
        ("showUrlOnly", "show_url_only", False),
        ("region", "region", False),
    ]:
        if truthy(s3.get(key)):
            config[out] = _string_source(s3[key]) if source else s3[key]
    return {
        "module": "dagster_aws.s3.compute_log_manager",
        "class": "S3ComputeLogManager",
        "config": config,
    }


def _queued_run_coordinator(values: Mapping[str, Any]) -> dict[str, Any]:
    qrc = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    concurrency_enabled = truthy(values["concurrency"].get("enabled"))
    out: dict[str, Any] = {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
    }
    if not any(truthy(v) for v in qrc.values()):
        return out
    config: dict[str, Any] = {}
    if not concurrency_enabled or _present(qrc.get("maxConcurrentRuns")):
        max_runs = qrc.get("maxConcurrentRuns")
        config["max_concurrent_runs"] = -1 if max_runs is None else max_runs
    limits = qrc.get("tagConcurrencyLimits")
    if truthy(limits) and (not concurrency_enabled or len(limits) > 0):
        config["tag_concurrency_limits"] = limits
    for key, name in [
        ("dequeueIntervalSeconds", "dequeue_interval_seconds"),
        ("dequeueUseThreads", "dequeue_use_threads"),
        ("dequeueNumWorkers", "dequeue_num_workers"),
    ]:
        if truthy(qrc.get(key)):
            config[name] = qrc[key]
    block = qrc.get("blockOpConcurrencyLimitedRuns")
    if truthy(block):
        config["block_op_concurrency_limited_runs"] = {
            "enabled": block["enabled"],
            "op_concurrency_slot_buffer": block["opConcurrencySlotBuffer"],
        }
    out["config"] = config
    return out


def _concurrency(values: Mapping[str, Any]) -> dict[str, Any] | None:
    pools = values["concurrency"].get("pools") or {}
    runs = values["concurrency"].get("runs") or {}
    tag_limits = runs.get("tagConcurrencyLimits") or []
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    if truthy(coordinator["enabled"]) and coordinator["type"] == "QueuedRunCoordinator":
        qrc = coordinator["config"]["queuedRunCoordinator"]
        if _present(runs.get("maxConcurrentRuns")) and _present(qrc.get("maxConcurrentRuns")):
            raise ChartRenderError(
                "Cannot set both concurrency.runs.maxConcurrentRuns and "
                "dagsterDaemon.runCoordinator.config.queuedRunCoordinator.maxConcurrentRuns"
            )
        if len(tag_limits) > 0 and len(qrc.get("tagConcurrencyLimits") or []) > 0:
            raise ChartRenderError(
                "Cannot set both concurrency.runs.tagConcurrencyLimits and "
                "dagsterDaemon.runCoordinator.config.queuedRunCoordinator.tagConcurrencyLimits"
            )
        block = qrc.get("blockOpConcurrencyLimitedRuns")
        if _present(pools.get("opGranularityRunBuffer")) and truthy(block):
            if _present(block.get("opConcurrencySlotBuffer")):
                raise ChartRenderError(
                    "Cannot set both concurrency.pools.opGranularityRunBuffer and "
                    "...queuedRunCoordinator.blockOpConcurrencyLimitedRuns.opConcurrencySlotBuffer"
                )
    rendered: dict[str, Any] = {}
    if (
        _present(pools.get("defaultLimit"))
        or truthy(pools.get("granularity"))
        or _present(pools.get("opGranularityRunBuffer"))
    ):
        rendered["pools"] = {}
        if _present(pools.get("defaultLimit")):
            rendered["pools"]["default_limit"] = pools["defaultLimit"]
        if truthy(pools.get("granularity")):
            rendered["pools"]["granularity"] = pools["granularity"]
        if _present(pools.get("opGranularityRunBuffer")):
            rendered["pools"]["op_granularity_run_buffer"] = pools["opGranularityRunBuffer"]
    if _present(runs.get("maxConcurrentRuns")) or len(tag_limits) > 0:
        rendered["runs"] = {}
        if _present(runs.get("maxConcurrentRuns")):
            rendered["runs"]["max_concurrent_runs"] = runs["maxConcurrentRuns"]
        if tag_limits:
            rendered["runs"]["tag_concurrency_limits"] = [
                {
                    "key": str(limit["key"]),
                    **({"value": limit["value"]} if truthy(limit.get("value")) else {}),
                    "limit": limit["limit"],
                }
                for limit in tag_limits
            ]
    return rendered or None


def instance_config(user_values: Mapping[str, Any]) -> dict[str, Any]:
    """The `dagster.yaml` key of the ConfigMap `<fullname>-instance` (configmap-instance.yaml)."""
    values = chart_values(user_values)
    daemon = values["dagsterDaemon"]
    if values["scheduler"]["type"] != "DagsterDaemonScheduler":
        raise NotImplementedError("only DagsterDaemonScheduler is followed here")
    if values["runLauncher"]["type"] != "K8sRunLauncher":
        raise NotImplementedError("only K8sRunLauncher is followed here")
    storage = _postgres_config(values)
    rendered: dict[str, Any] = {
        "scheduler": {"module": "dagster._core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            "config": copy.deepcopy(storage),
        },
        "run_launcher": _k8s_run_launcher(values),
        "run_storage": {
            "module": "dagster_postgres.run_storage",
            "class": "PostgresRunStorage",
            "config": copy.deepcopy(storage),
        },
        "event_log_storage": {
            "module": "dagster_postgres.event_log",
            "class": "PostgresEventLogStorage",
            "config": copy.deepcopy(storage),
        },
    }
    if truthy(daemon["enabled"]) and truthy(daemon["runCoordinator"]["enabled"]):
        if daemon["runCoordinator"]["type"] != "QueuedRunCoordinator":
            raise NotImplementedError("only QueuedRunCoordinator is followed here")
        rendered["run_coordinator"] = _queued_run_coordinator(values)
    elif truthy(daemon["enabled"]):
        rendered["run_coordinator"] = {
            "module": "dagster._core.run_coordinator.sync_in_memory_run_coordinator",
            "class": "SyncInMemoryRunCoordinator",
        }
    rendered["compute_logs"] = _compute_logs(values)
    if truthy(values["pythonLogs"]):
        raise NotImplementedError("pythonLogs is not followed here")
    monitoring = daemon["runMonitoring"]
    if truthy(daemon["enabled"]) and truthy(monitoring["enabled"]):
        block: dict[str, Any] = {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
        }
        for key, name in [
            ("cancelTimeoutSeconds", "cancel_timeout_seconds"),
            ("maxRuntimeSeconds", "max_runtime_seconds"),
            ("maxResumeRunAttempts", "max_resume_run_attempts"),
        ]:
            if _present(monitoring.get(key)):
                block[name] = monitoring[key]
        block["poll_interval_seconds"] = monitoring["pollIntervalSeconds"]
        block["free_slots_after_run_end_seconds"] = monitoring.get("freeSlotsAfterRunEndSeconds")
        rendered["run_monitoring"] = block
    retries = daemon["runRetries"]
    if truthy(daemon["enabled"]) and truthy(retries["enabled"]):
        rendered["run_retries"] = {"enabled": retries["enabled"]}
        if truthy(retries.get("maxRetries")):
            rendered["run_retries"]["max_retries"] = retries["maxRetries"]
        if "retryOnAssetOrOpFailure" in retries:
            rendered["run_retries"]["retry_on_asset_or_op_failure"] = retries[
                "retryOnAssetOrOpFailure"
            ]
    for key in ("sensors", "schedules"):
        threads = daemon[key]
        if truthy(daemon["enabled"]) and truthy(threads.get("useThreads")):
            rendered[key] = {"use_threads": threads["useThreads"]}
            if truthy(threads.get("numWorkers")):
                rendered[key]["num_workers"] = threads["numWorkers"]
            if truthy(threads.get("numSubmitWorkers")):
                rendered[key]["num_submit_workers"] = threads["numSubmitWorkers"]
    backfills = daemon.get("backfills")
    if truthy(daemon["enabled"]) and truthy(backfills):
        rendered["backfills"] = {"use_threads": backfills.get("useThreads")}
        for key, name in [
            ("numWorkers", "num_workers"),
            ("numSubmitWorkers", "num_submit_workers"),
        ]:
            if truthy(backfills.get(key)):
                rendered["backfills"][name] = backfills[key]
    rendered["telemetry"] = {"enabled": values["telemetry"]["enabled"]}
    retention = values["retention"]
    if truthy(retention["enabled"]):
        rendered["retention"] = {
            name: {"purge_after_days": retention[key]["purgeAfterDays"]}
            for key, name in [
                ("sensor", "sensor"),
                ("schedule", "schedule"),
                ("autoMaterialize", "auto_materialize"),
            ]
            if truthy(retention.get(key))
        }
    if truthy(values["concurrency"].get("enabled")):
        rendered["concurrency"] = _concurrency(values)
    for key, value in (values.get("additionalInstanceConfig") or {}).items():
        if key in rendered:
            raise ChartRenderError(f"additionalInstanceConfig repeats the chart's key {key!r}")
        rendered[key] = value
    return rendered


# --- charts/dagster-user-deployments --------------------------------------------------------


def subchart_values(user_values: Mapping[str, Any]) -> dict[str, Any]:
    """`.Values` as the subchart sees them: its own section plus `global`."""
    values = chart_values(user_values)
    section = dict(values["dagster-user-deployments"])
    section["global"] = values["global"]
    return section


def deployments(user_values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in subchart_values(user_values)["deployments"]}


def subchart_fullname(user_values: Mapping[str, Any]) -> str:
    return fullname(subchart_values(user_values), chart_name="dagster-user-deployments")


def user_env_configmap(user_values: Mapping[str, Any], name: str) -> dict[str, Any]:
    """configmap-env-user.yaml: a map-form `env` of a deployment, as a ConfigMap."""
    env = deployments(user_values)[name].get("env")
    data = {k: str(v) for k, v in env.items()} if isinstance(env, Mapping) else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{subchart_fullname(user_values)}-{name}-user-env"},
        "data": data,
    }


def code_server_args(user_values: Mapping[str, Any], name: str) -> list[str]:
    """deployment-user.yaml: the code server container's args for `codeServerArgs`."""
    deployment = deployments(user_values)[name]
    port = str(deployment["port"])
    return [
        "dagster",
        "code-server",
        "start",
        "-h",
        "0.0.0.0",
        "-p",
        port,
        *deployment["codeServerArgs"],
    ]


def current_image(user_values: Mapping[str, Any], name: str) -> str:
    """deployment-user.yaml: DAGSTER_CURRENT_IMAGE, the image the location's runs start from."""
    return image_name(deployments(user_values)[name]["image"])


def container_context(user_values: Mapping[str, Any], name: str) -> dict[str, Any]:
    """DAGSTER_CONTAINER_CONTEXT of a code server (`dagsterUserDeployments.k8sContainerContext`),
    set when includeConfigInLaunchedRuns is enabled (the chart's default)."""
    values = subchart_values(user_values)
    deployment = deployments(user_values)[name]
    include = deployment.get("includeConfigInLaunchedRuns") or {"enabled": True}
    if not truthy(include.get("enabled")):
        return {}
    k8s: dict[str, Any] = {"image_pull_policy": deployment["image"]["pullPolicy"]}
    if truthy(values.get("imagePullSecrets")):
        k8s["image_pull_secrets"] = values["imagePullSecrets"]
    k8s["env_config_maps"] = [
        f"{subchart_fullname(user_values)}-{name}-user-env",
        *[c["name"] for c in deployment.get("envConfigMaps") or [] if "name" in c],
    ]
    if truthy(deployment.get("envSecrets")):
        k8s["env_secrets"] = [s["name"] for s in deployment["envSecrets"] if "name" in s]
    for key, out in [
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
        ("schedulerName", "scheduler_name"),
    ]:
        if truthy(deployment.get(key)):
            k8s[out] = deployment[key]
    k8s["namespace"] = NAMESPACE
    account = values.get("serviceAccount") or {}
    k8s["service_account_name"] = (
        values["global"].get("serviceAccountName")
        or account.get("name")
        or f"{subchart_fullname(user_values)}-user-deployments"
    )
    if isinstance(deployment.get("env"), list) and deployment["env"]:
        k8s["env"] = deployment["env"]
    pod_spec: dict[str, Any] = {"automount_service_account_token": True}
    if truthy(deployment.get("sidecarContainers")):
        pod_spec["containers"] = deployment["sidecarContainers"]
    if truthy(deployment.get("initContainers")):
        pod_spec["init_containers"] = deployment["initContainers"]
    k8s["run_k8s_config"] = {"pod_spec_config": pod_spec}
    if truthy(deployment.get("annotations")):
        k8s["run_k8s_config"]["pod_template_spec_metadata"] = {
            "annotations": deployment["annotations"]
        }
    # The chart writes it with `fromYaml | toJson`: the code server receives JSON.
    return json.loads(json.dumps({"k8s": k8s}))


def workspace(user_values: Mapping[str, Any]) -> dict[str, Any]:
    """configmap-workspace.yaml with the subchart's deployments (no fixed `workspace.servers`)."""
    return {
        "load_from": [
            {"grpc_server": {"host": d["name"], "port": d["port"], "location_name": d["name"]}}
            for d in subchart_values(user_values)["deployments"]
        ]
    }
