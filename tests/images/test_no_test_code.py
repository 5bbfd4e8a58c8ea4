"""No test code goes into the images, checked without Docker (unit tier): what each image's
Dockerfile copies from the build context and what it installs hold no test module, no import of a
test tool and no test tool's distribution. The built images themselves are checked in
``test_images.py`` (docker tier).
"""

import ast
import re
import shlex
from pathlib import Path

import pytest
from dev_only import DISTRIBUTIONS, MODULES, normalized

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "ingestion": ROOT / "ingestion" / "Dockerfile",
    "analytics": ROOT / "analytics" / "Dockerfile",
    "dagster": ROOT / "deploy" / "dagster" / "Dockerfile",
}


def instructions(dockerfile: Path) -> list[tuple[str, list[str]]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), shlex.split(rest, comments=False)))
    return found


def copied_from_context(dockerfile: Path) -> list[str]:
    """The build-context paths of every COPY (not those copied from another stage)."""
    sources = []
    for word, args in instructions(dockerfile):
        if word != "COPY" or any(a.startswith("--from") for a in args):
            continue
        sources += [a.rstrip("/") for a in args if not a.startswith("--")][:-1]
    return sources


def _dockerignore_patterns() -> list[re.Pattern[str]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), f"exceptions are not modelled here: {line}"
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", line.strip("/")):
            regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                token, re.escape(token)
            )
        patterns.append(re.compile(regex))
    return patterns


IGNORED = _dockerignore_patterns()


def in_build_context(relative: str) -> bool:
    """False when .dockerignore leaves ``relative`` (or a folder holding it) out of the context."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return not any(p.fullmatch(prefix) for p in IGNORED for prefix in prefixes)


def python_files_sent(source: str) -> list[Path]:
    path = ROOT / source
    candidates = [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [
        f
        for f in candidates
        if f.suffix == ".py" and in_build_context(f.relative_to(ROOT).as_posix())
    ]


def test_dockerignore_matching_follows_docker() -> None:
    assert not in_build_context("tests/support/lakehouse_testing/servers.py")
    assert not in_build_context("lakehouse/tests/test_storage.py")
    assert not in_build_context("lakehouse/src/lakehouse/__pycache__/seed.cpython-311.pyc")
    assert in_build_context("lakehouse/src/lakehouse/seed.py")
    assert in_build_context("ingestion/src/ingestion/definitions.py")


def test_the_test_support_is_outside_every_build_context() -> None:
    support = ROOT / "tests" / "support" / "lakehouse_testing"
    assert (support / "servers.py").is_file(), "the test support moved: update this test"
    assert not in_build_context(support.relative_to(ROOT).as_posix())


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_nothing_an_image_copies_is_test_code(image: str) -> None:
    """Every Python file the Dockerfile copies (what it then installs comes from these): no
    test module, no conftest, and no import of a test tool, not even inside a function."""
    files = [
        f for source in copied_from_context(DOCKERFILES[image]) for f in python_files_sent(source)
    ]
    assert files, f"{DOCKERFILES[image]} copies no Python source: is this test still reading it?"
    found = []
    for path in files:
        where = path.relative_to(ROOT)
        if path.name == "conftest.py" or path.name.startswith("test_"):
            found.append(f"{where}: a test module")
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            found += [
                f"{where}:{node.lineno}: imports {name}"
                for name in names
                if name.split(".")[0] in MODULES
            ]
    assert found == [], f"test code in what the {image} image installs: {found}"


def _requirement_name(spec: str) -> str:
    return normalized(re.split(r"[\s<>=!~;\[@]", spec, maxsplit=1)[0])


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_an_image_installs_no_test_tool(image: str) -> None:
    """The lockfiles the Dockerfile copies, and anything its `pip install` names directly."""
    dockerfile = DOCKERFILES[image]
    locks = [ROOT / s for s in copied_from_context(dockerfile) if s.endswith(".lock")]
    assert locks, f"{dockerfile} copies no lockfile: is this test still reading it?"
    installed = set()
    for lock in locks:
        for line in lock.read_text().splitlines():
            if line.strip() and not line.startswith((" ", "#", "-")):
                installed.add(_requirement_name(line))
    for word, args in instructions(dockerfile):
        if word != "RUN" or "install" not in args:
            continue
        named = args[args.index("install") + 1 :]
        for previous, arg in zip(["install", *named], named, strict=False):
            if arg in ("&&", "||", ";"):
                break  # the next command
            if not arg.startswith(("-", "/")) and previous not in ("-r", "--requirement", "-c"):
                installed.add(_requirement_name(arg.rstrip(";")))  # not a flag, lock or source
            if arg.endswith(";"):
                break
    assert len(installed) > 20, f"too few packages read from {locks}: {sorted(installed)}"
    assert sorted(installed & DISTRIBUTIONS) == [], f"test tools in the {image} image"
