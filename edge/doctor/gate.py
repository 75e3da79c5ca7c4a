"""The gate line: the relay driver opens and, with `--gate`, pulses once and reads back.

Without `--gate` nothing moves: doctor may run while someone stands in the lane. The
state read back is the driver's (for a GPIO relay, the pin's output level), not the
turnstile's: a relay that clicks but is not wired to the turnstile still passes.
"""

from __future__ import annotations

import time

from drivers import registry
from drivers.base import DriverError
from edge.doctor.result import Context, Finding, fail, ok

PULSE_S = 0.3           # long enough to hear the relay click
POLL_S = 0.02
GATE_HINT = ("check [gate] url's pin (BCM numbering) and active_high; off a Pi a gpio:// "
             "gate cannot open; the service user needs the gpio group")


def check_gate(context: Context) -> Finding:
    url = context.config.gate.url
    try:
        gate = registry.open_gate(url, clock=context.clock)
    except DriverError as exc:
        return fail(f"cannot open {url}: {exc}", GATE_HINT)
    with gate:
        if not context.toggle_gate:
            return ok(f"{gate.describe()}: opens; not toggled (--gate pulses the relay)")
        return _pulse(gate, context.timeout_s)


def _pulse(gate, timeout_s: float) -> Finding:
    try:
        gate.open(PULSE_S)
    except DriverError as exc:
        return fail(f"{gate.describe()}: {exc}", GATE_HINT)
    if gate.state != "open":
        return fail(f"{gate.describe()}: asked to open, reads back {gate.state}", GATE_HINT)
    deadline = time.monotonic() + min(timeout_s, PULSE_S + 2.0)
    while gate.state != "closed" and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if gate.state != "closed":
        return fail(f"{gate.describe()}: still open after a {PULSE_S:g} s pulse",
                    "the relay driver does not end its pulse: check gpiozero and the pin")
    return ok(f"{gate.describe()}: opened for {PULSE_S:g} s and closed again")
