"""What a training run is: its resumable state (saved in every checkpoint) and the divergence it may stop on."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


class Diverged(Exception):
    def __init__(self, step: int, term: str, value: float):
        self.step, self.term, self.value = step, term, value
        super().__init__(f"loss term '{term}' became {value} at step {step}")


@dataclass
class TrainState:
    """Everything needed to continue a run exactly (saved in the checkpoint)."""

    stage: str = ""
    stage_index: int = 0
    stage_step: int = 0
    step: int = 0
    next_resample: int = 0
    lr_scale: float = 1.0
    best_loss: float = math.inf
    best_step: int = 0
    rollbacks: int = 0
    elapsed: float = 0.0
    eval_s: float = 0.0  #: seconds spent evaluating against the reference so far (inside ``elapsed``)
    history: list[dict[str, Any]] = field(default_factory=list)
    iterations: dict[str, int] = field(default_factory=dict)
    stop_reasons: dict[str, str | None] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    status: str = "running"
    diverged: dict[str, Any] | None = None
    last_losses: dict[str, float] = field(default_factory=dict)

    @property
    def stop_reason(self) -> str | None:
        """Why the last stage that ran ended (None: it ran all its iterations)."""
        return self.stop_reasons.get(self.stage)
