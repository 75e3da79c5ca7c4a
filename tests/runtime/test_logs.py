"""One log format for the agent, the drivers and the district: one line per event,
`ts=` RFC 3339 UTC, key=value pairs."""

from __future__ import annotations

import io
import logging
import signal
import subprocess

from runtime import logs
from tests.support.loglines import LINE
from tests.support.paths import CHECKPOINT, REPO


def test_values_are_quoted_and_a_traceback_stays_on_its_line():
    stream = io.StringIO()
    logs.setup(stream=stream)
    try:
        logs.event("sample", note='a "quoted" value', empty="", count=3, reasons=["a", "b"])
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logging.getLogger("checkpoint").exception(logs.format_event("failed", {}))
    finally:
        logging.getLogger("checkpoint").handlers.clear()
        logging.getLogger("checkpoint").propagate = True
    first, second = stream.getvalue().splitlines()
    assert LINE.match(first) and LINE.match(second)
    assert first.endswith('event=sample note="a \\"quoted\\" value" empty="" count=3 reasons=a,b')
    assert "level=error event=failed traceback=" in second and "\\n" in second


def test_the_district_receiver_logs_in_the_same_format(tmp_path, broker):
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\n[store]\nurl = "sqlite:///district.db"\n')
    serve = subprocess.Popen(CHECKPOINT + ["district", "serve", "--config", str(config)],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in serve.stdout:           # up to the moment it is subscribed
        lines.append(line.rstrip("\n"))
        if "event=receiver_ready" in line:
            break
    serve.send_signal(signal.SIGTERM)
    out, err = serve.communicate(timeout=20)
    lines += out.splitlines()
    assert serve.returncode == 0, err
    assert any("event=serving" in line for line in lines)
    assert lines and all(LINE.match(line) for line in lines), lines
