"""The systemd notify protocol (runtime/sdnotify.py) against real datagram sockets: a path
in a temp folder and an abstract `@` name, as systemd may hand either."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from runtime import sdnotify


@pytest.fixture
def manager(tmp_path):
    """A datagram socket standing in for systemd's notify socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(10)
    yield sock, {"NOTIFY_SOCKET": str(tmp_path / "notify")}
    sock.close()


def test_a_message_reaches_a_path_socket(manager):
    sock, environ = manager
    assert sdnotify.notify("READY=1\nSTATUS=deciding", environ)
    assert sock.recv(4096) == b"READY=1\nSTATUS=deciding"


def test_a_message_reaches_an_abstract_socket():
    name = f"checkpoint-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(10)
        assert sdnotify.notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_a_service_manager_nothing_is_sent(tmp_path):
    assert not sdnotify.notify("READY=1", {})
    assert not sdnotify.notify("READY=1", {"NOTIFY_SOCKET": "relative/path"})
    assert not sdnotify.notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")})


def test_the_watchdog_interval_comes_from_watchdog_usec_for_this_process_only():
    me = str(os.getpid())
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": me}) == 0.5
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"}) is None
    for bad in ({}, {"WATCHDOG_USEC": ""}, {"WATCHDOG_USEC": "soon"}, {"WATCHDOG_USEC": "0"},
                {"WATCHDOG_USEC": "-5"}):
        assert sdnotify.watchdog_interval(bad) is None


def test_the_notifier_pings_at_half_the_interval(manager):
    sock, environ = manager
    notifier = sdnotify.Notifier({**environ, "WATCHDOG_USEC": "10000000"})
    assert notifier.ready("deciding;\ncamera ok")
    assert notifier.ping(100.0)                 # the first is due at once
    assert not notifier.ping(104.9) and notifier.due_in(104.9) == pytest.approx(0.1)
    assert notifier.ping(105.0)
    assert notifier.stopping()
    got = [sock.recv(4096) for _ in range(4)]
    assert got == [b"READY=1\nSTATUS=deciding; camera ok", b"WATCHDOG=1", b"WATCHDOG=1",
                   b"STOPPING=1"]


def test_without_a_watchdog_the_notifier_never_pings(manager):
    _sock, environ = manager
    notifier = sdnotify.Notifier(environ)
    assert not notifier.ping(0.0) and notifier.due_in(0.0) == float("inf")
