"""From a thermal array frame to one object temperature: the face region, distance-gated.

The face is the largest 4-connected blob of skin-warm pixels; its estimate is the mean of
its few hottest pixels (the inner canthus and forehead read warmest, hair and edges
cooler). A blob smaller than MIN_FACE_PIXELS is a person too far away for the estimate to
mean anything: then the reading's object temperature is the scene median, which the
screening sees as out of range, never a skin value. The face's centroid travels with the
reading: a face that jumps across the array is another person (edge/screening.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from drivers.base import ThermalReading
from drivers.thermal import gy90640


@dataclass(frozen=True)
class FaceEstimate:
    object_c: float             # face estimate, or the scene median when no face passes
    face_pixels: int            # size of the largest skin blob (0: none)
    max_c: float                # hottest pixel of the frame
    centroid: tuple[float, float] | None = None     # (row, column) of a face that passes


def largest_skin_blob(image: list[list[float]]) -> list[tuple[int, int, float]]:
    """(row, column, value) of the pixels of the largest 4-connected region within the
    skin range."""
    rows, cols = len(image), len(image[0])
    low, high = gy90640.SKIN_PIXEL_C
    seen = [[False] * cols for _ in range(rows)]
    best: list[float] = []
    for r in range(rows):
        for c in range(cols):
            if seen[r][c] or not low <= image[r][c] <= high:
                continue
            blob, stack = [], [(r, c)]
            seen[r][c] = True
            while stack:
                y, x = stack.pop()
                blob.append((y, x, image[y][x]))
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if (0 <= ny < rows and 0 <= nx < cols and not seen[ny][nx]
                            and low <= image[ny][nx] <= high):
                        seen[ny][nx] = True
                        stack.append((ny, nx))
            if len(blob) > len(best):
                best = blob
    return best


def face_estimate(frame: gy90640.ArrayFrame) -> FaceEstimate:
    blob = largest_skin_blob(frame.image())
    if len(blob) < gy90640.MIN_FACE_PIXELS:
        return FaceEstimate(round(statistics.median(frame.pixels), 2), len(blob), frame.max_c)
    hottest = sorted(value for _, _, value in blob)[-gy90640.HOTTEST_PIXELS:]
    centroid = (round(sum(y for y, _, _ in blob) / len(blob), 2),
                round(sum(x for _, x, _ in blob) / len(blob), 2))
    return FaceEstimate(round(sum(hottest) / len(hottest), 2), len(blob), frame.max_c,
                        centroid)


def to_reading(frame, t_mono: float) -> ThermalReading | None:
    """The reading an array frame carries; None for an emissivity reply."""
    if not isinstance(frame, gy90640.ArrayFrame):
        return None
    face = face_estimate(frame)
    return ThermalReading(object_c=face.object_c, ambient_c=frame.ambient_c, t_mono=t_mono,
                          protocol=gy90640.PROTOCOL, max_c=face.max_c, face_at=face.centroid)
