"""The sensor line: which sensor answers on the configured port, at which protocol and
baud, and whether it reads a plausible temperature.

A simulated sensor (`sim://`) is a simulator on a new pty, probed like a real port: the
line then says `simulated`, and proves the detection and serial code paths work here.
"""

from __future__ import annotations

from drivers import registry
from drivers.base import DriverError
from drivers.thermal.detect import Detected, detect_sensor, list_serial_ports, same_wire
from edge.doctor.result import Context, Finding, fail, ok, warn

PLAUSIBLE_C = (5.0, 50.0)   # a room, a wall or a forehead; outside it the sensor misreads
SLACK_S = 1.0               # of the check's budget, kept for opening and closing the port


def check_sensor(context: Context) -> Finding:
    url = context.config.thermal.url
    spec = registry.parse("thermal", url)
    budget = max(1.0, context.timeout_s - SLACK_S)
    if spec.scheme == "sim":
        return _simulated(spec, budget)
    from drivers.thermal.serial_url import port_url

    protocol, baud = spec.options["protocol"], spec.options["baud"]
    port = port_url(spec)
    try:
        found = detect_sensor(port, budget, prefer=protocol, baud=baud)
    except DriverError as exc:
        return fail(str(exc), _port_hint(str(exc)))
    return _judge(found, port, protocol, baud)


def _simulated(spec, budget: float) -> Finding:
    from drivers.sim.thermal_sensor import simulator_from_options

    simulator = simulator_from_options(spec.given)
    try:
        found = detect_sensor(simulator.port, budget, prefer=simulator.protocol,
                              baud=simulator.baud)
    except DriverError as exc:
        return fail(f"simulated sensor: {exc}", "a bug in the simulator: report this line")
    finally:
        simulator.stop()
    return _plausible(found, f"simulated {_found(found)} on {simulator.port}")


def _judge(found: Detected, port: str, protocol: str, baud: int | None) -> Finding:
    detail = f"{_found(found)} on {port}"
    if not same_wire(found.protocol, protocol):
        return fail(f"{detail}, but [thermal] url says protocol={protocol}",
                    f"set protocol={found.protocol}&baud={found.baud} in [thermal] url")
    if baud is not None and found.baud != baud:
        return fail(f"{detail}, not at the configured baud={baud}",
                    f"set baud={found.baud} (or baud=auto) in [thermal] url")
    return _plausible(found, detail)


def _plausible(found: Detected, detail: str) -> Finding:
    low, high = PLAUSIBLE_C
    if found.reading_c is None:
        return ok(f"{detail}, no face in view")
    if not low <= found.reading_c <= high:
        return warn(f"{detail}, but it reads {found.reading_c:.1f} °C",
                    f"outside {low:g}..{high:g} °C: is the sensor facing the lane, its "
                    "window clean? `checkpoint calibrate` sets the offset")
    return ok(detail)


def _found(found: Detected) -> str:
    reading = "" if found.reading_c is None else f", {found.reading_c:.1f} °C"
    return f"{found.protocol} at {found.baud} baud{reading}"


def _port_hint(problem: str) -> str:
    ports = ", ".join(list_serial_ports()) or "none"
    if problem.startswith("no sensor answered"):
        return (f"check the wiring (TX to RX, RX to TX, ground) and the sensor's power; "
                f"ports on this machine: {ports}")
    return (f"set [thermal] url to the sensor's port (ports on this machine: {ports}); the "
            "service user needs the dialout group; stop the service if it holds the port")
