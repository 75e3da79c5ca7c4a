"""One log format for the agent, the drivers and the district: one line per event.

    ts=2026-11-29T03:04:05.123Z level=warning event=sync_offline reason="keep alive timeout"

`ts` is RFC 3339 UTC with milliseconds; `level` is left out for info; the rest are
`key=value` pairs, a value quoted when it holds a space, `=` or a quote. A traceback stays
on the same line (as `traceback="..."`, newlines escaped), so journald and grep see one
event per line. Output goes to stdout, which journald reads under systemd.
"""

from __future__ import annotations

import logging
import sys

from models.timefmt import rfc3339

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
    """Log one event: `event("decision", seq=3, decision="pass")`."""
    _LOGGER.log(level, format_event(name, fields))


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


def setup(level: int = logging.INFO, stream=None) -> None:
    """Send every `checkpoint` log line to stdout (or `stream`) in the one format."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(LineFormatter())
    _LOGGER.handlers[:] = [handler]
    _LOGGER.setLevel(level)
    _LOGGER.propagate = False
