"""Learning-rate schedules as pure functions of the step (resumable without scheduler state)."""
from __future__ import annotations

import math

from ..config.schema import Schedule


def lr_factor(schedule: Schedule, step: int, total: int) -> float:
    """Multiplier of the base learning rate at ``step`` (of ``total`` Adam steps)."""
    r, k = schedule.decay_rate, schedule.decay_steps
    if schedule.kind == "constant":
        f = 1.0
    elif schedule.kind == "exponential":
        f = r ** (step / k)
    elif schedule.kind == "inverse_time":
        f = 1.0 / (1.0 + r * step / k)
    elif schedule.kind == "step":
        f = r ** (step // k)
    else:  # cosine
        f = 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))
    return f


def scheduled_lr(base: float, schedule: Schedule, step: int, total: int) -> float:
    return max(base * lr_factor(schedule, step, total), schedule.min_lr)
