"""Guards and their sessions: who may act at the console, by an id and a PIN.

PINs are never stored: the guards file (`[console] guards`) holds one line per guard,
`ID scrypt$N$r$p$SALT$HASH` (salt and hash in base64), made by `checkpoint guard add`.
A PIN is short, so what protects it is the rate limit: after `FREE_TRIES` wrong PINs for
one id, that id is locked for 30 s, doubling to 15 min with each further wrong PIN; an
unknown id is refused and limited the same way, after the same scrypt work, so neither
the answer nor its time tells which ids exist. A signed-in guard gets a session: a
random token (the cookie) and a separate CSRF token every action must echo. Sessions end
after `IDLE_S` without an action, and at `MAX_S` whatever happens. Time comes from the
injected clock (monotonic).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
FREE_TRIES = 3
LOCK_FIRST_S, LOCK_MAX_S = 30.0, 900.0
IDLE_S, MAX_S = 30 * 60.0, 12 * 3600.0
MAX_SESSIONS = 32
GUARD_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
PIN = re.compile(r"[0-9]{4,12}")
_DUMMY = None   # a hash to check unknown ids against, so they cost the same


class GuardsError(ValueError):
    """A guards file that cannot be used; the message names the line."""


class SignInRefused(Exception):
    """A refused sign-in: `reason` is "wrong" or "locked" (with `retry_in_s`)."""

    def __init__(self, reason: str, retry_in_s: float = 0.0) -> None:
        super().__init__(reason)
        self.reason, self.retry_in_s = reason, retry_in_s


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    if not PIN.fullmatch(pin):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(digest)}"


def pin_matches(stored: str, pin: str) -> bool:
    """Whether `pin` is the one `stored` was made from (constant time in the PIN)."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        got = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt, validate=True),
                             n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def read_guards(path: Path) -> dict[str, str]:
    """The guards file: id -> stored PIN hash."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GuardsError(f"guards {path}: cannot read: {exc}") from None
    guards: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not GUARD_ID.fullmatch(parts[0]) or \
                not parts[1].startswith("scrypt$") or parts[1].count("$") != 5:
            raise GuardsError(f"guards {path} line {number}: expected `ID scrypt$...` "
                              "(made by `checkpoint guard add`)")
        if parts[0] in guards:
            raise GuardsError(f"guards {path} line {number}: guard {parts[0]} listed twice")
        guards[parts[0]] = parts[1]
    return guards


@dataclass
class Session:
    guard: str
    token: str          # the cookie
    csrf: str           # echoed by every action
    started: float
    last_used: float


class Guards:
    def __init__(self, guards: dict[str, str], clock) -> None:
        self._hashes = dict(guards)
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # id -> (wrong PINs, locked until)
        self._sessions: dict[str, Session] = {}

    def sign_in(self, guard: str, pin: str) -> Session:
        """A new session, or SignInRefused; every wrong PIN counts against the id."""
        now = self._clock.monotonic()
        key = guard if GUARD_ID.fullmatch(guard or "") else "?"
        with self._lock:
            until = self._failures.get(key, (0, 0.0))[1]
            if now < until:
                raise SignInRefused("locked", round(until - now, 1))
        stored = self._hashes.get(key)
        ok = pin_matches(stored or _dummy_hash(), pin if isinstance(pin, str) else "")
        with self._lock:
            if not (ok and stored):
                failures = self._failures.get(key, (0, 0.0))[0] + 1
                lock = 0.0 if failures < FREE_TRIES else min(
                    LOCK_MAX_S, LOCK_FIRST_S * 2 ** (failures - FREE_TRIES))
                self._failures[key] = (failures, now + lock)
                raise SignInRefused("wrong", lock)
            self._failures.pop(key, None)
            return self._new_session(guard, now)

    def session(self, token: str | None) -> Session | None:
        """The live session a cookie names (and it counts as used), else None."""
        now = self._clock.monotonic()
        with self._lock:
            session = self._sessions.get(token or "")
            if session is None:
                return None
            if now - session.last_used > IDLE_S or now - session.started > MAX_S:
                del self._sessions[session.token]
                return None
            session.last_used = now
            return session

    def authorised(self, token: str | None, csrf: str | None) -> Session | None:
        """The session, only when the request also carries its CSRF token."""
        session = self.session(token)
        if session is None or not hmac.compare_digest(session.csrf, csrf or ""):
            return None
        return session

    def sign_out(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _new_session(self, guard: str, now: float) -> Session:
        if len(self._sessions) >= MAX_SESSIONS:     # the oldest goes: a bounded table
            oldest = min(self._sessions.values(), key=lambda s: s.last_used)
            del self._sessions[oldest.token]
        session = Session(guard, secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        self._sessions[session.token] = session
        return session


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_pin("0000")
    return _DUMMY
