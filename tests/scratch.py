"""A scratch copy of the checkout: the files git tracks or would track, without .venv, var/,
build/ and the rest of .gitignore. Tests that add or remove a location work on one of these."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scratch_copy(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            target = destination / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def tree(root: Path, *folders: str) -> dict[str, bytes]:
    """Every file under ``folders`` (or the whole tree), by relative path, with its bytes."""
    paths = [p for f in folders for p in (root / f).rglob("*")] if folders else root.rglob("*")
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in paths
        if p.is_file() and "__pycache__" not in p.parts
    }


def make_location(root: Path, name: str, team: str) -> Path:
    """`make location NAME=<name> TEAM=<team>` in the copy at ``root``, with this checkout's venv
    (so only the new location's lock is resolved, from PyPI)."""
    venv = Path(sys.executable).parent.parent
    result = subprocess.run(
        ["make", "location", f"NAME={name}", f"TEAM={team}", f"VENV={venv}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def env_file(path: Path) -> dict[str, str]:
    """NAME=value lines (build/images.env, build/stand-ins.env)."""
    return dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
