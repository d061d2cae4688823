"""Knot-gathering initialization, KGI ('Enhancing Performance of Multilayer Perceptrons by
Knot-Gathering Initialization', preprint under review, Section 3; verified against the authors' code).

Applied layer by layer to pre-initialised Linear layers (W₀, b₀). Per layer one knot x̂ ∈ R^{N_{l−1}},
x̂_j ~ U(a, b) i.i.d., is shared by all neurons of the layer:

- bias mode (Eq. 3, 6):   b_KGI = −W₀x̂,  b* = α·b₀ + (1−α)·b_KGI;
- weight mode (Eq. 4–6):  W_p = −b₀x̂ᵀ/‖x̂‖², W_h = W₀ − (W₀x̂)x̂ᵀ/‖x̂‖², W_KGI = W_p + λ·W_h (so W_KGI x̂ = −b₀),
  W* = α·W₀ + (1−α)·W_KGI.

With α = 0 every neuron's hyperplane W x + b = 0 passes through x̂; α > 0 (perturbation factor, default 0.2)
spreads the knots again — by the pre-initialised b₀, which therefore must not be zero: with b₀ = 0 every
bias-mode hyperplane passes through the one point (1−α)·x̂ and every weight-mode hyperplane through the origin,
whatever α. As in the authors' code, a layer whose pre-initialised biases are all zero (Xavier/He defaults)
gets b₀ ~ U(−√(3/N_{l−1}), √(3/N_{l−1})) first (their "He uniform" redraw; ``zero_bias: keep`` turns it off).
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from ...core.errors import ConfigError
from ..activations.base import Activation
from .base import initialize, register_initializer

#: First-layer knot bounds. pinnit normalises inputs to [−1, 1]^d; the authors' code uses [0.2, 0.8] for
#: inputs scaled to [0, 1], whose affine image on [−1, 1] is [−0.6, 0.6] (a 20 % margin on each side).
INPUT_BOUNDS = (-0.6, 0.6)

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Margin = Annotated[float, Field(ge=0.0, lt=0.5)]


def knot_bias(weight: torch.Tensor, bias: torch.Tensor, knot: torch.Tensor, alpha: float) -> torch.Tensor:
    """Bias mode: α·b₀ + (1−α)·(−W₀x̂) (KGI preprint, Eqs. 3 and 6)."""
    return alpha * bias - (1 - alpha) * (weight @ knot)


def knot_weight(weight: torch.Tensor, bias: torch.Tensor, knot: torch.Tensor, alpha: float,
                lam: float) -> torch.Tensor:
    """Weight mode: α·W₀ + (1−α)·(W_p + λ·W_h) (KGI preprint, Eqs. 4–6)."""
    unit = knot / knot.dot(knot)
    particular = -torch.outer(bias, unit)
    homogeneous = weight - torch.outer(weight @ knot, unit)
    return alpha * weight + (1 - alpha) * (particular + lam * homogeneous)


def redraw_zero_bias(layer: nn.Linear, generator: torch.Generator) -> bool:
    """b₀ ~ U(±√(3/fan_in)) when every pre-initialised bias is zero (to machine precision), as the authors' code
    does before KGI; returns whether it redrew. Bias-free layers are left alone."""
    b = layer.bias
    if b is None or not bool((b.abs() < torch.finfo(b.dtype).eps).all()):
        return False
    bound = math.sqrt(3.0 / layer.in_features)
    u = torch.rand(b.shape, generator=generator, dtype=b.dtype, device=generator.device)
    b.copy_(((2 * u - 1) * bound).to(b.device))
    return True


def _checked(pair: Any, path: str) -> tuple[float, float]:
    if len(pair) != 2:
        raise ConfigError(path, f"expected [a, b], got {pair!r}")
    a, b = float(pair[0]), float(pair[1])
    if a > b:
        raise ConfigError(path, f"lower bound a = {a} exceeds upper bound b = {b}")
    return a, b


def _static_bounds(bounds: Any, count: int, activation: Activation) -> list[tuple[float, float]]:
    """One [a, b] per KGI layer: given for all, given per layer, or defaulted (the preprint's bounds)."""
    if bounds is None:
        return [INPUT_BOUNDS] + [activation.default_bounds()] * (count - 1)
    if bounds and not isinstance(bounds[0], (list, tuple)):
        return [_checked(bounds, "initializer.bounds")] * count
    if len(bounds) != count:
        raise ConfigError("initializer.bounds", f"got {len(bounds)} pairs for {count} KGI layers")
    return [_checked(pair, f"initializer.bounds[{i}]") for i, pair in enumerate(bounds)]


def data_range(batch: torch.Tensor, beta: float) -> tuple[float, float]:
    """[d_min + β(d_max − d_min), d_max − β(d_max − d_min)] over every entry of the batch (the authors' code)."""
    lo, hi = float(batch.min()), float(batch.max())
    return lo + beta * (hi - lo), hi - beta * (hi - lo)


@register_initializer("kgi")
def kgi(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
        pre: str | dict[str, Any] = "xavier_normal", mode: Literal["bias", "weight"] = "bias",
        alpha: Fraction = 0.2, lam: float = 1.0, bounds: list[list[float]] | list[float] | None = None,
        data_bounds: bool = False, beta: Margin = 0.1, apply_to: Literal["hidden", "all"] = "hidden",
        zero_bias: Literal["redraw", "keep"] = "redraw", sample: torch.Tensor | None = None) -> None:
    """Knot-gathering: after ``pre``, place each layer's hyperplanes through a shared random knot (KGI preprint).

    ``bounds``: one [a, b] for every KGI layer or one per layer; by default the first layer uses
    [−0.6, 0.6] (inputs are normalised to [−1, 1]; the image of the code's [0.2, 0.8] on [0, 1]) and later
    layers the preceding activation's ``default_bounds()`` (tanh [−0.8, 0.8], ReLU-like [0.2, 0.8], sigmoid
    [0.1, 0.9]). ``data_bounds: true`` instead propagates the ``sample`` batch layer by layer (LSUV-like)
    and uses each layer input's [min, max] shrunk by the margin ``beta``. ``apply_to: hidden`` (default, as
    in the authors' code) leaves the output layer as ``pre`` made it; ``all`` treats it too.
    ``zero_bias: redraw`` (default, the authors' code) gives a KGI layer whose ``pre`` biases are all zero
    b₀ ~ U(±√(3/fan_in)) before the knot is placed, so that α can spread the knots; ``keep`` leaves b₀ = 0
    (then every hyperplane of a layer shares one point).
    """
    initialize(layers, activation, generator, pre, "initializer.pre", sample=sample)
    targets = layers if apply_to == "all" else layers[:-1]
    if data_bounds and sample is None:
        raise ConfigError("initializer.data_bounds", "needs a sample batch of inputs (none was given)")
    static = None if data_bounds else _static_bounds(bounds, len(targets), activation)
    batch = sample
    for i, layer in enumerate(targets):
        if zero_bias == "redraw":
            redraw_zero_bias(layer, generator)
        lo, hi = data_range(batch, beta) if data_bounds else static[i]
        u = torch.rand(layer.in_features, generator=generator, dtype=layer.weight.dtype)
        knot = lo + (hi - lo) * u
        bias = layer.bias if layer.bias is not None else torch.zeros_like(layer.weight[:, 0])
        if mode == "bias":
            if layer.bias is None:
                raise ConfigError("initializer.mode", "bias mode needs layers with a bias; use mode: weight")
            layer.bias.copy_(knot_bias(layer.weight, bias, knot, alpha))
        else:
            layer.weight.copy_(knot_weight(layer.weight, bias, knot, alpha, lam))
        if data_bounds:
            batch = activation(layer(batch))
