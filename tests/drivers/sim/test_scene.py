"""The scripted scene: who stands at the gate, what their phone shows, what the sensor sees."""

from __future__ import annotations

import pytest

from drivers.base import DriverError
from drivers.sim.scene import Scene
from edge.trust import load_trust
from models.verify import verify_pass
from tests.support.clock import FakeClock
from tests.support.paths import REPO


def test_the_lane_scenario_gives_each_person_their_subject_in_a_valid_pass(demo_dir):
    clock = FakeClock(now=1.9e9)
    scene = Scene.load(REPO / "config" / "lane-scenario.toml", clock,
                       key_path=demo_dir / "demo" / "issuer-key.pem")
    demo = demo_dir / "demo"
    trust = load_trust([demo / "root-pub.pem"], demo / "trustlist.json",
                       demo / "revocations.json", demo / "policy.json")
    people = []
    for number in range(4):
        presence = scene.at(scene.started + number * scene.period_s + 0.1)
        verdict = verify_pass(presence.text, trust.store, clock.now())
        people.append((presence.number, verdict.valid, verdict.subject,
                       presence.person.subject, presence.person.temperature_c >= 37.3))
    assert [p[0] for p in people] == [0, 1, 2, 3]
    assert all(valid and subject == expected for _, valid, subject, expected, _ in people)
    assert [febrile for *_, febrile in people] == [False, True, False, True]
    assert scene.period_s == 1.0


def test_the_sensor_sees_the_next_person_while_the_camera_sees_no_code(demo_dir):
    scene = Scene.load(REPO / "config" / "lane-scenario.toml", FakeClock(),
                       key_path=demo_dir / "demo" / "issuer-key.pem")
    between = scene.started + scene.present_s + 0.1   # the gap before the second person
    assert scene.at(between) is None
    assert scene.temperature_at(between) == scene.people[1].temperature_c


@pytest.mark.parametrize("subject", ["abc", "zz" * 16, "ab" * 15, 12])
def test_a_bad_subject_is_refused_by_name(tmp_path, demo_dir, subject):
    scenario = tmp_path / "bad.toml"
    value = f'"{subject}"' if isinstance(subject, str) else subject
    scenario.write_text(f'[[person]]\npass = "green"\nsubject = {value}\n')
    with pytest.raises(DriverError, match="subject .*allowed: 32 hex digits"):
        Scene.load(scenario, FakeClock(), key_path=demo_dir / "demo" / "issuer-key.pem")
