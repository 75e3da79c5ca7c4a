"""`sim://?profile=fever` as a thermal sensor: a simulator on a new pseudo-terminal and
the real serial driver reading it, so what the agent runs is the real driver code path.

    sim://?protocol=gy-mcu90640&profile=fever&faults=bit_flip,truncated&fault_every=5

`checkpoint sim thermal` takes the same options as flags.
"""

from __future__ import annotations

from drivers import urls
from drivers.base import DriverError
from drivers.sim.thermal import FAULTS, ThermalSimulator
from drivers.sim.thermal_profiles import PROFILES
from drivers.sim.thermal_speakers import SPEAKERS
from drivers.thermal import gy90614, gy90640
from drivers.thermal.serial_sensor import SerialThermal
from drivers.urls import DriverUrl, Option, choice, choices


def _rate(text: str) -> float:
    rate = urls.number()(text)
    if rate not in gy90640.RATES_HZ:
        raise ValueError("allowed with protocol gy-mcu90640: "
                         + ", ".join(f"{r:g}" for r in gy90640.RATES_HZ))
    return rate


URL_OPTIONS = {"sim": {
    "protocol": Option(choice(*SPEAKERS), gy90614.PROTOCOL),
    "profile": Option(choice(*PROFILES), "normal"),
    "baud": Option(urls.whole(1), None),
    "faults": Option(choices(*FAULTS), ()),
    "fault_every": Option(urls.whole(1), 5),
    "rate": Option(_rate, None),
    "seed": Option(urls.whole(0), 0),
}}


def simulator_from_options(options: dict[str, str], source=None) -> ThermalSimulator:
    """A simulator for `sim://?protocol=gy-mcu90640&profile=fever&faults=bit_flip,truncated`
    (or the same options given to `checkpoint sim thermal`)."""
    return _simulator(urls.parse_options(options, URL_OPTIONS["sim"], "thermal simulator"),
                      source)


def _simulator(options: dict, source=None) -> ThermalSimulator:
    simulator = ThermalSimulator(
        protocol=options["protocol"], profile=options["profile"], source=source,
        baud=options["baud"], faults=options["faults"], fault_every=options["fault_every"],
        seed=options["seed"])
    if options["rate"] is not None:
        if not hasattr(simulator.speaker, "rate_hz"):
            simulator.stop()
            raise DriverError(f"thermal simulator: rate is for gy-mcu90640, not "
                              f"{options['protocol']}")
        simulator.speaker.rate_hz = options["rate"]
    return simulator


class SimulatedSensor(SerialThermal):
    """The real serial driver on a simulator's pty; closing it stops the simulator too."""

    def __init__(self, simulator: ThermalSimulator, *, clock) -> None:
        self.simulator = simulator
        super().__init__(simulator.port, protocol=simulator.protocol, clock=clock)

    def close(self) -> None:
        super().close()
        self.simulator.stop()


def from_url(spec: DriverUrl, *, clock, scene=None, **_) -> SimulatedSensor:
    """A simulator on a new pty and the real serial driver reading it; close() stops both.
    With a scene, the simulated people's temperatures are what it reports."""
    source = (lambda: scene.temperature_at(clock.monotonic())) if scene is not None else None
    simulator = _simulator(spec.options, source)
    try:
        return SimulatedSensor(simulator, clock=clock)
    except DriverError:
        simulator.stop()
        raise
