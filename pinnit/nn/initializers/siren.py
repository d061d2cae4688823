"""SIREN initialization for sin(w0·x) networks (Sitzmann et al., NeurIPS 2020; Imran, 'SIREN')."""
from __future__ import annotations

import math

import torch
from pydantic import PositiveFloat
from torch import nn

from ..activations.base import Activation
from ..activations.standard import Sine
from .base import register_initializer


def _uniform_(tensor: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    nn.init.uniform_(tensor, -bound, bound, generator=generator)


@register_initializer("siren")
def siren(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
          w0: PositiveFloat = 30.0) -> None:
    """SIREN: first layer W ~ U(±1/n), later W ~ U(±√(6/n)/w0), n = fan_in (Sitzmann et al. 2020, Sec. 3.2).

    w0 is taken from the activation when it is ``sin`` (its own w0), else from the ``w0`` parameter.
    Biases ~ U(±1/√n), the ``nn.Linear`` default that SIREN's reference code keeps, drawn from the generator.
    """
    w0 = activation.w0 if isinstance(activation, Sine) else w0
    for i, layer in enumerate(layers):
        n = layer.in_features
        _uniform_(layer.weight, 1 / n if i == 0 else math.sqrt(6 / n) / w0, generator)
        if layer.bias is not None:
            _uniform_(layer.bias, 1 / math.sqrt(n), generator)
