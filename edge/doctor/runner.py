"""Run the checks in order, each on its own thread with a deadline.

A check that hangs (a driver stuck in a system call) is reported as not finishing and
left behind on its daemon thread: the command still ends, with every other line. A
check that raises is that check's failure, never the command's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from edge.doctor import ack, broker, camera, clock, files, gate, reader, sensor, storage, trust
from edge.doctor.configs import check_config, load
from edge.doctor.result import FAIL, Context, Finding, Result, fail

GRACE_S = 3.0   # beyond a check's own budget, before it counts as hung

CHECKS: tuple[tuple[str, Callable[[Context], Finding]], ...] = (
    ("config", check_config),
    ("camera", camera.check_camera),
    ("decoder", camera.check_decoder),
    ("sensor", sensor.check_sensor),
    ("gate", gate.check_gate),
    ("reader", reader.check_reader),
    ("broker", broker.check_broker),
    ("ack", ack.check_ack),
    ("clock", clock.check_clock),
    ("disk", storage.check_disk),
    ("database", storage.check_database),
    ("trust", trust.check_trust),
    ("permissions", files.check_permissions),
)


def run_checks(config_path: Path, *, timeout_s: float = 10.0, toggle_gate: bool = False,
               clock=None) -> list[Result]:
    """Every check's result; only the config's when the config cannot be read."""
    config, problem = load(config_path)
    if config is None:
        return [Result("config", problem.status, problem.detail, problem.hint)]
    context = Context(config, timeout_s=timeout_s, toggle_gate=toggle_gate)
    if clock is not None:
        context.clock = clock
    return [run_one(name, check, context) for name, check in CHECKS]


def run_one(name: str, check: Callable[[Context], Finding], context: Context) -> Result:
    box: list[Finding] = []

    def target() -> None:
        try:
            box.append(check(context))
        except Exception as exc:
            box.append(fail(f"the check itself failed: {type(exc).__name__}: {exc}",
                            "a bug in checkpoint doctor: report this line"))

    thread = threading.Thread(target=target, name=f"doctor-{name}", daemon=True)
    thread.start()
    thread.join(context.timeout_s + GRACE_S)
    if not box:
        finding = fail(f"did not finish within {context.timeout_s + GRACE_S:g} s",
                       f"the {name} hangs: stop the service (sudo systemctl stop checkpoint) "
                       "and run doctor again, or try a longer --timeout")
    else:
        finding = box[0]
    return Result(name, finding.status, finding.detail, finding.hint)


def passed(results: list[Result]) -> bool:
    return not any(result.status == FAIL for result in results)
