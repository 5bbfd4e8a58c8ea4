"""The front door of the compose deployment: HTTPS, a login for everyone, viewers who can look at
everything and change nothing, and the path-prefix variant, in Debian's Chromium and over HTTP.

Against the tier's deployment (conftest.py), whose two users were added with `make user` (one
editor, one viewer, random passwords). Certificates are verified against the proxy's own CA
(fetched from its volume) wherever Python makes the request; the browser is told to accept that
CA's certificate instead (ignore_https_errors), as a teammate who trusted the root would.
"""

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from compose_stack import ComposeStack, basic_auth
from docker_engine import docker
from native_stack import Stack, wait_until

pytestmark = pytest.mark.docker

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "front-door"
# A day nothing else lands: the editor's UI launch is the only run for it.
# (Within the last 90 days, which the launch dialog shows.)
EDITOR_DAY = (datetime.now(UTC).date() - timedelta(days=75)).isoformat()
PREFIX = "/dagster"

LAUNCH = """mutation L($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on UnauthorizedError { message } ... on PythonError { message } } }"""
PERMISSIONS = "{ permissions { permission value } }"
DELETE = """mutation D($run: String!) { deleteRun(runId: $run) { __typename } }"""
RUN = """query R($run: ID!) { runOrError(runId: $run) { __typename } }"""
RUNS_FOR_DAY = """query R($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results {
  runId status } } } }"""


def _request(
    url: str,
    *,
    auth: Stack | None = None,
    context: Any = None,
    redirects: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request (errors are answers too)."""
    headers = dict(auth.headers) if auth else {}
    request = urllib.request.Request(url, headers=headers)
    handlers: list[Any] = [urllib.request.HTTPSHandler(context=context)]
    if not redirects:

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        handlers.append(NoRedirect())
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_only_the_proxy_is_reachable_from_outside_and_neither_webserver_publishes(
    deployment: ComposeStack,
) -> None:
    rows = [
        json.loads(line)
        for line in deployment.compose("ps", "--format", "json").splitlines()
        if line.strip()
    ]
    published = {  # exposed-only ports appear with PublishedPort 0
        row["Service"]: {
            (p.get("URL"), p["PublishedPort"])
            for p in row.get("Publishers") or []
            if p.get("PublishedPort")
        }
        for row in rows
    }
    published = {service: ports for service, ports in published.items() if ports}
    assert published.get("webserver") is None and published.get("webserver-viewer") is None
    proxy = {port for _, port in published["proxy"]}
    assert proxy == {
        int(deployment.env["PROXY_HTTPS_PORT"]),
        int(deployment.env["PROXY_HTTP_PORT"]),
    }
    # Loopback by default: opening it is one line in .env (PROXY_BIND).
    assert {url for ports in published.values() for url, _ in ports} == {"127.0.0.1"}
    viewer = json.loads(docker("inspect", deployment.container_id("webserver-viewer")))[0]
    assert "--read-only" in viewer["Config"]["Cmd"]
    assert not any("docker.sock" in m["Source"] for m in viewer["Mounts"])  # no engine access
    ingestion_env = docker(
        "inspect",
        "-f",
        "{{range .Config.Env}}{{println .}}{{end}}",
        deployment.container_id("ingestion"),
    ).splitlines()
    # Alert links lead through the front door.
    assert f"LAKEHOUSE_UI_BASE_URL={deployment.front_door}" in ingestion_env


def test_https_is_verified_against_the_proxys_ca_and_http_redirects(
    deployment: ComposeStack,
) -> None:
    viewer = deployment.as_user("viewer")
    status, headers, _ = _request(
        f"{deployment.front_door}/runs", auth=viewer, context=deployment.tls_context()
    )
    assert status == 200
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["strict-transport-security"].startswith("max-age=")
    assert lowered["x-content-type-options"] == "nosniff"
    assert lowered["x-frame-options"] == "DENY"
    assert "server" not in lowered
    # An unverified certificate is refused by default: the CA above is what made it pass.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"{deployment.front_door}/runs", timeout=10)

    plain = f"http://127.0.0.1:{deployment.env['PROXY_HTTP_PORT']}/runs?x=1"
    status, headers, _ = _request(plain, redirects=False)
    assert status == 308
    location = {k.lower(): v for k, v in headers.items()}["location"]
    assert location == f"https://127.0.0.1:{deployment.env['PROXY_HTTPS_PORT']}/runs?x=1"


def test_no_login_or_a_wrong_password_is_refused(deployment: ComposeStack) -> None:
    context = deployment.tls_context()
    for path in ("/", "/graphql", "/server_info", "/runs"):
        status, headers, body = _request(f"{deployment.front_door}{path}", context=context)
        assert status == 401, path
        assert "Basic" in {k.lower(): v for k, v in headers.items()}["www-authenticate"]
        assert b"dagster" not in body.lower()
    name, _ = deployment.logins["editor"]
    wrong = Stack(deployment.front_door, Path("/dev/null"), headers=basic_auth(name, "nope"))
    status, _, _ = _request(f"{deployment.front_door}/graphql", auth=wrong, context=context)
    assert status == 401


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


class Session:
    """A browser context logged in as one role (or none), confined to the front door."""

    def __init__(self, browser: Any, deployment: ComposeStack, role: str | None, name: str):
        credentials = None
        if role is not None:
            user, password = deployment.logins[role]
            credentials = {"username": user, "password": password}
        self.context = browser.new_context(
            viewport={"width": 1600, "height": 1000},
            http_credentials=credentials,
            ignore_https_errors=True,
        )
        self.blocked: list[str] = []
        origin = deployment.front_door

        def only_the_front_door(route: Any) -> None:
            url = route.request.url
            if url.startswith((origin, "data:", "blob:")):
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        self.context.route("**/*", only_the_front_door)
        self.page = self.context.new_page()
        self.name = name
        self.origin = origin

    def open(self, path: str, ready_text: str) -> Any:
        response = self.page.goto(self.origin + path)
        self.page.get_by_text(ready_text).first.wait_for(timeout=90_000)
        return response

    def close(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}.png"))
        self.context.close()


def test_the_browser_without_a_login_gets_nothing(browser: Any, deployment: ComposeStack) -> None:
    session = Session(browser, deployment, None, "no-login")
    try:
        # Headless Chromium with no credentials to offer gives up on the 401 challenge.
        with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
            session.page.goto(deployment.front_door + "/runs")
    finally:
        session.close()


def test_a_viewer_sees_runs_assets_and_checks_but_no_enabled_launch_control(
    browser: Any, deployment: ComposeStack
) -> None:
    session = Session(browser, deployment, "viewer", "viewer")
    try:
        session.open("/runs", "Runs")
        session.open("/assets/sales_data?view=checks", "check_order_line_unique")
        body = session.page.inner_text("body")
        assert "check_keys_not_null" in body
        session.open("/assets/sales_data?view=partitions", "Materialize")
        button = session.page.get_by_role("button", name="Materialize…")
        wait_until("the Materialize control", lambda: button.count() > 0, deadline=60)
        assert all(button.nth(i).is_disabled() for i in range(button.count()))
        session.open("/overview/automation", "sales_landing_sensor")
        assert session.blocked == []
    finally:
        session.close()


def test_an_editor_launches_a_run_from_the_ui(browser: Any, deployment: ComposeStack) -> None:
    session = Session(browser, deployment, "editor", "editor")
    editor = deployment.stack
    try:
        session.open("/assets/sales_data?view=partitions", "Materialize")
        session.page.get_by_role("button", name="Materialize…").first.click()
        dialog = session.page.get_by_role("dialog").first
        dialog.get_by_text("Custom", exact=True).click()
        selection = dialog.locator("input").first
        selection.fill(f"[{EDITOR_DAY}...{EDITOR_DAY}]")
        selection.press("Enter")
        wait_until("one partition selected", lambda: "1 partition" in dialog.inner_text())
        dialog.get_by_role("button", name=re.compile(r"^Launch")).first.click()
        dialog.wait_for(state="hidden", timeout=60_000)

        def run() -> dict[str, Any] | None:
            runs = editor.gql(
                RUNS_FOR_DAY, f={"tags": [{"key": "dagster/partition", "value": EDITOR_DAY}]}
            )["runsOrError"]["results"]
            return runs[0] if runs else None

        launched = wait_until("the editor's run", run, deadline=120, every=2)
        finished = wait_until(
            "the editor's run to finish",
            lambda: (r := run()) and r["status"] in {"SUCCESS", "FAILURE"} and r,
            deadline=300,
            every=3,
        )
        assert finished["runId"] == launched["runId"]
        assert finished["status"] == "SUCCESS", finished
        assert session.blocked == []
    finally:
        session.close()


def test_a_viewer_can_read_but_every_mutation_is_refused(deployment: ComposeStack) -> None:
    viewer, editor = deployment.as_user("viewer"), deployment.as_user("editor")
    permissions = {p["permission"]: p["value"] for p in viewer.gql(PERMISSIONS)["permissions"]}
    assert permissions["launch_pipeline_execution"] is False
    assert permissions["terminate_pipeline_execution"] is False
    assert permissions["edit_sensor"] is False
    assert permissions["wipe_assets"] is False
    assert not any(permissions.values()), permissions
    editor_permissions = {
        p["permission"]: p["value"] for p in editor.gql(PERMISSIONS)["permissions"]
    }
    assert editor_permissions["launch_pipeline_execution"] is True

    # Reading works: the workspace, the runs.
    entries = viewer.gql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    )["workspaceOrError"]["locationEntries"]
    assert {e["name"]: e["loadStatus"] for e in entries} == {
        "ingestion": "LOADED",
        "analytics": "LOADED",
    }
    day = (datetime.now(UTC).date() - timedelta(days=201)).isoformat()
    params = {
        "selector": {
            "repositoryLocationName": "ingestion",
            "repositoryName": "__repository__",
            "jobName": "daily_ingest_job",
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
        "mode": "default",
    }
    answer = viewer.gql(LAUNCH, p=params)["launchRun"]
    assert answer["__typename"] == "UnauthorizedError", answer
    # The editor's run (launched from the UI above) cannot be deleted with a viewer's login.
    editor_runs = editor.gql(
        RUNS_FOR_DAY, f={"tags": [{"key": "dagster/partition", "value": EDITOR_DAY}]}
    )["runsOrError"]["results"]
    assert editor_runs, "the editor's run is missing"
    run_id = editor_runs[0]["runId"]
    deleted = viewer.gql(DELETE, run=run_id)["deleteRun"]
    assert deleted["__typename"] == "UnauthorizedError", deleted
    assert editor.gql(RUN, run=run_id)["runOrError"]["__typename"] == "Run"
    runs = viewer.gql(RUNS_FOR_DAY, f={"tags": [{"key": "dagster/partition", "value": day}]})[
        "runsOrError"
    ]["results"]
    assert runs == []  # nothing was launched


# Run on "another machine": a container on Docker's default bridge (its own network namespace,
# not the deployment's network) that reaches this host only through the bridge's gateway.
TEAMMATE = """
import base64, json, socket, ssl, sys, urllib.error, urllib.request
url, login, postgres_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = ssl.create_default_context(cafile="/ca.crt")
def status(headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, context=context, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
token = base64.b64encode(login.encode()).decode()
anonymous, _ = status({})
logged_in, info = status({"Authorization": "Basic " + token})
with socket.socket() as probe:
    probe.settimeout(5)
    postgres = probe.connect_ex((socket.gethostbyname("dagster.test"), postgres_port))
print(json.dumps({"anonymous": anonymous, "logged_in": logged_in, "info": info,
                  "postgres_connect": postgres}))
"""


def test_a_teammate_on_another_machine_logs_in_over_https(deployment: ComposeStack) -> None:
    """README's steps for teammates: PROXY_BIND=0.0.0.0 and PROXY_HOSTNAME in .env, `make up`
    (here: the proxy recreated), the proxy's root certificate trusted. Then from another network
    namespace: no login gets 401, a viewer's login gets the UI over verified HTTPS, and Postgres
    (still on 127.0.0.1) cannot be reached. The deployment is put back after."""

    deployment.reconfigure({"PROXY_BIND": "0.0.0.0", "PROXY_HOSTNAME": "dagster.test"}, "proxy")
    try:
        assert deployment.ca_file is not None
        name, password = deployment.logins["viewer"]
        port = deployment.env["PROXY_HTTPS_PORT"]
        output = docker(
            "run", "--rm", "--network", "bridge", "--add-host", "dagster.test:host-gateway",
            "-v", f"{deployment.ca_file}:/ca.crt:ro", "--entrypoint", "python",
            deployment.images["INGESTION_IMAGE"], "-c", TEAMMATE,
            f"https://dagster.test:{port}/server_info", f"{name}:{password}",
            deployment.env["POSTGRES_PORT"],
        )  # fmt: skip
        seen = json.loads(output.splitlines()[-1])
        assert seen["anonymous"] == 401, seen
        assert seen["logged_in"] == 200, seen
        assert "dagster_webserver_version" in seen["info"], seen
        assert seen["postgres_connect"] != 0, "Postgres was reachable from another machine"
    finally:
        deployment.reconfigure({"PROXY_BIND": "127.0.0.1", "PROXY_HOSTNAME": "localhost"}, "proxy")


def test_under_a_path_prefix_the_ui_loads_through_the_proxy(
    browser: Any, deployment: ComposeStack
) -> None:
    """DAGSTER_PATH_PREFIX=/dagster (a company proxy forwarding /dagster/ to this one): both
    webservers serve under it and the root leads there. The deployment is put back after."""
    services = ("webserver", "webserver-viewer", "proxy")
    deployment.reconfigure({"DAGSTER_PATH_PREFIX": PREFIX}, *services)
    try:
        viewer = deployment.as_user("viewer", url=deployment.front_door + PREFIX)
        status, _, _ = _request(
            f"{deployment.front_door}{PREFIX}/server_info",
            auth=viewer,
            context=deployment.tls_context(),
        )
        assert status == 200
        status, headers, _ = _request(
            f"{deployment.front_door}/",
            auth=viewer,
            context=deployment.tls_context(),
            redirects=False,
        )
        assert status == 302
        assert {k.lower(): v for k, v in headers.items()}["location"] == f"{PREFIX}/"
        session = Session(browser, deployment, "viewer", "path-prefix")
        try:
            session.page.goto(deployment.front_door + "/")
            session.page.wait_for_url(f"{deployment.front_door}{PREFIX}/**", timeout=60_000)
            session.open(f"{PREFIX}/assets", "sales_summary")
            assert session.blocked == []
        finally:
            session.close()
    finally:
        deployment.reconfigure({"DAGSTER_PATH_PREFIX": ""}, *services)
    assert (
        _request(
            f"{deployment.front_door}/server_info",
            auth=deployment.as_user("viewer"),
            context=deployment.tls_context(),
        )[0]
        == 200
    )
