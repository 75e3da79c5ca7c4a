"""`checkpoint thermal read` and `checkpoint sim thermal`: probe a sensor, or pretend to be one."""

from __future__ import annotations

import math
import signal
import sys
import threading
from urllib.parse import quote

from cli.common import UsageError, emit

DEFAULT_PROTOCOL = "gy-mcu90614"
PROTOCOLS = ("gy-mcu90614", "gy-mcu90615", "gy-mcu90640", "ascii")


def register(subparsers) -> None:
    thermal = subparsers.add_parser("thermal", help="read a thermal sensor")
    thermal_cmds = thermal.add_subparsers(dest="thermal_command", metavar="COMMAND")
    thermal_cmds.required = True
    read = thermal_cmds.add_parser("read", help="print readings as JSON lines")
    read.add_argument("url", metavar="URL", help="serial:///dev/ttyUSB0?baud=auto, "
                      "sim://?profile=fever, or a device path")
    read.add_argument("--protocol", metavar="P", help=f"{', '.join(PROTOCOLS)} "
                      f"(default: the URL's protocol=, else {DEFAULT_PROTOCOL})")
    read.add_argument("--count", type=int, metavar="N",
                      help="stop after N readings (default: at Ctrl-C)")
    read.add_argument("--timeout", type=float, default=5, metavar="S",
                      help="give up when no reading arrives for S seconds")
    read.set_defaults(func=read_readings)

    sim = subparsers.add_parser("sim", help="simulated hardware for development")
    sim_cmds = sim.add_subparsers(dest="sim_command", metavar="COMMAND")
    sim_cmds.required = True
    sensor = sim_cmds.add_parser("thermal", help="a simulated sensor on a new pty")
    sensor.add_argument("--protocol", metavar="P", default=DEFAULT_PROTOCOL,
                        help=", ".join(PROTOCOLS))
    sensor.add_argument("--profile", metavar="NAME", default="normal",
                        help="normal, fever, walk, edge or fault")
    sensor.add_argument("--baud", type=int, metavar="BAUD",
                        help="line speed (default: the protocol's usual)")
    sensor.add_argument("--rate", metavar="HZ", help="gy-mcu90640 frame rate: 0.5 1 2 4 8 "
                        "(default: the module's own, 4)")
    sensor.add_argument("--faults", metavar="LIST",
                        help="faults to inject every few frames, comma-separated: drop_byte, "
                        "bit_flip, fake_header, truncated, banner, reading_5a, silence "
                        "(default: none)")
    sensor.add_argument("--fault-every", type=int, default=5, metavar="N",
                        help="one fault every N frames")
    sensor.set_defaults(func=serve_simulator)


def sensor_url(url: str, protocol: str | None) -> str:
    """The driver URL for what the user typed: a bare device path means serial."""
    if "://" not in url:
        url = "serial://" + quote(url)
    if protocol:
        url += ("&" if "?" in url else "?") + "protocol=" + quote(protocol)
    return url


def reading_line(reading, ts: str) -> dict:
    """PROTOCOL section 7: an array sensor adds its hottest pixel, `max_c`."""
    line = {"ts": ts, "protocol": reading.protocol, "object_c": round(reading.object_c, 2),
            "ambient_c": None if reading.ambient_c is None else round(reading.ambient_c, 2)}
    if reading.max_c is not None:
        line["max_c"] = round(reading.max_c, 2)
    return line


def read_readings(args) -> int:
    from drivers import registry
    from drivers.base import DriverError
    from drivers.clock import SystemClock
    from models.timefmt import rfc3339

    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError("--timeout must be a positive number of seconds")
    clock = SystemClock()
    try:
        sensor = registry.open_thermal(sensor_url(args.url, args.protocol), clock=clock)
    except DriverError as exc:
        raise UsageError(str(exc)) from None
    with sensor:
        printed = 0
        while args.count is None or printed < args.count:
            reading = sensor.read(timeout=args.timeout)
            if reading is None:
                print(f"checkpoint: no reading from {args.url} within {args.timeout:g} s",
                      file=sys.stderr)
                return 1
            wall = clock.now() - (clock.monotonic() - reading.t_mono)
            emit(reading_line(reading, rfc3339(wall)))
            printed += 1
    return 0


def serve_simulator(args) -> int:
    """Serve until Ctrl-C or SIGTERM. stdout: one JSON line with the port when serving, one
    `{"stopped": true, "port", "stats"}` when stopped; the hint for a person is on stderr."""
    from drivers.base import DriverError
    from drivers.sim.thermal_sensor import simulator_from_options

    options = {"protocol": args.protocol, "profile": args.profile,
               "faults": args.faults or "", "fault_every": str(args.fault_every)}
    options |= {"baud": str(args.baud)} if args.baud is not None else {}
    options |= {"rate": args.rate} if args.rate else {}
    try:
        simulator = simulator_from_options(options)
    except DriverError as exc:
        raise UsageError(str(exc)) from None
    with simulator:
        stop = threading.Event()
        previous = {signum: signal.signal(signum, lambda *_: stop.set())
                    for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            emit({"port": simulator.port, "protocol": args.protocol, "profile": args.profile,
                  "baud": simulator.baud})
            print(f"simulated {args.protocol} sensor on {simulator.port} at {simulator.baud} "
                  f"baud; try `checkpoint thermal read {simulator.port} --protocol "
                  f"{args.protocol}`; Ctrl-C to stop", file=sys.stderr)
            while not stop.wait(1.0):
                pass
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    emit({"stopped": True, "port": simulator.port, "stats": simulator.stats()})
    return 0
