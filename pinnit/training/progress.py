"""Progress bars (tqdm): one per optimizer stage, sized by that stage's iterations, showing the loss terms.

A stage that stops early (L-BFGS converged) closes at 100 % with its stop reason; a resumed run opens the
bar of its stage at the checkpoint's position (``initial=``), so the rate counts only the steps made since,
and restarts the bar's clock at its first step, so the rate (and the ETA) leaves out the time spent before it
(loading, compiling). A bar closes as soon as its stage's last iteration is made, so its time leaves out
what comes next (the next stage compiling, evaluation).
"""
from __future__ import annotations

import sys
from collections.abc import Mapping

from tqdm.auto import tqdm

from .optimizers import optimizer_label


class Progress:
    def __init__(self, totals: Mapping[str, int], enabled: bool = True, refresh_every: int = 25,
                 labels: Mapping[str, str] | None = None):
        self.totals = dict(totals)
        self.labels = dict(labels or {})
        self.enabled = enabled
        self.refresh_every = refresh_every
        self.bar = None
        self.stage: str | None = None
        self._offset = 0  # global step at which the current stage began
        self._last = 0  # last global step seen
        self.closed: dict[str, tuple[int, int]] = {}  # stage → (position, total) when its bar closed
        self._restart_clock = False  # a resumed bar: its first step (compiling first) is not counted

    def _open(self, stage: str, stage_step: int) -> None:
        self.close()
        self.stage, self._offset = stage, self._last - stage_step
        if self.enabled:
            desc = self.labels.get(stage, optimizer_label(stage))
            self.bar = tqdm(total=self.totals.get(stage, 0), initial=stage_step, desc=desc,
                            dynamic_ncols=True, file=sys.stderr, mininterval=0.5, unit="it")

    def update(self, step: int, values: dict[str, float], stage: str) -> None:
        if stage != self.stage:  # a new stage: the previous bar is complete
            self._open(stage, 0)
        previous, self._last = self._last, step
        if self.bar is None:
            return
        if self._restart_clock:  # measure from the first step made, not from the bar's opening
            self._restart_clock = False
            self.bar.unpause()
        self.bar.update(step - self._offset - self.bar.n)
        if step % self.refresh_every == 0 or step - previous > 1:  # every k steps, or every chunk
            self.bar.set_postfix({k: f"{v:.2e}" for k, v in values.items()}, refresh=False)
        if self.bar.total and self.bar.n >= self.bar.total:  # done: close now, so its time leaves out the next
            self.bar.set_postfix({k: f"{v:.2e}" for k, v in values.items()}, refresh=False)  # stage's compile
            self.close()

    def start_at(self, step: int, stage: str, stage_step: int) -> None:
        """Resume at global ``step``, ``stage_step`` steps into ``stage`` (continued runs)."""
        self._last = step
        self._open(stage, stage_step)
        self._restart_clock = self.bar is not None

    def finish(self, reason: str | None = None) -> None:
        """Training completed: a stage that stopped before its iterations closes at 100 % with ``reason``."""
        if self.bar is not None and self.bar.n < (self.bar.total or 0):
            self.bar.total = self.bar.n
            self.bar.set_postfix_str(f"stopped: {reason}" if reason else "stopped early", refresh=False)
        self.close()

    def note(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.closed[self.stage] = (self.bar.n, self.bar.total)
            self.bar.close()
        self.bar = None
