#!/usr/bin/env python3
"""The compose deployment's .env: write one with random secrets, or check one before `up`.

    python3 deploy/compose/env.py generate [--output .env]    # make env
    python3 deploy/compose/env.py check [--env-file .env]     # make up runs it first
    python3 deploy/compose/env.py add-missing [--env-file .env]   # make env, when .env exists

.env.example is the template and the list of secrets: every variable assigned an empty value
there is a secret that must be set (compose itself refuses to start while most of them are
empty). `generate` copies the template with each of those filled by a random value (and
DOCKER_GID by the Docker socket's group); it never overwrites an existing file, to which
`add-missing` only appends the secrets it lacks (a location added since). `check` refuses
a missing or empty secret, a value that looks like a placeholder ("change-me", "example"...), a
short one, one reused for two secrets, characters that break URLs or .env parsing, a
DOCKER_GID that is not the socket's group, and a front door nobody can log in to (no user in
PROXY_USERS_FILE: `make user`), whose certificate files are missing, or whose DAGSTER_PATH_PREFIX
is malformed. Standard library only: it runs before `make install`.
"""

import argparse
import os
import re
import secrets
import stat
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / ".env.example"
SOCKET = Path("/var/run/docker.sock")
MIN_LENGTH = 16
PLACEHOLDER_WORDS = ("change", "placeholder", "example", "replace", "secret", "password", "xxx")
# Only needed when the profile that uses it is active (COMPOSE_PROFILES).
PROFILE_ONLY = {"SEAWEEDFS_JWT_SIGNING_KEY": "bundled-s3"}
# Postgres passwords end up in connection URLs; S3 secrets from AWS contain "/" and "+".
URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")
S3_SECRET_SAFE = re.compile(r"[A-Za-z0-9._~/+=-]+")
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
# An account line of the front door's users file, as deploy/proxy/users.py (ACCOUNT, HASH) writes
# it; repeated here because this script runs before `make install`, with the standard library.
ACCOUNT = re.compile(r"^\s+\S+\s+\$2[aby]\$\d\d\$\S{53}\s+#\s+(editor|viewer)\s*$")
PATH_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")


def parse(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped, surrounding quotes removed)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2).strip().strip("'\"")
    return values


def required_secrets(template: Path = TEMPLATE) -> list[str]:
    """The variables .env.example leaves empty: the secrets every .env must set."""
    return [name for name, value in parse(template).items() if value == ""]


def _random_value(name: str) -> str:
    if name == "DOCKER_GID":
        if not SOCKET.exists() or not stat.S_ISSOCK(SOCKET.stat().st_mode):
            raise SystemExit(f"no Docker socket at {SOCKET}: set DOCKER_GID by hand")
        return str(SOCKET.stat().st_gid)
    while True:
        if name.endswith("_ACCESS_KEY_ID"):
            # Shaped like an AWS access key id: upper-case letters and digits.
            value = "LH" + "".join(
                secrets.choice(string.ascii_uppercase + string.digits) for _ in range(18)
            )
        else:
            value = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        # About one value in 700 spells "xxx" (or another placeholder word) by chance, which
        # `check` refuses: draw again rather than write a .env that `make up` rejects.
        if not any(word in value.lower() for word in PLACEHOLDER_WORDS):
            return value


def generate(output: Path, template: Path = TEMPLATE, preset: dict[str, str] | None = None) -> None:
    """Write ``output`` from ``template`` with random secrets; ``preset`` fixes some values."""
    preset = preset or {}
    if output.exists():
        raise SystemExit(f"{output} exists; not overwriting it (check it with: make up)")
    secret_names = set(required_secrets(template))
    lines = []
    for line in template.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match and match.group(1) in secret_names:
            name = match.group(1)
            line = f"{name}={preset[name] if name in preset else _random_value(name)}"
        lines.append(line)
    output.write_text("\n".join(lines) + "\n")
    output.chmod(0o600)
    print(f"wrote {output} with {len(secret_names)} generated values (mode 600; never commit it)")  # noqa: T201


def add_missing(env_file: Path, template: Path = TEMPLATE) -> list[str]:
    """Append a random value for each secret of ``template`` that ``env_file`` does not assign
    (a code location added since the file was written: its S3 key); the lines already there are
    kept as they are. Returns the names added."""
    present = parse(env_file)
    missing = [name for name in required_secrets(template) if name not in present]
    if missing:
        text = env_file.read_text()
        added = "".join(f"{name}={_random_value(name)}\n" for name in missing)
        env_file.write_text(text + ("" if text.endswith("\n") else "\n") + added)
    print(  # noqa: T201
        f"{env_file}: added {', '.join(missing)}" if missing else f"{env_file}: nothing missing"
    )
    return missing


def problems(env_file: Path, template: Path = TEMPLATE) -> list[str]:
    """Everything wrong with ``env_file``, each naming the variable; empty when it is usable."""
    if not env_file.is_file():
        return [f"{env_file} does not exist: run `make env` to write one with random secrets"]
    values = parse(env_file)
    profiles = {p.strip() for p in values.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    found: list[str] = []
    seen: dict[str, str] = {}
    for name in required_secrets(template):
        profile = PROFILE_ONLY.get(name)
        if profile and profile not in profiles:
            continue
        value = values.get(name, "")
        if not value:
            found.append(f"{name} is empty")
            continue
        if name == "DOCKER_GID":
            if not value.isdigit():
                found.append(f"DOCKER_GID={value!r} is not a group id")
            elif SOCKET.exists() and int(value) != SOCKET.stat().st_gid:
                found.append(
                    f"DOCKER_GID={value} but {SOCKET} belongs to group {SOCKET.stat().st_gid}"
                )
            continue
        lowered = value.lower()
        if any(word in lowered for word in PLACEHOLDER_WORDS):
            found.append(f"{name} looks like a placeholder, not a secret")
        elif len(value) < MIN_LENGTH:
            found.append(f"{name} is shorter than {MIN_LENGTH} characters")
        pattern = S3_SECRET_SAFE if name.startswith("S3_") else URL_SAFE
        if not pattern.fullmatch(value):
            found.append(f"{name} has characters outside {pattern.pattern}")
        if value in seen:
            found.append(f"{name} reuses the value of {seen[value]}: each secret needs its own")
        seen.setdefault(value, name)
    return found + front_door_problems(values)


def _compose_path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else ROOT / path  # compose: relative to its project dir


def front_door_problems(values: dict[str, str]) -> list[str]:
    """The proxy's settings: at least one user, its certificate files, the path prefix."""
    found: list[str] = []
    users = _compose_path(values.get("PROXY_USERS_FILE") or "deploy/proxy/users.caddy")
    if not (users.is_file() and any(map(ACCOUNT.match, users.read_text().splitlines()))):
        found.append(
            f"no user can log in through the front door ({users} has none): run "
            "`make user NAME=<you> ROLE=editor`"
        )
    tls = values.get("PROXY_TLS") or "internal"
    if tls != "internal":
        certs = _compose_path(values.get("PROXY_CERTS_DIR") or "deploy/proxy/certs")
        parts = tls.split()
        if len(parts) != 2 or not all(p.startswith("/etc/caddy/certs/") for p in parts):
            found.append(
                f"PROXY_TLS={tls!r}: `internal`, or `/etc/caddy/certs/<cert> "
                f"/etc/caddy/certs/<key>` (files in {certs})"
            )
        else:
            for part in parts:
                if not (certs / part.removeprefix("/etc/caddy/certs/")).is_file():
                    found.append(f"PROXY_TLS names {part}, but {certs} has no such file")
    prefix = values.get("DAGSTER_PATH_PREFIX", "")
    if prefix and not PATH_PREFIX.fullmatch(prefix):
        found.append(f"DAGSTER_PATH_PREFIX={prefix!r}: like /dagster (a leading /, no trailing /)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a .env with random secrets")
    gen.add_argument("--output", type=Path, default=ROOT / ".env")
    add = sub.add_parser("add-missing", help="append the secrets an existing .env lacks")
    add.add_argument("--env-file", type=Path, default=ROOT / ".env")
    chk = sub.add_parser("check", help="refuse missing, placeholder or weak secrets")
    chk.add_argument(
        "--env-file", type=Path, default=Path(os.environ.get("ENV_FILE", ROOT / ".env"))
    )
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate(args.output)
        return 0
    if args.command == "add-missing":
        add_missing(args.env_file)
        return 0
    found = problems(args.env_file)
    for problem in found:
        print(f"{args.env_file}: {problem}", file=sys.stderr)  # noqa: T201
    if found:
        hint = "fix them, or start from fresh secrets: mv .env .env.old && make env"
        print(hint, file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
