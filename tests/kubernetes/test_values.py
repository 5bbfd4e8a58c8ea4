"""deploy/kubernetes/values.yaml against the rest of the repository: the images it runs (their
CMD, their user), compose's variables, the settings ConfigMap, the Secrets the README creates,
and helm-upgrade.sh (the chart's version and which image goes to which deployment)."""

import copy
import itertools
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import (
    CHART_VERSION,
    NAMESPACE,
    ROOT,
    code_server_args,
    deployments,
    webserver_fullname,
    workspace,
)

from lakehouse import locations

LISTED = locations.load(ROOT / "deploy" / "locations.toml")
DOCKERFILES = {
    **{name: ROOT / name / "Dockerfile" for name in LISTED},
    "dagster": ROOT / "deploy/dagster/Dockerfile",
}
README = ROOT / "README.md"
# A different tag per location (all digits for one: --set-string must keep it a string).
TAGS = {
    name: f"{n}{n}{n}{n}{n}{n}{n}" if n == 1 else f"abc{n:04d}" for n, name in enumerate(LISTED, 1)
}


def _cmd(dockerfile: Path) -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", dockerfile.read_text(), re.M)
    assert match, dockerfile
    return json.loads(match.group(1))


def _user(dockerfile: Path) -> int:
    match = re.search(r"^USER (\d+)$", dockerfile.read_text(), re.M)
    assert match, dockerfile
    return int(match.group(1))


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_code_servers_run_their_images_command(values: dict[str, Any]) -> None:
    """The chart replaces the image's CMD with `dagster code-server start -h 0.0.0.0 -p <port>`
    and codeServerArgs: the result is the command compose runs (the Dockerfile's CMD)."""
    # In the list's order: helm-upgrade.sh sets deployments[i]'s image to the i-th location's.
    assert list(deployments(values)) == list(LISTED)
    for name in deployments(values):
        assert code_server_args(values, name) == _cmd(DOCKERFILES[name]), name


def test_workspace_has_the_same_locations_as_compose(values: dict[str, Any]) -> None:
    compose_workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    names = [e["grpc_server"]["location_name"] for e in compose_workspace["load_from"]]
    chart = workspace(values)["load_from"]
    assert [e["grpc_server"]["location_name"] for e in chart] == names
    for entry in chart:
        server = entry["grpc_server"]
        args = code_server_args(values, server["location_name"])
        assert args[args.index("--location-name") + 1] == server["location_name"]
        assert server["host"] == server["location_name"]  # the Service the chart names after it


def test_every_pod_runs_as_its_images_user_without_privileges(values: dict[str, Any]) -> None:
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    pods = {
        "webserver": (values["dagsterWebserver"], "dagster"),
        "daemon": (values["dagsterDaemon"], "dagster"),
        **{name: (d, name) for name, d in deployments(values).items()},
        "run jobs": (
            {
                "podSecurityContext": launcher["runK8sConfig"]["podSpecConfig"]["securityContext"],
                "securityContext": launcher["securityContext"],
            },
            "ingestion",
        ),
    }
    uids = {_user(path) for path in DOCKERFILES.values()}
    assert len(uids) == 1, "the run Jobs' one securityContext fits both location images"
    for what, (spec, image) in pods.items():
        pod, container = spec["podSecurityContext"], spec["securityContext"]
        assert pod["runAsNonRoot"] is True, what
        assert pod["runAsUser"] == pod["runAsGroup"] == _user(DOCKERFILES[image]), what
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, what
        assert container["allowPrivilegeEscalation"] is False, what
        assert container["capabilities"] == {"drop": ["ALL"]}, what


def test_every_process_has_resources_and_probes(values: dict[str, Any]) -> None:
    webserver, daemon = values["dagsterWebserver"], values["dagsterDaemon"]
    for what, spec in [("webserver", webserver), ("daemon", daemon), *deployments(values).items()]:
        assert spec["resources"]["requests"]["memory"], what
        assert spec["resources"]["limits"]["memory"], what
    port = webserver["service"]["port"]
    assert port > 1024  # bound by a non-root user
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert webserver[probe]["httpGet"] == {"path": "/server_info", "port": port}, probe
    assert webserver["startupProbe"]["enabled"] is True
    assert webserver["enableReadOnly"] is True  # the viewers' webserver
    assert daemon["livenessProbe"]["exec"]["command"] == ["dagster-daemon", "liveness-check"]
    for name, deployment in deployments(values).items():
        # Without `exec`, the chart probes with `dagster api grpc-health-check -p <port>`, the
        # images' HEALTHCHECK.
        assert "exec" not in deployment["readinessProbe"], name
        assert deployment["readinessProbe"]["enabled"] is True, name
        assert deployment["startupProbe"]["enabled"] is True, name
        assert deployment["livenessProbe"]["failureThreshold"] >= 1, name
        healthcheck = DOCKERFILES[name].read_text()
        assert f'"grpc-health-check", "-p", "{deployment["port"]}"' in healthcheck, name


def test_values_hold_no_secret(values: dict[str, Any]) -> None:
    text = (ROOT / "deploy/kubernetes/values.yaml").read_text()
    secret_names = [
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^[A-Z0-9_]+=$", line)
    ]
    assert "DAGSTER_POSTGRES_PASSWORD" in secret_names
    assert not [name for name in secret_names if name in text]
    assert "postgresqlPassword" not in text
    assert values["generatePostgresqlPasswordSecret"] is False
    for name, deployment in deployments(values).items():
        for key in deployment["env"]:
            assert not re.search(r"SECRET|PASSWORD|KEY_ID|_URL$", key), (name, key)


def _readme_secrets() -> dict[str, set[str]]:
    """Secret name -> its keys, from the README's `kubectl create secret generic` commands."""
    commands = re.findall(
        r"kubectl -n (\S+) create secret generic (\S+)((?: \\\n\s+--from-literal=\S+)+)",
        README.read_text(),
    )
    assert commands, "README: the kubectl commands that create the Secrets"
    found = {}
    for namespace, name, literals in commands:
        assert namespace == NAMESPACE, name
        found[name] = set(re.findall(r"--from-literal=([A-Za-z0-9_.<>-]+)=", literals))
    return found


def _location_secrets(values: dict[str, Any]) -> dict[str, set[str]]:
    """The README's Secrets, with the one its "Adding a team" section creates for a location
    made by `make location` (lakehouse-<name>, keys <NAME>_...) filled in for each such one."""
    secrets = _readme_secrets()
    template = secrets.pop("lakehouse-<name>", set())
    assert template, "README: the Secret of a location added with `make location`"
    for name in deployments(values):
        secrets.setdefault(
            f"lakehouse-{name}", {key.replace("<NAME>", name.upper()) for key in template}
        )
    return secrets


def test_readme_creates_the_secrets_values_names_with_composes_variables(
    values: dict[str, Any],
) -> None:
    secrets = _location_secrets(values)
    compose = _compose()
    named = {values["global"]["postgresqlSecretName"]}
    for spec in [
        values["dagsterWebserver"],
        values["dagsterDaemon"],
        values["runLauncher"]["config"]["k8sRunLauncher"],
        *deployments(values).values(),
    ]:
        named |= {s["name"] for s in spec.get("envSecrets", [])}
    assert set(secrets) == named

    assert secrets[values["global"]["postgresqlSecretName"]] == {"postgresql-password"}
    assert secrets["lakehouse-compute-logs-s3"] == {
        k for k in compose["x-instance-env"] if k.startswith("AWS_") and k != "AWS_REGION"
    }
    for name, deployment in deployments(values).items():
        own = next(s["name"] for s in deployment["envSecrets"] if s["name"] == f"lakehouse-{name}")
        # compose's x-<location>-env: what the location adds to the instance's variables,
        # split on Kubernetes into its Secret and its (non-secret) env map.
        assert secrets[own] | set(deployment["env"]) == set(compose[f"x-{name}-env"]), name
        assert not secrets[own] & set(deployment["env"]), name
    alerts = {"LAKEHOUSE_ALERT_WEBHOOK_URL"}
    assert secrets["lakehouse-alerts"] == alerts
    for name in deployments(values):
        assert alerts <= set(compose["services"][name]["environment"]), name


def test_settings_hold_composes_shared_variables(
    values: dict[str, Any], settings: dict[str, str]
) -> None:
    """settings.env is compose's x-instance-env without what the chart sets itself (DAGSTER_*)
    and without credentials (the compute-log key is a Secret)."""
    instance_env = _compose()["x-instance-env"]
    shared = {
        k
        for k in instance_env
        if not k.startswith("DAGSTER_") and k not in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    }
    assert set(settings) == shared
    assert all(settings.values()), settings
    assert settings["LAKEHOUSE_STORAGE"] == "s3"
    s3_logs = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert s3_logs["region"] == settings["AWS_REGION"]
    assert settings["LAKEHOUSE_S3_BUCKET"] and s3_logs["bucket"] == {"env": "LAKEHOUSE_S3_BUCKET"}


def _set_string(values: dict[str, Any], assignment: str) -> None:
    """Helm's --set-string onto values read from -f: a list index updates that item in place."""
    path, _, value = assignment.partition("=")
    node: Any = values
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        if following is None:
            node[key] = value
        else:
            node = node[key]


@pytest.fixture(scope="module")
def helm_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The arguments helm-upgrade.sh passes to helm, recorded by a stand-in `helm`."""
    directory = tmp_path_factory.mktemp("helm")
    record = directory / "args"
    stub = directory / "helm"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {shlex.quote(str(record))}\n')
    stub.chmod(0o755)
    env = {
        **os.environ,
        "HELM": str(stub),
        "IMAGE_PREFIX": "registry.example.com:5000/team",
        **{f"{name.upper()}_TAG": tag for name, tag in TAGS.items()},
        "DAGSTER_TAG": "d00d5ee",
    }
    subprocess.run(
        [str(ROOT / "deploy/kubernetes/helm-upgrade.sh"), "--dry-run"],
        env=env,
        check=True,
        timeout=60,
    )
    return record.read_text().splitlines()


def test_helm_upgrade_installs_the_pinned_chart_with_the_values(helm_args: list[str]) -> None:
    assert helm_args[:4] == ["upgrade", "--install", "lakehouse", "dagster/dagster"]
    assert helm_args[helm_args.index("--version") + 1] == CHART_VERSION
    assert helm_args[helm_args.index("--namespace") + 1] == NAMESPACE
    assert helm_args[helm_args.index("-f") + 1] == "deploy/kubernetes/values.yaml"
    assert helm_args[-1] == "--dry-run"  # extra arguments reach helm
    pins = (ROOT / "deploy/dagster/requirements.in").read_text()
    assert f"dagster=={CHART_VERSION}\n" in pins
    # dagster-k8s (the launcher) at the release of the other integrations of the same set.
    k8s = re.search(r"^dagster-k8s==(\S+)$", pins, re.M)
    postgres = re.search(r"^dagster-postgres==(\S+)$", pins, re.M)
    assert k8s and postgres and k8s.group(1) == postgres.group(1)


def test_helm_upgrade_gives_each_deployment_its_own_image(
    values: dict[str, Any], helm_args: list[str]
) -> None:
    released = copy.deepcopy(values)
    for flag, assignment in itertools.pairwise(helm_args):
        if flag == "--set-string":
            _set_string(released, assignment)
    prefix = "registry.example.com:5000/team"
    for name, deployment in deployments(released).items():
        image = deployment["image"]
        assert (image["repository"], image["tag"]) == (f"{prefix}/{name}", TAGS[name]), name
        assert deployment["codeServerArgs"] == deployments(values)[name]["codeServerArgs"]
    for component in ("dagsterWebserver", "dagsterDaemon"):
        image = released[component]["image"]
        assert (image["repository"], image["tag"]) == (f"{prefix}/dagster", "d00d5ee")


def test_readme_points_at_the_charts_services(values: dict[str, Any]) -> None:
    text = README.read_text()
    port = values["dagsterWebserver"]["service"]["port"]
    for read_only in (False, True):
        service = webserver_fullname(values, read_only=read_only)
        assert re.search(
            rf"port-forward svc/{service} \d+:{port}\b|`svc/{service} \d+:{port}`", text
        ), service
    assert "helm repo add dagster https://dagster-io.github.io/helm" in text
    assert f"dagster/dagster --version {CHART_VERSION}" in text
