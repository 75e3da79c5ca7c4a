"""A native crash in a long-running service leaves every thread's stack on stderr (which
systemd keeps in the journal), not an empty stderr: `checkpoint run` on simulated drivers
and `district serve`, each on a real Mosquitto, killed by SIGSEGV once running, as a fault
in the decoder, OpenCV or libpq would kill them."""

from __future__ import annotations

import signal
import subprocess
import threading

from tests.cli.test_run_supervision import device_config, retained_status
from tests.support.paths import CHECKPOINT, REPO
from tests.support.waiting import wait_for


def crashed(command: list[str], ready) -> subprocess.CompletedProcess:
    """Start the service, wait until `ready(stdout lines)`, send SIGSEGV; what it left."""
    service = subprocess.Popen(CHECKPOINT + command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(service.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: ready(lines), "the service running", timeout=60)
        service.send_signal(signal.SIGSEGV)
        err = service.stderr.read()
        service.wait(timeout=30)
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    reader.join(10)
    return subprocess.CompletedProcess(command, service.returncode, "".join(lines), err)


def assert_stacks(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == -signal.SIGSEGV, done.stderr
    assert "Fatal Python error: Segmentation fault" in done.stderr
    assert "Thread 0x" in done.stderr and 'File "' in done.stderr     # each thread's frames


def test_checkpoint_run_leaves_its_stacks(demo_dir, tmp_path, broker):
    config = device_config(demo_dir, tmp_path / "device", broker.url)
    done = crashed(["run", "--config", str(config), "--simulate", "--db",
                    str(tmp_path / "cp.db")],
                   lambda lines: retained_status(broker).get("online") is True)
    assert_stacks(done)


def test_district_serve_leaves_its_stacks(tmp_path, broker):
    config = tmp_path / "district.toml"
    config.write_text(f'[mqtt]\nurl = "{broker.url}"\n'
                      f'[store]\nurl = "sqlite:///{tmp_path / "district.db"}"\n')
    done = crashed(["district", "serve", "--config", str(config)],
                   lambda lines: any("event=receiver_ready" in line for line in lines))
    assert_stacks(done)
