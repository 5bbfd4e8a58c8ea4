"""Both code locations' definitions, loaded side by side as the webserver's workspace would."""

import ast
from pathlib import Path

import dagster as dg

from analytics.definitions import defs as analytics_defs
from ingestion.definitions import defs as ingestion_defs

ROOT = Path(__file__).resolve().parents[1]
LOCATIONS = {"ingestion": ingestion_defs, "analytics": analytics_defs}


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
