"""What one check found: a status, what it saw, and for a problem the fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drivers.clock import SystemClock
from edge.config import Config

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    status: str         # OK, WARN or FAIL
    detail: str         # what was found
    hint: str | None = None     # the fix (always given for WARN and FAIL)


@dataclass(frozen=True)
class Result:
    name: str
    status: str
    detail: str
    hint: str | None

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "hint": self.hint}


def ok(detail: str) -> Finding:
    return Finding(OK, detail)


def warn(detail: str, hint: str) -> Finding:
    return Finding(WARN, detail, hint)


def fail(detail: str, hint: str) -> Finding:
    return Finding(FAIL, detail, hint)


@dataclass
class Context:
    """What every check reads: the loaded config, the time it may take, and what an
    earlier check left for a later one (the camera's last frame for the decoder)."""

    config: Config
    timeout_s: float = 10.0
    toggle_gate: bool = False
    clock: object = field(default_factory=SystemClock)
    rtc_paths: tuple[str, ...] | None = None    # None: drivers.clock's defaults
    shared: dict = field(default_factory=dict)

    @property
    def store_path(self) -> Path:
        return Path(self.config.store.path)
