"""Log events straight into the systemd journal, structured: the Journal Native Protocol.

Each event is one datagram to journald's AF_UNIX socket: `KEY=value\\n` per field, or,
for a value holding a newline, `KEY\\n` + its length as a little-endian uint64 + the
value + `\\n`. The entry carries MESSAGE (the event's usual log line), PRIORITY (from the
log level), SYSLOG_IDENTIFIER=checkpoint, CHECKPOINT_EVENT and every key of the event as
an upper-case field, so `journalctl CHECKPOINT_EVENT=decision DECISION=deny` finds what a
grep would, and more exactly.

The native socket is used only when systemd connected our stdout or stderr to the journal
(JOURNAL_STREAM names that stream's device and inode, and it is still the one we have:
no shell redirection took place) and the socket exists. An entry too large for one
datagram (EMSGSIZE or ENOBUFS) goes in a sealed memfd passed over the socket, as the protocol
allows; any other failure writes the line to `fallback` (the journal's stdout stream),
so an event is never lost for want of the socket.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import socket
import struct
from collections.abc import Mapping
from pathlib import Path

SOCKET = Path("/run/systemd/journal/socket")
IDENTIFIER = "checkpoint"
SNDBUF = 8 * 2**20      # room for bursts before a send would block (the protocol advises)
# A datagram beyond the send buffer: the kernel says EMSGSIZE, or ENOBUFS when it cannot
# find that much memory at once; either way the entry goes by memfd.
TOO_BIG = (errno.EMSGSIZE, errno.ENOBUFS)
SEND_S = 1.0            # a journald that stopped reading must not stall a logging thread

# Fields journald or journalctl give a meaning to: an event key of that name is sent as
# CHECKPOINT_<KEY> instead, so that it can never pose as the entry's own metadata.
RESERVED = frozenset({
    "MESSAGE", "MESSAGE_ID", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "ERRNO",
    "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID", "SYSLOG_TIMESTAMP", "SYSLOG_RAW",
    "INVOCATION_ID", "USER_INVOCATION_ID", "DOCUMENTATION", "TID", "UNIT", "USER_UNIT",
    "OBJECT_PID", "CHECKPOINT_EVENT", "TRACEBACK"})
_NOT_KEY = re.compile(r"[^A-Z0-9_]")
_FORMATTER = logging.Formatter()


def priority(level: int) -> int:
    """syslog priority of a logging level: 2 crit, 3 err, 4 warning, 6 info, 7 debug."""
    if level >= logging.CRITICAL:
        return 2
    if level >= logging.ERROR:
        return 3
    if level >= logging.WARNING:
        return 4
    return 6 if level >= logging.INFO else 7


def field_name(key: str) -> str:
    """An event key as a journal field name: upper case, A-Z 0-9 _, not starting with a
    digit or `_` (journald keeps those for its own trusted fields), at most 64 bytes."""
    name = _NOT_KEY.sub("_", key.upper()).lstrip("_") or "KEY"
    if name[0].isdigit() or name in RESERVED:
        name = "CHECKPOINT_" + name
    return name[:64]


def field_value(value) -> str:
    """The value as the log line shows it, unquoted: lists joined by commas, None empty."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def encode(fields: list[tuple[str, str]]) -> bytes:
    """One journal entry in the native format; a value with a newline goes length-prefixed."""
    out = bytearray()
    for name, value in fields:
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += name.encode() + b"=" + data + b"\n"
    return bytes(out)


def entry(message: str, level: int, event: str | None, values: Mapping) -> list[tuple[str, str]]:
    fields = [("MESSAGE", message), ("PRIORITY", str(priority(level))),
              ("SYSLOG_IDENTIFIER", IDENTIFIER)]
    if event is not None:
        fields.append(("CHECKPOINT_EVENT", event))
    fields += [(field_name(key), field_value(value)) for key, value in values.items()]
    return fields


def journal_socket(environ: Mapping[str, str] | None = None, streams=None,
                   path: Path = SOCKET) -> Path | None:
    """The native socket to use, or None: JOURNAL_STREAM must match our stdout or stderr
    (`streams`: the file objects to compare) and the socket must exist."""
    env = os.environ if environ is None else environ
    try:
        device, inode = (int(part) for part in env.get("JOURNAL_STREAM", "").split(":"))
    except ValueError:
        return None
    for stream in streams or ():
        try:
            stat = os.fstat(stream.fileno())
        except (OSError, ValueError, AttributeError):
            continue
        if (stat.st_dev, stat.st_ino) == (device, inode):
            return path if path.is_socket() else None
    return None


class JournalHandler(logging.Handler):
    """A logging handler that writes each record to journald as one native entry; the
    event's name and keys come from the record's `event` and `fields` attributes
    (runtime/logs.py sets them)."""

    def __init__(self, path: Path, fallback: logging.Handler) -> None:
        super().__init__()
        self.path = str(path)
        self.fallback = fallback
        self.sent_by_memfd = 0      # entries that needed the memfd way
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
        self._socket.settimeout(SEND_S)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = entry(self.format(record), record.levelno, getattr(record, "event", None),
                           getattr(record, "fields", {}))
            if record.exc_info:     # readable in journalctl as the lines it was
                fields.append(("TRACEBACK", _FORMATTER.formatException(record.exc_info)))
            self._send(encode(fields))
        except OSError:
            self.fallback.handle(record)    # the line still reaches the journal's stream

    def _send(self, data: bytes) -> None:
        try:
            self._socket.sendto(data, self.path)
        except OSError as exc:
            if exc.errno not in TOO_BIG:
                raise
            self._send_memfd(data)

    def _send_memfd(self, data: bytes) -> None:
        fd = os.memfd_create("checkpoint-journal", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            # journald wants the memfd sealed, so that what it reads cannot change under it
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                        | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))]
            self._socket.sendmsg([b""], rights, 0, self.path)
        finally:
            os.close(fd)
        self.sent_by_memfd += 1

    def close(self) -> None:
        self._socket.close()
        super().close()
