"""district/broker_acl.py: the broker's rules, made from models/wire.py's topic contract
(run on a real broker in tests/district/test_broker_dynsec.py)."""

from __future__ import annotations

import pytest

from district.broker_acl import BrokerAclError, dynsec_config
from models.wire import RECEIVER_GROUP, Topics

DENY_ALL = {"publishClientSend": False, "publishClientReceive": False, "subscribe": False,
            "unsubscribe": True}


def rights(config: dict, username: str) -> set[tuple[str, str]]:
    """(acltype, topic) of every rule `username` has through its roles."""
    (client,) = [c for c in config["clients"] if c["username"] == username]
    roles = {role["rolename"]: role for role in config["roles"]}
    found = set()
    for held in client["roles"]:
        for acl in roles[held["rolename"]]["acls"]:
            assert acl["allow"] is True and acl["priority"] == 0
            found.add((acl["acltype"], acl["topic"]))
    return found


def test_a_device_has_its_own_topics_and_the_districts_bundles_only():
    config = dynsec_config(["gate-1", "gate-2"])
    assert config["defaultACLAccess"] == DENY_ALL and config["groups"] == []
    down = {"cp/v1/gate-1/ack", "cp/v1/gate-1/config", "cp/v1/district/trustlist",
            "cp/v1/district/revocations"}
    assert rights(config, "gate-1") == {
        ("publishClientSend", "cp/v1/gate-1/records"),
        ("publishClientSend", "cp/v1/gate-1/status"),
        *(("subscribeLiteral", topic) for topic in down),
        *(("publishClientReceive", topic) for topic in down)}
    for kind, topic in rights(config, "gate-2"):
        assert "gate-1" not in topic and "$share" not in topic
        assert "+" not in topic and "#" not in topic, "a device gets no wildcard"
        assert kind != "subscribePattern", "only literal subscriptions"


def test_each_device_has_a_role_of_its_own():
    config = dynsec_config(["gate-1", "gate-2"])
    held = {c["username"]: [r["rolename"] for r in c["roles"]] for c in config["clients"]}
    assert held == {"gate-1": ["device-gate-1"], "gate-2": ["device-gate-2"],
                    "district": ["district-receiver"]}
    assert all("password" not in client for client in config["clients"])


def test_a_receiver_subscribes_to_the_shared_records_and_answers_every_device():
    config = dynsec_config(["gate-1"], receivers=["district", "district-2"])
    topics = Topics()
    expected = {
        ("subscribeLiteral", topics.all_records()), ("subscribeLiteral", topics.all_status()),
        ("publishClientReceive", "cp/v1/+/records"), ("publishClientReceive", "cp/v1/+/status"),
        ("publishClientSend", "cp/v1/+/ack"), ("publishClientSend", "cp/v1/+/config"),
        ("publishClientSend", "cp/v1/district/trustlist"),
        ("publishClientSend", "cp/v1/district/revocations")}
    assert rights(config, "district") == rights(config, "district-2") == expected
    assert topics.all_records() == f"$share/{RECEIVER_GROUP}/cp/v1/+/records"


def test_the_root_is_the_configured_one():
    config = dynsec_config(["gate-1"], root="town/cp2")
    every = [topic for client in ("gate-1", "district") for _, topic in
             rights(config, client)]
    assert every and all(t.startswith(("town/cp2/", "$share/district/town/cp2/"))
                         for t in every)
    assert ("publishClientSend", "town/cp2/gate-1/records") in rights(config, "gate-1")


def test_an_admin_may_use_the_plugins_api_only():
    config = dynsec_config(["gate-1"], admin="ops")
    control = "$CONTROL/dynamic-security/#"
    assert rights(config, "ops") == {("publishClientSend", control),
                                     ("subscribePattern", control),
                                     ("publishClientReceive", control)}
    assert all(control not in topic for _, topic in rights(config, "gate-1"))
    assert "ops" not in {c["username"] for c in dynsec_config(["gate-1"])["clients"]}


def test_no_devices_yet_is_a_receiver_only_file():
    config = dynsec_config([], admin="ops")
    assert [c["username"] for c in config["clients"]] == ["district", "ops"]


@pytest.mark.parametrize(("arguments", "message"), [
    ({"devices": ["gate/1"]}, "device id 'gate/1': allowed"),
    ({"devices": ["+"]}, "device id '+': allowed"),
    ({"devices": [""]}, "device id '': allowed"),
    ({"devices": ["district"]}, "device id 'district': 'district' and 'district-...'"),
    ({"devices": ["district-2"]}, "device id 'district-2':"),
    ({"devices": ["gate-1"], "receivers": ["gate-9"]}, "receiver 'gate-9': must be"),
    ({"devices": ["gate-1"], "receivers": ["district/x"]}, "receiver 'district/x': allowed"),
    ({"devices": ["gate-1"], "receivers": []}, "at least one receiver"),
    ({"devices": ["gate-1", "gate-1"]}, "named more than once: gate-1"),
    ({"devices": ["gate-1"], "receivers": ["district", "district"]},
     "named more than once: district"),
    ({"devices": ["gate-1"], "admin": "gate-1"}, "admin 'gate-1': also named"),
    ({"devices": ["gate-1"], "admin": "district"}, "admin 'district': also named"),
    ({"devices": ["gate-1"], "admin": "a#"}, "admin 'a#': allowed"),
    ({"devices": ["gate-1"], "root": "cp/+"}, "topic root 'cp/+': allowed"),
    ({"devices": ["gate-1"], "root": "/cp"}, "topic root '/cp': allowed"),
])
def test_names_that_cannot_be_rules_are_refused(arguments, message):
    with pytest.raises(BrokerAclError, match="^" + message.replace("+", r"\+")):
        dynsec_config(**arguments)
