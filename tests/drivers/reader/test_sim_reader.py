"""`sim://` as a card reader: the scene's people tap their cards when the scenario says, a
fixed demo card without a scene, and the same taps through the real hid driver."""

from __future__ import annotations

import pytest

from drivers import urls
from drivers.base import DriverError
from drivers.clock import SystemClock
from drivers.sim import reader as sim_reader
from drivers.sim.scene import Person, Scene
from tests.support.clock import FakeClock
from tests.support.paths import REPO

ALICE = Person("green", 36.5, card_kind="mifare", card_number=bytes.fromhex("04A1B2C3"))
BOB = Person("green", 36.6, card_kind="cnid", card_number=bytes(range(8)), tap_s=-0.5)
NOBODY = Person("yellow", 36.6)
SCHEMES = {"sim": sim_reader.URL_OPTIONS["sim"]}


def open_reader(url: str, **context):
    """What drivers.registry.open_reader does for `sim://`, without the other schemes'
    modules (the serial one is another engineer's)."""
    return sim_reader.from_url(urls.parse_url(url, "reader", SCHEMES), **context)


def scene(clock, people, **options) -> Scene:
    return Scene(people, clock=clock, issuer_key_pem=b"", present_s=2.5, gap_s=1.5, **options)


def test_people_tap_their_cards_when_the_scenario_says():
    clock = FakeClock()
    start = clock.monotonic()
    stage = scene(clock, [ALICE, NOBODY, BOB], loop=False)
    taps = stage.taps_between(start - 1, start + 60)
    # Alice steps up at 0 and taps at 0.5; nobody's card in slot 1; Bob taps 0.5 s before
    # his slot at 8 s
    assert [(t.person.card_kind, t.t_mono - start) for t in taps] == [("mifare", 0.5),
                                                                      ("cnid", 7.5)]


def test_the_reader_gives_the_taps_as_the_clock_reaches_them():
    clock = FakeClock()
    stage = scene(clock, [ALICE, BOB])
    with open_reader("sim://", clock=clock, scene=stage) as reader:
        assert reader.read(timeout=0.05) is None          # nobody has tapped yet
        clock.advance(1.0)
        tap = reader.read(timeout=1)
        assert (tap.kind, tap.number, tap.t_mono) == ("mifare", ALICE.card_number,
                                                      stage.started + 0.5)
        assert reader.read(timeout=0.05) is None
        clock.advance(3.5)                                 # Bob taps at 3.5 (4 - 0.5)
        assert reader.read(timeout=1).kind == "cnid"
        clock.advance(4.0)                                 # the loop: Alice again at 8.5
        assert reader.read(timeout=1).kind == "mifare"


def test_without_a_scene_a_fixed_card_every_few_seconds():
    clock = FakeClock()
    url = "sim://?every=2&card=cnid:0102030405060708"
    with open_reader(url, clock=clock) as reader:
        clock.advance(4.5)
        taps = [reader.read(timeout=1), reader.read(timeout=1), reader.read(timeout=0.05)]
    assert [(t.kind, t.number) for t in taps[:2]] == [("cnid", bytes.fromhex(
        "0102030405060708"))] * 2 and taps[2] is None


@pytest.mark.parametrize("url, problem", [
    ("sim://?card=mifare:04A1", "card="),
    ("sim://?every=0", "every="),
    ("sim://?via=usb", "via="),
])
def test_bad_options_are_named(url, problem):
    assert any(problem in p for p in urls.url_problems(url, SCHEMES))
    with pytest.raises(DriverError, match=problem):
        open_reader(url, clock=FakeClock())


def test_via_hid_the_real_hid_driver_reads_the_taps_typed():
    clock = SystemClock()
    with open_reader("sim://?via=hid&every=0.2&card=mifare:04A1B2C3", clock=clock
                              ) as reader:
        tap = reader.read(timeout=10)
        assert (tap.kind, tap.number) == ("hid", b"04A1B2C3")
        assert reader.health == "ok" and len(reader.workers) == 2


def test_a_scenario_person_may_carry_a_card(tmp_path):
    key = tmp_path / "issuer-key.pem"
    key.write_bytes(b"unused")
    path = tmp_path / "scenario.toml"
    path.write_text('[[person]]\npass = "green"\ncard = "cnid:0102030405060708"\n'
                    'tap_s = -1.5\n\n[[person]]\npass = "red"\n')
    people = Scene.load(path, FakeClock(), key_path=key).people
    assert (people[0].card_kind, people[0].card_number, people[0].tap_s) == (
        "cnid", bytes(range(1, 9)), -1.5)
    assert people[1].card_kind is None and people[1].tap_s == 0.5
    assert "0102030405060708" not in repr(people[0])


@pytest.mark.parametrize("entry, problem", [
    ('card = "mifare:04A1"', "person card: allowed for mifare: 4, 7, 10 bytes"),
    ('card = "visa:1234"', "person card: allowed: KIND:NUMBER"),
    ('card = 1234', "person card: allowed: KIND:NUMBER"),
    ('tap_s = "soon"', "person tap_s = 'soon'"),
    ('tap_s = 600', "person tap_s = 600"),
])
def test_a_bad_card_in_a_scenario_is_named(tmp_path, entry, problem):
    path = tmp_path / "scenario.toml"
    path.write_text(f'[[person]]\npass = "green"\n{entry}\n')
    with pytest.raises(DriverError, match=problem):
        Scene.load(path, FakeClock(), key_path=path)


@pytest.mark.parametrize("name", ["demo-scenario.toml", "lane-scenario.toml"])
def test_the_shipped_scenarios_still_load(name):
    people = Scene.load(REPO / "config" / name, FakeClock(),
                        key_path=REPO / "config" / name).people
    assert people and all(p.card_kind is None for p in people)
