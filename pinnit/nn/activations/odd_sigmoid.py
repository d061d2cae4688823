"""Odd-sigmoid activations and their critical scale ω = 1/f'(0) (Lee, 'Beyond Gaussian Initializations', 2026).

An odd-sigmoid f is C¹, odd, bounded, strictly increasing, with f' decreasing on [0, ∞) (Lee 2026,
'Definition. Odd-Sigmoid Function'). Every entry here is used in the scaled form a·f(b·x): its slope at
0 is a·b·f'(0), so ω = 1/(a·b·f'(0)). ω is always computed from
the object (closed-form f'(0) of the base times the current a·b), never typed by hand.

Trainable scales (Lee 2026 trains up to 10¹⁰·tanh) are stored in log form, a = a₀·exp(θ_a) with θ_a an
``nn.Parameter`` starting at 0: the parameter stays O(1) whatever the magnitude of a₀, its gradient is
a·∂L/∂a (scale-free), and a keeps its sign.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field, PositiveFloat
from torch import nn

from ...core.errors import ConfigError
from .base import Activation, build_activation, register_activation


class OddSigmoid(Activation):
    """Base class: a·f(b·x) for an odd-sigmoid ``base`` f with closed-form ``base_slope`` = f'(0)."""

    family = "odd_sigmoid"
    #: f'(0) of the unscaled base function.
    base_slope: ClassVar[float] = 1.0

    def __init__(self, a: PositiveFloat = 1.0, b: PositiveFloat = 1.0, trainable: bool = False):
        super().__init__()
        self.a0, self.b0, self.trainable = float(a), float(b), bool(trainable)
        if trainable:
            self.log_a = nn.Parameter(torch.zeros((), dtype=torch.float64))
            self.log_b = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def base(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def a(self) -> torch.Tensor | float:
        """Output scale a (a tensor when trainable)."""
        return self.a0 * torch.exp(self.log_a) if self.trainable else self.a0

    @property
    def b(self) -> torch.Tensor | float:
        """Input scale b (a tensor when trainable)."""
        return self.b0 * torch.exp(self.log_b) if self.trainable else self.b0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.trainable:  # skip exact multiplications by 1: each costs a node in every autograd pass
            y = self.base(x if self.b0 == 1.0 else self.b0 * x)
            return y if self.a0 == 1.0 else self.a0 * y
        return self.a * self.base(self.b * x)

    def scales(self) -> tuple[float, float]:
        """The current (a, b) as floats."""
        with torch.no_grad():
            return float(self.a), float(self.b)

    def slope_at_zero(self) -> float:
        """a·b·f'(0) at the current scales (closed form)."""
        a, b = self.scales()
        return self.base_slope * a * b

    def extra_repr(self) -> str:
        a, b = self.scales()
        return f"a={a:.6g}, b={b:.6g}, trainable={self.trainable}"


@register_activation("erf")
class Erf(OddSigmoid):
    """a·erf(b·x), odd sigmoid with f'(0) = 2/√π, ω = √π/2 at a = b = 1 (Lee 2026, Table 1)."""

    base_slope = 2.0 / math.sqrt(math.pi)

    def base(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(x)


@register_activation("arctan")
class Arctan(OddSigmoid):
    """a·arctan(b·x), odd sigmoid with f'(0) = 1 (Lee 2026, Table 1)."""

    def base(self, x: torch.Tensor) -> torch.Tensor:
        return torch.atan(x)


@register_activation("gd")
class Gudermannian(OddSigmoid):
    """a·gd(b·x), Gudermannian gd(x) = 2·arctan(tanh(x/2)) = arctan(sinh x), f'(0) = 1 (Lee 2026, Table 1)."""

    def base(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * torch.atan(torch.tanh(x / 2))


def softsign_k(x: torch.Tensor, k: float) -> torch.Tensor:
    """x/(1+|x|^k)^{1/k}, written as sign(x)·(1+|x|^{−k})^{−1/k} for |x| > 1 so that |x|^k cannot overflow.

    k = 1 and k = 2 take closed forms with a few cheap ops (x/(1+|x|), x/√(1+x²) with |x| clamped at 1e15,
    where the value is 1 to every float's precision): the general form builds both branches, whose nested
    derivatives cost ≈ 10× more in a PINN's residual (measured: 218 vs 19 ms per Adam step at 20 × 32)."""
    if k == 1.0:
        return x / (1 + x.abs())
    if k == 2.0:
        xc = x.clamp(-1e15, 1e15)
        return xc * torch.rsqrt(1 + xc * xc)
    ax = x.abs()
    big = ax > 1
    small = x / (1 + torch.where(big, torch.ones_like(ax), ax).pow(k)).pow(1 / k)
    large = torch.sign(x) * (1 + torch.where(big, ax, torch.ones_like(ax)).pow(-k)).pow(-1 / k)
    return torch.where(big, large, small)


@register_activation("softsign")
class Softsign(OddSigmoid):
    """a·softsign_k(b·x), generalised algebraic sigmoid x/(1+|x|^k)^{1/k}, f'(0) = 1 (Lee 2026; naming: our reading).

    k = 1 is x/(1+|x|) (``softsign_1``), k = 2 is x/√(1+x²) (``softsign_2``); Lee 2026's subscript is read
    as this k. k ≥ 1 keeps it C¹ at 0.
    """

    def __init__(self, k: Annotated[float, Field(ge=1.0)] = 1.0, a: PositiveFloat = 1.0, b: PositiveFloat = 1.0,
                 trainable: bool = False):
        super().__init__(a, b, trainable)
        self.k = float(k)

    def base(self, x: torch.Tensor) -> torch.Tensor:
        return softsign_k(x, self.k)


@register_activation("softsign_1")
class Softsign1(Softsign):
    """a·softsign_1(b·x) with softsign_1(x) = x/(1+|x|), f'(0) = 1 (Lee 2026, Table 1)."""

    def __init__(self, a: PositiveFloat = 1.0, b: PositiveFloat = 1.0, trainable: bool = False):
        super().__init__(1.0, a, b, trainable)


@register_activation("softsign_2")
class Softsign2(Softsign):
    """a·softsign_2(b·x) with softsign_2(x) = x/√(1+x²), f'(0) = 1 (Lee 2026, Table 1)."""

    def __init__(self, a: PositiveFloat = 1.0, b: PositiveFloat = 1.0, trainable: bool = False):
        super().__init__(2.0, a, b, trainable)


#: Lee 2026's Table 1 sum, softsign_1 + softsign_2 (ω = 1/2).
DEFAULT_TERMS: tuple[dict[str, Any], ...] = ({"name": "softsign_1"}, {"name": "softsign_2"})


@register_activation("sum")
class SumOddSigmoid(Activation):
    """Σ_j c_j·f_j(x) of odd sigmoids, c_j ≥ 0; 1/ω = Σ c_j/ω_j (Lee 2026, Corollary 1 and Eq. (1)).

    ``terms`` is a list of activation specs, each with an optional coefficient ``c`` (default 1), e.g.
    ``[{name: tanh, b: 10}, {name: erf, b: 1000}, {name: softsign_1, b: 10}, {name: gd}]`` is Lee 2026's
    Eq. (1) f(x) = tanh(ax) + erf(bx) + x/(1+|cx|) + gd(dx).
    """

    family = "odd_sigmoid"

    def __init__(self, terms: list[dict[str, Any]] = list(DEFAULT_TERMS)):  # noqa: B006 (never mutated)
        super().__init__()
        if not terms:
            raise ConfigError("terms", "needs at least one term")
        coefficients, modules = [], []
        for i, term in enumerate(terms):
            spec = dict(term)
            c = spec.pop("c", 1.0)
            if not isinstance(c, (int, float)) or isinstance(c, bool) or not math.isfinite(c) or c < 0:
                raise ConfigError(f"terms[{i}].c", f"got {c!r}; a finite coefficient ≥ 0 is required")
            act = build_activation(spec, f"terms[{i}]")
            if act.family != "odd_sigmoid":
                raise ConfigError(f"terms[{i}].name", f"'{spec.get('name')}' is not an odd sigmoid")
            coefficients.append(float(c))
            modules.append(act)
        if not any(coefficients):
            raise ConfigError("terms", "at least one coefficient c must be > 0")
        self.coefficients = coefficients
        self.terms = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(c * f(x) for c, f in zip(self.coefficients, self.terms))

    def slope_at_zero(self) -> float:
        """Σ c_j·f_j'(0) (each from its own closed form)."""
        return sum(c * f.slope_at_zero() for c, f in zip(self.coefficients, self.terms))


__all__ = ["OddSigmoid", "Erf", "Arctan", "Gudermannian", "Softsign", "Softsign1", "Softsign2",
           "SumOddSigmoid", "softsign_k"]
