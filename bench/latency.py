"""Scan-to-committed-decision latency, measured on a real simulated run of the agent.

The agent runs on its simulated drivers (bench/simrun.py); the latency of each decision
is from the capture of the frame the code was read in to the commit of its record, so it
includes the frame waiting for the scanner, decoding, waiting in the queue, verification,
waiting for a temperature and the commit (fsync). People approach the sensor
for a whole screening window (0.5 s) before they show their code, as at a gate where the
sensor stands before the camera, so a ready temperature is what is timed, not a person
still walking up. Decisions in the first WARMUP_S (the sensor's own warm-up) are left out.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from bench.simrun import run_scenario

WARMUP_S = 3.0
# frame: from capture until the scanner took the frame (rendering, a decode still busy
# with the frame before); the rest in the order a decision goes through them.
STAGES = ("frame_ms", "decode_ms", "queue_ms", "verify_ms", "temperature_ms", "commit_ms")
_SCENARIO = """
issuer_key = "{key}"
present_s = 0.5
gap_s = 0.5
approach_s = 0.5
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


def measure_latency(config_path: Path, decisions: int = 200, timeout_s: float | None = None
                    ) -> dict:
    """Run the simulated agent until `decisions` records after the warm-up are committed."""
    key = config_path.parent / "demo" / "issuer-key.pem"

    def counted(items, scene):
        return [d for d in items if d.presence is not None
                and d.presence.started - scene.started >= WARMUP_S]

    def enough(items, scene, now) -> bool:
        return len(counted(items, scene)) >= decisions

    with tempfile.TemporaryDirectory(prefix="cp-latency-") as tmp:
        scenario = Path(tmp) / "latency-scenario.toml"
        scenario.write_text(_SCENARIO.format(key=key.resolve().as_posix()), encoding="utf-8")
        decided, scene = run_scenario(config_path, scenario, enough=enough,
                                      timeout_s=timeout_s or WARMUP_S + decisions * 2.0 + 30)
    return latency_figures([d.outcome for d in counted(decided, scene)])


def latency_figures(outcomes: list) -> dict:
    if not outcomes:
        return {"decisions": 0}
    total = [(o.committed_mono - o.scan.t_mono) * 1000.0 for o in outcomes]
    figures = {"decisions": len(outcomes), **spread(total), "stages": {}}
    for stage in STAGES:
        values = [o.scan.decode_ms if stage == "decode_ms" else o.stages.get(stage, 0.0)
                  for o in outcomes]
        figures["stages"][stage] = spread(values)
    return figures


def spread(values: list[float]) -> dict:
    """Median, p99 and max of a list of milliseconds."""
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
            "max_ms": round(ordered[-1], 1)}


def show_latency(figures: dict) -> None:
    print("Scan-to-committed-decision latency in a simulated run (frame capture to SQLite "
          f"commit; people approach for a window; the first {WARMUP_S:g} s left out)")
    if not figures.get("decisions"):
        print("  no decision was made: is the demo district installed (make install)?\n")
        return
    print(f"  decisions {figures['decisions']}  median {figures['median_ms']:.1f} ms  "
          f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms")
    print(f"  {'stage':>16} {'median':>8} {'p99':>8} {'max':>8}")
    for stage, row in figures["stages"].items():
        print(f"  {stage[:-3]:>16} {row['median_ms']:>8.1f} {row['p99_ms']:>8.1f} "
              f"{row['max_ms']:>8.1f}")
    print()
