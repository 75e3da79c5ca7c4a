"""`checkpoint bench [--json] [--frames N]`: how fast the device's hot paths are, measured here.

Each section is a function returning a dict of figures plus a function printing them as a
table; `SECTIONS` lists them in the order they run. The decode section times our decoder
("auto") and the pyzbar baseline on the same rendered frames, in the same run.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.cli.common import UsageError
from edge.verify_bench import measure_verify, show_verify

BENCH_SIZES = ((640, 480), (1280, 720))
BENCH_DECODERS = ("auto", "zbar")     # ours, then the baseline the ratio compares against
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@dataclass(frozen=True)
class Section:
    name: str
    measure: Callable[[object], dict]   # parsed arguments -> figures (JSON-ready)
    show: Callable[[dict], None]        # figures -> a table on stdout


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="measure decode time (and more) on this machine",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    parser.add_argument("--frames", type=int, default=100,
                        help="frames per case for the decode section (default 100)")
    parser.add_argument("--decisions", type=int, default=12,
                        help="decisions to time in the simulated run (default 12)")
    parser.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"),
                        help="config whose demo district the simulated run uses")
    parser.add_argument("--only", choices=[s.name for s in SECTIONS],
                        help="run one section only")
    parser.set_defaults(func=run_bench)


def run_bench(args) -> int:
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames}: must be at least 1")
    if args.decisions < 1:
        raise UsageError(f"--decisions {args.decisions}: must be at least 1")
    sections = [s for s in SECTIONS if args.only in (None, s.name)]
    figures = {section.name: section.measure(args) for section in sections}
    if args.json:
        print(json.dumps(figures))
        return 0
    for section in sections:
        section.show(figures[section.name])
    return 0


def pass_like_text(rng, length: int = 300) -> str:
    """A CP1-shaped QR text (prefix + Base45 alphabet) of about a real pass's length."""
    return "CP1:" + "".join(rng.choice(list(_ALPHANUMERIC), length))


def measure_decode(frames: int = 100, seed: int = 7) -> dict:
    """Per size and content (empty gate / phone with a code): each decoder's median and p99
    ms per frame and the frames it read; `ratio` is baseline median / ours."""
    import numpy as np

    from drivers.qr import make_decoder
    from drivers.render import Renderer

    decoders = {name: make_decoder(name) for name in BENCH_DECODERS}
    rows = []
    for size in BENCH_SIZES:
        rng = np.random.default_rng(seed)
        renderer = Renderer(size)
        text = pass_like_text(rng)
        for content in ("empty", "code"):
            shown = text if content == "code" else None
            images = [renderer.frame(shown, rng) for _ in range(frames)]
            row = {"size": f"{size[0]}x{size[1]}", "content": content, "frames": frames}
            for name, decoder in decoders.items():
                row[name] = _time_decoder(decoder, images, shown)
            row["ratio"] = round(row[BENCH_DECODERS[1]]["median_ms"]
                                 / max(row[BENCH_DECODERS[0]]["median_ms"], 1e-3), 1)
            rows.append(row)
    return {"rows": rows}


def _time_decoder(decoder, images: list, expected: str | None) -> dict:
    times, read = [], 0
    for image in images:
        started = time.perf_counter()
        texts = decoder.decode(image)
        times.append((time.perf_counter() - started) * 1000.0)
        read += (expected in texts) if expected is not None else bool(texts)
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
            "read": read}


def show_decode(figures: dict) -> None:
    ours, base = BENCH_DECODERS
    print(f"QR decode, ms per frame ({ours} = our decoder, {base} = baseline; "
          "read = frames decoded to the shown text, or false reads on empty frames)")
    print(f"{'size':>9} {'content':>7} {ours + ' med':>9} {'p99':>7} {'read':>5} "
          f"{base + ' med':>9} {'p99':>7} {'read':>5} {'ratio':>6}")
    for row in figures["rows"]:
        a, b = row[ours], row[base]
        print(f"{row['size']:>9} {row['content']:>7} {a['median_ms']:>9.2f} {a['p99_ms']:>7.2f} "
              f"{a['read']:>5} {b['median_ms']:>9.2f} {b['p99_ms']:>7.2f} {b['read']:>5} "
              f"{row['ratio']:>5.1f}x")
    print()


def measure_latency(args) -> dict:
    from edge.cli.config import load_or_explain
    from edge.latency import measure_latency as run_simulated

    load_or_explain(args.config)
    return run_simulated(args.config, decisions=args.decisions)


def show_latency(figures: dict) -> None:
    print("Scan-to-committed-decision latency in a simulated run (frame capture to SQLite "
          "commit: decode, temperature, verify, fsync)")
    if not figures.get("decisions"):
        print("  no decision was made: is the demo district installed (make install)?\n")
        return
    print(f"  decisions {figures['decisions']}  median {figures['median_ms']:.1f} ms  "
          f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms\n")


# The sections `checkpoint bench` runs, in order. A new section is one more entry:
# Section("name", measure=lambda args: {...figures...}, show=print_its_table).
SECTIONS: list[Section] = [
    Section("decode", measure=lambda args: measure_decode(args.frames), show=show_decode),
    Section("latency", measure=measure_latency, show=show_latency),
    Section("verify", measure=lambda args: measure_verify(), show=show_verify),
    Section("thermal", measure=lambda args: measure_thermal(), show=lambda f: show_thermal(f)),
]


def measure_thermal() -> dict:
    from edge.thermal_bench import measure

    return measure()


def show_thermal(figures: dict) -> None:
    from edge.thermal_bench import show

    show(figures)
