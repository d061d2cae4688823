"""Loss forms: the transform g applied to the mean-squared loss L before differentiation.

Urbán, Stefanou & Pons (JCP 2024, §3) train on ``L`` (``mse``), ``√L`` (``sqrt``) or ``log L`` (``log``);
the minimisers are the same, but the gradient is rescaled by g'(L) (1/(2√L), 1/L), which keeps the
quasi-Newton curvature estimates well scaled as L falls by many orders of magnitude.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ...core.errors import ConfigError, did_you_mean

LOSS_FORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mse": lambda loss: loss,
    "sqrt": torch.sqrt,
    "log": torch.log,
}

#: the inverse transforms, to report the mean-squared loss whatever form was trained on
LOSS_FORM_INVERSES: dict[str, Callable[[float], float]] = {
    "mse": lambda v: v,
    "sqrt": lambda v: v * v,
    "log": math.exp,
}


def loss_form(name: str, path: str = "loss_form") -> Callable[[torch.Tensor], torch.Tensor]:
    """The transform named ``name`` (``mse`` | ``sqrt`` | ``log``) of a non-negative scalar loss."""
    try:
        return LOSS_FORMS[name]
    except KeyError:
        valid = ", ".join(LOSS_FORMS)
        raise ConfigError(path, f"unknown loss form '{name}'{did_you_mean(name, LOSS_FORMS)}; valid: {valid}") from None
