"""A scripted stream of people at the gate, shared by the simulated camera and sensor.

Each person steps up holding a phone that shows a pass, stays `present_s` seconds and
leaves; `gap_s` seconds later the next one comes. The camera renders the person's pass
into frames; the thermal simulator reports the person's temperature from `approach_s`
before they show the code (they walk up to the sensor first, as at a real gate) until
they leave, and the background otherwise. Passes are issued with the demo issuer key when the
person steps up, so they are current however long the simulation runs. A person may carry
a card (`card = "mifare:04A1B2C3D4"`, models.cards.parse_card) and tap it on the simulated
reader `tap_s` seconds after stepping up (negative: before showing the code).
"""

from __future__ import annotations

import math
import os
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from drivers.base import DriverError

TAP_S = 0.5             # a card is tapped just after the code is shown, by default
MAX_TAP_S = 60.0        # how far from stepping up a tap may be, either way
MAX_TAPS_AT_ONCE = 1000  # a clock that jumped hours ahead: only the latest taps count
PASS_KINDS = ("green", "yellow", "red", "expired", "forged", "none")
_DEFAULT_PEOPLE = (
    ("green", 36.5), ("yellow", 36.6), ("green", 38.4), ("red", 36.7),
    ("expired", 36.4), ("forged", 36.5), ("green", 36.8),
)


@dataclass(frozen=True)
class Person:
    kind: str               # one of PASS_KINDS
    temperature_c: float
    name: str | None = None
    unit: str | None = None
    subject: str | None = None      # hex CP1 `sub`; None: a new random one per pass
    card_kind: str | None = None    # the card this person taps, if any (models.cards.KINDS)
    card_number: bytes | None = field(default=None, repr=False)
    tap_s: float = TAP_S            # when they tap, from stepping up


@dataclass(frozen=True)
class Tap:
    t_mono: float           # when the card touches the reader
    person: Person


@dataclass(frozen=True)
class Presence:
    number: int             # how many presentations came before this one
    person: Person
    text: str | None        # what the phone shows; None when it shows no code
    started: float          # monotonic time the person stepped up


class Scene:
    def __init__(self, people: list[Person], *, clock, issuer_key_pem: bytes,
                 iss: str = "CN-BJ-110105", lifetime_s: int = 120, present_s: float = 2.5,
                 gap_s: float = 1.5, approach_s: float = 1.0, loop: bool = True,
                 background_c: float = 24.0) -> None:
        if not people:
            raise DriverError("scenario: no [[person]] entries")
        self.people = people
        self.clock = clock
        self.iss = iss
        self.lifetime_s = lifetime_s
        self.present_s = present_s
        self.gap_s = gap_s
        self.approach_s = approach_s
        self.loop = loop
        self.background_c = background_c
        self._start = clock.monotonic()
        self._texts: dict[int, str | None] = {}
        self._lock = threading.Lock()   # camera and sensor threads both ask who is there
        self._key_pem = issuer_key_pem

    @classmethod
    def load(cls, path: Path, clock, key_path: Path | None = None) -> Scene:
        """Read a scenario TOML; `key_path` overrides the file's `issuer_key`."""
        try:
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DriverError(f"scenario {path}: {exc}") from None
        people = [_person(entry, path) for entry in spec.pop("person", [])]
        key_file = key_path or (path.parent / spec.pop("issuer_key", "demo/issuer-key.pem"))
        spec.pop("issuer_key", None)
        allowed = {"iss", "lifetime_s", "present_s", "gap_s", "approach_s", "loop",
                   "background_c"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise DriverError(f"scenario {path}: unknown key(s) {', '.join(unknown)}; "
                              f"allowed: issuer_key, person, {', '.join(sorted(allowed))}")
        return cls(people, clock=clock, issuer_key_pem=_read_key(key_file), **spec)

    @classmethod
    def default(cls, clock, key_path: Path, **options) -> Scene:
        """The demo stream: green, yellow, fever, red, expired, forged, green."""
        people = [Person(kind, temp) for kind, temp in _DEFAULT_PEOPLE]
        return cls(people, clock=clock, issuer_key_pem=_read_key(key_path), **options)

    @property
    def started(self) -> float:
        """Monotonic time the first person stepped up."""
        return self._start

    @property
    def period_s(self) -> float:
        """From one person stepping up to the next."""
        return self.present_s + self.gap_s

    def number_at(self, t_mono: float) -> int:
        """The number of the presentation slot at `t_mono` (0 for the first person)."""
        return int((t_mono - self._start) // self.period_s)

    def _slot(self, t_mono: float) -> tuple[int, float] | None:
        period = self.period_s
        elapsed = t_mono - self._start
        number = self.number_at(t_mono)
        if not self.loop and number >= len(self.people):
            return None
        into = elapsed - number * period
        return (number, self._start + number * period) if into < self.present_s else None

    def at(self, t_mono: float) -> Presence | None:
        """Who stands at the gate at monotonic time `t_mono`, if anyone."""
        slot = self._slot(t_mono)
        if slot is None:
            return None
        number, started = slot
        person = self.people[number % len(self.people)]
        with self._lock:
            if number not in self._texts:
                self._texts = {n: t for n, t in self._texts.items() if n > number - 4}
                self._texts[number] = self._issue(person)
            text = self._texts[number]
        return Presence(number, person, text, started)

    def temperature_at(self, t_mono: float) -> float:
        """What the sensor sees: whoever is at the gate or walking up to it."""
        presence = self.at(t_mono) or self.at(t_mono + self.approach_s)
        return presence.person.temperature_c if presence else self.background_c

    def taps_between(self, after: float, until: float) -> list[Tap]:
        """The cards tapped in (`after`, `until`], in time order."""
        if until <= after:
            return []
        period = self.period_s
        first = max(0, math.floor((after - self._start - MAX_TAP_S) / period))
        last = math.floor((until - self._start + MAX_TAP_S) / period)
        if not self.loop:
            last = min(last, len(self.people) - 1)
        first = max(first, last - MAX_TAPS_AT_ONCE)
        taps = []
        for number in range(first, last + 1):
            person = self.people[number % len(self.people)]
            t = self._start + number * period + person.tap_s
            if person.card_kind is not None and after < t <= until:
                taps.append(Tap(t, person))
        return sorted(taps, key=lambda tap: tap.t_mono)

    def finished(self, t_mono: float) -> bool:
        period = self.present_s + self.gap_s
        return not self.loop and t_mono - self._start >= period * len(self.people)

    def _issue(self, person: Person) -> str | None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from models import cp1
        from models.keys import kid_of

        if person.kind == "none":
            return None
        key = load_pem_private_key(self._key_pem, password=None)
        now = int(self.clock.now())
        iat, exp = now, now + self.lifetime_s
        kid = kid_of(key.public_key())
        if person.kind == "expired":
            iat, exp = now - 2 * self.lifetime_s, now - self.lifetime_s
        if person.kind == "forged":  # a stranger's key claiming the district's kid
            key = ec.generate_private_key(ec.SECP256R1())
        color = person.kind if person.kind in ("yellow", "red") else "green"
        return cp1.issue_cp1(key, iss=self.iss, color=color, iat=iat, exp=exp,
                             sub=_subject(person), cti=os.urandom(16), kid=kid,
                             name=person.name, unit=person.unit)


def _person(entry: dict, path: Path) -> Person:
    kind = entry.get("pass")
    if kind not in PASS_KINDS:
        raise DriverError(f"scenario {path}: person pass = {kind!r}; "
                          f"allowed: {', '.join(PASS_KINDS)}")
    temp = entry.get("temperature_c", 36.5)
    if isinstance(temp, bool) or not isinstance(temp, int | float):
        raise DriverError(f"scenario {path}: person temperature_c = {temp!r}; allowed: a number")
    card_kind, card_number, tap_s = _card(entry, path)
    return Person(kind, float(temp), entry.get("name"), entry.get("unit"),
                  _subject_hex(entry.get("subject"), path), card_kind, card_number, tap_s)


def _card(entry: dict, path: Path) -> tuple[str | None, bytes | None, float]:
    """A person's card (`card = "mifare:04A1B2C3D4"`) and when they tap it (`tap_s`)."""
    from models.cards import parse_card

    text, tap_s = entry.get("card"), entry.get("tap_s", TAP_S)
    if isinstance(tap_s, bool) or not isinstance(tap_s, int | float) \
            or not -MAX_TAP_S <= tap_s <= MAX_TAP_S:
        raise DriverError(f"scenario {path}: person tap_s = {tap_s!r}; allowed: a number "
                          f"from {-MAX_TAP_S:g} to {MAX_TAP_S:g}")
    if text is None:
        return None, None, float(tap_s)
    try:
        kind, number = parse_card(text) if isinstance(text, str) else parse_card("")
    except ValueError as exc:
        # the number itself stays out of the message: it is what a card carries
        raise DriverError(f"scenario {path}: person card: {exc}") from None
    return kind, number, float(tap_s)


def _subject_hex(value, path: Path) -> str | None:
    """A person's fixed `subject` (a CP1 `sub`: 16 bytes in hex), so records can be matched
    to people."""
    from models.cp1 import ID_LEN

    if value is None:
        return None
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != ID_LEN:
        raise DriverError(f"scenario {path}: person subject = {value!r}; "
                          f"allowed: {2 * ID_LEN} hex digits")
    return raw.hex()


def _subject(person: Person) -> bytes:
    return bytes.fromhex(person.subject) if person.subject else os.urandom(16)


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DriverError(f"demo issuer key {path}: {exc.strerror}; "
                          "run `make install` to generate the demo keys") from None
