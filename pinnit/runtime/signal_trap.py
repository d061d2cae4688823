"""Routing SIGINT/SIGTERM to a handler for the length of a block (no torch import: the study runner
uses it before any run loads torch)."""
from __future__ import annotations

import signal
import threading


class SignalTrap:
    """Context manager that routes SIGINT/SIGTERM to ``self._handle`` (main thread only) and restores the
    previous handlers on exit."""

    def __init__(self) -> None:
        self._old: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        raise NotImplementedError

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
