"""A simulated serial device: the far end of a real pseudo-terminal and the thread that
serves it.

The driver under test opens `port` (/dev/pts/N) with pyserial as it would a USB serial
adapter. A simulator subclasses PtyDevice, sets up its state, calls `_serve()` and writes
`_run`, which reads and writes `_master` until `_stop` is set. `stop()` (also `close()`,
and leaving a `with` block) closes the pty: the driver then gets EIO, as from an unplug.
"""

from __future__ import annotations

import os
import threading
import tty

STOP_JOIN_S = 2.0


class PtyDevice:
    def __init__(self, thread_name: str) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)         # kept open: the master never sees a hangup
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def _serve(self) -> None:
        """Start answering on the pty: the subclass calls this once its state is set."""
        self._thread.start()

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving and close the pty; the driver on the other side then gets EIO."""
        if self._stop.is_set():
            return      # closing an fd twice could close a number the process reused
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_JOIN_S)
        os.close(self._master)
        os.close(self._slave)

    def close(self) -> None:
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
