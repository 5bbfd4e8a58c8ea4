"""One home for the landing contract: no second copy of its prefix, CSV header or lake schema.

The prefix, key layout and CSV columns live in ``lakehouse/src/lakehouse/landing.py``, and the
lake schema of ``sales_data`` in ingestion's ``validation.py`` (``SALES_SCHEMA``); everything
else derives them. This scans the code that ships or runs (every location, the shared library,
``deploy/``, ``bench/``) and fails on a copy: a string literal holding the prefix or the header,
a literal list of the CSV columns, or another dict literal keyed by all of them with types as
values (a schema). Docstrings may describe the layout for people, as README does.

Tests are not scanned on purpose: a test states the contract from outside (a store writes to
``landing/sales/<day>/<store>.csv`` with that header), so a change to the contract fails it
instead of silently moving with it.
"""

import ast
from pathlib import Path

from lakehouse.landing import CSV_COLUMNS, LANDING_PREFIX
from lakehouse.locations import load

ROOT = Path(__file__).resolve().parents[1]
LISTED = load(ROOT / "deploy" / "locations.toml")
SCANNED = ("lakehouse/src", *(f"{name}/src" for name in LISTED), "deploy", "bench")
HOME = "lakehouse/src/lakehouse/landing.py"
SCHEMA_HOME = ("ingestion/src/ingestion/defs/sales/validation.py", "SALES_SCHEMA")

PREFIX = LANDING_PREFIX.strip("/")
HEADER = ",".join(CSV_COLUMNS[:2])  # any run of the header as a file spells it


def _sources() -> list[tuple[str, ast.Module]]:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if ".venv" in path.parts or "build" in path.parts:
                continue
            found.append((str(path.relative_to(ROOT)), ast.parse(path.read_text())))
    assert len(found) > 20, f"scanned only {len(found)} files under {SCANNED}"
    return found


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (for people, allowed to show the layout)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _strings(node: ast.AST) -> list[str]:
    return [
        n.value
        for n in (node.elts if isinstance(node, ast.List | ast.Tuple | ast.Set) else [])
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _copies(name: str, tree: ast.Module) -> list[str]:
    docstrings = _docstrings(tree)
    copies = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            if PREFIX in node.value:
                copies.append(f"{where}: the landing prefix in {node.value[:60]!r}")
            if HEADER in node.value:
                copies.append(f"{where}: the CSV header in {node.value[:60]!r}")
        elif set(CSV_COLUMNS) <= set(_strings(node)):
            copies.append(f"{where}: a literal list of the CSV columns")
    return copies


def _schemas(name: str, tree: ast.Module) -> list[tuple[str, str]]:
    """(file, assigned name) of every dict literal keyed by all the CSV columns with non-string
    values: a schema (a dict of descriptions is not one)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AnnAssign) or not isinstance(node.value, ast.Dict):
            continue
        keys = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
        typed = not all(
            isinstance(v, ast.Constant) or isinstance(v, ast.JoinedStr) for v in node.value.values
        )
        if set(CSV_COLUMNS) <= keys and typed:
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            found.append((name, ast.unparse(target)))
    return found


def test_the_landing_prefix_and_csv_header_have_one_home() -> None:
    copies = [c for name, tree in _sources() if name != HOME for c in _copies(name, tree)]
    assert not copies, (
        f"derive these from {HOME} (LANDING_PREFIX, KEY_LAYOUT, landing_key, day_prefix, "
        "CSV_COLUMNS) instead of repeating them:\n" + "\n".join(copies)
    )


def test_the_lake_schema_of_sales_data_is_declared_once() -> None:
    schemas = [s for name, tree in _sources() for s in _schemas(name, tree)]
    assert schemas == [SCHEMA_HOME], (
        f"schemas over the landing columns: {schemas}; derive them from "
        f"{SCHEMA_HOME[1]} in {SCHEMA_HOME[0]}"
    )
