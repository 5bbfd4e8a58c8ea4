"""The sentinel (deploy/dagster/lakehouse_platform/sentinel.py): who is told when the daemon, a code
location or the instance database is down.

Unit tests drive :class:`Sentinel` with observations and a clock of their own. The component test
runs one iteration at a time against a real instance on Postgres, a real code server process and a
real HTTP endpoint receiving the webhook; the clock of the decisions is given, the probes are real.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._daemon.types import DaemonHeartbeat
from lakehouse_platform.sentinel import (
    Alert,
    GrpcLocation,
    LocationProbe,
    Observation,
    Runner,
    Sentinel,
    Settings,
    Thresholds,
    Webhook,
    WorkspaceError,
    format_duration,
    liveness_problem,
    load_workspace,
    main,
    probe_location,
)
from psycopg import sql

from lakehouse.alerts import Alert as LakehouseAlert
from lakehouse_testing.servers import PostgresServer, WebhookReceiver, free_port

REPO = Path(__file__).resolve().parents[2]
UI = "http://dagster.example:3000"
T0 = 1_700_000_000.0
UP = LocationProbe("ingestion:4000")
REFUSED = LocationProbe("ingestion:4000", "gRPC UNAVAILABLE: failed to connect to all addresses")


def seen(
    heartbeat: float | None = None,
    ingestion: LocationProbe = UP,
    database_error: str | None = None,
) -> Observation:
    if database_error is not None:
        return Observation(None, {"ingestion": ingestion}, database_error)
    beats = {} if heartbeat is None else {"SENSOR": heartbeat, "SCHEDULER": heartbeat - 5}
    return Observation(beats, {"ingestion": ingestion})


def titles(alerts: list[Alert]) -> list[str]:
    return [a.title for a in alerts]


@pytest.fixture
def sentinel() -> Sentinel:
    return Sentinel(Thresholds(120, 45, 30), UI)


# --- Payload ------------------------------------------------------------------------------------


@pytest.mark.parametrize("link", [f"{UI}/locations", None])
def test_payload_is_the_locations_alert_payload(link: str | None) -> None:
    """The image has no `lakehouse`, so the sentinel carries a copy: it must not drift."""
    fields = {"component": "daemon", "error": "x" * 3000, "what_happens": "nothing ticks"}
    ours = Alert("Dagster daemon DOWN: no heartbeat for 2m", fields, link).slack_payload()
    theirs = LakehouseAlert("Dagster daemon DOWN: no heartbeat for 2m", fields, link)
    assert ours.keys() == theirs.slack_payload().keys()
    assert ours == theirs.slack_payload()
    assert Alert("t", fields, link).text() == LakehouseAlert("t", fields, link).text()


def test_durations_read_at_a_glance() -> None:
    assert [format_duration(s) for s in (0, 45, 200, 7500, 97200)] == [
        "0s",
        "45s",
        "3m 20s",
        "2h 5m",
        "1d 3h",
    ]


# --- The daemon ---------------------------------------------------------------------------------


def test_daemon_down_at_the_threshold_not_before_and_alerted_once(sentinel: Sentinel) -> None:
    beat = T0
    assert sentinel.observe(seen(beat), T0 + 10) == []
    assert sentinel.observe(seen(beat), T0 + 119) == []
    down = sentinel.observe(seen(beat), T0 + 120)
    assert titles(down) == ["Dagster daemon DOWN: no heartbeat for 2m 0s"]
    assert down[0].link == f"{UI}/deployment/daemons"
    assert down[0].fields["last_heartbeat"] == "2023-11-14 22:13:20 UTC"
    assert "SCHEDULER" in down[0].fields["heartbeats"]
    for later in (135, 600, 3600):
        assert sentinel.observe(seen(beat), T0 + later) == []
    assert sentinel.down == ["daemon"]


def test_daemon_recovery_says_how_long_it_was_down(sentinel: Sentinel) -> None:
    sentinel.observe(seen(T0), T0 + 150)
    assert sentinel.observe(seen(T0), T0 + 300) == []
    back = sentinel.observe(seen(T0 + 400), T0 + 410)
    assert titles(back) == ["Dagster daemon RECOVERED after 6m 50s"]
    assert back[0].fields["down_since"] == "2023-11-14 22:13:20 UTC"
    assert sentinel.down == []
    # A new outage is a new alert.
    assert titles(sentinel.observe(seen(T0 + 400), T0 + 520)) == [
        "Dagster daemon DOWN: no heartbeat for 2m 0s"
    ]


def test_no_heartbeat_ever_counts_from_the_first_look(sentinel: Sentinel) -> None:
    assert sentinel.observe(seen(None), T0) == []
    assert sentinel.observe(seen(None), T0 + 119) == []
    down = sentinel.observe(seen(None), T0 + 120)
    assert titles(down) == ["Dagster daemon DOWN: no heartbeat for 2m 0s"]
    assert down[0].fields["last_heartbeat"] == "none recorded"


def test_a_restarted_sentinel_alerts_again_at_once(sentinel: Sentinel) -> None:
    """State is in memory: the README says a restart may repeat an alert once."""
    assert titles(sentinel.observe(seen(T0), T0 + 900)) == [
        "Dagster daemon DOWN: no heartbeat for 15m 0s"
    ]
    again = Sentinel(Thresholds(120, 45, 30), UI)
    assert len(again.observe(seen(T0), T0 + 915)) == 1


# --- Code locations -----------------------------------------------------------------------------


def test_location_down_after_its_threshold_once_then_recovered(sentinel: Sentinel) -> None:
    beat = T0
    assert sentinel.observe(seen(beat, REFUSED), T0) == []
    assert sentinel.observe(seen(beat, REFUSED), T0 + 44) == []
    down = sentinel.observe(seen(beat, REFUSED), T0 + 45)
    assert titles(down) == [
        "Code location ingestion DOWN: its gRPC server has not answered for 45s"
    ]
    assert down[0].fields["error"] == REFUSED.error
    assert down[0].fields["address"] == "ingestion:4000"
    assert down[0].link == f"{UI}/locations"
    assert sentinel.observe(seen(beat + 60, REFUSED), T0 + 60) == []
    assert sentinel.observe(seen(beat + 90, REFUSED), T0 + 100) == []
    back = sentinel.observe(seen(beat + 130, UP), T0 + 130)
    assert titles(back) == ["Code location ingestion RECOVERED after 2m 10s"]
    assert sentinel.observe(seen(beat + 140, UP), T0 + 140) == []


def test_a_flapping_location_is_not_reported_until_it_stays_down(sentinel: Sentinel) -> None:
    """One answer resets the count: failing 30 s out of every 45 s is never 45 s in a row."""
    alerts: list[Alert] = []
    for step in range(0, 585, 15):  # ends on an answer, at +570 s
        probe = UP if step % 45 == 30 else REFUSED
        alerts += sentinel.observe(seen(T0 + step, probe), T0 + step)
    assert alerts == []
    # Once it stays down: one alert; each answer after that is a recovery, each new outage
    # needs the whole threshold again.
    t = T0 + 585
    alerts = [a for s in range(0, 60, 15) for a in sentinel.observe(seen(t + s, REFUSED), t + s)]
    assert titles(alerts) == [
        "Code location ingestion DOWN: its gRPC server has not answered for 45s"
    ]
    assert titles(sentinel.observe(seen(t + 60, UP), t + 60)) == [
        "Code location ingestion RECOVERED after 1m 0s"
    ]
    assert sentinel.observe(seen(t + 75, REFUSED), t + 75) == []
    assert sentinel.observe(seen(t + 90, UP), t + 90) == []


def test_a_location_gone_from_the_workspace_is_forgotten(sentinel: Sentinel) -> None:
    sentinel.observe(seen(T0, REFUSED), T0)
    sentinel.observe(seen(T0 + 50, REFUSED), T0 + 50)
    assert sentinel.down == ["location:ingestion"]
    assert sentinel.observe(Observation({"SENSOR": T0 + 60}, {}), T0 + 60) == []
    assert sentinel.down == []


# --- The database -------------------------------------------------------------------------------


def test_database_unreachable_is_its_own_outage(sentinel: Sentinel) -> None:
    error = 'OperationalError: connection to server at "postgres" (10.0.0.2), port 5432 failed'
    assert sentinel.observe(seen(T0), T0) == []
    # The daemon cannot be judged meanwhile: its heartbeats are unreadable (and unwritable).
    assert sentinel.observe(seen(database_error=error), T0 + 10) == []
    assert sentinel.observe(seen(database_error=error), T0 + 39) == []
    down = sentinel.observe(seen(database_error=error), T0 + 40)
    assert titles(down) == ["Dagster instance database DOWN: unreachable for 30s"]
    assert down[0].fields["error"] == error
    assert down[0].link == UI
    assert sentinel.observe(seen(database_error=error), T0 + 400) == []
    # Back after 10 minutes: the database recovers and the daemon, whose last heartbeat is 10
    # minutes old, gets the whole threshold from now to write a new one.
    back = sentinel.observe(seen(T0), T0 + 610)
    assert titles(back) == ["Dagster instance database RECOVERED after 10m 0s"]
    assert sentinel.observe(seen(T0), T0 + 729) == []
    assert titles(sentinel.observe(seen(T0), T0 + 730)) == [
        "Dagster daemon DOWN: no heartbeat for 2m 0s"
    ]


def test_a_database_blip_shorter_than_the_threshold_is_not_reported(sentinel: Sentinel) -> None:
    assert sentinel.observe(seen(database_error="OperationalError: gone"), T0) == []
    assert sentinel.observe(seen(database_error="OperationalError: gone"), T0 + 29) == []
    assert sentinel.observe(seen(T0 + 30), T0 + 30) == []
    assert sentinel.down == []


def test_a_daemon_down_before_the_database_outage_stays_down_after(sentinel: Sentinel) -> None:
    sentinel.observe(seen(T0), T0 + 200)
    sentinel.observe(seen(database_error="OperationalError: gone"), T0 + 210)
    sentinel.observe(seen(database_error="OperationalError: gone"), T0 + 250)
    back = sentinel.observe(seen(T0), T0 + 260)
    assert titles(back) == ["Dagster instance database RECOVERED after 50s"]
    assert sentinel.down == ["daemon"]
    assert titles(sentinel.observe(seen(T0 + 270), T0 + 275)) == [
        "Dagster daemon RECOVERED after 4m 35s"
    ]


# --- Configuration, workspace, liveness ---------------------------------------------------------


def test_reads_the_repository_workspace_file() -> None:
    env = {
        "DAGSTER_INGESTION_HOST": "ingestion",
        "DAGSTER_INGESTION_PORT": "4000",
        "DAGSTER_ANALYTICS_HOST": "analytics",
        "DAGSTER_ANALYTICS_PORT": "4001",
    }
    assert load_workspace(REPO / "workspace.yaml", env) == [
        GrpcLocation("ingestion", "ingestion", 4000),
        GrpcLocation("analytics", "analytics", 4001),
    ]
    with pytest.raises(WorkspaceError, match=r"load_from\[1\].*DAGSTER_ANALYTICS_PORT"):
        load_workspace(
            REPO / "workspace.yaml", {k: v for k, v in env.items() if "ANALYTICS_PORT" not in k}
        )


def test_workspace_entries_without_a_server_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "workspace.yaml"
    path.write_text(
        "load_from:\n"
        "  - python_module: {module_name: ingestion.definitions}\n"
        "  - grpc_server: {host: 127.0.0.1, port: 4000}\n"
        "  - grpc_server: {socket: /run/a.sock, location_name: a}\n"
    )
    assert load_workspace(path, {}) == [
        GrpcLocation("127.0.0.1:4000", "127.0.0.1", 4000),
        GrpcLocation("a", "localhost", None, "/run/a.sock"),
    ]
    path.write_text("load_from:\n  - grpc_server: {host: x, port: forty}\n")
    with pytest.raises(WorkspaceError, match=r"port is 'forty', expected a number"):
        load_workspace(path, {})


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SENTINEL_INTERVAL_SECONDS": "5",
            "SENTINEL_DAEMON_STALE_SECONDS": "90",
            "LAKEHOUSE_ALERT_WEBHOOK_URL": " ",
            "LAKEHOUSE_UI_BASE_URL": "https://dagster.example/",
        }
    )
    assert settings.interval_seconds == 5
    assert settings.thresholds == Thresholds(90, 45, 30)
    assert settings.webhook_url is None
    assert Settings.from_env({}) == Settings()
    with pytest.raises(ValueError, match=r"\$SENTINEL_LOCATION_DOWN_SECONDS is 'soon'"):
        Settings.from_env({"SENTINEL_LOCATION_DOWN_SECONDS": "soon"})


def test_liveness_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alive = tmp_path / "alive"
    monkeypatch.setenv("SENTINEL_LIVENESS_FILE", str(alive))
    monkeypatch.setenv("SENTINEL_INTERVAL_SECONDS", "15")
    assert "does not exist" in (liveness_problem(alive, 45) or "")
    assert main(["--check"]) == 1
    alive.write_text("now\n")
    assert liveness_problem(alive, 45) is None
    assert main(["--check"]) == 0
    stale = time.time() - 46
    os.utime(alive, (stale, stale))
    assert "is 46s old (limit 45s)" in (liveness_problem(alive, 45) or "")
    assert main(["--check"]) == 1


# --- Against real services ----------------------------------------------------------------------

DEFINITIONS = """
import dagster as dg


@dg.asset
def tiny() -> int:
    return 1


defs = dg.Definitions(assets=[tiny])
"""


class CodeServer:
    """`dagster api grpc` on a tiny definitions file: the process a location's container runs."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = free_port()
        self.location = GrpcLocation("ingestion", "127.0.0.1", self.port)
        work.mkdir(parents=True, exist_ok=True)
        (work / "defs.py").write_text(DEFINITIONS)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.work / "code-server.log").open("ab")
        self._proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "dagster", "api", "grpc", "--host", "127.0.0.1"),
                *("--port", str(self.port), "--python-file", str(self.work / "defs.py")),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DAGSTER_HOME": str(self.work)},
        )
        deadline = time.monotonic() + 120
        while probe_location(self.location, 2).error is not None:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"code server did not serve: {self.log()}")
            time.sleep(0.5)

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=30)
            self._proc = None

    def log(self) -> str:
        return (self.work / "code-server.log").read_text()


@pytest.fixture
def code_server(tmp_path: Path) -> Iterator[CodeServer]:
    server = CodeServer(tmp_path / "code")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def _allow_connections(admin_url: str, database: str, allow: bool) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(database), sql.SQL("true" if allow else "false")
            )
        )
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )


@pytest.mark.component
def test_one_iteration_at_a_time_against_real_services(
    postgres: PostgresServer,
    code_server: CodeServer,
    receiver: WebhookReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = "dagster_sentinel"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: '{postgres.create_database(database)}'\n"
    )
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - grpc_server:\n      location_name: ingestion\n"
        "      host: {env: DAGSTER_INGESTION_HOST}\n      port: {env: DAGSTER_INGESTION_PORT}\n"
    )
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_INGESTION_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_INGESTION_PORT", str(code_server.port))
    settings = Settings(
        workspace=workspace,
        liveness_file=tmp_path / "alive",
        webhook_url=receiver.url,
        ui_base_url=UI,
    )
    runner = Runner(settings)
    writer = dg.DagsterInstance.get()

    def beat(at: float) -> None:
        writer.add_daemon_heartbeat(DaemonHeartbeat(at, "SENSOR", "daemon-1", None))

    def step(now: float) -> list[str]:
        """One iteration; the titles of what reached the webhook."""
        before = len(receiver.posts)
        runner.run_once(now)
        return [post["text"].splitlines()[0] for post in receiver.posts[before:]]

    try:
        t = time.time()
        beat(t)
        assert step(t) == []
        assert liveness_problem(settings.liveness_file, 45) is None

        # The daemon stops beating.
        assert step(t + 100) == []
        assert step(t + 121) == ["Dagster daemon DOWN: no heartbeat for 2m 1s"]
        post = receiver.posts[-1]
        assert post.keys() == LakehouseAlert("x").slack_payload().keys()
        assert post["link"] == f"{UI}/deployment/daemons"
        assert post["fields"]["heartbeats"].startswith("SENSOR ")
        assert step(t + 150) == []
        beat(t + 160)
        assert step(t + 170) == ["Dagster daemon RECOVERED after 2m 50s"]

        # The code server dies.
        code_server.kill()
        beat(t + 200)
        assert step(t + 200) == []
        beat(t + 244)
        assert step(t + 244) == []
        beat(t + 245)
        assert step(t + 245) == [
            "Code location ingestion DOWN: its gRPC server has not answered for 45s"
        ]
        post = receiver.posts[-1]
        assert post["fields"]["address"] == f"127.0.0.1:{code_server.port}"
        assert "UNAVAILABLE" in post["fields"]["error"]
        assert post["link"] == f"{UI}/locations"
        beat(t + 260)
        assert step(t + 260) == []
        code_server.start()
        beat(t + 300)
        assert step(t + 300) == ["Code location ingestion RECOVERED after 1m 40s"]

        # The instance database refuses connections.
        _allow_connections(postgres.url(), database, allow=False)
        try:
            assert step(t + 310) == []
            assert step(t + 340) == ["Dagster instance database DOWN: unreachable for 30s"]
            assert database in receiver.posts[-1]["fields"]["error"]
            assert step(t + 400) == []
        finally:
            _allow_connections(postgres.url(), database, allow=True)
        # Back: the last heartbeat is 5 minutes old, but the daemon could not write one either.
        assert step(t + 600) == ["Dagster instance database RECOVERED after 4m 50s"]
        assert step(t + 610) == []
        assert runner.sentinel.down == []
    finally:
        runner.close()
        writer.dispose()


@pytest.mark.component
def test_alerts_wait_for_a_webhook_that_is_down(receiver: WebhookReceiver) -> None:
    webhook = Webhook(f"http://127.0.0.1:{free_port()}/hooks/alerts", timeout_seconds=5)
    first, second = Alert("first"), Alert("second", {"component": "daemon"})
    webhook.send([first])
    webhook.send([second])
    assert list(webhook.pending) == [first, second]
    webhook.url = receiver.url
    webhook.send([])
    assert [p["text"] for p in receiver.posts] == ["first", "second\ncomponent: daemon"]
    assert not webhook.pending
