"""Standard activation catalogue (M. M. Islam Imran, 'Deep Learning – Activation Functions', one slide each).

Each entry wraps a ``torch.nn.functional`` function; its keyword parameters are the YAML parameters.
``tanh`` is the odd sigmoid of Lee 2026 and accepts the scaled form a·tanh(b·x).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import PositiveFloat
from torch import nn

from .base import Activation, register_activation
from .odd_sigmoid import OddSigmoid


class Functional(Activation):
    """Base: ``forward(x) = fn(x, **kwargs)`` with the keyword arguments given to the constructor."""

    fn: ClassVar[Callable[..., torch.Tensor]]

    def __init__(self, **kwargs: Any):
        super().__init__()
        self.kwargs = kwargs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return type(self).fn(x, **self.kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


@register_activation("tanh")
class Tanh(OddSigmoid):
    """a·tanh(b·x), odd sigmoid with f'(0) = 1, ω = 1/(a·b) (Lee 2026, Table 1; Imran, 'tanh function')."""

    def base(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


@register_activation("linear")
class Linear(Functional):
    """Identity x (Imran, 'Linear activation')."""

    fn = staticmethod(lambda x: x)


@register_activation("sigmoid")
class Sigmoid(Functional):
    """Logistic sigmoid 1/(1+e^{−x}) (Imran, 'Sigmoid function'); KGI bounds [0.1, 0.9] (KGI preprint)."""

    fn = staticmethod(torch.sigmoid)

    def default_bounds(self) -> tuple[float, float]:
        return (0.1, 0.9)


@register_activation("relu")
class ReLU(Functional):
    """max(x, 0) (Imran, 'ReLU')."""

    family = "relu_like"
    fn = staticmethod(F.relu)


@register_activation("leaky_relu")
class LeakyReLU(Functional):
    """x for x ≥ 0, negative_slope·x otherwise (Imran, 'Leaky ReLU'; default slope 0.01)."""

    family = "relu_like"
    fn = staticmethod(F.leaky_relu)

    def __init__(self, negative_slope: float = 0.01):
        super().__init__(negative_slope=negative_slope)


@register_activation("prelu")
class PReLU(Activation):
    """ReLU with a learnable negative slope α, initially ``init`` = 0.25 (Imran, 'PReLU')."""

    family = "relu_like"

    def __init__(self, init: float = 0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([init], dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.prelu(x, self.weight.to(x.dtype))


@register_activation("softplus")
class Softplus(Functional):
    """(1/β)·log(1+e^{βx}), linear where βx > threshold (Imran, 'SoftPlus')."""

    family = "relu_like"
    fn = staticmethod(F.softplus)

    def __init__(self, beta: PositiveFloat = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


@register_activation("elu")
class ELU(Functional):
    """x for x > 0, α·(e^x − 1) otherwise (Imran, 'ELU'; α = 1)."""

    family = "relu_like"
    fn = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


@register_activation("celu")
class CELU(Functional):
    """x for x > 0, α·(e^{x/α} − 1) otherwise, C¹ for every α (Imran, 'CELU'; Barron 2017)."""

    family = "relu_like"
    fn = staticmethod(F.celu)

    def __init__(self, alpha: PositiveFloat = 1.0):
        super().__init__(alpha=alpha)


@register_activation("selu")
class SELU(Functional):
    """scale·ELU_α(x) with the self-normalising constants α ≈ 1.6733, scale ≈ 1.0507 (Imran, 'SELU')."""

    family = "relu_like"
    fn = staticmethod(F.selu)


@register_activation("gelu")
class GELU(Functional):
    """x·Φ(x), Φ the standard normal CDF; ``approximate: tanh`` uses the tanh formula (Imran, 'GELU')."""

    family = "relu_like"
    fn = staticmethod(F.gelu)

    def __init__(self, approximate: Literal["none", "tanh"] = "none"):
        super().__init__(approximate=approximate)


@register_activation("relu6")
class ReLU6(Functional):
    """min(max(x, 0), 6) (Imran, 'ReLU6')."""

    family = "relu_like"
    fn = staticmethod(F.relu6)


@register_activation("log_sigmoid")
class LogSigmoid(Functional):
    """log(1/(1+e^{−x})) (Imran, 'LogSigmoid'); KGI bounds log 0.1 … log 0.9, the image of sigmoid's."""

    fn = staticmethod(F.logsigmoid)

    def default_bounds(self) -> tuple[float, float]:
        return (math.log(0.1), math.log(0.9))


class Normalizing(Functional):
    """Base of the normalisations over a dimension (not element-wise; rarely wanted in a PINN hidden layer)."""

    family = "normalizing"

    def __init__(self, dim: int = -1):
        super().__init__(dim=dim)


@register_activation("softmin")
class Softmin(Normalizing):
    """e^{−x_i}/Σ_j e^{−x_j} over ``dim`` (Imran, 'Softmin')."""

    fn = staticmethod(F.softmin)


@register_activation("softmax")
class Softmax(Normalizing):
    """e^{x_i}/Σ_j e^{x_j} over ``dim`` (Imran, 'Softmax')."""

    fn = staticmethod(F.softmax)


@register_activation("log_softmax")
class LogSoftmax(Normalizing):
    """x_i − log Σ_j e^{x_j} over ``dim`` (Imran, 'LogSoftmax')."""

    fn = staticmethod(F.log_softmax)


@register_activation("sin")
class Sine(Activation):
    """SIREN sin(w0·x), w0 = 30 (Imran, 'SIREN'; Sitzmann et al. 2020); pair with the ``siren`` initializer."""

    family = "periodic"

    def __init__(self, w0: PositiveFloat = 30.0):
        super().__init__()
        self.w0 = float(w0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * x)

    def slope_at_zero(self) -> float:
        """w0 (closed form)."""
        return self.w0

    def extra_repr(self) -> str:
        return f"w0={self.w0}"
