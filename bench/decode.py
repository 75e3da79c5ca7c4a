"""QR decoding speed: our decoder against the pyzbar baseline, on the same rendered frames."""

from __future__ import annotations

import statistics
import time

BENCH_SIZES = ((640, 480), (1280, 720))
BENCH_DECODERS = ("auto", "zbar")     # ours, then the baseline the ratio compares against
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def pass_like_text(rng, length: int = 300) -> str:
    """A CP1-shaped QR text (prefix + Base45 alphabet) of about a real pass's length."""
    return "CP1:" + "".join(rng.choice(list(_ALPHANUMERIC), length))


def measure_decode(frames: int = 100, seed: int = 7) -> dict:
    """Per size and content (empty gate / phone with a code): each decoder's median and p99
    ms per frame and the frames it read; `ratio` is baseline median / ours."""
    import numpy as np

    from drivers.qr import make_decoder
    from drivers.sim.render import Renderer

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
