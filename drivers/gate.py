"""Turnstile / door release: a relay on a GPIO pin (gpiozero, optional).

gpiozero drives the pin through a pin library it picks itself, trying lgpio first (the
one Raspberry Pi OS ships and gpiozero recommends; scripts/install-pi.sh installs it),
then RPi.GPIO, pigpio and its own native one. Each library that fails is a Python warning
on stderr, and off a Pi all fail: so the choice is made here with those warnings caught,
and the outcome is one DriverError line naming each library and why it failed, or, when
only the native fallback works, one log event saying so.
"""

from __future__ import annotations

import logging
import os
import warnings

from drivers.base import DriverError, Gate
from drivers.urls import DriverUrl, Option, flag, number
from runtime import logs

DEFAULT_PULSE_S = 1.5
URL_OPTIONS = {"gpio": {"active_high": Option(flag, True),
                        "pulse": Option(number(positive=True), DEFAULT_PULSE_S)}}


def check_pulse(pulse_s: float) -> float:
    if not pulse_s > 0:
        raise DriverError(f"gate: pulse {pulse_s!r} s; allowed: a positive number of seconds")
    return float(pulse_s)


PI_HINT = "on a Raspberry Pi run scripts/install-pi.sh (it installs lgpio)"


def choose_pin_factory(pin: int | str = "?"):
    """gpiozero's default pin factory, chosen now with its warnings caught (the same one
    every later device shares); DriverError in one line when no pin library works."""
    from gpiozero import Device
    from gpiozero.exc import GPIOZeroError, PinFactoryFallback

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            Device.ensure_pin_factory()
        except (GPIOZeroError, ImportError, OSError, RuntimeError, ValueError) as exc:
            named = os.environ.get("GPIOZERO_PIN_FACTORY")
            if named:   # gpiozero tried only that one
                raise DriverError(f"gpio gate on pin {pin}: GPIOZERO_PIN_FACTORY={named} does "
                                  f"not work ({type(exc).__name__}: {exc}); unset it to let "
                                  f"gpiozero choose, or {PI_HINT}") from None
            tried = _fallbacks(caught, PinFactoryFallback) or [f"{type(exc).__name__}: {exc}"]
            raise DriverError(f"gpio gate on pin {pin}: no GPIO pin library works here "
                              f"(tried {'; '.join(tried)}); {PI_HINT}") from None
    fallbacks = _fallbacks(caught, PinFactoryFallback)
    if fallbacks:   # the native factory works on older Pis, but lgpio is what should run
        logs.event("gpio_pin_library_fallback", logging.WARNING, pin=pin,
                   using=type(Device.pin_factory).__name__, tried="; ".join(fallbacks),
                   fix=PI_HINT)
    return Device.pin_factory


def _fallbacks(caught, category) -> list[str]:
    """`lgpio: No module named 'lgpio'` for each library gpiozero fell back from."""
    prefix = "Falling back from "
    return [str(w.message).removeprefix(prefix) for w in caught
            if issubclass(w.category, category) and str(w.message).startswith(prefix)]


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
        if pin_factory is None:
            pin_factory = choose_pin_factory(pin)
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
