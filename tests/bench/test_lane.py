"""The lane section: each record matched to the person shown, judged as that person."""

from __future__ import annotations

import json

import pytest

from bench.lane import lane_figures
from bench.simrun import Decided
from cli.main import main
from drivers.sim.scene import Person, Presence
from edge.controller import Outcome
from edge.scanner import Scan
from models.records import Record

AFEBRILE = Person("green", 36.5, subject="aa" * 16)
FEBRILE = Person("green", 38.4, subject="fe" * 16)


def decided(number: int, person: Person, decision: str, temperature_c, reasons=(),
            subject=None, after_s: float = 0.1) -> Decided:
    record = Record(id=f"id-{number}", ts="2026-12-02T00:00:00Z", clock_synced=True,
                    gate="east-1", decision=decision, reasons=tuple(reasons),
                    subject=subject or person.subject, temperature_c=temperature_c)
    started = 100.0 + number
    outcome = Outcome(record, Scan("CP1:x", started + 0.02, 5.0), started + after_s)
    return Decided(outcome, Presence(number, person, "CP1:x", started))


def test_each_fault_a_person_suffers_is_counted_once():
    items = [
        decided(0, AFEBRILE, "pass", 36.5, after_s=0.08),
        decided(1, FEBRILE, "pass", 36.5),                      # another's temperature
        decided(2, AFEBRILE, "deny", 38.4, ["fever"]),          # and denied for it
        decided(3, FEBRILE, "deny", None, ["unknown_format"], subject="00"),   # misread
        decided(4, AFEBRILE, "pass", 36.6, after_s=0.12),
    ]
    items.append(decided(4, AFEBRILE, "pass", 36.6))            # a second record, same person
    figures = lane_figures(items, items, people=5, period=1.0, threshold_c=37.3)
    assert figures["decided"] == 5 and figures["extra_records"] == 1
    assert (figures["own_temperature"], figures["other_temperature"]) == (2, 2)
    assert (figures["febrile_passed"], figures["afebrile_denied_fever"]) == (1, 1)
    assert figures["misreads"] == 1
    assert figures["people_per_minute"] == 60.0
    assert figures["median_code_to_decision_ms"] == 100.0      # of 80 and 120 ms


@pytest.mark.slow
def test_the_lane_bench_runs_the_shipped_lane_and_never_guesses(demo_dir, capsys):
    config = str(demo_dir / "checkpoint.toml")
    assert main(["bench", "--json", "--only", "lane", "--people", "8", "--config", config]) == 0
    lane = json.loads(capsys.readouterr().out)["lane"]
    assert lane["people"] == 8 and lane["decided"] >= 1
    # Whatever the machine's load: a slow decision may become a check, never a guess.
    assert lane["other_temperature"] == 0 and lane["febrile_passed"] == 0
    assert lane["misreads"] == 0
