"""Every option of every subcommand says what it does and, where it has one, its default;
`checkpoint --version` names the installed version."""

from __future__ import annotations

import argparse
import subprocess
from importlib import metadata

import pytest

from cli.main import build_parser
from runtime.version import VERSION
from tests.support.paths import CHECKPOINT_SCRIPT


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("checkpoint",)):
    """(command words, parser) for the parser and every subparser under it, recursively."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


PARSERS = dict(_parsers(build_parser()))


def test_the_walk_reaches_the_nested_subcommands():
    assert {("checkpoint", "sim", "thermal"), ("checkpoint", "district", "trace"),
            ("checkpoint", "config", "check"), ("checkpoint", "keys", "rotate")} <= set(PARSERS)


@pytest.mark.parametrize("path", list(PARSERS), ids=" ".join)
def test_every_argument_has_help_and_its_default_is_shown_once(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")      # no wrapping: a default is on one line
    parser = PARSERS[path]
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.metavar or action.dest
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"{' '.join(path)} {choice.dest}: subcommand without help"
            continue
        assert action.help and action.help is not argparse.SUPPRESS, \
            f"{' '.join(path)} {name}: no help"
        default = action.default
        if not action.option_strings or default is None or default is False \
                or default is argparse.SUPPRESS:
            continue
        shown = f"(default: {default})"
        assert shown in text, f"{' '.join(path)} {name}: {shown} not in its help"
        # The formatter adds the default; a hand-written one would say it twice.
        assert "default" not in action.help, f"{' '.join(path)} {name}: default said twice"


def test_version_prints_the_installed_version():
    done = subprocess.run([CHECKPOINT_SCRIPT, "--version"], capture_output=True, text=True,
                          timeout=30)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"checkpoint {VERSION}\n"
    assert metadata.version("checkpoint") == VERSION
