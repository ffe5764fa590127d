"""SIGINT and SIGTERM during a command: both stop it as Ctrl-C does, and the exit code says which.

``Interrupts`` (a context manager, main thread only) turns either signal into a
``KeyboardInterrupt`` (``Terminated`` for SIGTERM, a subclass) and remembers the first one
(``exit_code``: 130 or 143, as a shell reports a process killed by it). Inside ``deferred()``
the first signal is only remembered, and a second one raises; inside ``held()`` every signal
is only remembered, for the few renames that must not be cut short.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

# What signal.signal takes and returns: a function, SIG_DFL or SIG_IGN (ints), or None.
Handler = Callable[[int, FrameType | None], Any] | int | None

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM (CI cancelling a job, Kubernetes stopping a pod), handled as Ctrl-C is."""


def exit_code(signum: int | None) -> int:
    """128 + the signal's number; 130 (SIGINT) when there was none (a KeyboardInterrupt)."""
    return 128 + int(signum if signum is not None else signal.SIGINT)


class Interrupts:
    def __init__(self) -> None:
        self.signum: int | None = None  # the first signal received
        self._mode = "raise"  # "raise", "defer" (the first is kept back) or "hold" (all are)
        self._kept_back = 0
        self._previous: dict[int, Handler] = {}

    @property
    def exit_code(self) -> int:
        return exit_code(self.signum)

    def received(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, _frame) -> None:
        if self.signum is None:
            self.signum = signum
        if self._mode == "hold" or (self._mode == "defer" and self._kept_back == 0):
            self._kept_back += 1
            return
        raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @contextlib.contextmanager
    def _in_mode(self, mode: str) -> Iterator[None]:
        before, self._mode = self._mode, mode
        try:
            yield
        finally:
            self._mode = before

    def deferred(self):
        """The first signal is remembered, not raised (a second one raises)."""
        if self.signum is not None:
            self._kept_back = 1  # a signal already received counts as the first
        return self._in_mode("defer")

    def held(self):
        """Every signal is remembered, none raised."""
        return self._in_mode("hold")
