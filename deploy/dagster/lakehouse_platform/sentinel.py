"""The sentinel: tells an operator when the daemon, a code location or the instance database is
down.

The locations' own alerts cannot: ``run_failure_alert_sensor`` lives in ingestion's code server and
is ticked by the daemon, so the death of either silences it. The sentinel is a process of its own
(``python -m lakehouse_platform.sentinel``, its own container) that needs only the instance
database, the workspace file and the network. Every ``SENTINEL_INTERVAL_SECONDS`` it:

- reads the daemon's heartbeats from the instance database; a failed read is the database being
  down, an outage of its own;
- asks each code location's gRPC server listed in the workspace file whether it is serving (the
  standard gRPC health service, the one the locations' image healthcheck
  ``dagster api grpc-health-check`` asks too);
- posts one alert when a component goes down and one when it recovers, with how long it was down,
  to the Slack-compatible webhook in ``LAKEHOUSE_ALERT_WEBHOOK_URL`` (unset: logged only), in the
  payload shape of ``lakehouse.alerts``; an alert the webhook refused is retried next iteration;
- touches a liveness file, which ``python -m lakehouse_platform.sentinel --check`` reads for the
  container's healthcheck.

What is down is decided by :class:`Sentinel`, a pure function of its state, one
:class:`Observation` and the clock. State lives in memory: a restarted sentinel alerts once more
about an outage still under way, and says nothing about an outage that ended while it was away.

The image has dagster and its dependencies only (no ``lakehouse``): this module imports dagster,
grpcio, grpcio-health-checking and PyYAML (all pinned in deploy/dagster/requirements.lock as
dagster's own dependencies) and the standard library.
"""

import argparse
import json
import logging
import os
import signal
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

# Dagster's own dependencies, untyped: no stubs in the image or the dev lock.
import grpc  # type: ignore[import-untyped]
import yaml  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

logger = logging.getLogger("lakehouse_platform.sentinel")

# The service name Dagster's gRPC server marks SERVING once its definitions are loaded
# (dagster/_grpc/server.py); `dagster api grpc-health-check` asks for the same one.
DAGSTER_GRPC_SERVICE = "DagsterApi"
MAX_ERROR_CHARS = 600
# Undelivered alerts kept for the next attempt; beyond this the oldest are dropped (and logged).
MAX_PENDING_ALERTS = 100
# An iteration that raises is logged and retried; this many in a row end the process, so the
# container's restart policy (and `docker compose ps`) shows it.
MAX_FAILED_ITERATIONS = 5


# --- Alerts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """One thing an operator must look at. The same fields and payload as ``lakehouse.alerts``,
    which the image does not have; tests/platform/test_sentinel.py holds the two payloads equal."""

    title: str
    fields: dict[str, str] = field(default_factory=dict)
    link: str | None = None

    def text(self) -> str:
        lines = [self.title, *(f"{k}: {v}" for k, v in self.fields.items())]
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)

    def slack_payload(self) -> dict[str, object]:
        """Slack's incoming-webhook format: `text` for notifications, blocks for the message."""
        details = "\n".join(f"*{k}*: {_clip(v)}" for k, v in self.fields.items())
        blocks: list[dict[str, object]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": details or " "}},
        ]
        if self.link:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<{self.link}|Open>"}}
            )
        return {"text": self.text(), "blocks": blocks, "fields": self.fields, "link": self.link}


def _clip(value: str, limit: int = 2500) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def format_duration(seconds: float) -> str:
    """``45s``, ``3m 20s``, ``2h 5m``, ``1d 3h``: what an operator reads at a glance."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- What one iteration sees, and what it decides -----------------------------------------------


@dataclass(frozen=True)
class LocationProbe:
    """A code location's gRPC server as one probe found it: ``error`` is None when it serves."""

    address: str
    error: str | None = None


@dataclass(frozen=True)
class Observation:
    """One iteration's view. ``heartbeats`` (daemon type -> timestamp of its newest heartbeat) is
    None exactly when the instance database could not be read, and ``database_error`` says why."""

    heartbeats: Mapping[str, float] | None
    locations: Mapping[str, LocationProbe]
    database_error: str | None = None


@dataclass(frozen=True)
class Thresholds:
    daemon_stale_seconds: float = 120
    location_down_seconds: float = 45
    database_down_seconds: float = 30


@dataclass
class _Outage:
    """A component's current bad streak: since when, and whether its DOWN alert went out."""

    since: float
    alerted: bool = False


DAEMON_EFFECT = (
    "no schedule or sensor ticks (the run-failure and freshness alerts among them), queued runs "
    "are not launched and running ones are not monitored"
)
LOCATION_EFFECT = (
    "its schedules and sensors do not tick and its jobs and assets cannot be launched; runs "
    "already started go on in their own containers"
)
DATABASE_EFFECT = (
    "no run can start or record its progress, the UI and the daemon fail; the daemon's "
    "heartbeats cannot be read, so no daemon alert comes until the database is back"
)


class Sentinel:
    """Decides, from its state, one :class:`Observation` and the time, which alerts to send (pure:
    no I/O, the clock is a parameter).

    - The daemon is down when its newest heartbeat (of any daemon type) is at least
      ``daemon_stale_seconds`` old. With no heartbeat at all, the clock starts at the first
      observation; after a database outage it restarts when the database is back, because the
      daemon could not write heartbeats meanwhile either.
    - A code location is down when its probes have failed for ``location_down_seconds`` in a row;
      one answer resets the count, so a location that flaps faster than that is not reported.
    - The database is down when it has been unreadable for ``database_down_seconds`` in a row.

    One DOWN alert per outage, one RECOVERED alert with its duration when it ends.
    """

    def __init__(self, thresholds: Thresholds, ui_base_url: str) -> None:
        self.thresholds = thresholds
        self.ui_base_url = ui_base_url.rstrip("/")
        self._started: float | None = None
        self._database_back: float | None = None
        self._database: _Outage | None = None
        self._daemon: _Outage | None = None
        self._locations: dict[str, _Outage] = {}

    @property
    def down(self) -> list[str]:
        """The components alerted as down and not recovered: "database", "daemon", "location:X"."""
        named = [
            ("database", self._database),
            ("daemon", self._daemon),
            *((f"location:{n}", o) for n, o in sorted(self._locations.items())),
        ]
        return [name for name, outage in named if outage is not None and outage.alerted]

    def observe(self, seen: Observation, now: float) -> list[Alert]:
        if self._started is None:
            self._started = now
        alerts = self._observe_database(seen, now)
        if seen.heartbeats is not None:
            alerts += self._observe_daemon(seen.heartbeats, now)
        for name in sorted(seen.locations):
            alerts += self._observe_location(name, seen.locations[name], now)
        for gone in set(self._locations) - set(seen.locations):
            logger.info("Code location %s left the workspace: no longer watched", gone)
            del self._locations[gone]
        return alerts

    def _observe_database(self, seen: Observation, now: float) -> list[Alert]:
        if seen.heartbeats is None:
            error = seen.database_error or "unknown error"
            if self._database is None:
                logger.info("Instance database unreadable: %s", error)
                self._database = _Outage(since=now)
            outage = self._database
            if not outage.alerted and now - outage.since >= self.thresholds.database_down_seconds:
                outage.alerted = True
                return [
                    Alert(
                        title="Dagster instance database DOWN: unreachable for "
                        + format_duration(now - outage.since),
                        fields={
                            "component": "instance database",
                            "error": error[:MAX_ERROR_CHARS],
                            "what_happens": DATABASE_EFFECT,
                        },
                        link=self.ui_base_url,
                    )
                ]
            return []
        if self._database is None:
            return []
        outage, self._database = self._database, None
        self._database_back = now
        if not outage.alerted:
            return []
        return [
            Alert(
                title="Dagster instance database RECOVERED after "
                + format_duration(now - outage.since),
                fields={"component": "instance database", "down_since": _utc(outage.since)},
                link=self.ui_base_url,
            )
        ]

    def _observe_daemon(self, heartbeats: Mapping[str, float], now: float) -> list[Alert]:
        newest = max(heartbeats.values(), default=None)
        link = f"{self.ui_base_url}/deployment/daemons"
        if self._daemon is not None and self._daemon.alerted:
            # Down: only a heartbeat fresh by its own timestamp ends it.
            if newest is None or now - newest >= self.thresholds.daemon_stale_seconds:
                return []
            outage, self._daemon = self._daemon, None
            return [
                Alert(
                    title="Dagster daemon RECOVERED after " + format_duration(now - outage.since),
                    fields={
                        "component": "daemon",
                        "down_since": _utc(outage.since),
                        "last_heartbeat": _utc(newest),
                    },
                    link=link,
                )
            ]
        # Not down yet: the staleness clock starts no earlier than the first observation (when no
        # heartbeat exists) or the database's return (no one could write heartbeats before).
        start = max(
            t
            for t in (newest if newest is not None else self._started, self._database_back)
            if t is not None
        )
        if now - start < self.thresholds.daemon_stale_seconds:
            self._daemon = None
            return []
        self._daemon = _Outage(since=start, alerted=True)
        beats = ", ".join(f"{t} {_utc(ts)}" for t, ts in sorted(heartbeats.items()))
        return [
            Alert(
                title="Dagster daemon DOWN: no heartbeat for " + format_duration(now - start),
                fields={
                    "component": "daemon",
                    "last_heartbeat": _utc(newest) if newest is not None else "none recorded",
                    "threshold": format_duration(self.thresholds.daemon_stale_seconds),
                    "heartbeats": beats or "none",
                    "what_happens": DAEMON_EFFECT,
                },
                link=link,
            )
        ]

    def _observe_location(self, name: str, probe: LocationProbe, now: float) -> list[Alert]:
        outage = self._locations.get(name)
        link = f"{self.ui_base_url}/locations"
        if probe.error is None:
            if outage is None:
                return []
            del self._locations[name]
            if not outage.alerted:
                logger.info("Code location %s answers again before its threshold", name)
                return []
            return [
                Alert(
                    title=f"Code location {name} RECOVERED after "
                    + format_duration(now - outage.since),
                    fields={
                        "component": f"code location {name}",
                        "address": probe.address,
                        "down_since": _utc(outage.since),
                    },
                    link=link,
                )
            ]
        if outage is None:
            logger.info("Code location %s at %s fails: %s", name, probe.address, probe.error)
            outage = self._locations[name] = _Outage(since=now)
        if outage.alerted or now - outage.since < self.thresholds.location_down_seconds:
            return []
        outage.alerted = True
        return [
            Alert(
                title=f"Code location {name} DOWN: its gRPC server has not answered for "
                + format_duration(now - outage.since),
                fields={
                    "component": f"code location {name}",
                    "address": probe.address,
                    "error": probe.error[:MAX_ERROR_CHARS],
                    "what_happens": LOCATION_EFFECT,
                },
                link=link,
            )
        ]


# --- The workspace's code servers ---------------------------------------------------------------


class WorkspaceError(ValueError):
    pass


@dataclass(frozen=True)
class GrpcLocation:
    """A ``grpc_server`` entry of the workspace file, its ``{env: NAME}`` values resolved."""

    name: str
    host: str
    port: int | None = None
    socket: str | None = None
    ssl: bool = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else f"unix:{self.socket}"


def load_workspace(path: Path, env: Mapping[str, str] | None = None) -> list[GrpcLocation]:
    """The gRPC code servers of a workspace file. Other entries (``python_module``...) run inside
    the webserver's and daemon's own processes: there is no server of theirs to ask, so they are
    skipped, with a log line."""
    env = os.environ if env is None else env
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise WorkspaceError(f"Cannot read the workspace file {path}: {error}") from error
    entries = document.get("load_from") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise WorkspaceError(f"{path}: expected a `load_from` list of code locations")
    locations = []
    for index, entry in enumerate(entries):
        where = f"{path}: load_from[{index}]"
        if not isinstance(entry, dict) or "grpc_server" not in entry:
            kinds = ", ".join(entry) if isinstance(entry, dict) else repr(entry)
            logger.info("%s (%s) has no gRPC server to watch", where, kinds)
            continue
        config = entry["grpc_server"] or {}
        values = {
            key: _resolve(config.get(key), env, f"{where}.grpc_server.{key}") for key in config
        }
        port, socket = values.get("port"), values.get("socket")
        if (port is None) == (socket is None):
            raise WorkspaceError(f"{where}.grpc_server needs exactly one of `port` and `socket`")
        try:
            port = int(port) if port is not None else None
        except ValueError:
            raise WorkspaceError(
                f"{where}.grpc_server.port is {port!r}, expected a number"
            ) from None
        host = str(values.get("host") or "localhost")
        address = f"{host}:{port}" if port is not None else f"unix:{socket}"
        locations.append(
            GrpcLocation(
                name=str(values.get("location_name") or address),
                host=host,
                port=port,
                socket=str(socket) if socket is not None else None,
                ssl=bool(values.get("ssl")),
            )
        )
    return locations


def _resolve(raw: Any, env: Mapping[str, str], where: str) -> Any:
    """A workspace value: itself, or for ``{env: NAME}`` the variable's value."""
    if not (isinstance(raw, dict) and set(raw) == {"env"}):
        return raw
    name = raw["env"]
    if name not in env:
        raise WorkspaceError(f"{where} reads ${name}, which is not set")
    return env[name]


def probe_location(location: GrpcLocation, timeout_seconds: float = 5) -> LocationProbe:
    """Ask a code server whether it serves. The standard gRPC health service rather than
    Dagster's client, whose calls wait up to DAGSTER_GRPC_TIMEOUT_SECONDS (60 s) on a hung
    server: one probe must not hold up the others for a whole minute."""
    target = location.address
    channel = (
        grpc.secure_channel(target, grpc.ssl_channel_credentials())
        if location.ssl
        else grpc.insecure_channel(target)
    )
    try:
        with channel:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=DAGSTER_GRPC_SERVICE),
                timeout=timeout_seconds,
            )
    except grpc.RpcError as error:
        code = error.code().name if hasattr(error, "code") else "ERROR"
        details = error.details() if hasattr(error, "details") else str(error)
        return LocationProbe(location.address, f"gRPC {code}: {details}")
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        return LocationProbe(location.address, f"gRPC health status {status}")
    return LocationProbe(location.address)


# --- Side effects: the instance, the webhook, the liveness file ---------------------------------


def _describe(error: BaseException) -> str:
    """The error and, when it wraps one (dagster-postgres's "too many retries"), its root cause:
    first lines only, which name the host or socket and what the server said."""
    root, seen = error, {id(error)}
    while (inner := root.__cause__ or root.__context__) is not None and id(inner) not in seen:
        root = inner
        seen.add(id(inner))

    def line(e: BaseException) -> str:
        lines = str(e).strip().splitlines()
        return f"{type(e).__name__}: {lines[0] if lines else ''}"

    text = line(error) if root is error else f"{line(error)}; caused by {line(root)}"
    return text[:MAX_ERROR_CHARS]


class InstanceReader:
    """The Dagster instance ($DAGSTER_HOME/dagster.yaml), opened on first use and again after it
    failed to open, so a sentinel started while the database is down waits for it."""

    def __init__(self) -> None:
        self._instance: dg.DagsterInstance | None = None

    def heartbeats(self) -> tuple[dict[str, float] | None, str | None]:
        """Daemon type -> newest heartbeat's timestamp, or None and what went wrong."""
        try:
            if self._instance is None:
                self._instance = dg.DagsterInstance.get()
            beats = self._instance.get_daemon_heartbeats()
        except dg.DagsterInvalidConfigError:
            raise  # a broken dagster.yaml is not an outage to report: the process must stop
        except Exception as error:
            return None, _describe(error)
        return {kind: beat.timestamp for kind, beat in beats.items()}, None

    def close(self) -> None:
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None


class Webhook:
    """Logs every alert and posts it to a Slack-compatible webhook when a URL is set. An alert the
    webhook did not accept waits for the next call, so an outage of the webhook (or the network)
    delays alerts rather than losing them."""

    def __init__(self, url: str | None, timeout_seconds: float = 10) -> None:
        self.url = url or None
        self.timeout_seconds = timeout_seconds
        self.pending: deque[Alert] = deque()

    def send(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            logger.warning("ALERT %s", alert.text())
        if self.url is None:
            return
        self.pending.extend(alerts)
        while len(self.pending) > MAX_PENDING_ALERTS:
            dropped = self.pending.popleft()
            logger.error("Webhook unreachable too long: dropped alert %r", dropped.title)
        while self.pending:
            alert = self.pending[0]
            try:
                self._post(alert)
            except Exception as error:
                logger.error(
                    "Webhook did not take alert %r (%s); %d alert(s) wait for the next try",
                    alert.title,
                    _describe(error),
                    len(self.pending),
                )
                return
            self.pending.popleft()

    def _post(self, alert: Alert) -> None:
        assert self.url is not None
        request = urllib.request.Request(
            self.url,
            data=json.dumps(alert.slack_payload()).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            if not 200 <= response.status < 300:
                raise RuntimeError(f"HTTP {response.status}")


def touch_liveness(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.time():.0f}\n")


def liveness_problem(path: Path, max_age_seconds: float, now: float | None = None) -> str | None:
    """Why the sentinel is not alive, judged from its liveness file; None when it is."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return f"{path} does not exist: the sentinel has not finished an iteration"
    if age > max_age_seconds:
        return (
            f"{path} is {format_duration(age)} old (limit {format_duration(max_age_seconds)}): "
            "the sentinel's loop is stuck or failing"
        )
    return None


# --- The process -------------------------------------------------------------------------------


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"${name} is {raw!r}, expected a number of seconds") from None
    if value <= 0:
        raise ValueError(f"${name} is {raw!r}, expected a positive number of seconds")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the sentinel reads from its environment."""

    interval_seconds: float = 15
    thresholds: Thresholds = field(default_factory=Thresholds)
    workspace: Path = Path("/opt/dagster/app/workspace.yaml")
    liveness_file: Path = Path("/tmp/sentinel-alive")
    webhook_url: str | None = None
    ui_base_url: str = "http://127.0.0.1:3000"
    probe_timeout_seconds: float = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            interval_seconds=_number(env, "SENTINEL_INTERVAL_SECONDS", 15),
            thresholds=Thresholds(
                daemon_stale_seconds=_number(env, "SENTINEL_DAEMON_STALE_SECONDS", 120),
                location_down_seconds=_number(env, "SENTINEL_LOCATION_DOWN_SECONDS", 45),
                database_down_seconds=_number(env, "SENTINEL_DATABASE_DOWN_SECONDS", 30),
            ),
            workspace=Path(env.get("SENTINEL_WORKSPACE") or "/opt/dagster/app/workspace.yaml"),
            liveness_file=Path(env.get("SENTINEL_LIVENESS_FILE") or "/tmp/sentinel-alive"),
            webhook_url=env.get("LAKEHOUSE_ALERT_WEBHOOK_URL", "").strip() or None,
            ui_base_url=env.get("LAKEHOUSE_UI_BASE_URL") or "http://127.0.0.1:3000",
        )


class Runner:
    """One sentinel process: :meth:`run_once` is one iteration, :meth:`run_forever` the loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sentinel = Sentinel(settings.thresholds, settings.ui_base_url)
        self.instance = InstanceReader()
        self.webhook = Webhook(settings.webhook_url)
        self.locations = load_workspace(settings.workspace)

    def observe(self) -> Observation:
        heartbeats, database_error = self.instance.heartbeats()
        try:
            self.locations = load_workspace(self.settings.workspace)
        except WorkspaceError as error:
            logger.error("%s; watching the locations read before", error)
        probes = {
            location.name: probe_location(location, self.settings.probe_timeout_seconds)
            for location in self.locations
        }
        return Observation(heartbeats, probes, database_error)

    def run_once(self, now: float | None = None) -> list[Alert]:
        """Observe, decide, send, and mark the sentinel alive. ``now`` stands in for the clock
        in the decisions (tests); the probes themselves are real."""
        seen = self.observe()
        alerts = self.sentinel.observe(seen, time.time() if now is None else now)
        self.webhook.send(alerts)
        touch_liveness(self.settings.liveness_file)
        return alerts

    def run_forever(self) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            try:
                self.run_once()
                failures = 0
            except Exception:
                failures += 1
                logger.exception("Sentinel iteration failed (%d in a row)", failures)
                if failures >= MAX_FAILED_ITERATIONS:
                    raise
            time.sleep(max(0.0, self.settings.interval_seconds - (time.monotonic() - started)))

    def close(self) -> None:
        self.instance.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse_platform.sentinel",
        description="Alert when the Dagster daemon, a code location or the instance database "
        "is down. Settings come from the environment (SENTINEL_*, LAKEHOUSE_ALERT_WEBHOOK_URL, "
        "LAKEHOUSE_UI_BASE_URL).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless the liveness file is younger than 3 intervals (the healthcheck)",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.check:
        problem = liveness_problem(settings.liveness_file, 3 * settings.interval_seconds)
        if problem:
            print(problem, file=sys.stderr)  # noqa: T201 - the healthcheck's output
            return 1
        return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not os.environ.get("DAGSTER_HOME"):
        parser.error("DAGSTER_HOME is not set: the sentinel reads $DAGSTER_HOME/dagster.yaml")
    # `docker stop` sends SIGTERM: leave through the `finally` below, closing the instance.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    runner = Runner(settings)
    t = settings.thresholds
    logger.info(
        "Sentinel watching the daemon (stale after %s), the instance database (down after %s) "
        "and %s (down after %s), every %s; alerts %s",
        format_duration(t.daemon_stale_seconds),
        format_duration(t.database_down_seconds),
        ", ".join(f"{loc.name} at {loc.address}" for loc in runner.locations) or "no location",
        format_duration(t.location_down_seconds),
        format_duration(settings.interval_seconds),
        "posted to the webhook" if settings.webhook_url else "only logged (no webhook URL)",
    )
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        runner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
