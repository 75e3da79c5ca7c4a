"""Logs into the journal natively (runtime/journald.py): a real AF_UNIX datagram socket in
a temp folder stands in for journald, and the test decodes what arrives in both of the
protocol's encodings, and from a memfd when an entry is too big for a datagram."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import socket
import struct

import pytest

from runtime import logs
from tests.support.loglines import LINE


def decode(data: bytes) -> dict[str, str]:
    """A journal entry in the native format: KEY=value lines, or KEY, a little-endian
    uint64 length, the value and a newline. Also says which fields came length-prefixed."""
    fields, binary, at = {}, set(), 0
    while at < len(data):
        end = data.index(b"\n", at)
        line = data[at:end]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            at = end + 1
        else:
            key, size = line, struct.unpack("<Q", data[end + 1:end + 9])[0]
            value = data[end + 9:end + 9 + size]
            assert data[end + 9 + size:end + 10 + size] == b"\n", "value not ended by \\n"
            at = end + 10 + size
            binary.add(key.decode())
        fields[key.decode()] = value.decode()
    fields["_binary"] = ",".join(sorted(binary))
    return fields


class FakeJournald:
    """A datagram socket where journald's would be; receives entries, memfd ones too."""

    def __init__(self, path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(10)

    def receive(self) -> tuple[dict[str, str], bool]:
        """The next entry and whether it came in a memfd."""
        data, fds, _flags, _addr = socket.recv_fds(self.sock, 2**16, 1)
        if not fds:
            return decode(data), False
        assert data == b"", "a memfd datagram carries no payload"
        seals = fcntl.fcntl(fds[0], fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SHRINK, "memfd not sealed"
        with os.fdopen(fds[0], "rb") as memfd:     # read from the start, as journald does
            memfd.seek(0)
            return decode(memfd.read()), True

    def pending(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
            return True
        except BlockingIOError:
            return False
        finally:
            self.sock.settimeout(10)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def journal(tmp_path):
    server = FakeJournald(tmp_path / "journal.sock")
    yield server
    server.close()


@pytest.fixture
def stdout_file(tmp_path):
    """A file standing in for the stdout systemd connected to the journal's stream."""
    with open(tmp_path / "stdout", "w+") as stream:
        yield stream
    logging.getLogger("checkpoint").handlers.clear()
    logging.getLogger("checkpoint").propagate = True


def stream_of(stream) -> dict[str, str]:
    stat = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}


def test_an_event_arrives_as_fields_with_its_line_as_the_message(journal, stdout_file):
    logs.setup(stream=stdout_file, environ=stream_of(stdout_file), journal=journal.path)
    logs.event("decision", seq=3, decision="deny", reasons=["fever", "color_red"],
               temperature_c=38.1, note="first line\nsecond line", operator=None)
    entry, by_memfd = journal.receive()
    assert not by_memfd
    assert LINE.match(entry["MESSAGE"]) and "\n" not in entry["MESSAGE"]
    assert entry["MESSAGE"].endswith(
        'event=decision seq=3 decision=deny reasons=fever,color_red temperature_c=38.1 '
        'note="first line\\nsecond line" operator=""')
    assert entry["PRIORITY"] == "6" and entry["SYSLOG_IDENTIFIER"] == "checkpoint"
    assert entry["CHECKPOINT_EVENT"] == "decision"
    assert (entry["SEQ"], entry["DECISION"], entry["REASONS"]) == ("3", "deny",
                                                                    "fever,color_red")
    assert entry["TEMPERATURE_C"] == "38.1" and entry["OPERATOR"] == ""
    assert entry["NOTE"] == "first line\nsecond line" and entry["_binary"] == "NOTE"
    stdout_file.seek(0)
    assert stdout_file.read() == ""     # not twice in the journal


def test_levels_become_priorities_and_keys_cannot_pose_as_journal_fields(journal,
                                                                          stdout_file):
    logs.setup(stream=stdout_file, environ=stream_of(stdout_file), journal=journal.path)
    logs.event("sensor_fault", logging.WARNING, message="spoof", priority=0, **{"9lives": 1})
    logs.event("worker_died", logging.CRITICAL, worker="scanner")
    logs.event("worker_error", logging.ERROR, worker="sync")
    warning, critical, error = (journal.receive()[0] for _ in range(3))
    assert (warning["PRIORITY"], critical["PRIORITY"], error["PRIORITY"]) == ("4", "2", "3")
    assert warning["CHECKPOINT_MESSAGE"] == "spoof" and warning["MESSAGE"] != "spoof"
    assert warning["CHECKPOINT_PRIORITY"] == "0" and warning["CHECKPOINT_9LIVES"] == "1"
    assert critical["WORKER"] == "scanner"


def test_a_traceback_is_one_field_with_its_lines(journal, stdout_file):
    logs.setup(stream=stdout_file, environ=stream_of(stdout_file), journal=journal.path)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("checkpoint").exception(logs.format_event("failed", {}))
    entry, _ = journal.receive()
    assert entry["PRIORITY"] == "3" and "traceback=" in entry["MESSAGE"]
    assert entry["TRACEBACK"].startswith("Traceback") and "ValueError: boom" in entry["TRACEBACK"]
    assert "TRACEBACK" in entry["_binary"].split(",")


def test_an_entry_too_big_for_a_datagram_goes_in_a_sealed_memfd(journal, stdout_file):
    logs.setup(stream=stdout_file, environ=stream_of(stdout_file), journal=journal.path)
    big = "x" * (17 * 2**20)    # beyond the largest send buffer the handler can get
    logs.event("big", blob=big)
    entry, by_memfd = journal.receive()
    assert by_memfd and entry["CHECKPOINT_EVENT"] == "big" and entry["BLOB"] == big


def test_without_the_journal_lines_go_to_the_stream(tmp_path, journal, stdout_file):
    other = io.StringIO()
    cases = [({}, journal.path),                                       # not under systemd
             ({"JOURNAL_STREAM": "1:2"}, journal.path),                # stdout redirected
             (stream_of(stdout_file), tmp_path / "no-such.sock"),      # no journald
             ({"JOURNAL_STREAM": "garbage"}, journal.path)]
    for environ, path in cases:
        logs.setup(stream=other, environ=environ, journal=path)
        logs.event("case", env=",".join(environ))
    lines = other.getvalue().splitlines()
    assert len(lines) == len(cases) and all(LINE.match(line) for line in lines)
    assert not journal.pending()


def test_a_journald_gone_away_still_gets_the_line_on_the_stream(journal, stdout_file):
    logs.setup(stream=stdout_file, environ=stream_of(stdout_file), journal=journal.path)
    journal.close()
    journal.path.unlink()
    logs.event("after", seq=1)
    stdout_file.seek(0)
    line, = stdout_file.read().splitlines()
    assert LINE.match(line) and line.endswith("event=after seq=1")
