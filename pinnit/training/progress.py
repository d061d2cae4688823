"""Progress bar (tqdm) showing the stage and the current loss terms."""
from __future__ import annotations

import sys

from tqdm.auto import tqdm


class Progress:
    def __init__(self, total: int, enabled: bool = True, refresh_every: int = 25):
        self.enabled = enabled
        self.refresh_every = refresh_every
        self._last = 0
        self.bar = tqdm(total=total, disable=not enabled, dynamic_ncols=True, file=sys.stderr,
                        mininterval=0.5, unit="it") if enabled else None

    def update(self, step: int, values: dict[str, float], stage: str) -> None:
        if self.bar is None:
            return
        self.bar.update(step - self._last)
        self._last = step
        if step % self.refresh_every == 0 or stage == "lbfgs":
            self.bar.set_description(stage)
            self.bar.set_postfix({k: f"{v:.2e}" for k, v in values.items()}, refresh=False)

    def start_at(self, step: int) -> None:
        """Resume the bar at ``step`` (continued runs)."""
        if self.bar is not None:
            self.bar.update(step - self._last)
        self._last = step

    def note(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
