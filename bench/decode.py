"""QR decoding speed: our decoder against zxing-cpp alone and the pyzbar baseline, on the
same rendered frames; and what OpenCV's thread pool costs in CPU on those frames."""

from __future__ import annotations

import statistics
import time

BENCH_SIZES = ((640, 480), (1280, 720))
BENCH_DECODERS = ("auto", "zbar", "zxing")  # ours, the baseline `ratio` compares against,
                                            # and the first tier alone (`vs_zxing`)
THREAD_ROUNDS = 2           # alternations of pool on / off, so drift hits both alike
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def pass_like_text(rng, length: int = 300) -> str:
    """A CP1-shaped QR text (prefix + Base45 alphabet) of about a real pass's length."""
    return "CP1:" + "".join(rng.choice(list(_ALPHANUMERIC), length))


def measure_decode(frames: int = 100, seed: int = 7) -> dict:
    """Per size and content (empty gate / phone with a code): each decoder's median and p99
    ms per frame and the frames it read; `ratio` is baseline median / ours, `vs_zxing`
    ours / zxing-cpp alone (what the further tiers add). `opencv_threads`: CPU and wall
    time of our decoder on the first size's frames with OpenCV's pool on and off."""
    import numpy as np

    from drivers.qr import make_decoder
    from drivers.sim.render import Renderer

    decoders = {name: make_decoder(name) for name in BENCH_DECODERS}
    rows, first_images = [], []
    for size in BENCH_SIZES:
        rng = np.random.default_rng(seed)
        renderer = Renderer(size)
        text = pass_like_text(rng)
        for content in ("empty", "code"):
            shown = text if content == "code" else None
            images = [renderer.frame(shown, rng) for _ in range(frames)]
            first_images += images if size == BENCH_SIZES[0] else []
            rows.append(_row(size, content, images, shown, decoders))
    return {"rows": rows, "opencv_threads": measure_threads(decoders["auto"], first_images)}


def _row(size, content: str, images: list, shown: str | None, decoders: dict) -> dict:
    ours, base, alone = BENCH_DECODERS
    row = {"size": f"{size[0]}x{size[1]}", "content": content, "frames": len(images),
           **_time_decoders(decoders, images, shown)}
    row["ratio"] = round(row[base]["median_ms"] / max(row[ours]["median_ms"], 1e-3), 1)
    row["vs_zxing"] = round(row[ours]["median_ms"] / max(row[alone]["median_ms"], 1e-3), 2)
    return row


def _time_decoders(decoders: dict, images: list, expected: str | None) -> dict:
    """Each decoder on each frame in turn, the order rotating per frame: on a shared
    machine the load drifts within seconds, and decoder after decoder would see different
    machines."""
    times = {name: [] for name in decoders}
    read = dict.fromkeys(decoders, 0)
    names = list(decoders)
    for n, image in enumerate(images):
        for name in names[n % len(names):] + names[:n % len(names)]:
            started = time.perf_counter()
            texts = decoders[name].decode(image)
            times[name].append((time.perf_counter() - started) * 1000.0)
            read[name] += (expected in texts) if expected is not None else bool(texts)
    return {name: _summary(times[name], read[name]) for name in names}


def _summary(times: list[float], read: int) -> dict:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
            "read": read}


def measure_threads(decoder, images: list) -> dict:
    """ms per frame of wall and of process CPU (every thread's, so a spinning pool counts)
    decoding `images` with OpenCV's default pool and with it off, as the decoder runs."""
    import cv2

    from drivers.qr import single_threaded_opencv

    totals = {"pool": [0.0, 0.0], "off": [0.0, 0.0]}
    try:
        for _ in range(THREAD_ROUNDS):
            for setting in totals:
                cv2.setNumThreads(-1 if setting == "pool" else 0)   # -1: OpenCV's default
                wall, cpu = _clocked(decoder, images)
                totals[setting][0] += wall
                totals[setting][1] += cpu
    finally:
        single_threaded_opencv()
    frames = max(1, THREAD_ROUNDS * len(images))
    return {setting: {"wall_ms": round(wall * 1000.0 / frames, 3),
                      "cpu_ms": round(cpu * 1000.0 / frames, 3)}
            for setting, (wall, cpu) in totals.items()}


def _clocked(decoder, images: list) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for image in images:
        decoder.decode(image)
    return time.perf_counter() - wall, time.process_time() - cpu


def show_decode(figures: dict) -> None:
    ours, base, alone = BENCH_DECODERS
    print(f"QR decode, ms per frame ({ours} = our decoder, {alone} = zxing-cpp alone, "
          f"{base} = baseline; read = frames decoded to the shown text, or false reads on "
          "empty frames)")
    print(f"{'size':>9} {'content':>7} {ours + ' med':>9} {'p99':>7} {'read':>5} "
          f"{alone + ' med':>9} {'read':>5} {base + ' med':>9} {'p99':>7} {'read':>5} "
          f"{'ratio':>6} {'vs zxing':>8}")
    for row in figures["rows"]:
        a, z, b = row[ours], row[alone], row[base]
        print(f"{row['size']:>9} {row['content']:>7} {a['median_ms']:>9.2f} {a['p99_ms']:>7.2f} "
              f"{a['read']:>5} {z['median_ms']:>9.2f} {z['read']:>5} {b['median_ms']:>9.2f} "
              f"{b['p99_ms']:>7.2f} {b['read']:>5} {row['ratio']:>5.1f}x "
              f"{row['vs_zxing']:>7.2f}x")
    threads = figures.get("opencv_threads")
    if threads:
        print(f"OpenCV's thread pool, {ours} on the {figures['rows'][0]['size']} frames "
              "(ms per frame): " + "; ".join(
                  f"{name}: wall {t['wall_ms']:.3f}, CPU {t['cpu_ms']:.3f}"
                  for name, t in threads.items()))
    print()
