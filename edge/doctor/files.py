"""The permissions line: secrets readable only by their owner, and nothing the device
trusts writable by others (whoever can rewrite the config or a root key decides who
passes the gate)."""

from __future__ import annotations

import stat
from pathlib import Path

from edge.config import Config
from edge.doctor.result import Context, Finding, fail, ok

PRIVATE_MASK = 0o077    # secrets: no access at all for group or others
TRUSTED_MASK = 0o022    # config and trust files: readable, but writable by the owner only


def secrets(config: Config) -> list[Path]:
    """The TLS key, the subject and card keys, the guards' file: what must stay private
    (whoever holds the card key can tell which card a token is)."""
    named = (config.mqtt.key, config.trust.subject_key, config.trust.card_key,
             config.console.guards)
    return [Path(path) for path in named if path]


def trusted(config: Config) -> list[Path]:
    trust = config.trust
    named = (config.path, *trust.roots, trust.trustlist, trust.revocations, trust.policy,
             trust.roster, config.mqtt.ca, config.mqtt.cert)
    return [Path(path) for path in named if path]


def check_permissions(context: Context) -> Finding:
    config = context.config
    private = _problems(secrets(config), PRIVATE_MASK, "readable")
    shared = _problems(trusted(config), TRUSTED_MASK, "writable")
    fixes = []
    if private:
        files = " ".join(str(path) for path in private)
        fixes.append(f"chmod 600 {files}; chown checkpoint {files}")
    if shared:
        fixes.append(f"chmod go-w {' '.join(str(path) for path in shared)}")
    if fixes:
        return fail("; ".join([*private.values(), *shared.values()]), "; ".join(fixes))
    checked = len(secrets(config)) + len(trusted(config))
    return ok(f"{checked} files: secrets private, config and trust files writable by "
              "their owner only")


def _problems(paths: list[Path], mask: int, what: str) -> dict[Path, str]:
    found = {path: _problem(path, mask, what) for path in dict.fromkeys(paths)}
    return {path: text for path, text in found.items() if text}


def _problem(path: Path, mask: int, what: str) -> str | None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None     # a roster not pushed yet; missing files are the config line's
    if mode & mask:
        who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007))
                           if mode & mask & bits)
        return f"{path} is {what} by {who} (mode {mode:04o})"
    return None
