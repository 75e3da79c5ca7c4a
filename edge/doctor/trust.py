"""The trust line: the bundles in force verify, and none is past its next_update (the
device then flags `trust_stale`: the district has not refreshed it in time)."""

from __future__ import annotations

from edge.doctor.result import Context, Finding, fail, ok, warn
from edge.trust import TrustError, load_configured_trust
from models.timefmt import rfc3339

SOON_S = 24 * 3600      # a day's warning: time to fix the district's push
STALE_HINT = ("the district pushes fresh bundles over MQTT: check the broker line and "
              "the district's bundle schedule, or copy fresh signed files to the gate")


def check_trust(context: Context) -> Finding:
    try:
        state = load_configured_trust(context.config.trust)
    except TrustError as exc:
        return fail(str(exc), "replace the file with the district's signed one")
    now = context.clock.now()
    kind, bundle = min(state.bundles.items(), key=lambda item: item[1].next_update)
    versions = ", ".join(f"{k} v{b.version}" for k, b in sorted(state.bundles.items()))
    due = f"{kind} next_update {rfc3339(bundle.next_update)}"
    if bundle.next_update < now:
        return fail(f"stale: {due}, {_span(now - bundle.next_update)} ago ({versions})",
                    STALE_HINT)
    if bundle.next_update - now < SOON_S:
        return warn(f"{due}, in {_span(bundle.next_update - now)} ({versions})", STALE_HINT)
    return ok(f"{versions}; {due}")


def _span(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"
