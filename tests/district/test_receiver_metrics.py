"""`district serve` with `[metrics] listen`: the receiver's Prometheus endpoint, scraped over
HTTP while a real device delivers through a real Mosquitto and a hostile batch is refused."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from edge.store import Store
from tests.support.broker import free_port, publisher
from tests.support.sync_device import decide, start_sync
from tests.support.waiting import wait_for


def scrape(port: int) -> dict:
    """{(sample name, labels as a sorted tuple): value} of one scrape; {} if none yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_the_receiver_counts_records_batches_rejections_and_devices(tmp_path, broker):
    port = free_port()
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\n[store]\nurl = "sqlite:///district.db"\n'
                      f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    serve = subprocess.Popen([sys.executable, "-m", "cli.main", "district", "serve",
                              "--config", str(config)], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: scrape(port), "the metrics endpoint", 20)
        with Store(tmp_path / "device.db") as device:
            decide(device, 300)
            sync = start_sync(broker.url, device)
            try:
                wait_for(lambda: device.backlog()[0] == 0, "every record acked")
                wait_for(lambda: scrape(port).get(
                    ("checkpoint_district_devices", (("state", "online"),))) == 1,
                    "the device online in the registry")
            finally:
                sync.stop()
        forger = publisher(broker)
        forger.publish("cp/v1/dev-0001/records", b"not json", qos=1).wait_for_publish(5)
        forger.disconnect()
        accepted = ("checkpoint_district_records_total", (("outcome", "accepted"),))
        refused = ("checkpoint_district_rejections_total", (("reason", "bad_json"),))
        wait_for(lambda: scrape(port).get(refused) == 1, "the refused batch counted")
        figures = scrape(port)
        assert figures[accepted] == 300
        assert figures[("checkpoint_district_records_total", (("outcome", "duplicate"),))] == 0
        batches = figures[("checkpoint_district_batches_total", ())]
        assert batches >= 2     # 300 records do not fit one batch
        assert figures[("checkpoint_district_batch_commit_seconds_count", ())] == batches
        assert figures[("checkpoint_district_ack_seconds_count", ())] == batches
    finally:
        serve.terminate()
        assert serve.wait(timeout=10) == 0


def test_a_listen_address_in_use_is_a_clear_error(tmp_path, broker):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = tmp_path / "district.toml"
        config.write_text(f'[mqtt]\nurl = "{broker.url}"\n[store]\nurl = "sqlite:///d.db"\n'
                          f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        done = subprocess.run([sys.executable, "-m", "cli.main", "district", "serve",
                               "--config", str(config)], capture_output=True, text=True,
                              timeout=30)
    assert done.returncode == 2
    assert f"listen = '127.0.0.1:{port}'" in done.stderr and "Traceback" not in done.stderr


def test_a_store_that_cannot_be_read_leaves_out_only_the_devices(caplog):
    from district.metrics import ReceiverMetrics

    port = free_port()          # nothing listens there: the store is down
    metrics = ReceiverMetrics(f"postgresql://checkpoint@127.0.0.1:{port}/district")
    metrics.committed(3, 1, ["bad_seq"], 0.004, 0.006)
    text = metrics.render().decode()
    assert 'checkpoint_district_records_total{outcome="accepted"} 3.0' in text
    assert 'checkpoint_district_rejections_total{reason="bad_seq"} 1.0' in text
    assert "checkpoint_district_devices" not in text
    assert any("metrics_devices_failed" in r.getMessage() for r in caplog.records)
