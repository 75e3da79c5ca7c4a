"""What the health strip says of each part: `ok`, or what is wrong, from the same health
phrases the status message carries (a sensor unplugged, the uplink lost, ...)."""

from __future__ import annotations

from edge.console.views import BACKLOG_ALARM, health_view


def test_each_failing_part_names_its_reason():
    view = health_view({"camera": "ok", "thermal": "fault: port gone; reopening",
                        "gate": "starting"}, connected=False, backlog=BACKLOG_ALARM,
                       trust_stale=True, trust_age_h=49.6, clock_synced=False)
    assert view["camera"] == {"state": "ok", "detail": None}
    assert view["thermal"] == {"state": "fault", "detail": "port gone; reopening"}
    assert view["gate"] == {"state": "starting", "detail": None}
    assert view["broker"]["state"] == "offline" and view["clock"]["state"] == "unsynced"
    assert view["backlog"] == {"state": "behind", "detail": None, "value": BACKLOG_ALARM}
    assert view["trust"] == {"state": "stale", "detail": None, "value": 50}


def test_a_healthy_device_is_all_ok():
    view = health_view({"camera": "ok", "thermal": "ok", "gate": "ok"}, connected=True,
                       backlog=3, trust_stale=False, trust_age_h=None, clock_synced=True)
    assert {part: value["state"] for part, value in view.items()} == dict.fromkeys(
        ("camera", "thermal", "gate", "broker", "backlog", "trust", "clock"), "ok")
