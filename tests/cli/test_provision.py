"""`checkpoint provision` as a technician runs it at a gate, inside the bundle folder that
`checkpoint district add-device` wrote: all by flags (stdin not a terminal), and by
answering its questions on a real pty, with a simulated sensor on another pty to detect.
The result must pass `checkpoint config check`; bad input must write nothing."""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from drivers.sim.thermal import ThermalSimulator
from tests.support.paths import CHECKPOINT, REPO
from tests.support.tls import make_ca

DEVICE = "gate-7"
DEMO = REPO / "config" / "demo"
HARDWARE = ["--camera", "v4l2:///dev/video0", "--relay-pin", "17"]


def checkpoint(*args: str, cwd: Path = REPO, stdin=subprocess.DEVNULL):
    return subprocess.run([*CHECKPOINT, *args], cwd=cwd, stdin=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> Path:
    return make_ca(tmp_path_factory.mktemp("ca"), "other-gate")


def add_device(ca: Path, out: Path, device: str = DEVICE, *extra: str) -> list[str]:
    """The bundle for `device` in `out`; the `checkpoint provision` words it printed."""
    done = checkpoint("district", "add-device", device, "--ca-dir", str(ca), "--out", str(out),
                      "--broker", "mqtts://127.0.0.1:8883", "--gate", "east-1",
                      "--root-key", str(DEMO / "root-pub.pem"),
                      "--trustlist", str(DEMO / "trustlist.json"),
                      "--revocations", str(DEMO / "revocations.json"),
                      "--policy", str(DEMO / "policy.json"),
                      "--subject-key", str(DEMO / "subject.key"), "--force", *extra)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "checkpoint provision" in line)
    words = shlex.split(line)
    return words[words.index("provision") + 1:]


@pytest.fixture(scope="module")
def bundle(ca, tmp_path_factory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("carry") / DEVICE
    return out, add_device(ca, out)


@pytest.fixture
def sensor():
    with ThermalSimulator(protocol="gy-mcu90614") as simulator:
        yield simulator


def provision(bundle, out: Path, *extra: str):
    folder, words = bundle
    return checkpoint("provision", "--out", str(out), *words, *extra, cwd=folder)


def test_scripted_provision_passes_config_check(bundle, tmp_path):
    out = tmp_path / "etc"
    done = provision(bundle, out, "--sensor-port", "/dev/ttyUSB0",
                     "--sensor-protocol", "gy-mcu90614", *HARDWARE)
    assert done.returncode == 0, done.stderr
    checked = checkpoint("config", "check", "--config", str(out / "checkpoint.toml"))
    assert checked.returncode == 0, checked.stderr
    config = tomllib.loads((out / "checkpoint.toml").read_text())
    assert config["device"] == {"id": DEVICE, "gate": "east-1"}
    assert config["mqtt"]["cert"] == "tls/device.pem"
    assert config["thermal"]["url"] == "serial:///dev/ttyUSB0?protocol=gy-mcu90614&baud=auto"
    assert config["gate"]["url"] == "gpio://17?active_high=1&pulse=1.5"
    for secret in ("tls/device.key", "subject.key"):
        assert (out / secret).stat().st_mode & 0o777 == 0o600
    assert (out / "tls" / "device.pem").read_bytes() == \
        (bundle[0] / "tls" / "device.pem").read_bytes()


def test_a_scripted_run_detects_the_sensor_on_the_port(bundle, tmp_path, sensor):
    out = tmp_path / "etc"
    done = provision(bundle, out, "--sensor-port", sensor.port, *HARDWARE)
    assert done.returncode == 0, done.stderr
    url = tomllib.loads((out / "checkpoint.toml").read_text())["thermal"]["url"]
    assert url == f"serial://{sensor.port}?protocol=gy-mcu90614&baud={sensor.baud}"


def test_every_missing_flag_is_named_and_nothing_is_written(tmp_path):
    out = tmp_path / "etc"
    done = checkpoint("provision", "--out", str(out), "--device-id", DEVICE, cwd=tmp_path)
    assert done.returncode == 2
    for flag in ("--gate", "--broker", "--ca", "--cert", "--key", "--root-key", "--trustlist",
                 "--sensor-port", "--camera", "--relay-pin"):
        assert flag in done.stderr
    assert "--device-id" not in done.stderr
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize(("change", "error"), [
    (("--device-id", "gate 7"), "--device-id gate 7: allowed: letters"),
    (("--sensor-protocol", "mlx-9"), "protocol"),
    (("--trustlist", "missing.json"), "--trustlist missing.json: no such file"),
    (("--relay-pin", "99"), "--relay-pin 99: allowed: a BCM GPIO number"),
    (("--broker", "mqtt://127.0.0.1:1883"), "mqtts://"),
    (("--cert", "OTHER"), "its CN is other-gate"),
])
def test_a_bad_value_is_named_and_nothing_is_written(bundle, ca, tmp_path, change, error):
    flag, value = change
    value = str(ca / "other-gate.pem") if value == "OTHER" else value
    _, words = bundle
    words = list(words)
    if flag in words:
        words[words.index(flag) + 1] = value
    else:
        words += [flag, value]
    words += ["--sensor-port", "/dev/ttyUSB0"]
    words += [] if flag == "--sensor-protocol" else ["--sensor-protocol", "gy-mcu90614"]
    words += [] if flag == "--relay-pin" else ["--relay-pin", "17"]
    done = checkpoint("provision", "--out", str(tmp_path / "etc"), *words, "--camera",
                      "v4l2:///dev/video0", cwd=bundle[0])
    assert done.returncode == 2
    assert error in done.stderr
    assert "nothing written" in done.stderr
    assert os.listdir(tmp_path) == []       # not the config folder, nor a staging folder


def test_an_existing_config_is_kept_unless_forced(bundle, tmp_path):
    out = tmp_path / "etc"
    flags = ["--sensor-port", "/dev/ttyUSB0", "--sensor-protocol", "gy-mcu90614", *HARDWARE]
    assert provision(bundle, out, *flags).returncode == 0
    first = (out / "checkpoint.toml").read_text()
    again = provision(bundle, out, *flags[:-1], "22")
    assert again.returncode == 2 and "--force" in again.stderr
    assert (out / "checkpoint.toml").read_text() == first
    forced = provision(bundle, out, *flags[:-1], "22", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "gpio://22?" in (out / "checkpoint.toml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc"]


def on_pty(args: list[str], answers: dict[str, str | list[str]], cwd: Path
           ) -> tuple[int, str]:
    """Run the command on a new pty, answering each question by the first key of
    `answers` found in it (a list: its answers in turn); (exit code, what it wrote)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([*CHECKPOINT, *args], cwd=cwd, stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True)
    os.close(slave)
    output, answered = "", 0
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, f"no output for 60 s; so far:\n{output}"
            try:
                data = os.read(master, 4096)
            except OSError:     # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data.decode(errors="replace")
            question = output[answered:].rsplit("\n", 1)[-1]
            if question.endswith(": "):
                key = next((k for k in answers if k in question), None)
                assert key is not None, f"unexpected question {question!r}:\n{output}"
                answer = answers[key]
                answer = answer.pop(0) if isinstance(answer, list) else answer
                os.write(master, (answer + "\n").encode())
                answered = len(output)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        code = proc.wait(timeout=30)
    return code, output


def test_answering_the_questions_on_a_terminal_gives_the_same_config(bundle, tmp_path,
                                                                     sensor):
    folder, words = bundle
    answers = {"Device id": DEVICE, "Gate name": "east-1",
               "District broker": "mqtts://127.0.0.1:8883",
               "Broker CA": "", "device's certificate": "", "private key": "",
               "root public key": "", "trust list": "", "revocations": "", "policy": "",
               "Subject key": "", "sensor port": sensor.port, "Use it?": "y",
               "Camera": "v4l2:///dev/video0", "Relay GPIO": "", "Write this config": "y"}
    code, output = on_pty(["provision", "--out", str(tmp_path / "asked")], answers, folder)
    assert code == 0, output
    assert f"found gy-mcu90614 at {sensor.baud} baud" in output
    scripted = provision(bundle, tmp_path / "flags", "--sensor-port", sensor.port,
                         "--sensor-protocol", "gy-mcu90614", "--sensor-baud", str(sensor.baud),
                         *HARDWARE)
    assert scripted.returncode == 0, scripted.stderr
    asked, flagged = (tmp_path / name / "checkpoint.toml" for name in ("asked", "flags"))
    assert asked.read_text() == flagged.read_text()


def test_a_wrong_answer_is_asked_again_and_a_no_writes_nothing(bundle, tmp_path):
    folder, words = bundle
    words = words[2:]       # all but --device-id DEVICE: that one is asked
    assert "--device-id" not in words
    code, output = on_pty(["provision", "--out", str(tmp_path / "etc"), *words,
                           "--sensor-port", "/dev/ttyUSB0", "--sensor-protocol",
                           "gy-mcu90614", "--sensor-baud", "auto", *HARDWARE],
                          {"Device id": ["gate 7", DEVICE], "Write this config": "n"}, folder)
    assert code == 1, output
    assert output.count("Device id") == 2
    assert "'gate 7': allowed: letters, digits" in output
    assert "nothing written" in output
    assert os.listdir(tmp_path) == []
