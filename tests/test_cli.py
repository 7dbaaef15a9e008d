"""``courtlink --help`` and every subcommand's ``--help`` answer and exit 0."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server import cli


def _commands() -> list[list[str]]:
    """Every command path of the parser, subsystems' subcommands included."""
    with pytest.raises(SystemExit):
        cli.main(["--help"])  # loads the subsystems that register subcommands

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> list[list[str]]:
        found = [path]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += walk(sub, [*path, name])
        return found

    return walk(cli.build_parser(), [])


def test_the_installed_command_answers_help():
    exe = shutil.which("courtlink") or str(Path(sys.executable).parent / "courtlink")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for command in ("serve", "migrate", "demo", "user", "audit"):
        assert command in done.stdout


def test_every_subcommand_answers_help(capsys):
    paths = _commands()
    names = {" ".join(p) for p in paths}
    assert {"serve", "migrate", "demo", "user add", "audit verify"} <= names
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*path, "--help"])
        assert exit_info.value.code == 0, path
        out = capsys.readouterr().out
        assert out.startswith("usage: courtlink"), (path, out)


def test_a_missing_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["user"])
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err
