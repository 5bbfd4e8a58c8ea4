"""Every image the compose file names by default is pinned to an exact release, and the offline
stand-in CI runs in its place reports that same release.

The defaults are read as Compose resolves them (no overrides); the stand-ins are the ones
deploy/images/build-local-bases.sh built (build/stand-ins.env).
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
from compose_files import compose_config, generated_env, stand_in_images
from docker_engine import docker, unavailable

pytestmark = pytest.mark.docker

# The one difference we could not remove, stated where a test holds it true: no registry this
# project may use ships a CPython binary, so the Python stand-in is Debian 12's python3.11
# (3.11.2 with Debian's security patches) while the pin is the official 3.11.14 image on the
# same Debian release. Same minor version, same OS release; the patch level differs.
PYTHON_STAND_IN_PATCH = "3.11.2"


@pytest.fixture(scope="module")
def pins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    config = compose_config(generated_env(tmp_path_factory.mktemp("pins") / ".env"))
    services = config["services"]
    return {
        "postgres": services["postgres"]["image"],
        "s3": services["s3"]["image"],
        "python": services["ingestion"]["build"]["args"]["PYTHON_IMAGE"],
        "proxy": services["proxy"]["image"],
    }


@pytest.fixture(scope="module")
def stand_ins() -> dict[str, str]:
    try:
        subprocess.run(["docker", "info"], capture_output=True, check=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        unavailable("no Docker engine reachable: stand-in checks skipped")
    found = stand_in_images()
    if found is None:
        unavailable("no stand-ins built (deploy/images/build-local-bases.sh): checks skipped")
    assert found is not None
    return found


def _run(image: str, entrypoint: str, *args: str) -> str:
    return docker("run", "--rm", "--entrypoint", entrypoint, image, *args)


def _debian_release(image: str) -> str:
    return _run(image, "cat", "/etc/debian_version").split(".")[0]


def test_postgres_stand_in_is_the_pinned_release(
    pins: dict[str, str], stand_ins: dict[str, str]
) -> None:
    match = re.fullmatch(r"postgres:(\d+\.\d+)-bookworm", pins["postgres"])
    assert match, pins["postgres"]
    reported = _run(stand_ins["POSTGRES_IMAGE"], "postgres", "--version")
    version = re.search(r"\(PostgreSQL\) (\d+\.\d+)", reported)
    assert version and version.group(1) == match.group(1), reported
    assert _debian_release(stand_ins["POSTGRES_IMAGE"]) == "12"  # bookworm, like the pin
    dump = _run(stand_ins["POSTGRES_IMAGE"], "pg_dump", "--version")
    assert match.group(1) in dump  # backups are taken with the server's own release


def test_seaweedfs_stand_in_is_the_pinned_release_and_build(
    pins: dict[str, str], stand_ins: dict[str, str]
) -> None:
    match = re.fullmatch(r"chrislusf/seaweedfs:(\d+\.\d+)(_large_disk)?", pins["s3"])
    assert match, pins["s3"]
    image = stand_ins["S3_IMAGE"]
    reported = _run(image, "/usr/bin/weed", "version").splitlines()[0].split()
    # "version 8000GB 4.48 pypi linux amd64": release, and the large-disk build (8000 GB
    # volumes, a different on-disk index than the 30 GB default build).
    assert match.group(1) in reported, reported
    assert ("8000GB" in reported) == bool(match.group(2)), reported
    # The interface the compose service relies on, as the official image has it.
    config = json.loads(docker("image", "inspect", image))[0]["Config"]
    assert config["Entrypoint"] == ["/entrypoint.sh"]
    assert config["Cmd"] == ["mini", "-dir=/data"]
    assert config["WorkingDir"] == "/data"
    assert _run(image, "id", "-u") == "1000"
    assert _run(image, "wget", "--version")  # the health check's tool
    # pip ran in a builder stage with the build's CA bundle: none of it reaches this image.
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    assert "certs" not in history and "ca-bundle" not in history
    assert _run(image, "ls", "-A", "/tmp") == ""


def test_caddy_stand_in_is_the_pinned_release(
    pins: dict[str, str], stand_ins: dict[str, str]
) -> None:
    match = re.fullmatch(r"caddy:(\d+\.\d+\.\d+)", pins["proxy"])
    assert match, pins["proxy"]
    image = stand_ins["PROXY_IMAGE"]
    reported = _run(image, "caddy", "version")
    assert reported.split()[0] == f"v{match.group(1)}", reported
    # The interface the compose service relies on, as the official image has it.
    config = json.loads(docker("image", "inspect", image))[0]["Config"]
    assert config["Cmd"] == [
        "caddy",
        "run",
        "--config",
        "/etc/caddy/Caddyfile",
        "--adapter",
        "caddyfile",
    ]
    assert {"XDG_DATA_HOME=/data", "XDG_CONFIG_HOME=/config"} <= set(config["Env"])
    assert _run(image, "wget", "--version")  # the health check's tool
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    assert "certs" not in history and "ca-bundle" not in history
    assert _run(image, "ls", "-A", "/tmp") == ""


def test_python_stand_in_is_the_pinned_minor_on_the_same_debian(
    pins: dict[str, str], stand_ins: dict[str, str]
) -> None:
    match = re.fullmatch(r"python:(\d+\.\d+)\.(\d+)-slim-bookworm", pins["python"])
    assert match, pins["python"]
    reported = _run(stand_ins["PYTHON_IMAGE"], "python", "--version").split()[-1]
    assert reported.rsplit(".", 1)[0] == match.group(1), reported
    assert reported == PYTHON_STAND_IN_PATCH, "update PYTHON_STAND_IN_PATCH and the README"
    assert _debian_release(stand_ins["PYTHON_IMAGE"]) == "12"


def test_offline_build_names_the_stand_ins_it_built(stand_ins: dict[str, str]) -> None:
    for name, image in stand_ins.items():
        assert docker("image", "inspect", "-f", "{{.Id}}", image), (name, image)
    assert Path(__file__).parents[2].joinpath("build/stand-ins.env").is_file()
