"""The screening estimate as a table of situations: readings in, state and estimate out."""

from __future__ import annotations

import random

import pytest

from drivers.base import ThermalReading
from drivers.sim.thermal_profiles import WALK_PERIOD_S, profile_temperature
from drivers.sim.thermal_speakers import scene_pixels
from drivers.thermal import gy90640
from drivers.thermal.face import to_reading
from edge.screening import Presentation, Screening, ScreeningSettings

THRESHOLD, BAND = 37.3, 0.3
PERIOD = 0.08       # 12.5 readings per second, as a GY-MCU90614 streams


class Gate:
    """A screening fed at the sensor's pace; `now` is the time of the last reading."""

    def __init__(self, settings: ScreeningSettings | None = None) -> None:
        self.now = 0.0
        self.screening = Screening(settings, started=0.0)

    def feed(self, celsius: float, seconds: float, ambient_c: float = 25.0) -> Gate:
        for _ in range(round(seconds / PERIOD)):
            self.now += PERIOD
            self.screening.add(ThermalReading(celsius, ambient_c, self.now, "test"))
        return self

    def assess(self, later: float = 0.0, **kwargs):
        return self.screening.assess(self.now + later, THRESHOLD, BAND, **kwargs)


def test_steady_forehead_gives_an_estimate():
    result = Gate().feed(24.0, 1.2).feed(36.5, 1.2).assess()
    assert (result.state, result.temperature_c, result.remeasured, result.fever) == \
        ("ok", 36.5, False, False)
    assert result.age_s == 0.0


def test_first_second_after_start_is_warming_up():
    assert Gate().feed(36.5, 0.8).assess().state == "warming_up"


def test_a_person_who_just_stepped_up_is_measured_from_their_own_readings_only():
    gate = Gate().feed(24.0, 1.5).feed(36.5, 0.16)
    assert gate.assess().state == "retry"           # two readings of them: too few
    result = gate.feed(36.5, 0.24).assess()
    assert (result.state, result.temperature_c) == ("ok", 36.5)     # no background in it


def test_moving_person_spread_is_retried():
    gate = Gate().feed(24.0, 1.2)
    for _ in range(8):
        gate.feed(36.0, 0.08).feed(37.0, 0.08)
    assert gate.assess().state == "retry"


@pytest.mark.parametrize("celsius", [24.0, 31.5, 44.0])
def test_steady_but_not_a_forehead_is_out_of_range(celsius):
    result = Gate().feed(celsius, 2.4).assess()
    assert (result.state, result.temperature_c) == ("out_of_range", None)


def test_near_threshold_needs_a_second_window_then_passes():
    gate = Gate().feed(24.0, 1.2).feed(37.15, 0.6)
    first = gate.assess()
    assert (first.state, first.remeasured, first.temperature_c) == ("retry", True, None)
    result = gate.feed(37.15, 0.5).assess()
    assert (result.state, result.temperature_c, result.remeasured, result.fever) == \
        ("ok", 37.15, True, False)


def test_fever_is_declared_after_the_re_measure():
    result = Gate().feed(24.0, 1.2).feed(37.45, 2.2).assess()
    assert (result.state, result.temperature_c, result.remeasured, result.fever) == \
        ("ok", 37.45, True, True)


def test_clear_fever_needs_one_window():
    result = Gate().feed(24.0, 1.2).feed(38.4, 1.1).assess()
    assert (result.state, result.temperature_c, result.remeasured, result.fever) == \
        ("ok", 38.4, False, True)


def test_windows_that_disagree_are_retried():
    strict = ScreeningSettings(max_disagreement_c=0.2)
    result = Gate(strict).feed(24.0, 1.2).feed(37.0, 0.55).feed(37.25, 0.55).assess()
    assert (result.state, result.temperature_c) == ("retry", None)
    result = Gate().feed(24.0, 1.2).feed(37.0, 0.55).feed(37.25, 0.55).assess()
    assert (result.state, result.remeasured) == ("ok", True)


def test_hysteresis_keeps_a_fever_until_clearly_below_threshold():
    gate = Gate().feed(24.0, 1.2).feed(37.45, 2.2)
    assert gate.assess().fever is True
    assert gate.feed(37.2, 2.2).assess().fever is True     # below 37.3, above 37.1
    assert gate.feed(37.0, 2.2).assess().fever is False


def test_a_new_person_starts_without_the_last_ones_fever():
    gate = Gate().feed(24.0, 1.2).feed(37.45, 2.2)
    assert gate.assess().fever is True
    result = gate.feed(24.0, 0.4).feed(37.2, 2.2).assess()     # nobody asked in between
    assert (result.state, result.fever) == ("ok", False)


def test_old_data_is_never_an_estimate():
    gate = Gate().feed(24.0, 1.2).feed(36.5, 1.2)
    assert gate.assess(later=0.3).state == "ok"
    assert (gate.assess(later=0.5).state, gate.assess(later=0.5).temperature_c) == \
        ("retry", None)
    assert gate.assess(later=2.5).state == "sensor_fault"


def test_a_sensor_that_reports_a_fault_is_a_fault():
    assert Gate().feed(24.0, 1.2).feed(36.5, 1.2).assess(sensor_fault=True).state == \
        "sensor_fault"


def test_nothing_ever_read_becomes_a_fault():
    screening = Screening(started=0.0)
    assert screening.assess(0.3, THRESHOLD, BAND).state == "retry"
    assert screening.assess(2.5, THRESHOLD, BAND).state == "sensor_fault"


def test_reading_again_after_a_silence_warms_up_again():
    gate = Gate().feed(24.0, 1.2).feed(36.5, 1.2)
    gate.now += 3.0
    assert gate.feed(36.5, 0.5).assess().state == "warming_up"


def test_calibration_offset_and_ambient_correction():
    offset = Gate(ScreeningSettings(offset_c=1.0)).feed(33.6, 2.4).assess()
    assert (offset.state, offset.temperature_c) == ("ok", 34.6)
    cold = ScreeningSettings(ambient_coeff=0.1, ambient_ref_c=25.0)
    result = Gate(cold).feed(35.5, 2.4, ambient_c=15.0).assess()
    assert (result.state, result.temperature_c) == ("ok", 36.5)


def test_drifting_die_temperature_is_warming_up():
    gate = Gate().feed(36.5, 1.2, ambient_c=20.0).feed(36.5, 0.5, ambient_c=21.0)
    assert gate.assess().state == "warming_up"


def test_settings_fit_a_slow_array_sensor():
    fast = ScreeningSettings().for_frame_period(1 / 12)
    assert fast == ScreeningSettings()
    array = ScreeningSettings().for_frame_period(0.25)
    assert (array.window_s, array.min_readings, array.stale_after_s) == (1.0, 3, 0.75)
    gate = Gate(array)
    gate.screening.add(ThermalReading(36.5, 25.0, 0.0, "gy-mcu90640"))
    for tick in range(1, 9):
        gate.now = tick * 0.25
        gate.screening.add(ThermalReading(36.5, 25.0, gate.now, "gy-mcu90640"))
    assert (gate.assess().state, gate.assess(later=0.6).state) == ("ok", "ok")


def test_a_person_walking_up_and_away_is_screened_only_while_standing():
    rng = random.Random(5)
    screening = Screening(started=0.0)
    estimates = []
    for tick in range(round(WALK_PERIOD_S / PERIOD)):
        now = tick * PERIOD
        screening.add(ThermalReading(profile_temperature("walk", now, rng), 24.0, now, "sim"))
        result = screening.assess(now, THRESHOLD, BAND)
        if result.state == "ok":
            estimates.append((now, result.temperature_c))
    assert estimates, "the standing phase (2.0-4.0 s) must give estimates"
    assert all(2.0 <= now <= 4.1 and 36.5 <= celsius <= 36.7 for now, celsius in estimates)


def test_an_array_sees_a_face_only_at_screening_distance():
    rng = random.Random(6)
    states = {}
    for nearness in (0.1, 1.0):
        screening = Screening(ScreeningSettings().for_frame_period(0.125), started=0.0)
        for tick in range(20):
            frame = gy90640.Framer().feed(
                gy90640.encode_frame(scene_pixels(36.6, nearness, rng), 25.0))[0]
            screening.add(to_reading(frame, tick * 0.125))
        states[nearness] = screening.assess(19 * 0.125, THRESHOLD, BAND)
    assert (states[0.1].state, states[0.1].temperature_c) == ("out_of_range", None)
    assert states[1.0].state == "ok" and abs(states[1.0].temperature_c - 36.6) <= 0.05


def array_screening(faces: list[tuple[float, tuple[float, float]]]) -> Screening:
    """An array sensor's screening fed 8 frames a second of faces (temperature, centre)."""
    rng = random.Random(7)
    screening = Screening(ScreeningSettings().for_frame_period(0.125), started=0.0)
    for tick, (celsius, center) in enumerate(faces):
        pixels = scene_pixels(celsius, 0.8, rng, center=center)
        frame = gy90640.Framer().feed(gy90640.encode_frame(pixels, 25.0))[0]
        screening.add(to_reading(frame, tick * 0.125))
    return screening


def test_an_array_tells_two_people_apart_by_where_the_face_is():
    # Two people of the same temperature, back to back, seen 16 frames each: the face
    # jumping from the left of the array to the right is the change of person.
    left, right = (11.5, 9.0), (11.5, 21.0)
    screening = array_screening([(36.6, left)] * 16 + [(36.6, right)] * 16)
    run = screening.current_run()
    assert run.changed and run.start == 16 * 0.125
    now = 31 * 0.125
    second = Presentation(shown_at=now, not_before=1.4, arrived_by=1.0)
    result = screening.assess(now, THRESHOLD, BAND, presentation=second)
    assert result.state == "ok" and abs(result.temperature_c - 36.6) <= 0.05
    # The same face that stayed where it was: no change the sensor could show.
    still = array_screening([(36.6, left)] * 32)
    assert still.assess(now, THRESHOLD, BAND, presentation=second).state == "unseparated"


def test_a_presenter_is_measured_only_from_their_own_readings():
    gate = Gate().feed(24.0, 1.2).feed(38.4, 0.8)       # a febrile person, decided at 2.0
    first_decision, first_shown = gate.now, gate.now - 0.5
    gate.feed(36.5, 0.5)                                # the next person steps up
    shown = gate.now
    presentation = Presentation(shown, not_before=first_decision,
                                arrived_by=first_shown + 0.3)
    result = gate.assess(presentation=presentation)
    assert (result.state, result.temperature_c, result.fever) == ("ok", 36.5, False)
    # One stray reading in the new person's run is skipped, not taken as a new person.
    gate.feed(38.4, 0.08).feed(36.5, 0.16)
    assert gate.assess(presentation=presentation).temperature_c == 36.5
    # Someone who came after the code (the presenter left) is never measured for them.
    gate.feed(37.9, 0.6)
    assert gate.assess(presentation=presentation).state == "left"


def test_a_presenter_the_sensor_cannot_separate_waits():
    gate = Gate().feed(24.0, 1.2).feed(36.5, 0.8)
    decided, shown = gate.now, gate.now - 0.1
    gate.feed(36.5, 0.6)                                # the same steady reading goes on
    presentation = Presentation(gate.now, not_before=decided, arrived_by=shown + 0.3)
    assert gate.assess(presentation=presentation).state == "unseparated"
    # The presenter was still behind the last one: the sensor sees the gap as they step up.
    gate.feed(24.0, 0.16).feed(36.6, 0.4)
    assert gate.assess(presentation=presentation).temperature_c == 36.6
