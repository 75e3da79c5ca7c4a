"""What every subcommand shares: the user-error type and JSON-lines output."""

from __future__ import annotations

import json
import sys
from typing import Any


class UsageError(Exception):
    """A mistake the user can fix: printed as one line on stderr, exit code 2."""


def emit(obj: dict[str, Any]) -> None:
    """Print one JSON object as one line, flushed so pipes see it at once."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
