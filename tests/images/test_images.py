"""The built images: non-root, healthy, serving their definitions, free of CA bundles/secrets and
of test code.

Needs a Docker engine and images built by deploy/images/build.sh (which records their names in
build/images.env). Without an engine these tests skip and say so; with REQUIRE_DOCKER=1 (CI) a
missing engine or missing images fails instead.
"""

import json
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dev_only import DISTRIBUTIONS, FORMER_MODULES, MODULES
from docker_engine import built_images, docker, unavailable
from native_stack import Stack, wait_until

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / "deploy" / "certs" / "zz-build-canary.crt"


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    refs = built_images("image tests")
    return {name: refs[f"{name.upper()}_IMAGE"] for name in ("ingestion", "analytics", "dagster")}


@pytest.mark.parametrize("name", ["ingestion", "analytics", "dagster"])
def test_image_runs_as_a_non_root_user(images: dict[str, str], name: str) -> None:
    uid = docker("run", "--rm", "--entrypoint", "id", images[name], "-u")
    assert uid != "0"
    config = json.loads(docker("image", "inspect", images[name]))[0]["Config"]
    assert config["User"] not in ("", "0", "root")
    if name != "dagster":
        assert config["Healthcheck"]["Test"][1:3] == ["dagster", "api"]
        assert not config.get("Entrypoint"), "CMD, not ENTRYPOINT: the run launcher needs it"


def test_dagster_image_runs_the_helm_charts_commands(images: dict[str, str]) -> None:
    """The Kubernetes deployment (deploy/kubernetes) runs the webserver and the daemon from this
    image: the chart starts them with `/bin/bash -c`, and the daemon launches runs as Jobs with
    dagster-k8s's K8sRunLauncher."""
    out = docker(
        "run",
        "--rm",
        "--entrypoint",
        "/bin/bash",
        images["dagster"],
        "-c",
        'python -c "import dagster_k8s; print(dagster_k8s.K8sRunLauncher.__name__)"',
    )
    assert out == "K8sRunLauncher"


@pytest.fixture(scope="module")
def deployment(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Both location images and the Dagster image (webserver, daemon) on one network."""
    suffix = uuid.uuid4().hex[:8]
    network = f"lakehouse-imagetest-{suffix}"
    names = {
        role: f"lakehouse-imagetest-{role}-{suffix}"
        for role in ("ingestion", "analytics", "webserver", "daemon")
    }
    env = [
        "-e",
        f"DAGSTER_INGESTION_HOST={names['ingestion']}",
        "-e",
        "DAGSTER_INGESTION_PORT=4000",
        "-e",
        f"DAGSTER_ANALYTICS_HOST={names['analytics']}",
        "-e",
        "DAGSTER_ANALYTICS_PORT=4000",
    ]
    workspace = ["-v", f"{ROOT / 'workspace.yaml'}:/opt/dagster/app/workspace.yaml:ro"]
    docker("network", "create", network)
    try:
        for location in ("ingestion", "analytics"):
            docker(
                "run",
                "-d",
                "--name",
                names[location],
                "--network",
                network,
                "-p",
                "127.0.0.1::4000",
                images[location],
            )
        docker(
            "run",
            "-d",
            "--name",
            names["webserver"],
            "--network",
            network,
            "-p",
            "127.0.0.1::3000",
            *env,
            *workspace,
            images["dagster"],
        )
        docker(
            "run",
            "-d",
            "--name",
            names["daemon"],
            "--network",
            network,
            *env,
            *workspace,
            images["dagster"],
            "dagster-daemon",
            "run",
            "-w",
            "/opt/dagster/app/workspace.yaml",
        )
        yield {"names": names, "network": network}
    finally:
        for name in names.values():
            docker("rm", "-f", name, check=False)
        docker("network", "rm", network, check=False)


def _published(container: str, port: int) -> int:
    return int(docker("port", container, str(port)).splitlines()[0].rsplit(":", 1)[1])


@pytest.mark.parametrize("location", ["ingestion", "analytics"])
def test_location_image_becomes_healthy(deployment: dict, location: str) -> None:
    container = deployment["names"][location]
    wait_until(
        f"{location} container healthy",
        lambda: docker("inspect", "-f", "{{.State.Health.Status}}", container) == "healthy",
        deadline=180,
    )
    # The same check from outside, against the published port.
    port = _published(container, 4000)
    health = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "api",
            "grpc-health-check",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        capture_output=True,
        check=False,
    )
    assert health.returncode == 0, health.stderr


def test_dagster_image_serves_both_locations_and_the_daemon_is_live(deployment: dict) -> None:
    names = deployment["names"]
    stack = Stack(f"http://127.0.0.1:{_published(names['webserver'], 3000)}", Path("/dev/null"))

    def loaded() -> dict | None:
        try:
            data = stack.gql("""{ workspaceOrError { ... on Workspace { locationEntries {
                name loadStatus } } } assetNodes { assetKey { path }
                repository { location { name } } } }""")
        except OSError:
            return None
        entries = data["workspaceOrError"]["locationEntries"]
        ok = len(entries) == 2 and all(e["loadStatus"] == "LOADED" for e in entries)
        return data if ok and data["assetNodes"] else None

    data = wait_until("the webserver to load both locations", loaded, deadline=180)
    where = {
        "/".join(n["assetKey"]["path"]): n["repository"]["location"]["name"]
        for n in data["assetNodes"]
    }
    assert where["sales_data"] == "ingestion"
    assert where["sales_summary"] == "analytics"
    assert where["sales_monthly_rollup"] == "analytics"

    def live() -> bool:
        result = subprocess.run(
            ["docker", "exec", names["daemon"], "dagster-daemon", "liveness-check"],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    wait_until("the daemon's liveness check", live, deadline=180, every=3)


def _canary_lines() -> list[bytes]:
    if not CANARY.is_file():
        unavailable(f"no canary certificate at {CANARY}: build with deploy/images/ci-build.sh")
    body = [line for line in CANARY.read_bytes().splitlines() if line and b"-----" not in line]
    return body[1:4]  # distinctive base64 lines of the certificate body


@pytest.mark.parametrize("name", ["ingestion", "analytics", "dagster"])
def test_no_ca_bundle_or_secret_in_the_image(
    images: dict[str, str], name: str, tmp_path: Path
) -> None:
    canary = _canary_lines()
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", images[name])
    assert "certs" not in history and "ca-bundle" not in history
    assert not any(line.decode() in history for line in canary)

    config = json.loads(docker("image", "inspect", images[name]))[0]["Config"]
    for entry in config.get("Env") or []:
        key = entry.split("=", 1)[0]
        assert not any(word in key for word in ("SECRET", "PASSWORD", "TOKEN", "PIP_CERT")), entry

    container = docker("create", images[name])
    archive = tmp_path / "fs.tar"
    try:
        docker("export", "-o", str(archive), container)
    finally:
        docker("rm", container, check=False)
    found = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.name.startswith(("tmp/certs", "tmp/ca-bundle")) or member.name.endswith(
                ".env"
            ):
                found.append(member.name)
            if not member.isfile() or member.size > 8_000_000:
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if any(line in data for line in canary):
                found.append(member.name)
    assert found == [], f"build-time CA material or secrets in {images[name]}: {found}"


# Runs in the image with its own Python; prints what test code it finds as JSON.
FIND_TEST_CODE = """
import importlib.metadata, importlib.util, json, os, re, sys, sysconfig
dists, modules = set(json.loads(sys.argv[1])), json.loads(sys.argv[2])
found = []
for dist in importlib.metadata.distributions():
    name = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
    if name in dists:
        found.append(f"distribution {name}")
    if name in ("lakehouse", "ingestion", "analytics", "lakehouse-platform"):
        for file in dist.files or []:
            parts = file.parts
            if "tests" in parts or parts[-1] == "conftest.py" or parts[-1].startswith("test_"):
                found.append(f"{name}: {file}")
for module in modules:
    try:
        if importlib.util.find_spec(module) is not None:
            found.append(f"module {module}")
    except ImportError:
        pass
site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
for top in site:
    for entry in ("tests", "conftest.py", "lakehouse_testing"):
        if os.path.exists(os.path.join(top, entry)):
            found.append(os.path.join(top, entry))
for top in {os.getcwd(), "/opt/dagster"}:
    for folder, subfolders, files in os.walk(top):
        if os.path.basename(folder) == "tests":
            found.append(folder)
        found += [os.path.join(folder, f) for f in files
                  if f == "conftest.py" or (f.startswith("test_") and f.endswith(".py"))]
print(json.dumps({"found": found, "site": sorted(site), "cwd": os.getcwd()}))
"""


@pytest.mark.parametrize("name", ["ingestion", "analytics", "dagster"])
def test_no_test_code_in_the_image(images: dict[str, str], name: str) -> None:
    """No test tool installed, no test module importable (the test support or where it used to
    be, ``lakehouse.testing``), no tests folder or conftest in site-packages, in the locations'
    installed files or in the working directory."""
    out = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        images[name],
        "-c",
        FIND_TEST_CODE,
        json.dumps(sorted(DISTRIBUTIONS)),
        json.dumps(sorted(MODULES) + list(FORMER_MODULES)),
    )
    report = json.loads(out.splitlines()[-1])
    assert report["site"] and all(p.startswith("/opt/venv/") for p in report["site"]), report
    assert report["found"] == [], f"test code in {images[name]}: {report['found']}"
