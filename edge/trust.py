"""The device's trust: pinned root keys, and the signed bundles they vouch for, from files.

A bundle is used only after its envelope verifies against a pinned root; every problem is
one line naming the file, so a technician sees at once which file to replace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.bundle import Bundle, BundleError, open_bundle
from models.keys import kid_of, load_public_key
from models.policy import Policy, PolicyError
from models.trust import TrustDataError, TrustStore


class TrustError(Exception):
    """Trust material that cannot be used: the message names the file and the problem."""


@dataclass(frozen=True)
class TrustState:
    store: TrustStore
    policy: Policy
    roots: dict[bytes, object]          # root kid -> public key, for bundles pushed later
    trustlist_version: int
    revocations_version: int | None
    policy_version: int | None
    next_update: float                  # earliest next_update of the loaded bundles

    def stale(self, now: float) -> bool:
        """Past a bundle's next_update: the district has not refreshed it in time."""
        return now > self.next_update


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
               policy: Path | None = None) -> TrustState:
    """Verify and load the trust list, and the revocations and policy when configured."""
    root_keys = load_roots(roots)
    bundles = {"trustlist": read_bundle(trustlist, "trustlist", root_keys)}
    for kind, path in (("revocations", revocations), ("policy", policy)):
        if path is not None:
            bundles[kind] = read_bundle(path, kind, root_keys)
    return build_state(root_keys, bundles, {"trustlist": trustlist, "revocations": revocations,
                                            "policy": policy})


def build_state(roots: dict[bytes, object], bundles: dict[str, Bundle],
                sources: dict[str, object] | None = None) -> TrustState:
    """A TrustState from opened bundles (`trustlist` required); `sources` names them in errors."""
    sources = sources or {}

    def parsed(kind: str, build, payload):
        try:
            return build(payload)
        except (TrustDataError, PolicyError, TypeError) as exc:
            raise TrustError(f"{sources.get(kind, kind)}: {exc}") from None

    store = parsed("trustlist", TrustStore.from_payloads, bundles["trustlist"].payload)
    if "revocations" in bundles:
        store = parsed("revocations", store.with_revocations, bundles["revocations"].payload)
    policy = Policy()
    if "policy" in bundles:
        policy = parsed("policy", Policy.from_payload, bundles["policy"].payload)
    return TrustState(
        store=store, policy=policy, roots=roots,
        trustlist_version=bundles["trustlist"].version,
        revocations_version=_version(bundles, "revocations"),
        policy_version=_version(bundles, "policy"),
        next_update=min(bundle.next_update for bundle in bundles.values()),
    )


def _version(bundles: dict[str, Bundle], kind: str) -> int | None:
    return bundles[kind].version if kind in bundles else None
