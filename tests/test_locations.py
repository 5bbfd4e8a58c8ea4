"""One list of code locations (deploy/locations.toml) and the command that adds or removes one.

The rendered files must equal what the list renders (so a hand edit, or a location wired in by
hand, fails here). Adding `marketing` in a scratch copy of the checkout must wire it in
everywhere the platform needs it and leave every other location's files as they were; removing
it must give back the checkout byte for byte, and never touch data.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from scratch import ROOT, scratch_copy, tree

from lakehouse import locations

sys.path.insert(0, str(ROOT / "tests" / "compose"))  # the compose tier's helpers
from compose_files import compose_config, env_tool, generated_env
from test_config import assert_each_location_passes_only_its_own_variables

NEW, TEAM = "marketing", "marketing"


def tool(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(root / "deploy" / "locations.py"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scratch_copy(tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="module")
def added(tmp_path_factory: pytest.TempPathFactory, original: Path) -> Path:
    """A scratch checkout with the third location added by the command."""
    root = scratch_copy(tmp_path_factory.mktemp("with-marketing"))
    tool(root, "add", NEW, "--team", TEAM)
    return root


def test_the_rendered_files_are_what_the_list_renders() -> None:
    result = tool(ROOT, "check", check=False)
    assert result.returncode == 0, result.stderr


def test_a_rendered_file_edited_by_hand_is_named(tmp_path: Path) -> None:
    root = scratch_copy(tmp_path)
    workspace = root / "workspace.yaml"
    workspace.write_text(workspace.read_text().replace("analytics", "analytic"))
    result = tool(root, "check", check=False)
    assert result.returncode == 1
    assert "workspace.yaml differs from deploy/locations.toml" in result.stderr
    tool(root, "render")
    assert tool(root, "check", check=False).returncode == 0


def test_the_list_is_every_location_the_platform_knows() -> None:
    names = list(locations.load(ROOT / "deploy" / "locations.toml"))
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]
    assert [entry["grpc_server"]["location_name"] for entry in workspace] == names
    # Every folder with a Dockerfile and a code location's pyproject is listed.
    folders = sorted(
        p.parent.name
        for p in ROOT.glob("*/pyproject.toml")
        if "[tool.dagster]" in p.read_text() and (p.parent / "Dockerfile").is_file()
    )
    assert folders == sorted(names)


def test_adding_creates_the_locations_own_project(added: Path) -> None:
    folder = added / NEW
    pyproject = (folder / "pyproject.toml").read_text()
    assert f'name = "{NEW}"' in pyproject and f'module_name = "{NEW}.definitions"' in pyproject
    assert (folder / "src" / NEW / "definitions.py").is_file()
    assert list((folder / "tests").glob("test_*.py"))
    dockerfile = (folder / "Dockerfile").read_text()
    assert f"-m {NEW}.definitions" in dockerfile.replace('", "', " ")
    assert "HEALTHCHECK" in dockerfile
    leftovers = [
        str(p.relative_to(added))
        for p in folder.rglob("*")
        if "{{" in p.name or p.suffix == ".tmpl" or (p.is_file() and "{{" in p.read_text())
    ]
    assert leftovers == []


def test_adding_touches_no_other_locations_files(original: Path, added: Path) -> None:
    others = [*locations.load(original / "deploy" / "locations.toml"), "lakehouse"]
    assert tree(added, *others) == tree(original, *others)


def test_the_new_location_is_in_the_list_workspace_and_codeowners(added: Path) -> None:
    listed = locations.load(added / "deploy" / "locations.toml")
    assert list(listed) == ["ingestion", "analytics", NEW]
    assert listed[NEW].team == TEAM
    assert listed[NEW].port not in {listed["ingestion"].port, listed["analytics"].port}
    workspace = yaml.safe_load((added / "workspace.yaml").read_text())["load_from"]
    assert workspace[-1]["grpc_server"] == {
        "location_name": NEW,
        "host": {"env": "DAGSTER_MARKETING_HOST"},
        "port": {"env": "DAGSTER_MARKETING_PORT"},
    }
    owners = (added / ".github" / "CODEOWNERS").read_text().splitlines()
    assert f"/{NEW}/ @lakehouse-data/{TEAM}" in owners
    assert tool(added, "check", check=False).returncode == 0


def _compose_config(root: Path) -> dict[str, Any]:
    env = generated_env(root / ".env", root=root)
    return compose_config(env, root=root)


def test_the_compose_file_with_three_locations_validates_and_wires_the_new_one(
    added: Path,
) -> None:
    config = _compose_config(added)
    service = config["services"][NEW]
    assert service["build"]["dockerfile"] == f"{NEW}/Dockerfile"
    assert service["image"].startswith(f"lakehouse/{NEW}:")
    assert service["environment"]["DAGSTER_CURRENT_IMAGE"] == service["image"]
    assert service["restart"] == "unless-stopped" and service["mem_limit"]
    context = json.loads(service["environment"]["DAGSTER_CONTAINER_CONTEXT"])
    assert context["docker"]["container_kwargs"]["mem_limit"] == "1g"
    for waiting in ("daemon", "webserver", "webserver-viewer"):
        assert config["services"][waiting]["depends_on"][NEW]["condition"] == "service_healthy"
    for instance_user in ("daemon", "webserver", "sentinel", "migrate"):
        env = config["services"][instance_user]["environment"]
        assert env["DAGSTER_MARKETING_HOST"] == NEW and env["DAGSTER_MARKETING_PORT"] == "4000"
    s3_config = config["services"]["s3-config"]["environment"]
    assert s3_config["S3_MARKETING_ACCESS_KEY_ID"]
    assert_each_location_passes_only_its_own_variables(
        config, ["ingestion", "analytics", NEW], root=added
    )


def test_make_env_adds_the_new_locations_secrets_to_an_existing_env(
    added: Path, tmp_path: Path
) -> None:
    tool = env_tool()
    before = generated_env(tmp_path / ".env")  # written before the location was added
    kept = before.read_text()
    env = {k: v for k, v in os.environ.items() if k != "ENV_FILE"}
    result = subprocess.run(
        ["make", "--no-print-directory", "env", f"ENV_FILE={before}"],
        cwd=added,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = before.read_text()
    assert text.startswith(kept)  # nothing already there changed
    added_names = [line.split("=", 1)[0] for line in text[len(kept) :].splitlines()]
    assert added_names == ["S3_MARKETING_ACCESS_KEY_ID", "S3_MARKETING_SECRET_ACCESS_KEY"]
    problems = tool.problems(before, template=added / ".env.example")
    assert [p for p in problems if "S3_" in p] == []


def test_the_new_locations_s3_key_reads_summaries_and_writes_only_its_own_prefix(
    added: Path,
) -> None:
    script = (
        "import json; from lakehouse import s3_access; "
        "print(json.dumps({n: [g.read, g.write] for n, g in s3_access.POLICY.items()}))"
    )
    env = {**os.environ, locations.LOCATIONS_FILE: str(added / "deploy" / "locations.toml")}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    policy = json.loads(result.stdout)
    assert policy[NEW] == [["lake/sales_summary/", f"lake/{NEW}/"], [f"lake/{NEW}/"]]
    assert (
        policy["analytics"]
        == json.loads(
            subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True
            ).stdout
        )["analytics"]
    )


def test_make_and_the_image_scripts_pick_the_new_location_up(added: Path) -> None:
    # `make location` compiles the lock after `add` (PyPI; the system tier runs it); a dry run
    # only needs the file to exist.
    (added / NEW / "requirements.lock").touch()
    dry = subprocess.run(
        ["make", "-n", "lint", "VENV=/nonexistent-venv"],
        cwd=added,
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"{NEW}/src" in dry.stdout and f"-e {NEW}" in dry.stdout, dry.stdout + dry.stderr
    tags = subprocess.run(
        ["bash", "deploy/images/tags.sh"], cwd=added, capture_output=True, text=True, check=True
    )
    assert "MARKETING_TAG=" in tags.stdout
    example = (added / ".env.example").read_text().splitlines()
    assert "S3_MARKETING_ACCESS_KEY_ID=" in example
    assert any(line.startswith("# MARKETING_RUN_MEMORY=1g") for line in example)


def test_the_new_location_is_lint_clean_and_its_tests_pass(added: Path) -> None:
    folder = added / NEW
    for args in (["check"], ["format", "--check"]):  # as `make lint` runs ruff, from the top
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ruff"), *args, "--no-cache", NEW],
            cwd=added,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    env = {**os.environ, "PYTHONPATH": str(folder / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_the_platforms_own_checks_cover_the_new_location(added: Path) -> None:
    """The scratch copy's contract, compose and Kubernetes tests, run there: they read the list,
    so with three locations they check marketing as they check the other two."""
    sources = [str(added / name / "src") for name in ("ingestion", "analytics", NEW)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            "tests/test_contract.py",
            "tests/compose/test_config.py",
            "tests/kubernetes/test_values.py",
            # The other two's public surface is unchanged by a third.
            "tests/test_snapshot.py::test_location_surface_matches_snapshot[ingestion]",
            "tests/test_snapshot.py::test_location_surface_matches_snapshot[analytics]",
        ],
        cwd=added,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sources)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"[{NEW}] PASSED" in result.stdout
    assert f"[{NEW}-analytics] PASSED" in result.stdout  # never imports another location


def test_removing_gives_the_checkout_back_and_touches_no_data(
    tmp_path: Path, original: Path
) -> None:
    root = scratch_copy(tmp_path / "checkout")
    tool(root, "add", NEW, "--team", TEAM)
    (root / "tests" / "snapshots" / f"{NEW}.json").write_text("{}\n")  # as the team would
    lake = root / "var" / "lake"
    for key in (f"{NEW}/store_revenue/2026-01-01.parquet", "sales_summary/2026-01-01.parquet"):
        (lake / key).parent.mkdir(parents=True, exist_ok=True)
        (lake / key).write_bytes(b"data")
    before_data = tree(root, "var")
    result = tool(root, "remove", NEW)
    assert f"lake/{NEW}/" in result.stdout  # says where its data stays
    assert tree(root, "var") == before_data
    after = {k: v for k, v in tree(root).items() if not k.startswith("var/")}
    assert after == tree(original)


@pytest.mark.parametrize("name", ["analytics", "proxy", "lakehouse", "Bad-Name", "x", "sales_ops"])
def test_adding_refuses_a_taken_or_malformed_name(tmp_path: Path, name: str) -> None:
    root = scratch_copy(tmp_path)
    result = tool(root, "add", name, "--team", TEAM, check=False)
    assert result.returncode == 2 and result.stderr.startswith("locations: ")
    assert tree(root) == tree(scratch_copy(tmp_path.parent / f"{tmp_path.name}-again"))


def test_removing_an_unknown_location_names_the_ones_there_are(tmp_path: Path) -> None:
    root = scratch_copy(tmp_path)
    result = tool(root, "remove", "sales", check=False)
    assert result.returncode == 2
    assert "no location 'sales' (there are ingestion, analytics)" in result.stderr


def test_the_s3_module_imports_where_the_list_is_not(tmp_path: Path) -> None:
    """A location's image has no deploy/locations.toml: the bucket tool there imports
    lakehouse.s3_access for a constant, and must not need the list for it (backup broke)."""
    env = {**os.environ, locations.LOCATIONS_FILE: str(tmp_path / "absent.toml")}
    script = "from lakehouse.s3_access import COMPUTE_LOGS; print(COMPUTE_LOGS)"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    policy = subprocess.run(
        [sys.executable, "-c", "from lakehouse.s3_access import POLICY"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "absent.toml: no list of code locations here" in policy.stderr
