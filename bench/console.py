"""Decision-to-screen latency: from a record's commit to the guard's page showing it.

The agent serves its console on a free loopback port and runs the lane scenario (one
person a second); real headless Chromium (Debian's, driven by Playwright) shows the page.
Each record's commit time is taken by a controller listener, each record's time on
screen by the page (the animation frame after it was drawn; the same machine's wall
clock). Beside it, in the same run, each decision's capture-to-commit time. Needs the
`playwright` package and /usr/bin/chromium (`make install` on a development machine).
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench.latency import spread
from bench.simrun import scenario_config
from edge.config import Section, load_config

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]
WARMUP = 3      # decisions left out while the page and the sensor start


def measure_console(config_path: Path, decisions: int = 200) -> dict:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"decisions": 0, "missing": "the playwright package (make install)"}
    if not CHROMIUM.exists():
        return {"decisions": 0, "missing": str(CHROMIUM)}
    from edge.agent import Agent

    committed: dict[str, float] = {}
    to_commit: list[float] = []
    enough = threading.Event()

    def on_outcome(outcome) -> None:
        to_commit.append((outcome.committed_mono - outcome.scan.t_mono) * 1000.0)

    def on_record(record, name) -> None:
        if len(committed) < decisions + WARMUP:    # then no more: the table stays still
            committed[record.id] = time.time() * 1000.0
        else:
            enough.set()

    with tempfile.TemporaryDirectory(prefix="cp-console-") as tmp:
        config = _config(config_path, Path(tmp))
        with Agent(config, on_outcome=on_outcome, console=True) as agent, \
                sync_playwright() as playwright:
            agent.controller.listeners.append(on_record)
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            page = browser.new_page()
            page.goto(f"http://{config.console.listen}/")
            enough.wait(decisions * 2.0 + 60)
            _until_shown(page, list(committed))
            shown = page.evaluate("window.shownAt || {}")
            browser.close()
    return console_figures(committed, shown, to_commit[WARMUP:decisions + WARMUP])


def wait_until_shown(page, ids: list[str], timeout_ms: float) -> dict[str, float]:
    """When the page showed each record (ms, wall clock), once it has shown every one of
    `ids`; playwright's TimeoutError if it has not within timeout_ms."""
    page.wait_for_function("ids => ids.every(id => (window.shownAt || {})[id])", arg=ids,
                           timeout=timeout_ms)
    return page.evaluate("window.shownAt || {}")


def _until_shown(page, ids: list[str], timeout_ms: float = 5000) -> None:
    """Wait for the page to show every committed record; those it never shows are missed."""
    try:
        wait_until_shown(page, ids, timeout_ms)
    except Exception:   # playwright's TimeoutError: counted as missed by console_figures
        pass


def console_figures(committed: dict[str, float], shown: dict[str, float],
                    to_commit: list[float]) -> dict:
    ids = list(committed)[WARMUP:]
    latencies = [shown[i] - committed[i] for i in ids if i in shown]
    if not latencies:
        return {"decisions": 0}
    return {"decisions": len(latencies), "missed": len(ids) - len(latencies),
            "to_screen": spread(latencies), "to_commit": spread(to_commit)}


def _config(config_path: Path, workdir: Path):
    config = load_config(config_path)
    config = scenario_config(config, config_path.parent / "lane-scenario.toml", workdir)
    return replace(config, console=Section({**config.console.values, "guards": None,
                                            "listen": f"127.0.0.1:{_free_port()}"}))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def show_console(figures: dict) -> None:
    print("Decision to screen: record committed to the console page showing it, in real "
          "headless Chromium (lane scenario)")
    if figures.get("missing"):
        print(f"  not measured: needs {figures['missing']}\n")
        return
    if not figures.get("decisions"):
        print("  no decision reached the page\n")
        return
    screen, commit = figures["to_screen"], figures["to_commit"]
    print(f"  decisions {figures['decisions']} (missed {figures['missed']})  to screen: "
          f"median {screen['median_ms']:.1f} ms, p99 {screen['p99_ms']:.1f} ms;  "
          f"capture to commit, same run: median {commit['median_ms']:.1f} ms, "
          f"p99 {commit['p99_ms']:.1f} ms\n")
