"""Every code location's definitions (deploy/locations.toml), loaded side by side as the
webserver's workspace would."""

import ast
import importlib
from pathlib import Path

import dagster as dg

from lakehouse import locations as listed

ROOT = Path(__file__).resolve().parents[1]
LISTED = listed.load(ROOT / "deploy" / "locations.toml")
LOCATIONS: dict[str, dg.Definitions] = {
    name: importlib.import_module(f"{name}.definitions").defs for name in LISTED
}


def repository(name: str) -> dg.RepositoryDefinition:
    return LOCATIONS[name].get_repository_def()


def imported_modules(package_dir: Path) -> set[str]:
    """Top-level names of every module imported anywhere under ``package_dir``."""
    found: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found
