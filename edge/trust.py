"""The device's trust: pinned root keys, and the signed bundles they vouch for, from files.

A bundle is used only after its envelope verifies against a pinned root; every problem is
one line naming the file, so a technician sees at once which file to replace. A bundle
pushed at run time replaces the one in force only when it verifies, is newer and builds a
usable state; it is then written over the configured file atomically, so a restart finds
the newest accepted bundle and a crash mid-write leaves the old one whole.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from models.bundle import Bundle, BundleError, open_bundle
from models.keys import kid_of, load_public_key
from models.policy import Policy, PolicyError
from models.roster import Roster, RosterError
from models.trust import MIN_SUBJECT_KEY_LEN, TrustDataError, TrustStore
from runtime import logs


class TrustError(Exception):
    """Trust material that cannot be used: the message names the file and the problem.

    A refused pushed bundle also says which `kind` it was (None when unreadable), the
    `reason`, and what stays in force (`kept`), for the log of whoever received it."""

    def __init__(self, message: str, *, kind: str | None = None, reason: str | None = None,
                 kept: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.reason, self.kept = kind, reason or message, kept


@dataclass(frozen=True)
class TrustState:
    store: TrustStore
    policy: Policy
    roots: dict[bytes, object]          # root kid -> public key, for bundles pushed later
    trustlist_version: int
    revocations_version: int | None
    policy_version: int | None
    next_update: float                  # earliest next_update of the loaded bundles
    bundles: dict[str, Bundle] = field(default_factory=dict)    # in force, by kind
    paths: dict[str, Path] = field(default_factory=dict)        # where each kind persists
    # HC1 subject HMAC key provisioned to the device ([trust] subject_key)
    subject_key: bytes | None = None
    roster: Roster | None = None        # None: no roster installed, nobody is a visitor
    roster_version: int | None = None

    def on_roster(self, subject: str | None) -> bool | None:
        """Whether a pass's subject is a resident's; None without a roster."""
        return None if self.roster is None else self.roster.has(subject)

    def cards_of(self, subject: str | None) -> tuple[str, ...]:
        """The card tokens the roster binds to a pass's subject; () without a roster."""
        return () if self.roster is None else self.roster.cards_of(subject)

    def holder(self, token: str) -> str | None:
        """The resident a card token is bound to; None for a card on no roster."""
        return None if self.roster is None else self.roster.holder(token)

    def stale(self, now: float) -> bool:
        """Past a bundle's next_update: the district has not refreshed it in time."""
        return now > self.next_update

    @property
    def newest_issued(self) -> float | None:
        issued = [bundle.issued for bundle in self.bundles.values()]
        return max(issued) if issued else None

    def effective_now(self, now: float) -> float:
        """The time to judge by: never earlier than the newest bundle's `issued`, so a clock
        reset to the past (dead RTC battery, forged NTP) cannot revive expired passes."""
        floor = self.newest_issued
        return now if floor is None else max(now, floor)

    def apply_bundle(self, envelope: bytes | str | dict, *, now: float | None = None,
                     max_skew_s: float = 0.0) -> TrustState:
        """The state with a pushed bundle in force, persisted to its configured file.

        Raises TrustError naming the reason (unknown root, bad signature, rollback,
        malformed payload, issued after `now` + `max_skew_s` when `now` is given,
        unwritable file); the caller keeps this state in force and logs the refusal. The
        very bundle already in force (a retained message delivered again) returns self.
        """
        try:
            bundle = open_bundle(envelope, self.roots)
        except BundleError as exc:
            raise self._refusal(None, str(exc)) from None
        if bundle.kind not in TRUST_KINDS:
            raise self._refusal(bundle.kind, "not a bundle this device applies "
                                             f"({', '.join(TRUST_KINDS)})")
        current = self.bundles.get(bundle.kind)
        if current is not None and bundle.version <= current.version:
            if bundle.version == current.version and bundle.payload == current.payload:
                return self
            raise self._refusal(bundle.kind, f"version {bundle.version} is not newer than "
                                             f"{current.version} in force (rollback)")
        if now is not None and bundle.issued > now + max_skew_s:
            raise self._refusal(bundle.kind, f"issued {bundle.payload['issued']} is more "
                                             f"than {max_skew_s:.0f} s ahead of this "
                                             "device's clock")
        try:
            state = build_state(self.roots, {**self.bundles, bundle.kind: bundle}, self.paths)
        except TrustError as exc:
            raise self._refusal(bundle.kind, f"malformed payload: {exc}") from None
        state = with_subject_key(replace(state, paths=self.paths), self.subject_key)
        self._persist(bundle, envelope)
        logs.event("bundle_applied", kind=bundle.kind, version=bundle.version,
                   previous=None if current is None else current.version)
        return state

    def _refusal(self, kind: str | None, reason: str) -> TrustError:
        """The error to raise for a refused bundle, naming what stays in force."""
        current = self.bundles.get(kind) if kind else None
        kept = "the bundle in force stays" if kind is None else (
            f"no {kind} in force" if current is None else f"version {current.version} stays")
        return TrustError(f"{kind or 'bundle'} refused: {reason}; {kept}", kind=kind,
                          reason=reason, kept=kept)

    def _persist(self, bundle: Bundle, envelope: bytes | str | dict) -> None:
        path = self.paths.get(bundle.kind)
        if path is None:
            logs.event("bundle_not_persisted", logging.WARNING, kind=bundle.kind,
                       reason="no file configured for this kind")
            return
        if isinstance(envelope, dict):
            envelope = json.dumps(envelope, indent=2) + "\n"
        data = envelope.encode("utf-8") if isinstance(envelope, str) else bytes(envelope)
        try:
            write_atomically(Path(path), data)
        except OSError as exc:
            raise self._refusal(bundle.kind, f"cannot write {path}: {exc.strerror}") from None


TRUST_KINDS = ("trustlist", "revocations", "policy", "roster")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` by `data`: temp file in the same folder, fsync, rename, fsync folder."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def load_roots(paths: list[Path]) -> dict[bytes, object]:
    if not paths:
        raise TrustError("trust roots: no root key configured")
    roots = {}
    for path in paths:
        try:
            key = load_public_key(Path(path).read_bytes())
        except OSError as exc:
            raise TrustError(f"trust root {path}: cannot read: {exc.strerror}") from None
        except ValueError:
            raise TrustError(f"trust root {path}: not a PEM or DER public key") from None
        roots[kid_of(key)] = key
    return roots


def read_bundle(path: Path, kind: str, roots: dict[bytes, object]) -> Bundle:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TrustError(f"{kind} {path}: cannot read: {exc.strerror}") from None
    try:
        return open_bundle(data, roots, expect_kind=kind)
    except BundleError as exc:
        raise TrustError(f"{kind} {path}: {exc}") from None


def load_trust(roots: list[Path], trustlist: Path, revocations: Path | None = None,
               policy: Path | None = None, subject_key: bytes | None = None,
               roster: Path | None = None) -> TrustState:
    """Verify and load the trust list, and the revocations, policy and roster when
    configured. A configured roster file that does not exist yet is no roster: the
    district may push the first one, which is then written there.

    `subject_key` (at least 16 bytes), when given, keys the HC1 subject hash: the
    district's secret, provisioned to the device, never pushed in a (public) bundle."""
    root_keys = load_roots(roots)
    bundles = {"trustlist": read_bundle(trustlist, "trustlist", root_keys)}
    for kind, path in (("revocations", revocations), ("policy", policy)):
        if path is not None:
            bundles[kind] = read_bundle(path, kind, root_keys)
    if roster is not None and Path(roster).exists():
        bundles["roster"] = read_bundle(roster, "roster", root_keys)
    paths = {"trustlist": trustlist, "revocations": revocations, "policy": policy,
             "roster": roster}
    state = build_state(root_keys, bundles, paths)
    state = replace(state, paths={k: Path(v) for k, v in paths.items() if v is not None})
    return with_subject_key(state, subject_key)


def load_configured_trust(trust) -> TrustState:
    """load_trust for a config's [trust] table, reading the subject key file if named."""
    key = read_subject_key(trust.subject_key) if trust.subject_key else None
    return load_trust(trust.roots, trust.trustlist, trust.revocations, trust.policy, key,
                      trust.roster)


def read_subject_key(path: Path) -> bytes:
    """The district's subject HMAC key: a file holding it as base64 text."""
    try:
        return base64.b64decode(Path(path).read_bytes().strip(), validate=True)
    except OSError as exc:
        raise TrustError(f"subject key {path}: cannot read: {exc.strerror}") from None
    except ValueError:
        raise TrustError(f"subject key {path}: not base64 text") from None


def with_subject_key(state: TrustState, key: bytes | None) -> TrustState:
    if key is None:
        return state
    if len(key) < MIN_SUBJECT_KEY_LEN:
        raise TrustError(f"subject key: at least {MIN_SUBJECT_KEY_LEN} bytes needed")
    return replace(state, store=replace(state.store, subject_key=key), subject_key=key)


def build_state(roots: dict[bytes, object], bundles: dict[str, Bundle],
                sources: dict[str, object] | None = None) -> TrustState:
    """A TrustState from opened bundles (`trustlist` required); `sources` names them in errors."""
    sources = sources or {}

    def parsed(kind: str, build, payload):
        try:
            return build(payload)
        except (TrustDataError, PolicyError, RosterError, TypeError) as exc:
            raise TrustError(f"{sources.get(kind, kind)}: {exc}") from None

    store = parsed("trustlist", TrustStore.from_payloads, bundles["trustlist"].payload)
    if "revocations" in bundles:
        store = parsed("revocations", store.with_revocations, bundles["revocations"].payload)
    policy = Policy()
    if "policy" in bundles:
        policy = parsed("policy", Policy.from_payload, bundles["policy"].payload)
    roster = None
    if "roster" in bundles:
        roster = parsed("roster", Roster.from_payload, bundles["roster"].payload)
    return TrustState(
        store=store, policy=policy, roots=roots,
        trustlist_version=bundles["trustlist"].version,
        revocations_version=_version(bundles, "revocations"),
        policy_version=_version(bundles, "policy"),
        next_update=min(bundle.next_update for bundle in bundles.values()),
        bundles=dict(bundles), roster=roster, roster_version=_version(bundles, "roster"),
    )


def _version(bundles: dict[str, Bundle], kind: str) -> int | None:
    return bundles[kind].version if kind in bundles else None
