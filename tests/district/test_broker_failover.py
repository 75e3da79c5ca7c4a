"""Brokers that survive a node: two Mosquittos bridged on loopback, broker A killed (SIGKILL)
halfway through a device's delivery; the device and the receiver move to B and the district
holds every record the device decided exactly once."""

from __future__ import annotations

import pytest

from district.config import parse_district_config
from district.receiver import Receiver
from district.stores import open_store
from drivers.clock import SystemClock
from edge.config import parse_config
from edge.store import Store
from edge.sync import Sync
from runtime.configfile import ConfigError
from tests.support.broker import BridgedPair
from tests.support.postgres import district_store_url, pg_server  # noqa: F401 - fixtures
from tests.support.sync_device import DEVICE, FAST, decide
from tests.support.waiting import wait_for

HALF = 600      # records decided before the kill, and as many after: 6 batches of 200 in all


@pytest.fixture
def pair(tmp_path):
    brokers = BridgedPair(tmp_path / "brokers")
    brokers.start()
    yield brokers
    brokers.stop()


@pytest.mark.parametrize("receiver_on", ["a_then_b", "b_only"])
def test_broker_a_killed_midway_nothing_lost_or_doubled(pair, tmp_path, events, receiver_on,
                                                       district_store_url):  # noqa: F811
    # b_only: until the kill, every batch and every ack crosses the bridge
    receiver_urls = pair.urls if receiver_on == "a_then_b" else [pair.b.url]
    storage = open_store(district_store_url)
    receiver = Receiver(receiver_urls, storage)
    device = Store(tmp_path / "device.db")
    sync = Sync(pair.urls, device=DEVICE, store_path=device.path, clock=SystemClock(),
                timing=FAST)
    try:
        receiver.start()
        wait_for(lambda: receiver.connected, "the receiver to subscribe", timeout=10.0)
        sync.start()
        wait_for(lambda: sync.connected, "the device to connect to A", timeout=10.0)
        assert sync.url.port == pair.a.port
        decide(device, HALF)
        sync.notify()
        # killed while batches are still on their way: some committed, not all
        wait_for(lambda: storage.count() > 0, "the first records at the district")
        pair.a.kill()
        decide(device, HALF)
        sync.notify()
        wait_for(lambda: device.backlog()[0] == 0, "every record acknowledged", timeout=25.0)
        held = [(r["device"], r["store"], r["seq"]) for r in storage.records()]
        decided = {(DEVICE, device.store_id, r["seq"]) for r in device.records()}
        moved = (sync.url.port, receiver.url.port)
        duplicates = storage.duplicates
    finally:
        sync.stop()
        receiver.stop()
        storage.close()
        device.close()
    assert len(decided) == 2 * HALF
    assert len(held) == len(set(held)) and set(held) == decided
    assert moved == (pair.b.port, pair.b.port)
    failovers = [line for line in events.messages if "event=mqtt_failover" in line]
    assert f"event=mqtt_failover client=sync broker=127.0.0.1:{pair.b.port} " \
           f"after=127.0.0.1:{pair.a.port}" in failovers
    print(f"store={district_store_url.split(':')[0]} receiver={receiver_on} "
          f"records={len(held)} resent_duplicates={duplicates} failovers={len(failovers)}")


def test_a_bad_failover_url_is_a_named_config_error(tmp_path):
    text = '[mqtt]\nurl = "mqtt://b1:1883"\nfailover = ["mqtt://b2:1883", "http://b3"]\n'
    with pytest.raises(ConfigError) as caught:
        parse_district_config(text, tmp_path / "district.toml")
    assert caught.value.errors == [
        "[mqtt] failover = ['mqtt://b2:1883', 'http://b3']: 'http://b3': "
        "allowed: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"]


def test_a_bad_failover_url_in_the_device_config_is_named(tmp_path):
    text = ('[device]\nid = "bj-cy-0001"\ngate = "east-1"\n[store]\npath = "cp.db"\n'
            '[trust]\nroots = ["root.pem"]\ntrustlist = "t.json"\n'
            '[mqtt]\nurl = "mqtts://b1"\nfailover = ["mqtts://b2:x"]\n')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "cp.toml")
    assert caught.value.errors == [
        "[mqtt] failover = ['mqtts://b2:x']: 'mqtts://b2:x': "
        "allowed: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"]
    text = text.replace('["mqtts://b2:x"]', '["mqtts://b2", "mqtts://b3:8884"]')
    assert parse_config(text, tmp_path / "cp.toml").mqtt_urls == [
        "mqtts://b1", "mqtts://b2", "mqtts://b3:8884"]


def test_failover_brokers_follow_url_in_order(tmp_path):
    text = '[mqtt]\nurl = "mqtts://b1:8883"\nfailover = ["mqtts://b2:8883", "mqtts://b3"]\n'
    config = parse_district_config(text, tmp_path / "district.toml")
    assert config.mqtt_urls == ["mqtts://b1:8883", "mqtts://b2:8883", "mqtts://b3"]
    assert parse_district_config("", tmp_path / "district.toml").mqtt_urls == [
        "mqtt://127.0.0.1:1883"]


def test_failover_mixing_mqtt_and_mqtts_is_refused(tmp_path):
    text = '[mqtt]\nurl = "mqtts://b1:8883"\nfailover = ["mqtt://b2:1883"]\n'
    with pytest.raises(ConfigError) as caught:
        parse_district_config(text, tmp_path / "district.toml")
    assert "every broker must use mqtts://" in caught.value.errors[0]
