"""The reader line: the card key is usable, and the configured card reader opens and
becomes healthy (a PN532 woke and named its firmware; a keyboard-wedge node was opened
and grabbed).

No tap is ever read: a card held to the reader during the check stays in the driver's
queue and is thrown away when the reader closes, so no card number reaches this line.
A gate without a reader is fine: the reader is optional (PROTOCOL section 9).
"""

from __future__ import annotations

import time

from drivers import registry
from drivers.base import OK, STARTING, DriverError
from edge.doctor.result import Context, Finding, fail, ok
from models.cards import CardKeyError, read_card_key

SLACK_S = 1.0       # of the check's budget, kept for closing the port
POLL_S = 0.05
KEY_HINT = ("set [trust] card_key to the district's card key file (at least 32 bytes, "
            "mode 600): the same file as at every gate of the district")
PORT_HINT = ("set [reader] url to the PN532's port (ports on this machine: {ports}); the "
             "service user needs the dialout group; stop the service if it holds the port")
HID_HINT = ("set [reader] url to the reader's node (ls /dev/input/by-id/*-event-kbd); the "
            "service user needs the input group; stop the service if it holds the device")
SILENT_HINT = ("check the wiring (TX to RX, RX to TX, ground), the board's power, and that "
               "its mode switches select HSU (UART, 115200 8N1)")
GARBLED_HINT = ("something answers, but not as a PN532: is this the reader's port, and "
                "the board set to HSU (UART)?")


def check_reader(context: Context) -> Finding:
    config = context.config
    url = config.reader.url
    if url is None:
        return ok("no card reader configured")
    problem = _card_key_problem(config.trust.card_key)
    if problem is not None:
        return problem
    spec = registry.parse("reader", url)
    try:
        reader = registry.open_reader(url, clock=context.clock)
    except DriverError as exc:
        return fail(str(exc), _open_hint(spec.scheme))
    with reader:
        budget = max(1.0, context.timeout_s - SLACK_S)
        return _judge(reader, spec, _settled(reader, budget), budget)


def _card_key_problem(path) -> Finding | None:
    """Taps cannot become tokens without the key: the reader would be of no use."""
    if path is None:
        return fail("a card reader is configured, but [trust] card_key is not set",
                    KEY_HINT)
    try:
        read_card_key(path)
    except CardKeyError as exc:
        return fail(str(exc), KEY_HINT)
    return None


def _settled(reader, budget: float) -> str:
    """The reader's health once it is ok or faulty, or still `starting` after `budget`.
    A fault is reported at once: waiting for a reopen would only repeat it."""
    deadline = time.monotonic() + budget
    health = reader.health
    while health == STARTING and time.monotonic() < deadline:
        time.sleep(POLL_S)
        health = reader.health
    return health


def _judge(reader, spec, health: str, budget: float) -> Finding:
    where = _where(reader, spec)
    if health == OK:
        return ok(f"{where}: ready")
    if health == STARTING:
        rejected = reader.counters().get("reader_frames_rejected", 0)
        return fail(f"{where}: not ready within {budget:g} s ({rejected} frames refused)",
                    GARBLED_HINT if rejected else SILENT_HINT)
    return fail(f"{where}: {health}", _fault_hint(spec.scheme, health))


def _where(reader, spec) -> str:
    """What was opened, in the words a technician checks it against."""
    if spec.scheme == "sim":
        return "simulated reader (sim://)"
    if spec.scheme == "hid":
        return f"hid reader {spec.target} (format={spec.options['format']})"
    firmware = getattr(reader, "firmware", None)
    port = getattr(reader, "port", spec.target)
    if firmware is None:
        return f"pn532 on {port}"
    return f"PN532 firmware {firmware[0]}.{firmware[1]} on {port}"


def _open_hint(scheme: str) -> str:
    if scheme == "hid":
        return HID_HINT
    if scheme == "sim":
        return "a bug in the simulator: report this line"
    from drivers.thermal.detect import list_serial_ports

    return PORT_HINT.format(ports=", ".join(list_serial_ports()) or "none")


def _fault_hint(scheme: str, health: str) -> str:
    if "not answering" in health:
        return SILENT_HINT
    return _open_hint(scheme)
