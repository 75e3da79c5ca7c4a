"""Structured logging: one line per event, `key=value` pairs, to stdout (journald reads it)."""

from __future__ import annotations

import logging
import sys

from models.timefmt import rfc3339

_LOGGER = logging.getLogger("checkpoint")


def _value(value) -> str:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text = "" if value is None else str(value)
    if text == "" or any(c in text for c in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def format_event(name: str, fields: dict) -> str:
    return " ".join([f"event={name}", *(f"{k}={_value(v)}" for k, v in fields.items())])


def event(name: str, level: int = logging.INFO, **fields) -> None:
    _LOGGER.log(level, format_event(name, fields))


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else f" level={record.levelname.lower()}"
        return f"ts={rfc3339(record.created)}{level} {record.getMessage()}"


def setup(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Formatter())
    _LOGGER.handlers[:] = [handler]
    _LOGGER.setLevel(level)
    _LOGGER.propagate = False
