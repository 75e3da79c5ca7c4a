"""`checkpoint scan FILE...`: decode the QR codes in images or videos (PROTOCOL.md section 7).

One JSON line per file: `{"file", "codes", "ms"}`, `ms` being the decode time without
reading the file (a video: every distinct code, in the order first seen, and the median
time per frame). An unreadable file gets `{"file", "error"}` (and the same error as a line
on stderr) and makes the exit code 2; the other files are still scanned.
"""

from __future__ import annotations

import os
import stat
import statistics
import sys
import time
from pathlib import Path

from cli.common import emit

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def register(subparsers) -> None:
    parser = subparsers.add_parser("scan", help="decode QR codes in images or videos",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path,
                        help="an image (png, jpg, webp) or a video OpenCV can play")
    parser.set_defaults(func=run_scan)


def run_scan(args) -> int:
    from drivers.qr import make_decoder

    decoder = make_decoder("auto")
    status = 0
    for path in args.files:
        result = scan_file(decoder, path)
        emit(result)
        if "error" in result:
            status = 2
            print(f"checkpoint: scan: {path}: {result['error']}", file=sys.stderr)
    return status


def scan_file(decoder, path: Path) -> dict:
    if problem := _not_readable(path):
        return {"file": str(path), "error": problem}
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _scan_image(decoder, path)
    return _scan_video(decoder, path)


def _not_readable(path: Path) -> str | None:
    """Why `path` cannot be scanned before any decoder looks at it, or None."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):   # also a dangling symlink
        return "no such file"
    except OSError as exc:      # e.g. "permission denied" on a folder on the way
        return (exc.strerror or type(exc).__name__).lower()
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def _scan_image(decoder, path: Path) -> dict:
    from drivers.camera_opencv import read_image

    image = read_image(path)
    if image is None:
        return {"file": str(path), "error": "not a readable image"}
    started = time.perf_counter()
    codes = decoder.decode(image)
    return {"file": str(path), "codes": codes, "ms": _ms_since(started)}


def _scan_video(decoder, path: Path) -> dict:
    import cv2

    capture = cv2.VideoCapture(str(path))
    codes: dict[str, None] = {}
    times: list[float] = []
    try:
        while capture.isOpened():
            ok, image = capture.read()
            if not ok:
                break
            started = time.perf_counter()
            codes.update(dict.fromkeys(decoder.decode(image)))
            times.append(_ms_since(started))
    finally:
        capture.release()
    if not times:
        return {"file": str(path), "error": "not a readable image or video"}
    return {"file": str(path), "codes": list(codes), "ms": round(statistics.median(times), 2)}


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 2)
