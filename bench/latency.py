"""Scan-to-committed-decision latency, measured on a real simulated run of the agent.

The agent runs on its simulated drivers (rendered frames through the real decoder, the
pty sensor through the real serial driver, a real SQLite file); the latency of each
decision is from the capture of the frame the code was read in to the commit of its
record, so it includes decoding, waiting for a temperature, verification and fsync.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from edge.agent import Agent
from edge.config import Config, Section, load_config

_SCENARIO = """
issuer_key = "{key}"
present_s = 1.2
gap_s = 1.2
approach_s = 0.8
loop = true
[[person]]
pass = "green"
temperature_c = 36.5
[[person]]
pass = "red"
temperature_c = 36.6
[[person]]
pass = "green"
temperature_c = 38.5
"""


def _bench_config(config: Config, workdir: Path) -> Config:
    scenario = workdir / "scenario.toml"
    key = config.base_dir / "demo" / "issuer-key.pem"
    scenario.write_text(_SCENARIO.format(key=key.as_posix()), encoding="utf-8")
    config = config.simulated().with_db(workdir / "bench.db")
    return replace(config, camera=Section({**config.camera.values,
                                           "url": f"sim://{scenario.as_posix()}"}))


def measure_latency(config_path: Path, decisions: int = 12, timeout_s: float = 90.0) -> dict:
    """Run the simulated agent until `decisions` records are committed; latency figures."""
    latencies: list[float] = []
    enough = threading.Event()

    def on_outcome(outcome) -> None:
        latencies.append((outcome.committed_mono - outcome.scan.t_mono) * 1000.0)
        if len(latencies) >= decisions:
            enough.set()

    with tempfile.TemporaryDirectory(prefix="cp-bench-") as tmp:
        config = _bench_config(load_config(config_path), Path(tmp))
        with Agent(config, on_outcome=on_outcome):
            enough.wait(timeout_s)
    if not latencies:
        return {"decisions": 0}
    ordered = sorted(latencies)
    return {
        "decisions": len(ordered),
        "median_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def show_latency(figures: dict) -> None:
    print("Scan-to-committed-decision latency in a simulated run (frame capture to SQLite "
          "commit: decode, temperature, verify, fsync)")
    if not figures.get("decisions"):
        print("  no decision was made: is the demo district installed (make install)?\n")
        return
    print(f"  decisions {figures['decisions']}  median {figures['median_ms']:.1f} ms  "
          f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms\n")
