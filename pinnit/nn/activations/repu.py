"""Rectified power units ('Why Rectified Power Unit Networks Fail and How to Improve It: An Effective Theory
Perspective').

RePU_p(z) = max(z, 0)^p (p = 1 ReLU, 2 ReQU, 3 ReCU) cannot be critical for p > 1 (χ_∥ : χ_⊥ = (2p−1) : p,
the paper, Section 3). MRePU_p(z) = z·ReLU(z+1)^p (the paper, Definition 6) has χ_∥/χ_⊥ → 1 as K → 0, so it can
be stacked deeply. Both pair with the ``repu_gaussian`` initializer.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import PositiveInt

from .base import Activation, register_activation


class PowerUnit(Activation):
    """Base: an integer order ``p`` ≥ 1."""

    family = "relu_like"

    def __init__(self, p: PositiveInt = 2):
        super().__init__()
        self.p = int(p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


@register_activation("repu")
class RePU(PowerUnit):
    """RePU_p(z) = max(z, 0)^p, C^{p−1} (RePU paper, Section 3; p = 1 ReLU, 2 ReQU, 3 ReCU)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).pow(self.p)


@register_activation("mrepu")
class MRePU(PowerUnit):
    """MRePU_p(z) = z·ReLU(z+1)^p: MRePU(0) = 0, MRePU'(0) = 1, C^{p−1} at −1 (RePU paper, Definition 6)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.relu(x + 1).pow(self.p)
