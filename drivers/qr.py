"""QR decoding: zxing-cpp on every frame, slower second tries only on a symbol it could not read.

Most camera frames hold no code, so the cost of an empty frame decides how much CPU the
scanner burns; zxing-cpp is about ten times cheaper than zbar there. When zxing-cpp finds
a symbol but cannot decode it (its result carries an error), the frame is worth more
work: zbar on the whole frame, zxing-cpp with its other binarizer, then both on an
enlarged crop around the reported position, then zxing-cpp on that crop sharpened.
Empty frames never pay for those.

Text: zxing-cpp's `Plain` text honours ECI and guesses the character set of byte
segments (Shift_JIS, ...); its `bytes` are the raw payload. A payload that is valid
UTF-8 is taken as UTF-8 (what phones and our issuer write), otherwise zxing-cpp's guess
stands. zbar hands back its own transcoding to UTF-8, which mistakes short UTF-8 text
for Shift_JIS or Latin-1; `zbar_text` undoes that when the round trip gives valid UTF-8
and otherwise falls back to GB18030, then Latin-1 (which never fails).
"""

from __future__ import annotations

from typing import Any

from drivers.base import DriverError, QrDecoder

DECODERS = ("auto", "zxing", "zbar")
_CROP_MIN_PX = 400          # a crop is enlarged to at least this many pixels...
_CROP_MAX_PX = 1200         # ...and at most this many, whatever the symbol's size
_CROP_MARGIN = 0.25         # of the symbol's size, kept around it in the crop


def make_decoder(name: str = "auto") -> QrDecoder:
    """"auto": zxing-cpp with second tries; "zxing": zxing-cpp alone; "zbar": pyzbar alone."""
    if name == "auto":
        return PipelineDecoder()
    if name == "zxing":
        return ZxingDecoder()
    if name == "zbar":
        return ZbarDecoder()
    raise DriverError(f"QR decoder {name!r}: allowed: {', '.join(DECODERS)}")


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


class ZxingDecoder(QrDecoder):
    """zxing-cpp alone; `read` also returns the positions of symbols it could not decode."""

    def __init__(self) -> None:
        import zxingcpp

        self._zx = zxingcpp
        self._formats = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode)

    def decode(self, image: Any) -> list[str]:
        return self.read(to_gray(image))[0]

    def read(self, gray: Any, binarizer: str = "LocalAverage") -> tuple[list[str], list]:
        results = self._zx.read_barcodes(
            gray, formats=self._formats, return_errors=True,
            text_mode=self._zx.TextMode.Plain, binarizer=getattr(self._zx.Binarizer, binarizer))
        texts = _unique(zxing_text(r) for r in results if r.valid)
        failed = [r.position for r in results if not r.valid]
        return texts, failed


class ZbarDecoder(QrDecoder):
    """pyzbar alone: the baseline the bench compares against, and the pipeline's fallback."""

    def __init__(self) -> None:
        from pyzbar import pyzbar

        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, image: Any) -> list[str]:
        return self.read(to_gray(image))

    def read(self, gray: Any) -> list[str]:
        found = self._pyzbar.decode(gray, symbols=self._symbols)
        return _unique(zbar_text(symbol.data) for symbol in found)


class PipelineDecoder(QrDecoder):
    """zxing-cpp; on an undecodable symbol: zbar, the other binarizer, an upscaled crop."""

    def __init__(self) -> None:
        self.zxing = ZxingDecoder()
        self.zbar = ZbarDecoder()
        self.second_tries = 0    # frames that needed more than the first zxing-cpp pass

    def decode(self, image: Any) -> list[str]:
        gray = to_gray(image)
        texts, failed = self.zxing.read(gray)
        if texts or not failed:
            return texts
        self.second_tries += 1
        return self._second_try(gray, failed)

    def _second_try(self, gray: Any, failed: list) -> list[str]:
        texts = self.zbar.read(gray) or self.zxing.read(gray, "GlobalHistogram")[0]
        if texts:
            return texts
        crop = _enlarged_crop(gray, failed[0])
        if crop is None:
            return []
        if texts := self.zxing.read(crop)[0] or self.zbar.read(crop):
            return texts
        return self.zxing.read(_sharpened(crop), "GlobalHistogram")[0]


def _enlarged_crop(gray: Any, position) -> Any | None:
    """The region of a reported symbol with a margin, enlarged: at least 1.5x, and to
    `_CROP_MIN_PX` when small, so each module spans more pixels for the sampler."""
    import cv2

    corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    xs = [p.x for p in corners]
    ys = [p.y for p in corners]
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


def _unique(texts) -> list[str]:
    return list(dict.fromkeys(texts))
