"""The broker's access rules, made from the one topic contract (models/wire.py).

config/mosquitto/production.conf loads Mosquitto's dynamic-security plugin with the JSON
this module writes (`checkpoint district broker-acl`). Unlike an acl_file, the plugin
checks a SUBSCRIBE against the filter as sent, `$share/GROUP/` included, and refuses it
(SUBACK 0x87): a device certificate can no longer join the receivers' shared
subscription and take its turn of every device's batches (docs/broker.md).

Every client is named by its certificate CN (use_identity_as_username):

- a device (CN = device id) sends only its own records and status, and subscribes to and
  receives only its own ack and config and the district's bundles, each by its literal
  topic: no wildcard, no `$share/...` filter;
- a receiver (CN `district`, or `district-NAME` for more than one) subscribes to exactly
  the shared records filter and the status filter, receives every device's records and
  status, and sends acks, per-device config and the district's bundles
  (`checkpoint district publish` uses a district identity too);
- an optional admin may use the plugin's `$CONTROL/dynamic-security/#` API, so devices
  can be added while the broker runs (`mosquitto_ctrl dynsec ...`).

Mosquitto 2.0.11 does not substitute %u or %c in the plugin's ACL topics, so each device
gets its own role with literal topics. Everything not granted is denied, including to a
certificate the file does not name.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.wire import (
    DISTRICT_KINDS,
    RECEIVER_GROUP,
    ROOT,
    Topics,
    device_id_problem,
    identity_problem,
    is_district_identity,
    topic_root_problem,
)

# Receivers are `district` or `district-NAME`; no device may take a name of that form.
DISTRICT = RECEIVER_GROUP
RECEIVER_ROLE = "district-receiver"
ADMIN_ROLE = "dynsec-admin"
DEVICE_ROLE_PREFIX = "device-"
CONTROL = "$CONTROL/dynamic-security/#"


class BrokerAclError(ValueError):
    """A name or root that cannot go into the broker's rules; the message says why."""


def dynsec_config(devices: Iterable[str], receivers: Iterable[str] = (DISTRICT,),
                  root: str = ROOT, admin: str | None = None) -> dict:
    """The dynamic-security plugin's config file (as a dict, for json.dumps)."""
    devices, receivers = list(devices), list(receivers)
    if problem := topic_root_problem(root):
        raise BrokerAclError(f"topic root {root!r}: {problem}")
    if not receivers:
        raise BrokerAclError("at least one receiver identity is needed")
    for name in receivers:
        if problem := identity_problem(name):
            raise BrokerAclError(f"receiver {name!r}: {problem}")
        if not is_district_identity(name):
            raise BrokerAclError(f"receiver {name!r}: must be {DISTRICT!r} or "
                                 f"'{DISTRICT}-NAME'")
    for device in devices:
        if problem := device_id_problem(device):
            raise BrokerAclError(f"device id {device!r}: {problem}")
    if admin is not None:
        if problem := identity_problem(admin):
            raise BrokerAclError(f"admin {admin!r}: {problem}")
        if admin in devices or admin in receivers:
            raise BrokerAclError(f"admin {admin!r}: also named as a device or receiver")
    names = [*devices, *receivers, *([admin] if admin else [])]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise BrokerAclError(f"named more than once: {', '.join(repeated)}")

    topics = Topics(root)
    clients = [_client(device, DEVICE_ROLE_PREFIX + device) for device in devices]
    clients += [_client(name, RECEIVER_ROLE) for name in receivers]
    roles = [{"rolename": DEVICE_ROLE_PREFIX + device, "acls": _device_acls(topics, device)}
             for device in devices]
    roles.append({"rolename": RECEIVER_ROLE, "acls": _receiver_acls(topics)})
    if admin:
        clients.append(_client(admin, ADMIN_ROLE))
        roles.append({"rolename": ADMIN_ROLE, "acls": [
            _acl("publishClientSend", CONTROL), _acl("subscribePattern", CONTROL),
            _acl("publishClientReceive", CONTROL)]})
    return {"defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                                 "subscribe": False, "unsubscribe": True},
            "clients": clients, "groups": [], "roles": roles}


def _client(username: str, role: str) -> dict:
    # No password: the username is the certificate CN, which the broker has checked.
    return {"username": username, "roles": [{"rolename": role}]}


def _acl(acltype: str, topic: str) -> dict:
    return {"acltype": acltype, "topic": topic, "allow": True, "priority": 0}


def _district_bundles(topics: Topics) -> list[str]:
    return [topics.district(kind) for kind in DISTRICT_KINDS]


def _device_acls(topics: Topics, device: str) -> list[dict]:
    down = [topics.ack(device), topics.config(device), *_district_bundles(topics)]
    return [*(_acl("publishClientSend", t) for t in (topics.records(device),
                                                     topics.status(device))),
            *(_acl("subscribeLiteral", t) for t in down),
            *(_acl("publishClientReceive", t) for t in down)]


def _receiver_acls(topics: Topics) -> list[dict]:
    up = [topics.records("+"), topics.status("+")]
    down = [topics.ack("+"), topics.config("+"), *_district_bundles(topics)]
    return [*(_acl("subscribeLiteral", t) for t in (topics.all_records(),
                                                    topics.all_status())),
            *(_acl("publishClientReceive", t) for t in up),
            *(_acl("publishClientSend", t) for t in down)]
