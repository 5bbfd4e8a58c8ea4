"""The deployment's code locations, as ``deploy/locations.toml`` lists them.

That file is the one list of locations: the platform's wiring is rendered from it
(deploy/locations.py), the native stack starts a code server for each entry, and the S3 access
policy (lakehouse.s3_access) grants each location's key the prefixes its entry names.
Standard library only: deploy/locations.py and the S3 server's one-shot config use it before
anything else is installed.
"""

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Set in the S3 server's one-shot config container, where the repository is not: the list is
# mounted there (docker-compose.yml, s3-config).
LOCATIONS_FILE = "LAKEHOUSE_LOCATIONS_FILE"
# The repository's copy, next to this package in a checkout (editable install).
REPOSITORY_FILE = Path(__file__).resolve().parents[3] / "deploy" / "locations.toml"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


@dataclass(frozen=True)
class Location:
    name: str
    team: str
    port: int
    s3_read: tuple[str, ...]
    s3_write: tuple[str, ...]

    @property
    def env_prefix(self) -> str:
        """``MARKETING`` for ``marketing``: its variables are ``<env_prefix>_*``."""
        return self.name.upper()


def locations_file() -> Path:
    configured = os.environ.get(LOCATIONS_FILE, "").strip()
    return Path(configured) if configured else REPOSITORY_FILE


def load(path: Path | None = None) -> dict[str, Location]:
    """Every location in the file's order; a malformed entry is an error naming the file, the
    location and the field."""
    path = path or locations_file()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no list of code locations here (set {LOCATIONS_FILE})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    found: dict[str, Location] = {}
    for name, entry in (data.get("locations") or {}).items():
        where = f"{path}: locations.{name}"
        if not NAME.match(name):
            raise ValueError(f"{where}: a name is lower-case letters, digits and _ (2-31)")
        try:
            location = Location(
                name=name,
                team=str(entry["team"]),
                port=int(entry["port"]),
                s3_read=tuple(str(p) for p in entry.get("s3_read", ())),
                s3_write=tuple(str(p) for p in entry.get("s3_write", ())),
            )
        except KeyError as exc:
            raise ValueError(f"{where}: field {exc.args[0]} is missing") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        for prefix in location.s3_read + location.s3_write:
            if not prefix.endswith("/") or prefix.startswith("/"):
                raise ValueError(f"{where}: S3 prefix {prefix!r} must end (and not start) with /")
        found[name] = location
    if not found:
        raise ValueError(f"{path}: no [locations.<name>] entry")
    ports = [location.port for location in found.values()]
    if len(set(ports)) != len(ports):
        raise ValueError(f"{path}: two locations share a port")
    return found


def github_org(path: Path | None = None) -> str:
    return str(tomllib.loads((path or locations_file()).read_text()).get("github_org", ""))
