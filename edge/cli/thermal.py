"""`checkpoint thermal read` and `checkpoint sim thermal`: probe a sensor, or pretend to be one."""

from __future__ import annotations

import sys
import threading
from urllib.parse import quote

from edge.cli.common import UsageError, emit

DEFAULT_PROTOCOL = "gy-mcu90614"


def register(subparsers) -> None:
    thermal = subparsers.add_parser("thermal", help="read a thermal sensor")
    thermal_cmds = thermal.add_subparsers(dest="thermal_command", metavar="COMMAND")
    thermal_cmds.required = True
    read = thermal_cmds.add_parser("read", help="print readings as JSON lines")
    read.add_argument("url", metavar="URL", help="serial:///dev/ttyUSB0?baud=auto, "
                      "sim://?profile=fever, or a device path")
    read.add_argument("--protocol", metavar="P", help=f"sensor protocol ({DEFAULT_PROTOCOL})")
    read.add_argument("--count", type=int, metavar="N", help="stop after N readings")
    read.add_argument("--timeout", type=float, default=5.0, metavar="S",
                      help="give up when no reading arrives for S seconds (default 5)")
    read.set_defaults(func=read_readings)

    sim = subparsers.add_parser("sim", help="simulated hardware for development")
    sim_cmds = sim.add_subparsers(dest="sim_command", metavar="COMMAND")
    sim_cmds.required = True
    sensor = sim_cmds.add_parser("thermal", help="a simulated sensor on a new pty")
    sensor.add_argument("--protocol", metavar="P", default=DEFAULT_PROTOCOL)
    sensor.add_argument("--profile", metavar="NAME", default="normal",
                        help="normal, fever, walk, edge or fault")
    sensor.add_argument("--baud", type=int, default=9600, help="9600 or 115200")
    sensor.add_argument("--faults", default="", metavar="LIST",
                        help="comma-separated faults to inject, e.g. bit_flip,truncated")
    sensor.set_defaults(func=serve_simulator)


def sensor_url(url: str, protocol: str | None) -> str:
    """The driver URL for what the user typed: a bare device path means serial."""
    if "://" not in url:
        url = "serial://" + quote(url)
    if protocol:
        url += ("&" if "?" in url else "?") + "protocol=" + quote(protocol)
    return url


def read_readings(args) -> int:
    from drivers import registry
    from drivers.base import DriverError
    from drivers.clock import SystemClock
    from models.timefmt import rfc3339

    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.timeout <= 0:
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
            emit({"ts": rfc3339(wall), "protocol": reading.protocol,
                  "object_c": round(reading.object_c, 2),
                  "ambient_c": None if reading.ambient_c is None else round(reading.ambient_c, 2)})
            printed += 1
    return 0


def serve_simulator(args) -> int:
    from drivers.base import DriverError
    from drivers.thermal_sim import simulator_from_options

    options = {"protocol": args.protocol, "profile": args.profile, "baud": str(args.baud),
               "faults": args.faults}
    try:
        simulator = simulator_from_options(options)
    except DriverError as exc:
        raise UsageError(str(exc)) from None
    with simulator:
        emit({"port": simulator.port, "protocol": args.protocol, "profile": args.profile,
              "baud": args.baud})
        print(f"simulated {args.protocol} sensor on {simulator.port}; try "
              f"`checkpoint thermal read {simulator.port}`; Ctrl-C to stop", file=sys.stderr)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0
