"""Graceful stop on SIGINT/SIGTERM: the loop finishes its step, checkpoints and exits cleanly."""
from __future__ import annotations

import signal

from ..runtime.signal_trap import SignalTrap


class StopRequest(SignalTrap):
    """Turns SIGINT/SIGTERM into a flag (a second SIGINT interrupts at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self.signal_name = ""

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name
