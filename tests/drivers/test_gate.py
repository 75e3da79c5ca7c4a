"""Gates: one contract for every backend, plus what the simulated gate records."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers import registry
from drivers.base import DriverError
from drivers.gate import GpioGate
from drivers.sim.gate import SimGate
from tests.support.clock import FakeClock
from tests.support.paths import REPO

try:
    from gpiozero.pins.mock import MockFactory
except ImportError:
    MockFactory = None


def _sim_backend():
    clock = FakeClock()
    return SimGate(clock=clock, pulse=0.3), clock.advance


def _gpio_backend():
    if MockFactory is None:
        pytest.skip("gpiozero is not installed (optional extra: pip install checkpoint[gpio])")
    return GpioGate(17, pulse=0.3, pin_factory=MockFactory()), lambda s: time.sleep(s + 0.05)


@pytest.fixture(params=[_sim_backend, _gpio_backend], ids=["sim", "gpio-mock"])
def backend(request):
    gate, advance = request.param()
    with gate:
        yield gate, advance


def test_starts_closed(backend):
    gate, _ = backend
    assert gate.state == "closed"


def test_open_releases_for_one_pulse(backend):
    gate, advance = backend
    gate.open()
    assert gate.state == "open"
    advance(0.1)
    assert gate.state == "open"
    advance(0.25)
    assert gate.state == "closed"


def test_pulse_can_be_given_per_opening(backend):
    gate, advance = backend
    gate.open(pulse_s=0.05)
    advance(0.06)
    assert gate.state == "closed"


@pytest.mark.parametrize("pulse", [0, -1.0])
def test_non_positive_pulse_is_refused(backend, pulse):
    gate, _ = backend
    with pytest.raises(DriverError, match="positive"):
        gate.open(pulse_s=pulse)
    assert gate.state == "closed"


def test_sim_gate_records_when_it_opened_and_closed():
    clock = FakeClock()
    gate = SimGate(clock=clock, pulse=1.5)
    start = clock.now()
    gate.open()
    clock.advance(10.0)
    gate.open(pulse_s=0.5)
    clock.advance(0.2)
    assert gate.events == [(start, "open"), (start + 1.5, "closed"), (start + 10.0, "open")]
    assert gate.state == "open"
    clock.advance(5.0)
    assert gate.events[-1] == (start + 10.5, "closed")
    assert [state for _, state in gate.events].count("open") == 2


def test_opening_an_open_gate_extends_the_pulse():
    clock = FakeClock()
    gate = SimGate(clock=clock, pulse=1.0)
    start = clock.now()
    gate.open()
    clock.advance(0.8)
    gate.open()
    clock.advance(0.8)
    assert gate.state == "open"
    clock.advance(0.3)
    assert gate.events == [(start, "open"), (start + 1.8, "closed")]


def test_sim_url_sets_the_pulse():
    gate = registry.open_gate("sim://?pulse=2.5", clock=FakeClock())
    assert isinstance(gate, SimGate) and gate.pulse == 2.5


@pytest.mark.parametrize("url, message", [
    ("sim://?pulse=abc", "pulse='abc': allowed: a number above 0"),
    ("gpio://17?pulse_ms=200", "unknown option(s) pulse_ms; allowed: active_high, pulse"),
    ("gpio://17?active_high=yes", "active_high='yes': allowed: 0, 1"),
    ("gpio://?pulse=1", "no pin"),
])
def test_bad_gate_urls_are_named(url, message):
    with pytest.raises(DriverError) as error:
        registry.open_gate(url, clock=FakeClock())
    assert message in str(error.value)


def test_gpio_without_gpiozero_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiozero", None)     # as on a laptop without the extra
    with pytest.raises(DriverError, match=r"pip install checkpoint\[gpio\]"):
        registry.open_gate("gpio://17?active_high=1&pulse=1.5", clock=FakeClock())


# -- choosing the pin library, off a Pi ------------------------------------------------------

OPEN_GPIO = """
import sys
from drivers import registry
from drivers.base import DriverError
from drivers.clock import SystemClock
try:
    gate = registry.open_gate("gpio://17", clock=SystemClock())
except DriverError as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
print(gate.describe())
gate.close()
"""


def _open_gpio_in_child(**env) -> subprocess.CompletedProcess:
    child_env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    return subprocess.run([sys.executable, "-c", OPEN_GPIO], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env={**child_env, **env})


def _a_pin_library_could_work() -> bool:
    return any(Path("/dev").glob("gpiochip*")) and importlib.util.find_spec("lgpio") is not None


def test_off_a_pi_gpio_is_one_error_line_and_no_warnings():
    if MockFactory is None:
        pytest.skip("gpiozero is not installed")
    if _a_pin_library_could_work():
        pytest.skip("this machine has GPIO and lgpio: the gate would open")
    done = _open_gpio_in_child()
    assert done.returncode == 1
    assert "Warning" not in done.stderr and "warn" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gpio gate on pin 17: no GPIO pin library works here (tried "
                               "lgpio: ")
    assert lines[0].endswith("; on a Raspberry Pi run scripts/install-pi.sh (it installs lgpio)")


def test_a_pin_library_named_in_the_environment_is_used_quietly():
    if MockFactory is None:
        pytest.skip("gpiozero is not installed")
    done = _open_gpio_in_child(GPIOZERO_PIN_FACTORY="mock")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "gpio gate on pin 17, pulse 1.5 s\n"


def test_an_unknown_pin_library_in_the_environment_is_one_line():
    if MockFactory is None:
        pytest.skip("gpiozero is not installed")
    done = _open_gpio_in_child(GPIOZERO_PIN_FACTORY="nosuch")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "gpio gate on pin 17: GPIOZERO_PIN_FACTORY=nosuch does not work (BadPinFactory: Unable "
        "to find pin factory 'nosuch'); unset it to let gpiozero choose, or on a Raspberry Pi "
        "run scripts/install-pi.sh (it installs lgpio)"]
