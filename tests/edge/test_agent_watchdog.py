"""The agent under systemd's watchdog: READY=1, then WATCHDOG=1 pings while every thread
lives; a thread that dies stops the pings at once (so systemd restarts the service even if
the stop hangs) and the STATUS= line names it. A real datagram socket is NOTIFY_SOCKET."""

from __future__ import annotations

import ctypes
import shutil
import socket
import threading

import pytest

from edge.agent import Agent, AgentFailed
from edge.config import load_config
from tests.support.waiting import wait_for


class ServiceManager:
    """Collects what arrives on a notify socket, on a thread of its own."""

    def __init__(self, path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._done.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def pings(self) -> int:
        return self.messages.count("WATCHDOG=1")

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def manager(tmp_path, monkeypatch):
    path = tmp_path / "notify"
    server = ServiceManager(path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")     # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield server
    server.close()


def kill(thread_name: str) -> None:
    """SystemExit raised inside the thread, as tests/support/kill_thread.py does: a death
    the worker's guard does not catch."""
    target = next(t for t in threading.enumerate() if t.name == thread_name)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target.ident),
                                               ctypes.py_object(SystemExit))


def test_pings_flow_while_all_live_and_stop_when_a_worker_dies(demo_dir, tmp_path, manager):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    failure: list[BaseException] = []

    def kill_after_pings(agent: Agent) -> None:
        try:
            wait_for(lambda: manager.pings() >= 3, "three watchdog pings")
            kill("scanner")
        except BaseException as exc:     # shown by the main thread's assertion
            failure.append(exc)

    with Agent(config) as agent:
        killer = threading.Thread(target=kill_after_pings, args=(agent,), daemon=True)
        killer.start()
        with pytest.raises(AgentFailed, match="scanner died"):
            agent.run(threading.Event(), duration=120)
        killer.join(10)
        workers, alarm = agent.health()["workers"], agent.health()["alarm"]
    wait_for(lambda: "STOPPING=1" in manager.messages, "STOPPING=1")
    assert failure == []
    messages = manager.messages
    assert messages[0].startswith("READY=1\nSTATUS=deciding; camera ")
    failed = next(i for i, m in enumerate(messages) if m.startswith("STATUS=failed"))
    assert messages[failed] == "STATUS=failed: scanner died; stopping"
    assert messages[:failed].count("WATCHDOG=1") >= 3
    assert "WATCHDOG=1" not in messages[failed:]          # no ping once a thread is dead
    assert messages[-1] == "STOPPING=1"
    assert workers["scanner"].startswith("dead") and alarm == "worker_died"


def test_without_a_watchdog_the_agent_says_only_ready_and_stopping(demo_dir, tmp_path,
                                                                   manager, monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC")
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    with Agent(config) as agent:
        agent.run(threading.Event(), duration=0.5)
    wait_for(lambda: "STOPPING=1" in manager.messages, "STOPPING=1")
    assert manager.messages[0].startswith("READY=1\n") and manager.pings() == 0
