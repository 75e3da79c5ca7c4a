"""The one log line format (runtime/logs.py), as a pattern a test can hold output to."""

from __future__ import annotations

import contextlib
import logging
import re

LINE = re.compile(r"ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z( level=[a-z]+)? event=[a-z_]+( |$)")


@contextlib.contextmanager
def captured_lines():
    """The `checkpoint` log lines emitted inside the block, as a list that fills as they
    come (runtime.logs.setup() may have turned propagation off, so caplog can miss them)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda entry: lines.append(entry.getMessage())
    logger = logging.getLogger("checkpoint")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
