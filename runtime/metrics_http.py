"""`GET /metrics` over plain HTTP, for the agent's and the district receiver's Prometheus
endpoints: one supervised worker answering one connection at a time. A scrape every few
seconds needs no more, and a client that sends too much or too slowly is cut off after
MAX_REQUEST bytes or REQUEST_S seconds. Only GET /metrics is answered; anything else is a
404.
"""

from __future__ import annotations

import logging
import socket
import time

from runtime import logs
from runtime.worker import Worker

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what every Prometheus reads
MAX_REQUEST = 8192      # bytes of request line and headers; a scrape sends a few hundred
DRAIN_MAX = 2**20       # bytes read and dropped after refusing a request (see _drain)
REQUEST_S = 2.0         # the whole request must arrive within this
ACCEPT_S = 0.5          # how long one wait for a connection lasts (stop is seen as fast)


class MetricsServer:
    """GET /metrics over plain HTTP/1.1 on `listen` (HOST:PORT), one connection at a time
    on one supervised worker. A client's fault (a reset, a timeout, garbage) is its own:
    counted and answered, never an end of the thread."""

    def __init__(self, listen: str, render) -> None:
        self.listen = listen
        self.render = render
        self.served = 0
        self.refused = 0        # requests answered with 4xx, or cut off
        self.worker = Worker("metrics", self._serve_one)
        self._socket: socket.socket | None = None

    def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host.strip("[]"), int(port)))
            sock.listen(16)
        except OSError as exc:
            sock.close()
            raise OSError(f"[metrics] listen = {self.listen!r}: {exc.strerror or exc}") from None
        sock.settimeout(ACCEPT_S)
        self._socket = sock
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        if self._socket is not None:
            self._socket.close()

    def _serve_one(self) -> None:
        try:
            conn, _peer = self._socket.accept()
        except TimeoutError:
            return
        with conn:
            try:
                self._answer(conn)
            except OSError as exc:      # the client went away or stalled: its problem
                self.refused += 1
                if logs.worth_logging(self.refused):
                    logs.event("metrics_request_failed", logging.WARNING, error=repr(exc),
                               refused=self.refused)

    def _answer(self, conn: socket.socket) -> None:
        head = _read_head(conn)
        if head is None:
            self.refused += 1
            _reply(conn, "431 Request Header Fields Too Large", b"request too large\n")
            return _drain(conn)
        request = head.split(b"\r\n", 1)[0].split(b" ")
        if len(request) != 3 or request[0] != b"GET" or \
                request[1].split(b"?", 1)[0] != b"/metrics":
            self.refused += 1
            _reply(conn, "404 Not Found", b"only GET /metrics is served here\n")
            return _drain(conn)
        body = self.render()
        self.served += 1
        return _reply(conn, "200 OK", body, CONTENT_TYPE)


def _read_head(conn: socket.socket) -> bytes | None:
    """The request up to its blank line; None past MAX_REQUEST bytes. TimeoutError when
    it does not arrive within REQUEST_S."""
    deadline = time.monotonic() + REQUEST_S
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_REQUEST:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request not complete in time")
        conn.settimeout(left)
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the request ended")
        data += chunk
    return data if len(data.split(b"\r\n\r\n", 1)[0]) <= MAX_REQUEST else None


def _drain(conn: socket.socket) -> None:
    """Read what the client still sends before closing: closing with unread data makes
    TCP send a reset, which can destroy the answer before the client reads it. Bounded
    like the request (DRAIN_MAX bytes, REQUEST_S seconds); past that the reset is theirs."""
    conn.shutdown(socket.SHUT_WR)
    deadline, drained = time.monotonic() + REQUEST_S, 0
    while drained < DRAIN_MAX and (left := deadline - time.monotonic()) > 0:
        conn.settimeout(left)
        try:
            chunk = conn.recv(65536)
        except OSError:     # a timeout or a reset: the answer is sent, nothing more to do
            return
        if not chunk:
            return
        drained += len(chunk)


def _reply(conn: socket.socket, status: str, body: bytes,
           kind: str = "text/plain; charset=utf-8") -> None:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    conn.settimeout(REQUEST_S)
    conn.sendall(head.encode("ascii") + body)
