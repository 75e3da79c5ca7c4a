"""QR decoding: zxing-cpp on every frame, slower tries only where a code is likely.

Most camera frames hold no code, so the cost of an empty frame decides how much CPU the
scanner burns; zxing-cpp is about ten times cheaper than zbar there. Three tiers:

1. zxing-cpp on the whole frame (every frame).
2. Found nothing at all: a quick look, zxing-cpp with its global binarizer on the frame
   halved by area averaging. It costs about a fifth of tier 1 and reads codes whose
   modules are textured or noisy (averaging smooths them) or too dim for the local
   binarizer; it is also the trigger for tier 3, by reporting a symbol it could not read.
3. A symbol located but not decoded (tier 1 or 2 report one): zbar on the whole frame,
   zxing-cpp with its other binarizer, then both on an enlarged crop around the symbol,
   then zxing-cpp on that crop sharpened. Empty frames never pay for these.

Only QR Model 1 and 2 are read. zxing-cpp's `QRCode` is the whole family, and Micro QR's
smallest versions (M1: error detection only, no correction) are "found" in the finder
patterns and timing rows of a large QR code: a phone showing a pass then also yields a
4-6 digit text, which the gate denied as an unknown format. No pass fits a Micro QR or
an rMQR symbol anyway.

Every text comes as a `Read` saying which try found it and, from zxing-cpp, how much of
the symbol's error correction was left unused: the scanner's certainty rule uses both.

Text: zxing-cpp's `Plain` text honours ECI and guesses the character set of byte
segments (Shift_JIS, ...); its `bytes` are the raw payload. A payload that is valid
UTF-8 is taken as UTF-8 (what phones and our issuer write), otherwise zxing-cpp's guess
stands. zbar hands back its own transcoding to UTF-8, which mistakes short UTF-8 text
for Shift_JIS or Latin-1; `zbar_text` undoes that when the round trip gives valid UTF-8
and otherwise falls back to GB18030, then Latin-1 (which never fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.base import DriverError, QrDecoder

DECODERS = ("auto", "zxing", "zbar")
FIRST, QUICK = "zxing", "quick"     # the steps of tiers 1 and 2; tier 3's are named below
_CROP_MIN_PX = 400          # a crop is enlarged to at least this many pixels...
_CROP_MAX_PX = 1200         # ...and at most this many, whatever the symbol's size
_CROP_MARGIN = 0.25         # of the symbol's size, kept around it in the crop
_OPENCV_THREADS = 0         # sequential: see single_threaded_opencv
QR_MIN_MODULES = 21        # version 1: a halved image narrower than this holds no code


@dataclass(frozen=True)
class Read:
    """One text and how it was read."""

    text: str
    step: str                       # FIRST, QUICK, or a tier-3 step ("zbar", "crop", ...)
    margin: float | None = None     # zxing-cpp: unused error correction, 0..1; zbar: None


def make_decoder(name: str = "auto") -> QrDecoder:
    """"auto": zxing-cpp with further tries; "zxing": zxing-cpp alone; "zbar": pyzbar alone."""
    if name == "auto":
        return PipelineDecoder()
    if name == "zxing":
        return ZxingDecoder()
    if name == "zbar":
        return ZbarDecoder()
    raise DriverError(f"QR decoder {name!r}: allowed: {', '.join(DECODERS)}")


def single_threaded_opencv() -> None:
    """Run OpenCV's functions on the calling thread. On our frames its pool only spins: a
    colour conversion or resize splits into slices too small to pay for a hand-over, so
    the idle worker busy-waits for the next one while zxing-cpp runs. Measured on 640x480
    frames: the same wall time, about 45 % less CPU (`checkpoint bench --only decode`).
    Process-wide, like the pool: the capture and rendering threads run sequentially too."""
    import cv2

    cv2.setNumThreads(_OPENCV_THREADS)


def to_gray(image: Any):
    """An 8-bit single-channel view of a BGR, BGRA or grayscale numpy image."""
    import cv2
    import numpy as np

    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1.0, float(image.max())))
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 1:
        return np.ascontiguousarray(image[:, :, 0])
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def zxing_text(barcode) -> str:
    raw = barcode.bytes
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return barcode.text


def zbar_text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return _undo_zbar_guess(text)


def _undo_zbar_guess(text: str) -> str:
    if text.isascii():
        return text
    for guessed in ("shift_jis", "latin-1"):
        try:
            original = text.encode(guessed).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if original != text:
            return original
    return text


def texts_of(reads: list[Read]) -> list[str]:
    return _unique(read.text for read in reads)


class ZxingDecoder(QrDecoder):
    """zxing-cpp alone; `read` also returns the corners of symbols it could not decode."""

    def __init__(self) -> None:
        import zxingcpp

        single_threaded_opencv()
        self._zx = zxingcpp
        self._formats = (zxingcpp.BarcodeFormat.QRCodeModel1, zxingcpp.BarcodeFormat.QRCodeModel2)

    def decode(self, image: Any) -> list[str]:
        return texts_of(self.read(to_gray(image))[0])

    def read(self, gray: Any, binarizer: str = "LocalAverage", *, step: str = FIRST,
             downscale: bool = True) -> tuple[list[Read], list[list[tuple[int, int]]]]:
        """The symbols read, and the corners (TL, TR, BR, BL) of those located but not read."""
        results = self._zx.read_barcodes(
            gray, formats=self._formats, return_errors=True, try_downscale=downscale,
            text_mode=self._zx.TextMode.Plain, binarizer=getattr(self._zx.Binarizer, binarizer))
        reads = [Read(zxing_text(r), step, _margin(r)) for r in results if r.valid]
        failed = [_corners(r.position) for r in results if not r.valid]
        return reads, failed


class ZbarDecoder(QrDecoder):
    """pyzbar alone: the baseline the bench compares against, and a tier-3 try."""

    def __init__(self) -> None:
        from pyzbar import pyzbar

        single_threaded_opencv()
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, image: Any) -> list[str]:
        return texts_of(self.read(to_gray(image)))

    def read(self, gray: Any, step: str = "zbar") -> list[Read]:
        found = self._pyzbar.decode(gray, symbols=self._symbols)
        return [Read(zbar_text(symbol.data), step) for symbol in found]


class PipelineDecoder(QrDecoder):
    """zxing-cpp; on nothing found, a quick look; on an undecodable symbol, tier 3."""

    def __init__(self) -> None:
        self.zxing = ZxingDecoder()
        self.zbar = ZbarDecoder()
        self.quick_looks = 0     # frames where tier 1 found nothing at all (and not tiny)
        self.second_tries = 0    # frames that went on to tier 3

    def decode(self, image: Any) -> list[str]:
        return texts_of(self.reads(image))

    def reads(self, image: Any) -> list[Read]:
        """Every text found in the image, with the try that found it."""
        gray = to_gray(image)
        reads, failed = self.zxing.read(gray)
        if not reads and not failed and min(gray.shape) >= 2 * QR_MIN_MODULES:
            self.quick_looks += 1
            reads, failed = self._quick_look(gray)
        if reads or not failed:
            return _first_per_text(reads)
        self.second_tries += 1
        return _first_per_text(self._second_try(gray, failed[0]))

    def _quick_look(self, gray: Any) -> tuple[list[Read], list]:
        import cv2

        half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        reads, failed = self.zxing.read(half, "GlobalHistogram", step=QUICK, downscale=False)
        return reads, [[(2 * x, 2 * y) for x, y in corners] for corners in failed]

    def _second_try(self, gray: Any, corners: list[tuple[int, int]]) -> list[Read]:
        reads = (self.zbar.read(gray)
                 or self.zxing.read(gray, "GlobalHistogram", step="global")[0])
        if reads:
            return reads
        crop = _enlarged_crop(gray, corners)
        if crop is None:
            return []
        if reads := self.zxing.read(crop, step="crop")[0] or self.zbar.read(crop, "crop-zbar"):
            return reads
        return self.zxing.read(_sharpened(crop), "GlobalHistogram", step="sharpened")[0]


def _margin(barcode) -> float | None:
    value = barcode.extra.get("UEC") if isinstance(barcode.extra, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _corners(position) -> list[tuple[int, int]]:
    points = (position.top_left, position.top_right, position.bottom_right,
              position.bottom_left)
    return [(p.x, p.y) for p in points]


def _enlarged_crop(gray: Any, corners: list[tuple[int, int]]) -> Any | None:
    """The region of a reported symbol with a margin, enlarged: at least 1.5x, and to
    `_CROP_MIN_PX` when small, so each module spans more pixels for the sampler."""
    import cv2

    xs = [x for x, _ in corners]
    ys = [y for _, y in corners]
    margin = int(max(max(xs) - min(xs), max(ys) - min(ys)) * _CROP_MARGIN) + 4
    height, width = gray.shape
    x0, x1 = max(0, min(xs) - margin), min(width, max(xs) + margin)
    y0, y1 = max(0, min(ys) - margin), min(height, max(ys) + margin)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    longest = max(x1 - x0, y1 - y0)
    scale = min(max(1.5, _CROP_MIN_PX / longest), _CROP_MAX_PX / longest)
    return cv2.resize(gray[y0:y1, x0:x1], None, fx=scale, fy=scale,
                      interpolation=cv2.INTER_CUBIC)


def _sharpened(image: Any) -> Any:
    """Unsharp mask: restores module edges that lens or motion blur merged."""
    import cv2

    return cv2.addWeighted(image, 2.0, cv2.GaussianBlur(image, (0, 0), 2.0), -1.0, 0)


def _first_per_text(reads: list[Read]) -> list[Read]:
    first: dict[str, Read] = {}
    for read in reads:
        first.setdefault(read.text, read)
    return list(first.values())


def _unique(texts) -> list[str]:
    return list(dict.fromkeys(texts))
