"""One log format for the agent, the drivers and the district: one line per event.

    ts=2026-11-29T03:04:05.123Z level=warning event=sync_offline reason="keep alive timeout"

`ts` is RFC 3339 UTC with milliseconds; `level` is left out for info; the rest are
`key=value` pairs, a value quoted when it holds a space, `=` or a quote. A traceback stays
on the same line (as `traceback="..."`, newlines escaped), so journald and grep see one
event per line. Output goes to stdout; under systemd, when stdout is the journal's
stream, each event goes instead to journald natively with its keys as fields
(runtime/journald.py), and a failed send still writes the line to stdout.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from models.timefmt import rfc3339
from runtime import journald

_LOGGER = logging.getLogger("checkpoint")


def _value(value) -> str:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if text == "" or any(c in text for c in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def format_event(name: str, fields: dict) -> str:
    return " ".join([f"event={name}", *(f"{k}={_value(v)}" for k, v in fields.items())])


def event(name: str, level: int = logging.INFO, **fields) -> None:
    """Log one event: `event("decision", seq=3, decision="pass")`. The name and keys ride
    along on the record for the journal handler."""
    _LOGGER.log(level, format_event(name, fields), extra={"event": name, "fields": fields})


def worth_logging(count: int) -> bool:
    """For a fault that repeats: log its 1st, 2nd, 4th, 8th... occurrence, then every
    1000th, so a flaky part is seen without flooding the journal."""
    return count & (count - 1) == 0 or count % 1000 == 0


class LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else f" level={record.levelname.lower()}"
        line = f"ts={rfc3339(record.created)}{level} {record.getMessage()}"
        if record.exc_info:
            line += " traceback=" + _value(self.formatException(record.exc_info))
        return line


def setup(level: int = logging.INFO, stream=None, environ: Mapping[str, str] | None = None,
          journal: Path = journald.SOCKET) -> None:
    """Send every `checkpoint` log line to stdout (or `stream`) in the one format, or to
    the journal natively when systemd made stdout (or stderr) the journal's stream;
    `environ` and `journal` (the native socket's path) are for tests."""
    lines = logging.StreamHandler(stream or sys.stdout)
    lines.setFormatter(LineFormatter())
    env = os.environ if environ is None else environ
    native = journald.journal_socket(env, (stream or sys.stdout, sys.stderr), journal)
    handler: logging.Handler = lines
    if native is not None:
        handler = journald.JournalHandler(native, fallback=lines)
        handler.setFormatter(LineFormatter())
    for old in _LOGGER.handlers:
        old.close()
    _LOGGER.handlers[:] = [handler]
    _LOGGER.setLevel(level)
    _LOGGER.propagate = False
