"""`checkpoint provision`: this gate's config, by questions on a terminal or all by flags.

On a terminal every value not given as a flag is asked, with a default where there is a
sensible one: the district's files by the names `checkpoint district add-device` gives
them (run it inside the bundle folder), the serial ports found and the sensor detected on
the chosen one, the cameras found with their modes. With --non-interactive, or when stdin
is not a terminal, nothing is asked: every missing required value is a usage error
naming its flag. The checking and writing is edge/provision.py's.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from cli.common import UsageError

NONE = "-"      # the answer for "no such file" to an optional file's question


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "provision", help="write this gate's config from the district's bundle: asks on a "
                          "terminal, or takes every answer as a flag")
    add = parser.add_argument
    add("--out", type=Path, default=Path("/etc/checkpoint"), metavar="DIR",
        help="the config folder: DIR/checkpoint.toml and the district's files beside it")
    add("--force", action="store_true", help="replace an existing DIR/checkpoint.toml")
    add("--non-interactive", action="store_true",
        help="ask nothing (also when stdin is not a terminal): missing values are errors")
    add("--device-id", metavar="ID", help="the device id, the CN of its certificate")
    add("--gate", metavar="G", help="the gate's name, e.g. east-1")
    add("--broker", metavar="URL", help="the district broker, mqtts://HOST:PORT")
    add("--ca", type=Path, metavar="F", help="the broker's CA certificate (tls/ca.pem)")
    add("--cert", type=Path, metavar="F", help="this device's certificate (tls/device.pem)")
    add("--key", type=Path, metavar="F", help="this device's private key (tls/device.key)")
    add("--root-key", type=Path, action="append", metavar="PEM",
        help="the district's root public key (root.pem); repeat for several")
    add("--trustlist", type=Path, metavar="F", help="the signed trust list (trustlist.json)")
    add("--revocations", type=Path, metavar="F", help="signed revocations (revocations.json)")
    add("--policy", type=Path, metavar="F", help="signed policy (policy.json)")
    add("--subject-key", type=Path, metavar="F", help="the district's subject key (subject.key)")
    add("--sensor-port", metavar="PORT",
        help="the thermal sensor's serial port (/dev/ttyUSB0) or a pyserial URL")
    add("--sensor-protocol", metavar="P",
        help="its protocol (without it: detected on the port)")
    add("--sensor-baud", metavar="B", help="its baud rate or auto (without it: detected, "
                                           "or auto when the protocol is given)")
    add("--thermal-url", metavar="URL", help="the whole sensor URL instead of the three above")
    add("--camera", metavar="URL", help="camera URL, e.g. v4l2:///dev/video0?width=1280&"
                                        "height=720&fps=30")
    add("--relay-pin", metavar="N", help="the relay's GPIO pin (BCM number), e.g. 17")
    add("--relay-active-low", action="store_true", help="the relay closes on a low pin")
    add("--relay-pulse", type=float, default=1.5, metavar="S", help="seconds the gate opens")
    add("--db", type=Path, default=Path("/var/lib/checkpoint/checkpoint.db"), metavar="F",
        help="the record store")
    add("--console-listen", default="127.0.0.1:8080", metavar="HOST:PORT",
        help="the guard console's address")
    add("--user", default="checkpoint", metavar="NAME",
        help="the service user the secrets are given to (when run as root)")
    parser.set_defaults(func=provision)


class Asker:
    """Asks for what the flags left out, or (not interactive) notes the flag missing."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        self.missing: list[str] = []
        self.bad: list[str] = []        # flags given with a value the check refuses

    def say(self, text: str) -> None:
        if self.interactive:
            print(text, flush=True)

    def text(self, flag: str, question: str, given, default: str | None = None,
             check=None):
        """`given` if set; else the answer to `question`, asked again until `check`
        (text -> problem or None) passes; None (and the flag noted) when not asking."""
        if given is not None:
            if check and (problem := check(str(given))):
                self.bad.append(f"{flag} {given}: {problem}")
            return given
        if not self.interactive:
            self.missing.append(flag)
            return None
        while True:
            answer = self._read(f"{question}{f' [{default}]' if default else ''}: ")
            answer = answer or default or ""
            problem = check(answer) if check else (None if answer else "an answer is needed")
            if problem is None:
                return answer
            print(f"  {answer!r}: {problem}", flush=True)

    def choose(self, flag: str, question: str, given, options: list[str],
               default: str | None = None, check=None):
        """Like text(), with `options` offered by number; any other answer is taken as
        typed."""
        if given is None and self.interactive and options:
            for number, option in enumerate(options, 1):
                print(f"  {number}) {option}", flush=True)

        def pick(answer: str) -> str:
            return options[int(answer) - 1] if answer.isdigit() and \
                1 <= int(answer) <= len(options) else answer
        def checked(answer: str) -> str | None:
            if not answer:
                return "an answer is needed"
            return check(pick(answer)) if check else None
        answer = self.text(flag, question, given, default, checked)
        if answer is None or given is not None:
            return answer
        return pick(answer)

    def confirm(self, question: str) -> bool:
        return self._read(f"{question} [Y/n]: ").lower() in ("", "y", "yes")

    def _read(self, prompt: str) -> str:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            raise UsageError("provision: the input ended before every answer was given; "
                             "nothing written")
        return line.strip()


def _file(path: str) -> str | None:
    return None if Path(path).is_file() else "no such file"


def _here(name: str) -> str | None:
    """The bundle's file `name` in the current folder, offered as the default."""
    return name if Path(name).is_file() else None


def _path(ask: Asker, flag: str, question: str, given: Path | None, name: str):
    answer = ask.text(flag, question, given, _here(name), _file)
    return None if answer is None else Path(answer).absolute()


def _optional(ask: Asker, flag: str, question: str, given: Path | None, name: str):
    if given is not None or not ask.interactive:
        return None if given is None else Path(given).absolute()
    answer = ask.text(flag, f"{question} ({NONE}: none)", None, _here(name) or NONE,
                      lambda a: None if a == NONE else _file(a))
    return None if answer == NONE else Path(answer).absolute()


def _roots(ask: Asker, given: list[Path] | None) -> tuple[Path, ...]:
    if given:
        return tuple(Path(path).absolute() for path in given)

    def check(answer: str) -> str | None:
        names = shlex.split(answer)
        missing = [name for name in names if _file(name)]
        return "no file named" if not names else \
            (f"no such file: {', '.join(missing)}" if missing else None)
    answer = ask.text("--root-key", "District root public key(s), separated by spaces", None,
                      _here("root.pem"), check)
    return () if answer is None else tuple(Path(p).absolute() for p in shlex.split(answer))


def provision(args) -> int:
    from edge import provision as prov
    from edge.provision import CONFIG_NAME, ProvisionError

    out = args.out.resolve()
    if (out / CONFIG_NAME).exists() and not args.force:
        raise UsageError(f"provision: {out / CONFIG_NAME} exists: give --force to replace it")
    ask = Asker(not args.non_interactive and sys.stdin.isatty())
    plan = _gather(args, ask)
    if ask.bad:
        for problem in ask.bad[:-1]:
            print(f"provision: {problem}", file=sys.stderr)
        raise UsageError(f"provision: {ask.bad[-1]}; nothing written")
    if ask.missing:
        raise UsageError("provision: not interactive (--non-interactive or no terminal), "
                         f"so give {', '.join(ask.missing)}; nothing written")
    if ask.interactive:
        print(f"\n{prov.render(plan)}", flush=True)
        if not ask.confirm(f"Write this config to {out}?"):
            print("provision: nothing written")
            return 1
    try:
        written, notes = prov.write(plan, out, force=args.force, user=args.user)
    except ProvisionError as exc:
        for problem in exc.problems[:-1]:
            print(f"provision: {problem}", file=sys.stderr)
        raise UsageError(f"provision: {exc.problems[-1]}; nothing written") from None
    except OSError as exc:
        raise UsageError(f"provision: {exc.filename}: {exc.strerror}; nothing written") \
            from None
    others = ", ".join(name for name in written if name != CONFIG_NAME)
    print(f"provision: wrote {out / CONFIG_NAME} and {others}")
    for note in notes:
        print(f"provision: {note}")
    print(f"next: checkpoint doctor --config {out / CONFIG_NAME}")
    return 0


def _gather(args, ask: Asker):
    from edge import provision as prov
    from models.configschema import mqtt_url
    from models.wire import device_id_problem

    def broker_problem(url: str) -> str | None:
        return mqtt_url(url) or (None if url.startswith("mqtts://") else "use mqtts://")

    device = ask.text("--device-id", "Device id", args.device_id, check=device_id_problem)
    gate = ask.text("--gate", "Gate name", args.gate, check=prov.gate_problem)
    broker = ask.text("--broker", "District broker (mqtts://HOST:PORT)", args.broker,
                      check=broker_problem)
    tls = {name: _path(ask, f"--{name}", question, getattr(args, name), prov.TLS_NAMES[name])
           for name, question in (("ca", "Broker CA certificate"),
                                  ("cert", "This device's certificate"),
                                  ("key", "This device's private key"))}
    roots = _roots(ask, args.root_key)
    trustlist = _path(ask, "--trustlist", "Signed trust list", args.trustlist,
                      "trustlist.json")
    optional = {name: _optional(ask, "--" + name.replace("_", "-"), question,
                                getattr(args, name), prov.TRUST_NAMES[name])
                for name, question in (("revocations", "Signed revocations"),
                                       ("policy", "Signed policy"),
                                       ("subject_key", "Subject key"))}
    thermal = _thermal(args, ask)
    camera = _camera(args, ask)
    pin = ask.text("--relay-pin", "Relay GPIO pin (BCM number)", args.relay_pin, "17",
                   prov.pin_problem)
    if ask.missing or ask.bad:
        return None
    return prov.Plan(device_id=device, gate=gate, broker=broker, **tls, roots=roots,
                     trustlist=trustlist, **optional, camera=camera, thermal=thermal,
                     relay=prov.relay_url(pin, not args.relay_active_low, args.relay_pulse),
                     db=args.db.absolute(), listen=args.console_listen)


def _thermal(args, ask: Asker) -> str | None:
    from drivers.thermal.protocols import PROTOCOLS
    from drivers.thermal.serial_url import parse_baud
    from edge import provision as prov

    if args.thermal_url:
        return args.thermal_url
    ports = _serial_ports() if args.sensor_port is None and ask.interactive else []
    ask.say("Serial ports found:" if ports else "No serial port found.")
    port = ask.choose("--sensor-port", "Thermal sensor port (number, path or URL)",
                      args.sensor_port, ports, ports[0] if ports else None)
    if port is None:
        return None
    protocol, baud = args.sensor_protocol, args.sensor_baud
    if protocol is None:
        protocol, baud, why = _detect(ask, port, baud)
        if protocol is None and not ask.interactive:
            ask.missing.append(f"--sensor-protocol ({why})")
            return None
    protocol = ask.choose("--sensor-protocol", "Sensor protocol", protocol, list(PROTOCOLS),
                          "gy-mcu90614", lambda p: None if p in PROTOCOLS else
                          f"allowed: {', '.join(PROTOCOLS)}")

    def baud_problem(text: str) -> str | None:
        try:
            parse_baud(text)
        except ValueError as exc:
            return str(exc)
        return None
    baud = ask.text("--sensor-baud", "Sensor baud rate", baud, "auto", baud_problem) \
        if ask.interactive else (baud or "auto")
    return prov.thermal_url(port, protocol, baud)


def _serial_ports() -> list[str]:
    try:
        from drivers.thermal.detect import list_serial_ports
    except ImportError:
        return []
    return list_serial_ports()


def _detect(ask: Asker, port: str, baud: str | None):
    """(protocol, baud, None) of the sensor found on `port`, or (None, baud, why not)."""
    from drivers.base import DriverError

    try:
        from drivers.thermal.detect import detect_sensor
    except ImportError:
        return None, baud, "sensor detection is not available"
    ask.say(f"Looking for a sensor on {port} (up to 3 s)...")
    try:
        found = detect_sensor(port.removeprefix("serial://"))
    except DriverError as exc:
        ask.say(f"  {exc}")
        return None, baud, str(exc)
    reading = "" if found.reading_c is None else f", reading {found.reading_c:.1f} °C"
    ask.say(f"  found {found.protocol} at {found.baud} baud{reading}")
    if ask.interactive and not ask.confirm("Use it?"):
        return None, baud, "not taken"
    return found.protocol, str(found.baud), None


def _camera(args, ask: Asker) -> str | None:
    from edge import provision as prov

    if args.camera is not None or not ask.interactive:
        return ask.text("--camera", "", args.camera)
    cameras = _cameras()
    ask.say("Cameras found:" if cameras else "No camera found.")
    labels = [f"{camera.url}  {camera.name}" for camera in cameras]
    answer = ask.choose("--camera", "Camera (number or URL)", None, labels,
                        labels[0] if labels else "v4l2:///dev/video0",
                        lambda a: prov.driver_problem("camera", a.split("  ")[0]))
    url = answer.split("  ")[0]
    modes = next((camera.modes for camera in cameras if camera.url == url), [])
    if not modes:
        return url
    texts = [f"{m.width}x{m.height} at {m.fps:g} fps, {m.pixel_format}" for m in modes]
    choice = ask.choose("--camera", f"Mode ({NONE}: the camera's own)", None, texts, texts[0],
                        lambda a: None if a in texts or a == NONE else "pick a number")
    if choice == NONE:
        return url
    mode = modes[texts.index(choice)]
    with_mode = prov.camera_url(url, mode.width, mode.height, mode.fps, mode.pixel_format)
    return with_mode if prov.driver_problem("camera", with_mode) is None else url


def _cameras() -> list:
    from drivers.camera_probe import list_cameras  # never raises: a bad device is skipped

    return list_cameras()
