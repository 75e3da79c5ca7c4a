"""A loopback TCP proxy for network faults: forward, cut (both ways), or half-open.

`cut` closes every connection and refuses new ones, like a cable pulled with the peers
noticing. `blackhole` keeps every socket open but moves no byte either way, like a NAT
that silently forgot the flow: only keepalives can tell.
"""

from __future__ import annotations

import select
import socket
import threading

FORWARD, CUT, BLACKHOLE = "forward", "cut", "blackhole"


class Proxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target = (host, target_port)
        self.mode = FORWARD
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            if self.mode == CUT:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=1.0)
            except OSError:
                client.close()
                continue
            pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            self._threads.append(pump)
            pump.start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._closed.is_set() and self.mode != CUT:
                if self.mode == BLACKHOLE:
                    self._closed.wait(0.05)
                    continue
                ready, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def close(self) -> None:
        self._closed.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._listener.close()
