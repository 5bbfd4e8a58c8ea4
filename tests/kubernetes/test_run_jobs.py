"""The Kubernetes Job a run of each location gets, as dagster-k8s builds it from the deployment's
configuration, validates strictly against the API schemas of a current Kubernetes release and
holds that location's image and environment, and no other location's secret.

Each run goes through K8sRunLauncher.launch_run, the daemon's own path: the launcher is built from
the `run_launcher` section the chart renders into the instance (chart_render.instance_config,
pointed at an offline kubeconfig), and the run carries what the location's code server attaches
to it in the cluster: its image (DAGSTER_CURRENT_IMAGE) and its container context
(DAGSTER_CONTAINER_CONTEXT), both as the chart's deployment-user.yaml sets them
(chart_render.current_image / container_context). The Job body the launcher would send to the API
server is captured at DagsterKubernetesClient.create_namespaced_job_with_retries; nothing is sent.

Private Dagster APIs, and why: a run's code origin (dagster._core.origin.JobPythonOrigin,
RepositoryPythonOrigin, dagster._core.code_pointer.ModuleCodePointer) is what a code server
stamps on every run and what the launcher reads the image and container context from, and
LaunchRunContext (dagster._core.launcher) is the launcher's argument; the public API creates
runs only through a loaded code location, which needs the location's code server.
"""

import json
import re
from typing import Any

import dagster as dg
import kubernetes_validate
import pytest
from chart_render import (
    NAMESPACE,
    ROOT,
    container_context,
    current_image,
    deployments,
    instance_config,
    subchart_fullname,
    user_env_configmap,
)
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster_k8s.client import DagsterKubernetesClient
from kubernetes.client import ApiClient

# The newest Kubernetes release whose schemas the pinned kubernetes-validate ships.
KUBERNETES_VERSION = kubernetes_validate.latest_version()
LOCATIONS = {"ingestion": "daily_ingest_job", "analytics": "daily_sales_job"}


def _validate(manifest: dict[str, Any]) -> None:
    """Strict: an unknown field anywhere is an error, as `kubectl apply --validate=strict`."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.fixture(scope="module")
def jobs(values: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """location -> the Job (as the API server would receive it) of one run of that location."""
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: offline, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: offline, user: {token: not-a-real-token}}]\n"
        "contexts: [{name: offline, context: {cluster: offline, user: offline}}]\n"
        "current-context: offline\n"
    )
    launcher_config = instance_config(values)["run_launcher"]
    launcher_config["config"].update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))

    sent: list[tuple[Any, str]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            DagsterKubernetesClient,
            "create_namespaced_job_with_retries",
            lambda self, body, namespace, **_: sent.append((body, namespace)),
        )
        with dg.instance_for_test(overrides={"run_launcher": launcher_config}) as instance:
            found = {}
            for location, job_name in LOCATIONS.items():
                origin = JobPythonOrigin(
                    job_name,
                    RepositoryPythonOrigin(
                        executable_path="/opt/venv/bin/python",
                        code_pointer=ModuleCodePointer(f"{location}.definitions", "defs", None),
                        container_image=current_image(values, location),
                        entry_point=["dagster"],
                        container_context=container_context(values, location),
                    ),
                )
                run = instance.add_run(dg.DagsterRun(job_name=job_name, job_code_origin=origin))
                instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
                body, namespace = sent[-1]
                assert namespace == NAMESPACE
                found[location] = ApiClient().sanitize_for_serialization(body)
    return found


def _container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def _sources(container: dict[str, Any], kind: str) -> set[str]:
    return {e[kind]["name"] for e in container.get("envFrom", []) if kind in e}


@pytest.mark.parametrize("location", LOCATIONS)
def test_run_job_is_a_valid_kubernetes_job(jobs: dict[str, Any], location: str) -> None:
    job = jobs[location]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    _validate(job)


def test_strict_validation_rejects_an_unknown_field(jobs: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(jobs["ingestion"]))
    _container(broken)["memoryLimit"] = "1Gi"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)


@pytest.mark.parametrize("location", LOCATIONS)
def test_run_job_runs_in_its_location_image_with_its_environment(
    values: dict[str, Any], jobs: dict[str, Any], location: str
) -> None:
    deployment = deployments(values)[location]
    container = _container(jobs[location])
    pod = jobs[location]["spec"]["template"]["spec"]

    image = deployment["image"]
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    # The run worker's command replaces the image's CMD (no ENTRYPOINT in the location images).
    assert "command" not in container and container["args"][:3] == ["dagster", "api", "execute_run"]
    dockerfile = (ROOT / location / "Dockerfile").read_text()
    assert not re.search(r"^ENTRYPOINT", dockerfile, re.M)

    own_secrets = {s["name"] for s in deployment["envSecrets"]}
    launcher_secrets = {
        s["name"] for s in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    }
    assert _sources(container, "secretRef") == own_secrets | launcher_secrets
    assert _sources(container, "configMapRef") == {
        "lakehouse-settings",
        f"{subchart_fullname(values)}-{location}-user-env",
    }
    password = next(e for e in container["env"] if e["name"] == "DAGSTER_PG_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {
        "name": values["global"]["postgresqlSecretName"],
        "key": "postgresql-password",
    }
    # The run worker gets the instance from its arguments (the daemon's InstanceRef, whose
    # configuration names variables, not values) and DAGSTER_HOME from the chart's setting.
    home = next(e for e in container["env"] if e["name"] == "DAGSTER_HOME")
    assert home["value"] == values["global"]["dagsterHome"]

    assert container["resources"] == deployment["resources"]
    uid = int(re.search(r"^USER (\d+)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    assert pod["securityContext"]["runAsUser"] == uid and pod["securityContext"]["runAsNonRoot"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_no_run_job_holds_another_locations_secret(
    values: dict[str, Any], jobs: dict[str, Any]
) -> None:
    own = {name: {s["name"] for s in d["envSecrets"]} for name, d in deployments(values).items()}
    shared = own["ingestion"] & own["analytics"]  # the alerts webhook, used by both
    for location in LOCATIONS:
        others = set().union(*(s for name, s in own.items() if name != location)) - shared
        assert others, "each location has a secret of its own"
        text = json.dumps(jobs[location])
        assert not others & _sources(_container(jobs[location]), "secretRef"), location
        assert not any(name in text for name in others), location


@pytest.mark.parametrize("location", LOCATIONS)
def test_location_configmap_is_valid_and_holds_no_secret(
    values: dict[str, Any], location: str
) -> None:
    configmap = user_env_configmap(values, location)
    _validate(configmap)
    secret_names = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^[A-Z0-9_]+=$", line)
    }
    assert secret_names, ".env.example lists the secrets it leaves empty"
    for key, value in configmap["data"].items():
        assert not re.search(r"SECRET|PASSWORD|_URL$|KEY_ID", key), key
        assert value not in {"", None}, key
    assert not secret_names & set(configmap["data"])
