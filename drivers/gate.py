"""Turnstile / door release: a relay on a GPIO pin (gpiozero, optional)."""

from __future__ import annotations

from drivers.base import DriverError, Gate
from drivers.urls import DriverUrl, Option, flag, number

DEFAULT_PULSE_S = 1.5
URL_OPTIONS = {"gpio": {"active_high": Option(flag, True),
                        "pulse": Option(number(positive=True), DEFAULT_PULSE_S)}}


def check_pulse(pulse_s: float) -> float:
    if not pulse_s > 0:
        raise DriverError(f"gate: pulse {pulse_s!r} s; allowed: a positive number of seconds")
    return float(pulse_s)


class GpioGate(Gate):
    """A relay on a GPIO pin, pulsed by gpiozero's background blink thread."""

    def __init__(self, pin: int | str, *, active_high: bool = True,
                 pulse: float = DEFAULT_PULSE_S, pin_factory=None) -> None:
        try:
            from gpiozero import DigitalOutputDevice
            from gpiozero.exc import GPIOZeroError
        except ImportError:
            raise DriverError("gpio gate needs gpiozero: pip install checkpoint[gpio]") from None
        self.pin = pin
        self.pulse = check_pulse(pulse)
        try:
            self._device = DigitalOutputDevice(pin, active_high=active_high, initial_value=False,
                                               pin_factory=pin_factory)
        except (GPIOZeroError, OSError, ValueError) as exc:
            raise DriverError(f"gpio gate on pin {pin}: {exc}") from None

    def _open(self, pulse_s: float | None) -> None:
        pulse = check_pulse(self.pulse if pulse_s is None else pulse_s)
        self._device.on()   # at once: blink() only switches on when its thread runs
        self._device.blink(on_time=pulse, off_time=0, n=1, background=True)

    @property
    def state(self) -> str:
        return "open" if self._device.value else "closed"

    def describe(self) -> str:
        return f"gpio gate on pin {self.pin}, pulse {self.pulse} s"

    def close(self) -> None:
        self._device.close()


def from_url(spec: DriverUrl, **_) -> GpioGate:
    """For `gpio://17?active_high=1&pulse=1.5` (gpiozero keeps the time of a pulse)."""
    if not spec.target:
        raise DriverError("gate url: no pin, e.g. gpio://17")
    pin: int | str = int(spec.target) if spec.target.isdigit() else spec.target
    return GpioGate(pin, active_high=spec.options["active_high"], pulse=spec.options["pulse"])
