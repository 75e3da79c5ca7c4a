"""`checkpoint district serve --workers 2` on a real Mosquitto and a real PostgreSQL: two
receiver processes split one shared subscription, a worker killed with SIGKILL is started
again, the devices' records are at the district exactly once, and SIGTERM ends them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

from district.stores import open_store
from edge.store import Store
from tests.support.postgres import pg_server  # noqa: F401 - fixture
from tests.support.serve_pool import ServePool
from tests.support.sync_device import decide, start_sync
from tests.support.waiting import wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_worker_processes_share_the_load_and_survive_a_kill(tmp_path, broker,
                                                                 pg_server):  # noqa: F811
    url = pg_server.new_database()
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\n[store]\nurl = "{url}"\n')
    serve = ServePool(config, 2)
    device = Store(tmp_path / "device.db")
    sync = None
    try:
        wait_for(lambda: serve.count("event=receiver_ready") == 2, "both workers subscribed",
                 timeout=60)
        first = serve.pids()
        assert sorted(first) == [0, 1] and first[0] != first[1]
        sync = start_sync(broker.url, device)
        decide(device, 1200)
        sync.notify()
        wait_for(lambda: device.backlog()[0] == 0, "the first records acked", timeout=60)
        committed_by = {line.split("worker=")[1].split()[0] for line in serve.lines
                        if "event=batch_committed" in line and "worker=" in line}
        assert committed_by == {"0", "1"}, "both workers committed batches"

        os.kill(first[1], signal.SIGKILL)
        wait_for(lambda: serve.pids().get(1) not in (None, first[1]), "worker 1 started again",
                 timeout=30)
        assert serve.count("event=worker_exited") == 1 and "code=-9" in "".join(
            line for line in serve.lines if "worker_exited" in line)
        wait_for(lambda: serve.count("event=receiver_ready") == 3, "worker 1 subscribed again",
                 timeout=60)
        decide(device, 1200)
        sync.notify()
        wait_for(lambda: device.backlog()[0] == 0, "the later records acked", timeout=60)
    finally:
        if sync:
            sync.stop()
        serve.process.send_signal(signal.SIGTERM)
        code = serve.process.wait(timeout=30)
    assert code == 0
    assert not any(alive(pid) for pid in serve.pids().values())
    with open_store(url) as district:
        seqs = [row["seq"] for row in district.records()]
    assert seqs == list(range(1, 2401)), "every record once, none lost"


def test_a_worker_that_cannot_start_ends_the_pool_with_its_usage_error(tmp_path):
    """Worker 0's metrics port is taken: it would fail the same way at every restart."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = tmp_path / "district.toml"
        config.write_text('[mqtt]\nurl = "mqtt://127.0.0.1:1"\n[store]\nurl = "sqlite:///d.db"\n'
                          f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        done = subprocess.run([sys.executable, "-m", "cli.main", "district", "serve",
                               "--config", str(config), "--workers", "2"],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "event=worker_exited" in done.stdout and f"127.0.0.1:{port}" in done.stderr


def test_workers_out_of_range_is_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cli.main", "district", "serve", "--workers",
                           "0"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--workers must be 1 to 64" in done.stderr
