"""What the agent costs in CPU when its camera is dead, flaky or working, in one run.

    .venv/bin/python scripts/bench_idle.py [--seconds S] [--config F]

Runs `checkpoint run --simulate` three times on the demo config: a camera whose every read
fails (`sim://...?fail_every=1`), one that fails every other read (`fail_every=2`), and a
working one; each run is measured over the same window once the agent has started
(user + system CPU of the process, from /proc). A scanner that spun on a closed camera
would cost a whole core; the ratio column compares each run with the working camera,
measured in the same run because this machine is shared and noisy. The simulated
thermal sensor (a pty speaking its byte protocol at 12 frames a second) runs in every
case, so "dead" is not zero.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = (("dead camera", "?fail_every=1"), ("flaky camera", "?fail_every=2"),
         ("working camera", ""))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(config: Path, camera_query: str, seconds: float, folder: Path) -> float:
    """CPU share (1.0 = one core) of an agent over `seconds`, after it has started."""
    own = folder / config.name          # beside a copy of the demo district
    shutil.copytree(config.parent, folder)
    text = config.read_text().replace('url = "sim://demo-scenario.toml"',
                                      f'url = "sim://demo-scenario.toml{camera_query}"')
    own.write_text(text.replace('url = "mqtt://127.0.0.1:1883"', 'url = "mqtt://127.0.0.1:9"'))
    command = [sys.executable, "-m", "cli.main", "run", "--config", str(own), "--simulate",
               "--db", str(folder / "idle.db")]
    agent = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        if not any("event=started" in line for line in agent.stdout):
            raise SystemExit(f"bench_idle: the agent did not start: {agent.stderr.read()}")
        start_cpu, start = cpu_seconds(agent.pid), time.monotonic()
        time.sleep(seconds)                 # the measurement window
        return (cpu_seconds(agent.pid) - start_cpu) / (time.monotonic() - start)
    finally:
        agent.terminate()
        agent.communicate(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="measurement window per case (default: 6)")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "checkpoint.toml",
                        help="demo config (default: config/checkpoint.toml)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead")
    args = parser.parse_args()
    if not (args.config.parent / "demo" / "trustlist.json").exists():
        print(f"bench_idle: no demo district beside {args.config}: run `make install`",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cp-idle-") as tmp:
        shares = {name: measure(args.config.resolve(), query, args.seconds,
                                Path(tmp) / f"case{number}")
                  for number, (name, query) in enumerate(CASES)}
    base = shares["working camera"]
    rows = {name: {"cpu_share": round(share, 3), "ratio": round(share / base, 3)}
            for name, share in shares.items()}
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"agent CPU over {args.seconds:g} s windows (1.0 = one core; ratio to a working "
          "camera, same run)")
    for name, row in rows.items():
        print(f"  {name:<15} {row['cpu_share']:6.1%}   ratio {row['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
