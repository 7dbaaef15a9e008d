"""``courtlink --help`` and every subcommand's ``--help`` answer and exit 0."""

from __future__ import annotations

import argparse
import ast
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


def test_every_command_is_known_as_core_or_by_its_subsystem():
    """``cli.SUBSYSTEMS`` names each subsystem's commands, so that a command loads only its
    own; a command missing from it would still work (it loads them all), but slowly."""
    paths = _commands()
    top = {p[0] for p in paths if len(p) == 1}
    assert top == set(cli.CORE) | set(cli.SUBSYSTEMS)


def _loaded_by(args: list[str]) -> list[str]:
    """The subsystems' command modules a fresh ``courtlink`` process loads for ``args``."""
    code = (
        "import sys\n"
        "from server import cli\n"
        "try:\n"
        f"    cli.main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in set(cli.SUBSYSTEMS.values()) if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_a_command_loads_only_its_own_subsystem():
    assert _loaded_by(["user", "add", "--help"]) == []
    assert _loaded_by(["audit", "verify", "--help"]) == ["server.audit.cli"]
    assert _loaded_by(["drain", "--help"]) == ["server.cluster.cli"]
    assert len(_loaded_by(["--help"])) == len(set(cli.SUBSYSTEMS.values()))
