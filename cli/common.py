"""What every subcommand shares: the user-error type, config errors, JSON-lines output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A mistake the user can fix: printed as one line on stderr, exit code 2."""


def emit(obj: dict[str, Any]) -> None:
    """Print one JSON object as one line, flushed so pipes see it at once.

    Text is written as it is; a line stdout cannot encode (a file name in another
    encoding, kept as surrogate escapes; a locale that is not UTF-8) is written with JSON
    \\u escapes instead: the same JSON, rather than a traceback."""
    try:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    except UnicodeEncodeError:      # raised before any of the line is written
        sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def config_usage_error(exc) -> UsageError:
    """A ConfigError as the user sees it: every problem on its own stderr line, then the
    one-line summary that ends the command with exit code 2."""
    if len(exc.errors) == 1:
        return UsageError(f"config {exc.path}: {exc.errors[0]}")
    for error in exc.errors:
        print(f"config {exc.path}: {error}", file=sys.stderr)
    return UsageError(f"config {exc.path}: {len(exc.errors)} errors")


def read_bytes(path: Path, what: str) -> bytes:
    """A file's bytes; UsageError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror}") from None


def parse_time(text: str | float | int, what: str) -> float:
    """Epoch seconds from RFC 3339 text (or a number given as is); UsageError if bad."""
    from models.timefmt import parse_rfc3339

    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    try:
        return parse_rfc3339(str(text))
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
