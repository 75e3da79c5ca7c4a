"""The one log line format (runtime/logs.py), as a pattern a test can hold output to."""

from __future__ import annotations

import re

LINE = re.compile(r"ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z( level=[a-z]+)? event=[a-z_]+( |$)")
