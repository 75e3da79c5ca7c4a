"""The lane at rush hour: people back to back, each matched to the record made for them.

The agent runs on the lane scenario (config/lane-scenario.toml: one person a second,
alternating afebrile and febrile, every pass green). Each committed decision is matched
to the person whose code the frame showed (the scene knows who stood there when the frame
was captured), and judged as that person would: was it their own temperature (within
OWN_C of the temperature the scenario gives them), did a febrile person pass, was an
afebrile one denied for fever, was their valid pass read as another text.
The first WARMUP_S are left out: the sensor is not trusted in its first second.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.simrun import Decided, run_scenario
from models import reasons as R
from models.policy import Policy

OWN_C = 0.15            # a record's temperature is the person's own within this
WARMUP_S = 3.0          # presences starting this soon after the run are not counted
_VALID_KINDS = ("green", "yellow", "red")
_READ_FAILURES = (R.UNREADABLE, R.UNKNOWN_FORMAT, R.MALFORMED, R.BAD_SIGNATURE,
                  R.UNKNOWN_KEY)


def default_scenario(config_path: Path) -> Path:
    return config_path.parent / "lane-scenario.toml"


def measure_lane(config_path: Path, people: int = 300, scenario: Path | None = None,
                 threshold_c: float = Policy().fever_threshold_c) -> dict:
    """Run the lane until `people` presences after the warm-up are over; the lane table."""
    scenario = scenario or default_scenario(config_path)
    box: dict = {}

    def enough(decided, scene, now) -> bool:
        box.setdefault("first", _first_counted(scene))
        return scene.number_at(now) >= box["first"] + people + 1

    period = _period(scenario)
    decided, scene = run_scenario(config_path, scenario, enough=enough,
                                  timeout_s=WARMUP_S + (people + 4) * period * 1.5 + 10)
    first = _first_counted(scene)
    counted = [d for d in decided if d.presence and first <= d.presence.number < first + people]
    return lane_figures(counted, decided, people, period, threshold_c)


def lane_figures(counted: list[Decided], decided: list[Decided], people: int,
                 period: float, threshold_c: float) -> dict:
    by_person: dict[int, list[Decided]] = {}
    for item in counted:
        by_person.setdefault(item.presence.number, []).append(item)
    firsts = [items[0] for items in by_person.values()]
    temps = [(d, d.outcome.record.temperature_c) for d in firsts
             if d.outcome.record.temperature_c is not None]
    own = sum(abs(t - d.presence.person.temperature_c) <= OWN_C for d, t in temps)
    febrile = [d for d in firsts if d.presence.person.temperature_c >= threshold_c]
    afebrile = [d for d in firsts if d.presence.person.temperature_c < threshold_c]
    latencies = [_code_to_decision_ms(d) for d in afebrile
                 if d.presence.person.kind == "green" and d.outcome.record.decision == "pass"]
    return {
        "people": people, "decided": len(by_person),
        "people_per_minute": round(len(by_person) / (people * period) * 60.0, 1),
        "extra_records": len(counted) - len(by_person),
        "with_temperature": len(temps), "own_temperature": own,
        "own_share": round(own / len(temps), 3) if temps else None,
        "other_temperature": len(temps) - own,
        "febrile": len(febrile),
        "febrile_passed": sum(d.outcome.record.decision == "pass" for d in febrile),
        "afebrile": len(afebrile),
        "afebrile_denied_fever": sum(R.FEVER in d.outcome.record.reasons for d in afebrile),
        "checks": sum(d.outcome.record.decision == "check" for d in firsts),
        "misreads": sum(map(misread, counted)) + sum(d.presence is None for d in decided),
        "median_code_to_decision_ms": _median(latencies),
        "decisions_timed": len(latencies),
    }


def misread(item: Decided) -> bool:
    """A valid pass decided as another text: another subject, or refused as unreadable."""
    person, record = item.presence.person, item.outcome.record
    if person.kind not in _VALID_KINDS:
        return False
    if any(reason in _READ_FAILURES for reason in record.reasons):
        return True
    return person.subject is not None and record.subject != person.subject


def _code_to_decision_ms(item: Decided) -> float:
    """From the moment the phone showed the code to the commit of its record."""
    return (item.outcome.committed_mono - item.presence.started) * 1000.0


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _period(scenario: Path) -> float:
    import tomllib

    spec = tomllib.loads(scenario.read_text(encoding="utf-8"))
    return float(spec.get("present_s", 2.5)) + float(spec.get("gap_s", 1.5))


def _first_counted(scene) -> int:
    """The first presence counted: the first to step up after the warm-up."""
    return int(WARMUP_S // scene.period_s) + 1


def show_lane(figures: dict) -> None:
    print("The lane at rush hour (config/lane-scenario.toml; each record matched to the "
          f"person shown; own temperature = within {OWN_C} °C)")
    if not figures.get("decided"):
        print("  no decision was made: is the demo district installed (make install)?\n")
        return
    f = figures
    print(f"  people {f['people']}  decided {f['decided']}  "
          f"people/min {f['people_per_minute']:.1f}  extra records {f['extra_records']}")
    print(f"  own temperature {f['own_temperature']}/{f['with_temperature']}  "
          f"other person's {f['other_temperature']}  checks {f['checks']}")
    print(f"  febrile passed {f['febrile_passed']}/{f['febrile']}  afebrile denied for fever "
          f"{f['afebrile_denied_fever']}/{f['afebrile']}  misreads {f['misreads']}")
    print(f"  median code-to-decision (afebrile green) {f['median_code_to_decision_ms']} ms "
          f"over {f['decisions_timed']}\n")
