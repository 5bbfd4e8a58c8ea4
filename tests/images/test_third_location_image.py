"""A third team's image: `make location` in a scratch copy of the checkout, its image built by
deploy/images/build.sh on the same base as the other locations', and its code server healthy.

Needs a Docker engine and the platform's images (skips without, fails under REQUIRE_DOCKER=1).
"""

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_engine import built_images, docker
from native_stack import wait_until
from scratch import ROOT, env_file, make_location, scratch_copy

pytestmark = pytest.mark.docker

NEW = "marketing"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    built_images("the third location's image")
    root = make_location(scratch_copy(tmp_path_factory.mktemp("third-image")), NEW, NEW)
    # Extra CA certificates for pip in the builder stage, as deploy/images/ci-build.sh passes
    # them (git-ignored, so not in the copy).
    bundle = Path(os.environ.get("HOST_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
    if bundle.is_file():
        shutil.copy(bundle, root / "deploy" / "certs" / "host-ca.crt")
    env = {**os.environ, "ONLY": NEW, "IMAGE_PREFIX": f"lakehouse-scratch-{uuid.uuid4().hex[:8]}"}
    stand_ins = ROOT / "build" / "stand-ins.env"
    if stand_ins.is_file():  # offline: the same base as the platform's images (CI)
        env.update(env_file(stand_ins))
    built = subprocess.run(
        ["bash", "deploy/images/build.sh"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    refs = env_file(root / "build" / "images.env")
    ref = refs[f"{NEW.upper()}_IMAGE"]
    try:
        yield ref
    finally:
        docker("image", "rm", "-f", ref, check=False)


def test_the_third_locations_image_serves_its_code_and_turns_healthy(image: str) -> None:
    config = json.loads(docker("image", "inspect", image))[0]["Config"]
    assert config["User"] not in ("", "0", "root")
    assert config["Cmd"][-4:] == ["-m", f"{NEW}.definitions", "--location-name", NEW]
    container = f"lakehouse-scratch-{NEW}-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", container, image)
    try:
        wait_until(
            f"{NEW} container healthy",
            lambda: docker("inspect", "-f", "{{.State.Health.Status}}", container) == "healthy",
            deadline=180,
        )
        assets = docker(
            "exec",
            container,
            "python",
            "-c",
            f"from {NEW}.definitions import defs; "
            "print(sorted(k.to_user_string() for k in "
            "defs.get_repository_def().asset_graph.get_all_asset_keys()))",
        )
        assert f"{NEW}/" in assets and "sales_summary" in assets
    finally:
        docker("rm", "-f", container, check=False)
