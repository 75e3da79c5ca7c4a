"""Soak the reading path: rendered presentations of real passes through the real scanner.

    .venv/bin/python scripts/read_presentations.py [--presentations N] [--seed S]
        [--frames F] [--json]

Each presentation is one phone pose held for F consecutive frames (hand tremor, glare and
sensor noise differ per frame, as the simulated camera renders them) showing a freshly
issued CP1 pass (real ES256 signature, names and units of varying length, so codes of
several QR versions); the poses cycle through Looks from the default to harder ones (more
blur, glare, noise, tilt, a smaller code, 1280x720 frames). The frames go through the
real decoder and the real Scanner (dedup and certainty rule), presentations `repeat_s`
apart so each is a new one. A misread is the scanner emitting a text that is not the
text shown; `caught` counts wrong texts the decoder returned that the scanner held back.

Exit 1 on any misread, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FPS = 15.0
REPEAT_S = 3.0
ISSUER = "CN-BJ-110105"
# (name, size, Look fields): the default first, then harder ones
LOOKS = (
    ("default", (640, 480), {}),
    ("blurry", (640, 480), {"blur": 1.6, "noise": 6.0}),
    ("glare", (640, 480), {"glare": 1.0, "noise": 8.0}),
    ("tilted", (640, 480), {"tilt": 0.3, "turn_deg": 35.0, "blur": 1.2}),
    ("small", (640, 480), {"fill": 0.42, "noise": 6.0}),
    ("hard", (640, 480), {"tilt": 0.25, "turn_deg": 25.0, "blur": 1.4, "glare": 0.9,
                          "noise": 8.0}),
    ("hd", (1280, 720), {"blur": 1.5, "glare": 0.8, "noise": 6.0}),
)


@dataclass
class Tally:
    presentations: int = 0
    read: int = 0
    first_frame: int = 0        # read in the presentation's first frame
    confirmed: int = 0          # emitted only once a second frame agreed
    misreads: int = 0

    @property
    def missed(self) -> int:
        return self.presentations - self.read


@dataclass
class Report:
    looks: dict[str, Tally] = field(default_factory=dict)
    caught: Counter = field(default_factory=Counter)   # decoder step -> wrong texts held back
    examples: list[str] = field(default_factory=list)  # misread texts, the first few

    @property
    def total(self) -> Tally:
        total = Tally()
        for tally in self.looks.values():
            for name in ("presentations", "read", "first_frame", "confirmed", "misreads"):
                setattr(total, name, getattr(total, name) + getattr(tally, name))
        return total


class Pass:
    """Real CP1 passes from one key derived from the seed; contents drawn from `rng`."""

    def __init__(self, rng) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.rng = rng
        self.key = ec.derive_private_key(int(rng.integers(1, 2**62)), ec.SECP256R1())

    def issue(self) -> str:
        from models import cp1

        rng = self.rng
        iat = 1_790_000_000 + int(rng.integers(0, 10**6))
        name = "".join(rng.choice(list("ABCDEFGHIJ张王李赵"), int(rng.integers(0, 24))))
        unit = f"{int(rng.integers(1, 40))}-{int(rng.integers(1, 3000))}" * int(
            rng.integers(0, 4))
        return cp1.issue_cp1(self.key, iss=ISSUER, color=str(rng.choice(cp1.COLORS)),
                             iat=iat, exp=iat + 120, sub=rng.bytes(16), cti=rng.bytes(16),
                             name=name or None, unit=unit or None,
                             tested_at=iat - 3600 if rng.random() < 0.5 else None)


class Tap:
    """The decoder as the scanner sees it, noting each wrong text it returns."""

    def __init__(self, decoder, report: Report) -> None:
        self.decoder = decoder
        self.report = report
        self.shown: str | None = None

    def reads(self, image):
        from drivers.qr import Read

        if hasattr(self.decoder, "reads"):
            reads = self.decoder.reads(image)
        else:
            reads = [Read(text, step="") for text in self.decoder.decode(image)]
        for read in reads:
            if read.text != self.shown:
                self.report.caught[read.step or "?"] += 1
        return reads


def soak(presentations: int, seed: int, frames: int, decoder=None) -> Report:
    """Run `presentations` through the scanner; `decoder` defaults to the real one."""
    import numpy as np

    from drivers.base import Frame
    from drivers.clock import SystemClock
    from drivers.qr import make_decoder
    from edge.scanner import Scanner

    rng = np.random.default_rng(seed)
    report = Report()
    tap = Tap(decoder or make_decoder("auto"), report)
    scans: list = []
    scanner = Scanner(None, tap, scans.append, clock=SystemClock(), repeat_s=REPEAT_S)
    renderers = _renderers(seed)
    passes = Pass(rng)
    for number in range(presentations):
        name, renderer = renderers[number % len(renderers)]
        tap.shown = passes.issue()
        start = number * (REPEAT_S + 1.0)
        scans.clear()
        for index, image in enumerate(_frames(renderer, tap.shown, frames, rng)):
            scanner.scan_frame(Frame(image, number * frames + index, start + index / FPS))
        _count(report.looks.setdefault(name, Tally()), scans, tap.shown, start, report)
    return report


def _renderers(seed: int) -> list:
    from drivers.sim.render import Look, Renderer

    return [(name, Renderer(size, look=Look(**look), scene_seed=seed + n))
            for n, (name, size, look) in enumerate(LOOKS)]


def _frames(renderer, text: str, count: int, rng):
    """One pose, `count` frames of it moved by tremor, as the simulated camera renders."""
    from drivers.sim.render import jitter, random_pose

    pose = random_pose(renderer.size, renderer.sprite(text).shape, renderer.look, rng)
    for _ in range(count):
        yield renderer.frame(text, rng, jitter(pose, rng))


def _count(tally: Tally, scans: list, shown: str, start: float, report: Report) -> None:
    tally.presentations += 1
    for scan in scans:
        if scan.text != shown:
            tally.misreads += 1
            if len(report.examples) < 5:
                report.examples.append(scan.text[:80])
            continue
        tally.read += 1
        tally.first_frame += scan.t_mono == start
        tally.confirmed += scan.confirmed


def figures(report: Report) -> dict:
    rows = {name: _row(tally) for name, tally in report.looks.items()}
    return {"total": _row(report.total), "looks": rows, "caught": dict(report.caught),
            "misread_examples": report.examples}


def _row(tally: Tally) -> dict:
    return {"presentations": tally.presentations, "read": tally.read, "missed": tally.missed,
            "misreads": tally.misreads, "first_frame": tally.first_frame,
            "confirmed": tally.confirmed}


def show(result: dict, frames: int) -> None:
    print(f"presentations of {frames} frames; read = the shown pass emitted, misreads = "
          "another text emitted")
    print(f"{'look':>8} {'shown':>7} {'read':>7} {'missed':>7} {'misreads':>8} "
          f"{'1st frame':>9} {'confirmed':>9}")
    for name, row in [*result["looks"].items(), ("total", result["total"])]:
        print(f"{name:>8} {row['presentations']:>7} {row['read']:>7} {row['missed']:>7} "
              f"{row['misreads']:>8} {row['first_frame']:>9} {row['confirmed']:>9}")
    caught = ", ".join(f"{step} {n}" for step, n in sorted(result["caught"].items()))
    print(f"wrong texts from the decoder, by step: {caught or 'none'}")
    for text in result["misread_examples"]:
        print(f"MISREAD {text!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presentations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frames", type=int, default=4, help="frames per presentation")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    if args.presentations < 1 or args.frames < 1:
        parser.error("--presentations and --frames must be at least 1")
    result = figures(soak(args.presentations, args.seed, args.frames))
    if args.json:
        print(json.dumps(result))
    else:
        show(result, args.frames)
    return 1 if result["total"]["misreads"] else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
