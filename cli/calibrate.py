"""`checkpoint calibrate --reference C`: read a blackbody, write the unit's offset to config."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from cli.common import UsageError, emit


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="calibrate the thermal sensor against a reference blackbody",
        description="Aim the sensor at a blackbody at screening distance; the offset that "
                    "makes it read the reference is written to [thermal] offset_c.")
    parser.add_argument("--config", type=Path, default=Path("config/checkpoint.toml"),
                        metavar="F", help="the agent's config: [thermal] offset_c is rewritten")
    parser.add_argument("--reference", type=float, required=True, metavar="C",
                        help="the blackbody's temperature, degrees C")
    parser.add_argument("--url", metavar="URL", help="sensor URL (default: [thermal] url)")
    parser.add_argument("--seconds", type=float, default=5, metavar="S",
                        help="how long to read")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    parser.set_defaults(func=run_calibration)


def run_calibration(args) -> int:
    from cli.config import load_or_explain
    from edge.calibration import CalibrationError, calibrate, with_offset
    from edge.config import parse_config
    from runtime.configfile import ConfigError

    if not 20.0 <= args.reference <= 45.0:
        raise UsageError(f"--reference {args.reference}: a blackbody between 20 and 45 degC")
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        raise UsageError("--seconds must be a positive number of seconds")
    config = load_or_explain(args.config)
    raw = read_raw(args.url or config.thermal.url, args.seconds)
    try:
        result = calibrate(raw, args.reference)
    except CalibrationError as exc:
        print(f"checkpoint: calibration failed: {exc}", file=sys.stderr)
        return 1
    text = with_offset(config.path.read_text(encoding="utf-8"), result.offset_c)
    try:
        parse_config(text, config.path)
    except ConfigError as exc:      # our edit must leave a valid file; never write otherwise
        raise UsageError(f"config {config.path}: not written: {exc}") from None
    if not args.dry_run:
        try:
            _replace(config.path, text)
        except OSError as exc:
            raise UsageError(f"config {config.path}: not written: {exc.strerror}") from None
    emit({"config": str(config.path), "reference_c": result.reference_c,
          "measured_c": result.measured_c, "spread_c": result.spread_c,
          "readings": result.readings, "previous_offset_c": config.thermal.offset_c,
          "offset_c": result.offset_c, "written": not args.dry_run})
    return 0


def read_raw(url: str, seconds: float) -> list[float]:
    """The sensor's own object readings (no offset) for `seconds`."""
    import time

    from drivers import registry
    from drivers.base import DriverError
    from drivers.clock import SystemClock

    try:
        sensor = registry.open_thermal(url, clock=SystemClock())
    except DriverError as exc:
        raise UsageError(str(exc)) from None
    values: list[float] = []
    with sensor:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            reading = sensor.read(timeout=remaining)
            if reading is not None:
                values.append(reading.object_c)
    return values


def _replace(path: Path, text: str) -> None:
    """Write beside, then rename: a power cut leaves the old file or the new, never half."""
    temp = path.with_name(f".{path.name}.calibrate")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)    # a full disk or a read-only folder: no litter left
        raise
