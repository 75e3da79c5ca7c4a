"""One simulated run of the whole agent on a scenario, for the lane and latency sections.

The agent runs on its simulated drivers (rendered frames through the real decoder, the
pty sensor through the real serial driver, a real SQLite file); every committed decision
is collected with the presence the code was read from (the scene says who stood at the
gate when the frame was captured), so figures are about people, not just records.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from edge.agent import Agent
from edge.config import Config, Section, load_config


@dataclass(frozen=True)
class Decided:
    """One committed decision and the person it was for."""

    outcome: object             # edge.controller.Outcome
    presence: object | None     # drivers.sim.scene.Presence shown in the frame, if any


def scenario_config(config: Config, scenario: Path, workdir: Path) -> Config:
    """`config` on simulated drivers, a fresh database, and the camera playing `scenario`."""
    config = config.simulated().with_db(workdir / "bench.db")
    return replace(config, camera=Section({**config.camera.values,
                                           "url": f"sim://{scenario.resolve().as_posix()}"}))


def run_scenario(config_path: Path, scenario: Path, *, enough, timeout_s: float):
    """Run the agent on `scenario` until `enough(decided, scene, now)` or `timeout_s`; the
    decisions in commit order and the scene."""
    decided: list[Decided] = []
    done = threading.Event()
    box: dict = {}

    def on_outcome(outcome) -> None:
        scene = box["agent"].scene
        decided.append(Decided(outcome, scene.at(outcome.scan.t_mono)))
        if enough(decided, scene, outcome.committed_mono):
            done.set()

    with tempfile.TemporaryDirectory(prefix="cp-bench-") as tmp:
        config = scenario_config(load_config(config_path), scenario, Path(tmp))
        agent = box["agent"] = Agent(config, on_outcome=on_outcome)
        with agent:
            done.wait(timeout_s)
        return list(decided), agent.scene
