"""The command runner, against real processes."""

from __future__ import annotations

import logging
import sys

import pytest

from release.errors import CommandError
from release.runner import Runner


def test_command_is_logged_once_quoted_and_output_captured(caplog):
    with caplog.at_level(logging.INFO, logger="release.runner"):
        result = Runner().run([sys.executable, "-c", "print('hello world')"])

    assert result.stdout == "hello world\n"
    commands = [r.getMessage() for r in caplog.records if r.getMessage().startswith("+ ")]
    assert commands == [f"+ {sys.executable} -c 'print('\"'\"'hello world'\"'\"')'"]


def test_failure_raises_with_exit_code_and_output():
    with pytest.raises(CommandError) as caught:
        Runner().run([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])

    assert caught.value.returncode == 3
    assert caught.value.output == "boom"


def test_secret_environment_values_are_passed_but_never_logged(caplog):
    code = "import os; print(os.environ['REGISTRY_PASSWORD'])"
    with caplog.at_level(logging.DEBUG, logger="release.runner"):
        result = Runner().run(
            [sys.executable, "-c", code], env={"REGISTRY_PASSWORD": "hunter2", "GOOS": "linux"}
        )

    assert result.stdout == "hunter2\n"
    logged = caplog.records[0].getMessage()
    assert logged.startswith("+ REGISTRY_PASSWORD=*** GOOS=linux ")
    assert "hunter2" not in logged
