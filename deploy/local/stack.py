"""Runs the product's topology as plain processes: a code server per location, the daemon, the
webserver. The locations are deploy/locations.toml's, each on its `port` there.

    python deploy/local/stack.py up [--seed-days 7]    # foreground; Ctrl-C stops everything
    python deploy/local/stack.py up --location-port analytics=4101   # another port for one
    python deploy/local/stack.py down                  # stops whatever a previous `up` left

The environment chooses the backends (the README's configuration table):
- Dagster's storage: SQLite under $DAGSTER_HOME, or Postgres when DAGSTER_POSTGRES_URL is set.
  Every other instance setting (queue, limits, run monitoring and retries, retention, daemon
  threads) is dagster.yaml's, the compose deployment's instance, read from it at start.
- The bucket: the local folder var/ (LAKEHOUSE_STORAGE=local), or S3 at any endpoint (=s3).
- The online-orders database: INGESTION_SOURCE_DB_URL, or else an embedded PostgreSQL server
  (pip-installed pgserver) under var/pg, with the read-only role and seeded demo data.
A `.env` file at the top of the repository is read first (without overriding the environment).

Why the supervision below is hand-written (measured 2026-11-27 with Dagster 1.13.27 on a 2-core
machine shared with a CI run, load 1-6, SQLite storage, 2-7 runs each):
- `dagster dev -w FILE` starts one `dagster code-server start` per `python_module` entry; they
  survive Reload, and a killed one came back within 6 s without the UI losing the location. But
  it serves them on Unix sockets at temporary paths (no option for ports) and hands the daemon
  and webserver a workspace file it generates, so workspace.yaml, which compose uses too, would
  go untested here; given workspace.yaml itself it starts no code server (both locations
  unreachable). A daemon killed under it ended `dagster dev` with exit status 0, so a caller
  cannot tell a crash from Ctrl-C; a code server it had restarted outlived its stop by 43-58 s.
  It warns that it is superseded by `dg dev`.
- honcho 2.0 does what spawn() and stop() do (a session per process, SIGTERM where this file
  sends SIGINT, SIGKILL after 5 s, everything stops when one exits), but starts all processes at
  once, keeps no pid file for `down`, and exits 130 on Ctrl-C. supervisor (not measured) is a
  resident daemon with its own configuration file and control socket.
This file has both locations loaded in the UI 16-21 s after its start (39 s once, at load 5),
migrate included (`dagster dev`: 9-16 s plus 2-3 s of migrate; honcho: 6 s plus migrate, as it
does not hold the daemon and webserver until both code servers answer). It stops 2.9-5.6 s
after Ctrl-C (`dagster dev`: 2.5-6.6 s, its code servers 1-2.5 s later), and when any of its
processes exits it stops the others within 2.5-3.8 s and exits 1. Both run 7 processes, 860 MB
RSS here and 905 MB under `dagster dev`.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from lakehouse import locations
from lakehouse.landing import KEY_LAYOUT
from lakehouse.seed import window_ending_yesterday

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_DIR = Path(__file__).resolve().parent / "instance"
# The instance settings of the compose deployment, and of this stack but for the sections below.
DAGSTER_YAML = ROOT / "dagster.yaml"
# dagster.yaml's sections that say how compose runs Dagster, not how Dagster behaves: where the
# records are kept (here: INSTANCE_DIR/<variant>.yaml), how a run starts (a container; here:
# Dagster's default, a process) and where its stdout/stderr go (the bucket; here: Dagster's
# default, files under $DAGSTER_HOME).
COMPOSE_ONLY_SECTIONS = ("storage", "run_launcher", "compute_logs")
BIN = Path(sys.executable).parent
READER_ROLE = "ingestion_reader"
SOURCE_DB = "shop"
# Idle code servers stopped 3-5 s after SIGINT (2026-11-27); one answering a call waits for it
# up to 60 s (Dagster's gRPC shutdown grace). Past this grace they and whatever runs they host
# are killed, and run monitoring marks such runs failed.
STOP_GRACE_SECONDS = 5


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)  # noqa: T201


def read_dotenv(path: Path) -> None:
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        os.environ.setdefault(name.strip(), value.strip().strip("'\""))


def var_dir() -> Path:
    return Path(os.environ.get("LAKEHOUSE_VAR_DIR", ROOT / "var")).resolve()


def pid_file() -> Path:
    return var_dir() / "run" / "stack.json"


def instance_settings(variant: str, overrides: Path | None = None) -> dict[str, Any]:
    """The native stack's instance: the storage of ``variant`` (INSTANCE_DIR/<variant>.yaml),
    every section of dagster.yaml but COMPOSE_ONLY_SECTIONS, and then each top-level section of
    ``overrides`` in place of the one of the same name (``make bench`` runs Dagster's default
    run coordinator this way)."""
    settings: dict[str, Any] = yaml.safe_load((INSTANCE_DIR / f"{variant}.yaml").read_text())
    shared = yaml.safe_load(DAGSTER_YAML.read_text())
    settings |= {k: v for k, v in shared.items() if k not in COMPOSE_ONLY_SECTIONS}
    if overrides is not None:
        settings |= yaml.safe_load(overrides.read_text()) or {}
    return settings


def write_instance_config(home: Path, overrides: Path | None = None) -> str:
    """$DAGSTER_HOME/dagster.yaml (:func:`instance_settings`); returns the storage variant."""
    variant = "postgres" if os.environ.get("DAGSTER_POSTGRES_URL") else "embedded"
    header = f"# Written by deploy/local/stack.py from {variant}.yaml and dagster.yaml.\n"
    text = yaml.safe_dump(instance_settings(variant, overrides), sort_keys=False)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(header + text)
    return variant


def start_embedded_source_db(seed_days: int) -> Any:
    """Start pgserver under var/pg; create the shop database, its reader role and demo rows."""
    import pgserver
    import psycopg
    from psycopg import sql

    from lakehouse.seed import prepare_source_database

    data_dir = var_dir() / "pg"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    admin = f"postgresql://postgres@/postgres?host={data_dir}"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (SOURCE_DB,)
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SOURCE_DB)))
    shop = f"postgresql://postgres@/{SOURCE_DB}?host={data_dir}"
    with psycopg.connect(shop, autocommit=True) as conn:
        written = prepare_source_database(conn, READER_ROLE, None, seed_days)
    if written:
        log(f"source.sales: {written} online orders for the last {seed_days} days")
    os.environ["INGESTION_SOURCE_DB_URL"] = (
        f"postgresql://{READER_ROLE}@/{SOURCE_DB}?host={data_dir}"
    )
    log(f"online-orders database: embedded PostgreSQL in {data_dir}")
    return server


def seed_landing(days: int) -> None:
    from lakehouse.config import object_store_from_env
    from lakehouse.seed import seed_landing as write_files

    keys = write_files(object_store_from_env(), window_ending_yesterday(days))
    log(f"landing: {len(keys)} store files for the last {days} days")


def spawn(name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    log(f"starting {name}: {' '.join(args)}")
    # Own process group: shutdown reaches a server's children (gRPC subprocess, run workers).
    return subprocess.Popen(args, cwd=ROOT, env=dict(env), start_new_session=True)


def wait_for(
    what: str,
    check: Callable[[], bool],
    deadline_seconds: float,
    procs: Mapping[str, subprocess.Popen[bytes]],
) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"[stack] {name} exited with {proc.returncode} during start-up")
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"[stack] {what} not ready after {deadline_seconds:.0f} s")


def grpc_healthy(port: int, env: Mapping[str, str]) -> bool:
    result = subprocess.run(
        [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port), "-h", "127.0.0.1"],
        env=dict(env),
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for name in reversed(list(procs)):
        proc = procs[name]
        if proc.poll() is None:
            log(f"stopping {name}")
            try:
                os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the graceful path
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
        except (ProcessLookupError, PermissionError):
            pass


def up(args: argparse.Namespace) -> int:
    read_dotenv(ROOT / ".env")
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LAKEHOUSE_STORAGE", "local")
    os.environ.setdefault("LAKEHOUSE_LOCAL_ROOT", str(var))
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(var / "dagster_home"))).resolve()
    os.environ["DAGSTER_HOME"] = str(home)
    host = "127.0.0.1"
    listed = locations.load(ROOT / "deploy" / "locations.toml")
    ports = {name: location.port for name, location in listed.items()}
    for override in args.location_port:
        name, _, port = override.partition("=")
        if name not in ports or not port.isdigit():
            raise SystemExit(
                f"--location-port {override}: expected <location>=<port>, one of {', '.join(ports)}"
            )
        ports[name] = int(port)
    for name, port in ports.items():
        prefix = listed[name].env_prefix
        os.environ.update({f"DAGSTER_{prefix}_HOST": host, f"DAGSTER_{prefix}_PORT": str(port)})
    if pid_file().exists():
        log("a previous stack left a pid file; stopping what is left of it first")
        down()

    procs: dict[str, subprocess.Popen[bytes]] = {}
    source_server = None

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (make down, a test) stops like Ctrl-C

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not os.environ.get("INGESTION_SOURCE_DB_URL"):
            source_server = start_embedded_source_db(args.seed_days)
        if args.seed_days > 0 and os.environ["LAKEHOUSE_STORAGE"] == "local":
            seed_landing(args.seed_days)
        variant = write_instance_config(home, args.instance_overrides)
        log(f"Dagster instance: {home} ({variant} storage)")
        env = dict(os.environ)
        # Create or upgrade the storage once, before anything opens it: the daemon and the
        # webserver initializing a fresh SQLite instance at the same time race on its schema
        # version (seen: "alembic_version has more than one head").
        subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, cwd=ROOT)
        for location, port in ports.items():
            procs[location] = spawn(
                location,
                [
                    str(BIN / "dagster"),
                    "code-server",
                    "start",
                    "-h",
                    host,
                    "-p",
                    str(port),
                    "-m",
                    f"{location}.definitions",
                    # Its folder's code, also for a location not installed into this venv yet.
                    "-d",
                    str(ROOT / location / "src"),
                    "--location-name",
                    location,
                ],
                env,
            )
        for location, port in ports.items():
            wait_for(f"code server {location}", partial(grpc_healthy, port, env), 120, procs)
        procs["daemon"] = spawn(
            "daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")], env
        )
        procs["webserver"] = spawn(
            "webserver",
            [
                str(BIN / "dagster-webserver"),
                "-h",
                host,
                "-p",
                str(args.port),
                "-w",
                str(ROOT / "workspace.yaml"),
            ],
            env,
        )
        pid_file().parent.mkdir(parents=True, exist_ok=True)
        pid_file().write_text(json.dumps({name: p.pid for name, p in procs.items()}))
        url = f"http://{host}:{args.port}"
        wait_for("webserver", lambda: http_ok(f"{url}/server_info"), 120, procs)
        log(f"ready: {url}  (Ctrl-C stops everything)")
        if os.environ["LAKEHOUSE_STORAGE"] == "local":
            log(f"drop store files at {os.environ['LAKEHOUSE_LOCAL_ROOT']}/{KEY_LAYOUT}")
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    log(f"{name} exited with {proc.returncode}; stopping the stack")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping (interrupt)")
        return 0
    finally:
        stop(procs)
        if source_server is not None:
            source_server.cleanup()
        pid_file().unlink(missing_ok=True)
        log("stopped")


def down() -> int:
    path = pid_file()
    pids = json.loads(path.read_text()) if path.exists() else {}
    for name, pid in pids.items():
        try:
            os.killpg(pid, signal.SIGTERM)
            log(f"stopped {name} (process group {pid})")
        except ProcessLookupError:
            pass
    time.sleep(1)
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    postmaster = var_dir() / "pg" / "postmaster.pid"
    if postmaster.exists():
        try:
            os.kill(int(postmaster.read_text().split()[0]), signal.SIGTERM)
            log("stopped the embedded PostgreSQL server")
        except (ProcessLookupError, ValueError):
            pass
    path.unlink(missing_ok=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start the stack in the foreground")
    start.add_argument(
        "--seed-days", type=int, default=7, help="demo data: days up to yesterday (0: none)"
    )
    start.add_argument(
        "--port", type=int, default=int(os.environ.get("DAGSTER_WEBSERVER_PORT", 3000))
    )
    start.add_argument(
        "--location-port",
        action="append",
        default=[],
        metavar="LOCATION=PORT",
        help="a code server's port other than deploy/locations.toml's (repeatable)",
    )
    start.add_argument(
        "--instance-overrides",
        type=Path,
        help="YAML file whose top-level sections replace those of the instance settings",
    )
    sub.add_parser("down", help="stop what a previous `up` left running")
    args = parser.parse_args()
    return up(args) if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
