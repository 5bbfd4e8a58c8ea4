"""The compose deployment's configuration, as Compose resolves it: no engine needed.

Pins, the bring-your-own-S3 profile, secrets that never default, each location's run variables,
and the S3 policy rendered for SeaweedFS and AWS.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_files import (
    ROOT,
    clean_environ,
    compose_binary,
    compose_config,
    env_tool,
    generated_env,
    write_env,
)

from lakehouse import locations, s3_access

LOCATIONS = tuple(locations.load(ROOT / "deploy" / "locations.toml"))
THIRD_PARTY = {"postgres": "POSTGRES_IMAGE", "s3": "S3_IMAGE", "proxy": "PROXY_IMAGE"}
# Set per container by compose for a code server, not secrets of the location.
CODE_SERVER_OWN = {
    "DAGSTER_CONTAINER_CONTEXT",
    "DAGSTER_CURRENT_IMAGE",
    "LAKEHOUSE_ALERT_WEBHOOK_URL",
}


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_env(tmp_path_factory.mktemp("env") / ".env")


@pytest.fixture(scope="module")
def config(env_file: Path) -> dict[str, Any]:
    return compose_config(env_file)


def _exact(image: str) -> bool:
    """name:tag where the tag starts with a full release (x.y or x.y.z), never `latest`."""
    tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
    return tag != "latest" and re.match(r"^\d+\.\d+(\.\d+)?([-_][a-z0-9_.-]+)?$", tag) is not None


def test_every_default_image_is_an_exact_release(config: dict[str, Any]) -> None:
    services = config["services"]
    for service in THIRD_PARTY:
        assert _exact(services[service]["image"]), (service, services[service]["image"])
    python = {s["build"]["args"]["PYTHON_IMAGE"] for s in services.values() if "build" in s}
    assert len(python) == 1 and _exact(python.pop())
    # The images built here carry tags from git (deploy/images/tags.sh); every other image a
    # service names is one of the pinned ones above.
    built = {s["image"] for s in services.values() if "build" in s}
    for name, service in services.items():
        assert service["image"] in built or name in THIRD_PARTY, (name, service["image"])


def test_dockerfiles_default_to_the_compose_pin(config: dict[str, Any]) -> None:
    pin = config["services"]["ingestion"]["build"]["args"]["PYTHON_IMAGE"]
    for dockerfile in ("ingestion/Dockerfile", "analytics/Dockerfile", "deploy/dagster/Dockerfile"):
        text = (ROOT / dockerfile).read_text()
        assert f"ARG PYTHON_IMAGE={pin}\n" in text, dockerfile
    pins = subprocess.run(
        [str(ROOT / "deploy/images/pins.sh")], capture_output=True, text=True, check=True
    ).stdout
    assert f"PYTHON_IMAGE={pin}" in pins.splitlines()
    assert f"S3_IMAGE={config['services']['s3']['image']}" in pins.splitlines()
    assert f"POSTGRES_IMAGE={config['services']['postgres']['image']}" in pins.splitlines()


def test_ports_are_published_on_loopback_only(config: dict[str, Any]) -> None:
    published = [
        (name, port)
        for name, service in config["services"].items()
        for port in service.get("ports", [])
    ]
    # The front door is the UI's only way in: neither webserver publishes a port.
    assert {name for name, _ in published} == {"postgres", "s3", "proxy"}
    assert all(port["host_ip"] == "127.0.0.1" for _, port in published), published
    # SeaweedFS's master, volume server and filer bind the container's loopback; only the S3
    # gateway listens on the network.
    command = config["services"]["s3"]["command"]
    assert {"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3.ip.bind=0.0.0.0"} <= set(command)
    assert "-master.telemetry=false" in command


def test_opening_the_front_door_is_one_line_and_opens_nothing_else(
    env_file: Path, tmp_path: Path
) -> None:
    opened = tmp_path / ".env"
    opened.write_text(env_file.read_text())
    write_env(opened, {"PROXY_BIND": "0.0.0.0"})
    services = compose_config(opened)["services"]
    hosts = {
        name: {port["host_ip"] for port in service.get("ports", [])}
        for name, service in services.items()
        if service.get("ports")
    }
    assert hosts == {"postgres": {"127.0.0.1"}, "s3": {"127.0.0.1"}, "proxy": {"0.0.0.0"}}
    # Alert links follow the front door's name and port.
    write_env(opened, {"PROXY_HOSTNAME": "dagster.example.internal", "PROXY_HTTPS_PORT": "443"})
    env = compose_config(opened)["services"]["ingestion"]["environment"]
    assert env["LAKEHOUSE_UI_BASE_URL"] == "https://dagster.example.internal:443"


def _env(config: dict[str, Any], service: str) -> dict[str, str]:
    return config["services"][service].get("environment") or {}


def assert_each_location_passes_only_its_own_variables(
    config: dict[str, Any], locations: list[str], root: Path = ROOT
) -> None:
    """Each location's runs get its own variables (named in its container context, prefixed with
    its name) and no other location's; the daemon holds them all, the webservers none."""
    instance = set(_env(config, "migrate"))  # exactly the instance's variables
    launcher = yaml.safe_load((root / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert set(launcher["env_vars"]) <= instance  # every run needs only the instance's
    contexts = {}
    for location in locations:
        env = _env(config, location)
        context = json.loads(env["DAGSTER_CONTAINER_CONTEXT"])
        names = set(context["docker"]["env_vars"])
        # Names only: a value here would be stored in every run record.
        assert all("=" not in name for name in names)
        assert names == set(env) - instance - CODE_SERVER_OWN, location
        assert all(name.startswith(location.upper() + "_") for name in names)
        assert f"{location.upper()}_S3_ACCESS_KEY_ID" in names, location
        contexts[location] = names
    daemon = set(_env(config, "daemon"))
    for location in locations:
        assert contexts[location] | instance <= daemon
        for other in locations:
            if other != location:
                assert not contexts[other] & set(_env(config, location))
        assert not contexts[location] & instance
        for webserver in ("webserver", "webserver-viewer"):  # no location's secret
            assert not contexts[location] & set(_env(config, webserver))


def test_each_location_passes_only_its_own_variables_to_its_runs(config: dict[str, Any]) -> None:
    assert_each_location_passes_only_its_own_variables(config, list(LOCATIONS))


def test_secrets_have_no_defaults(env_file: Path, tmp_path: Path) -> None:
    """Compose refuses to start when a secret is empty, as it is in .env.example."""
    template = tmp_path / "example.env"
    shutil.copy(ROOT / ".env.example", template)
    result = subprocess.run(
        [*compose_binary(), "--env-file", str(template), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_environ(),
        check=False,
    )
    assert result.returncode != 0
    assert "make env" in result.stderr
    secrets = env_tool().required_secrets()
    assert {"POSTGRES_PASSWORD", "DAGSTER_POSTGRES_PASSWORD", "S3_ADMIN_SECRET_ACCESS_KEY"} <= set(
        secrets
    )


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"POSTGRES_PASSWORD": ""}, "POSTGRES_PASSWORD is empty"),
        ({"DAGSTER_POSTGRES_PASSWORD": "change-me-dagster-db"}, "looks like a placeholder"),
        ({"S3_ANALYTICS_SECRET_ACCESS_KEY": "short"}, "shorter than"),
        ({"SOURCE_DB_READER_PASSWORD": "p@ss/word#with$symbols"}, "characters outside"),
        ({"SEAWEEDFS_JWT_SIGNING_KEY": ""}, "SEAWEEDFS_JWT_SIGNING_KEY is empty"),
        ({"DOCKER_GID": "docker"}, "not a group id"),
    ],
)
def test_env_check_refuses_placeholders_and_weak_secrets(
    tmp_path: Path, changes: dict[str, str], complaint: str
) -> None:
    env = generated_env(tmp_path / ".env", **changes)
    found = env_tool().problems(env)
    assert any(complaint in problem for problem in found), found


def test_env_check_refuses_a_reused_secret_and_accepts_a_generated_env(tmp_path: Path) -> None:
    tool = env_tool()
    env = generated_env(tmp_path / ".env", PROXY_USERS_FILE=str(tmp_path / "users.caddy"))
    assert [p for p in tool.problems(env) if "make user" in p]  # nobody could log in yet
    hashed = "$2a$14$" + "a" * 53
    (tmp_path / "users.caddy").write_text(f"basic_auth {{\n\talice {hashed} # editor\n}}\n")
    assert tool.problems(env) == []
    values = tool.parse(env)
    write_env(env, {"DAGSTER_POSTGRES_PASSWORD": values["POSTGRES_PASSWORD"]})
    assert any("reuses the value of" in p for p in tool.problems(env))
    # The example itself is refused, whole.
    assert len(tool.problems(ROOT / ".env.example")) >= len(tool.required_secrets()) - 1
    with pytest.raises(SystemExit):
        tool.generate(env)  # never overwrites


def test_make_up_refuses_placeholders_before_touching_docker(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI: `make up` cannot run here")
    env = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", env)
    write_env(env, {"POSTGRES_PASSWORD": "change-me", "COMPOSE_PROJECT_NAME": "lakehouse-refused"})
    result = subprocess.run(
        ["make", "--no-print-directory", "up", f"ENV_FILE={env}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # A Docker config of its own: installing the compose plugin must not be reached.
        env={**clean_environ(), "DOCKER_CONFIG": str(tmp_path / "docker")},
        check=False,
        timeout=600,
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD looks like a placeholder" in result.stderr
    assert not (tmp_path / "docker").exists()
    assert "docker compose --env-file" not in result.stdout  # it stopped before compose up


def test_own_s3_profile_runs_no_s3_server_and_points_everything_at_the_endpoint(
    env_file: Path, tmp_path: Path
) -> None:
    """Bring your own bucket: no bundled server, every S3 client at the configured endpoint."""
    own = tmp_path / ".env"
    shutil.copy(env_file, own)
    endpoint = "https://s3.eu-west-1.amazonaws.com"
    write_env(
        own,
        {
            "COMPOSE_PROFILES": "",
            "S3_ENDPOINT_URL": endpoint,
            "S3_BUCKET": "acme-sales-lake",
            "AWS_REGION": "eu-west-1",
            "SEAWEEDFS_JWT_SIGNING_KEY": "",
        },
    )
    # The SeaweedFS key is not needed then (nobody has been given a login in this test).
    assert [p for p in env_tool().problems(own) if "make user" not in p] == []
    config = compose_config(own)
    services = config["services"]
    assert "s3" not in services and "s3-config" not in services
    assert services["init"]["depends_on"]["s3"]["required"] is False
    for name in ("init", "migrate", "ingestion", "analytics", "daemon", "webserver"):
        env = _env(config, name)
        assert env["LAKEHOUSE_S3_ENDPOINT_URL"] == endpoint, name
        assert env["LAKEHOUSE_S3_BUCKET"] == "acme-sales-lake", name
        assert env["AWS_REGION"] == "eu-west-1", name
    assert "s3-data" not in {
        v.get("source") for s in services.values() for v in s.get("volumes", [])
    }
    # With the profile, the server is there and pinned.
    bundled = compose_config(env_file)["services"]
    assert bundled["s3"]["image"].startswith("chrislusf/seaweedfs:")


def test_compute_log_prefix_is_the_one_the_policy_grants() -> None:
    instance = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    prefix = instance["compute_logs"]["config"]["prefix"]
    assert f"{prefix}/" == s3_access.COMPUTE_LOGS


def test_policy_renders_the_same_grants_for_seaweedfs_and_aws() -> None:
    keys = {i: s3_access.Credentials(f"{i}-key", f"{i}-secret") for i in s3_access.POLICY}
    config = s3_access.seaweedfs_config("b", keys)
    actions = {i["name"]: set(i["actions"]) for i in config["identities"]}
    assert actions["analytics"] == {
        "List:b",
        "Read:b/lake/sales_data/*",
        "Read:b/lake/sales_summary/*",
        "Write:b/lake/sales_summary/*",
        "Read:b/lake/sales_monthly_rollup/*",
        "Write:b/lake/sales_monthly_rollup/*",
    }
    landing_writers = {
        n for n, a in actions.items() if any(x.startswith("Write:b/landing") for x in a)
    }
    assert landing_writers == {"stores"}
    assert actions["stores"] == {"Write:b/landing/*"}  # no list, no read: only uploads
    policy = s3_access.aws_iam_policy("b", "ingestion")
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["Write"]["Resource"] == ["arn:aws:s3:::b/lake/sales_data/*"]
    assert "arn:aws:s3:::b/landing/*" in statements["Read"]["Resource"]
    analytics = {s["Sid"]: s for s in s3_access.aws_iam_policy("b", "analytics")["Statement"]}
    assert analytics["Write"]["Resource"] == [
        "arn:aws:s3:::b/lake/sales_summary/*",
        "arn:aws:s3:::b/lake/sales_monthly_rollup/*",
    ]


def test_policy_cli_prints_the_iam_policy_the_readme_shows() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.s3_access", "aws-policy", "sales-lake", "ingestion"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == s3_access.aws_iam_policy("sales-lake", "ingestion")
    readme = (ROOT / "README.md").read_text()
    shown = readme[readme.index("```json", readme.index("Using your own S3")) + 7 :]
    assert json.loads(shown[: shown.index("```")]) == json.loads(result.stdout)


def test_a_generated_secret_never_spells_a_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    """A random draw can spell "xxx" (about one value in 700); `check` would refuse it, so the
    generator draws again. Here the first draw is all x."""
    tool = env_tool()
    draws = iter(["x"] * 40)
    real_choice = tool.secrets.choice
    monkeypatch.setattr(tool.secrets, "choice", lambda seq: next(draws, None) or real_choice(seq))
    value = tool._random_value("POSTGRES_PASSWORD")  # noqa: SLF001
    assert "xxx" not in value.lower() and len(value) == 40
