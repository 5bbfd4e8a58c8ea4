"""The daemon supervisor's command line (no Docker needed): what it starts under itself."""

import pytest
from lakehouse_platform import supervisor


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (
            ["--", "dagster-daemon", "run", "-w", "w.yaml"],
            ["dagster-daemon", "run", "-w", "w.yaml"],
        ),
        ([], ["dagster-daemon", "run"]),
        # Only the leading separator is the supervisor's; one inside the command is kept.
        (["--", "sh", "-c", "exec x", "--", "y"], ["sh", "-c", "exec x", "--", "y"]),
    ],
)
def test_the_command_after_the_separator_is_started_as_given(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], command: list[str]
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(supervisor, "supervise", lambda c, settings: started.append(c) or 0)
    monkeypatch.setattr(supervisor.Settings, "from_env", classmethod(lambda cls: None))
    with pytest.raises(SystemExit) as exited:
        supervisor.main(argv)
    assert exited.value.code == 0
    assert started == [command]
