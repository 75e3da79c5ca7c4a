"""`checkpoint district broker-acl`: the broker's dynamic-security file on stdout, as
district/broker_acl.py makes it; a name that cannot be a certificate identity is exit 2."""

from __future__ import annotations

import json
import subprocess

import pytest

from district.broker_acl import dynsec_config
from tests.support.paths import CHECKPOINT, REPO


def broker_acl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CHECKPOINT + ["district", "broker-acl", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_it_prints_the_rules_for_the_devices_given():
    done = broker_acl("gate-1", "gate-2")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == dynsec_config(["gate-1", "gate-2"])


def test_root_receivers_and_admin():
    done = broker_acl("--root", "town/cp", "--receiver", "district", "--receiver",
                      "district-2", "--admin", "ops", "gate-1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == dynsec_config(
        ["gate-1"], receivers=["district", "district-2"], root="town/cp", admin="ops")


def test_no_devices_yet_gives_the_receivers_and_the_admin():
    done = broker_acl("--admin", "ops")
    assert done.returncode == 0, done.stderr
    assert [c["username"] for c in json.loads(done.stdout)["clients"]] == ["district", "ops"]


@pytest.mark.parametrize(("args", "message"), [
    (["gate/1"], "district broker-acl: device id 'gate/1': allowed: letters, digits"),
    (["gate-1", "district"], "district broker-acl: device id 'district': 'district' and"),
    (["--receiver", "gate-2", "gate-1"], "district broker-acl: receiver 'gate-2': must be"),
    (["--root", "cp/#", "gate-1"], "district broker-acl: topic root 'cp/#': allowed"),
])
def test_a_bad_name_is_one_line_and_exit_2(args, message):
    done = broker_acl(*args)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"checkpoint: {message}")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
