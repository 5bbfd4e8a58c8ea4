"""Each console script of the shared library runs the module it is named after
(``lakehouse-init`` runs ``lakehouse.init``), so the command tells where its code is."""

import importlib
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
SCRIPTS = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]


def test_there_are_commands_to_check() -> None:
    assert {"lakehouse-init", "lakehouse-seed"} <= set(SCRIPTS)


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_a_command_runs_the_module_named_after_it(command: str) -> None:
    module, _, function = SCRIPTS[command].partition(":")
    assert module == "lakehouse." + command.removeprefix("lakehouse-").replace("-", "_"), (
        f"{command} runs {module}: name the module after the command"
    )
    assert callable(getattr(importlib.import_module(module), function))
