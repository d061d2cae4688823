"""Signal-preserving diagonal-plus-noise initializers (Lee, 'Beyond Gaussian Initializations', 2026, 'Proposed
Weight Initialization').

W = D + Z with D_ij = d if j ≡ i (mod N_{l−1}) else 0 (for N_l ≤ N_{l−1}: D = [d·I | 0]; for N_l > N_{l−1}
stacked identities, output i copies input i mod N_{l−1}) and Z_ij ~ N(0, s²/N_{l−1}); zero biases; the
same construction for every Linear layer, first and output included.
"""
from __future__ import annotations

import math
from typing import Annotated

import torch
from pydantic import Field, PositiveFloat
from scipy.special import ndtri_exp
from torch import nn

from ...core.errors import ConfigError
from ..activations.base import Activation
from .base import register_initializer
from .classical import init_bias, normal

Rate = Annotated[float, Field(gt=0.0, lt=0.5)]


def diagonal_plus_noise(layers: list[nn.Linear], generator: torch.Generator, diagonal: float, noise: float) -> None:
    """W = diagonal·D + Z with D_ij = 1 if j ≡ i (mod fan_in), Z_ij ~ N(0, noise²/fan_in); b = 0."""
    for layer in layers:
        fan_out, fan_in = layer.weight.shape
        w = normal(layer.weight.shape, noise / math.sqrt(fan_in), generator, layer.weight)
        rows = torch.arange(fan_out)
        w[rows, rows % fan_in] += diagonal
        layer.weight.copy_(w)
        init_bias(layer, generator)


def log_target_rate(depth: int) -> float:
    """log ρ(L) for ρ(L) = min(0.4, 2.05·e^{−0.133·L}), the continuous reading of Lee 2026's rule
    (our reading): the talk writes 0.4 for L ≤ 10 and 2.05·e^{−0.133L} beyond, which jumps up
    at L = 11 (0.475 > 0.4). In log form so that very deep stacks (ρ below the float range) stay exact."""
    return min(math.log(0.4), math.log(2.05) - 0.133 * depth)


def target_rate(depth: int) -> float:
    """ρ(L) = min(0.4, 2.05·e^{−0.133·L}) (see :func:`log_target_rate`)."""
    return math.exp(log_target_rate(depth))


def proposed_sigma_z(omega: float, L: int, rho: float | None = None) -> float:
    """σ_z = −ω/Φ⁻¹((1 − (1−2ρ)^{1/L})/2), sign-flip rate ρ after L gains N(ω, σ_z²) (Lee 2026; derived here).

    Per-layer negative-gain rate p = Φ(−ω/σ_z); after L layers the flip probability is
    π_L = (1 − (1−2p)^L)/2, and π_L = ρ solves for σ_z. ``rho`` defaults to :func:`target_rate`.
    Evaluated in log space — p = −expm1(log1p(−2ρ)/L)/2, or log p = log ρ − log L once ρ underflows, and
    Φ⁻¹ from log p (``ndtri_exp``) — so that σ_z stays exact at depths of 10⁴ and beyond.
    """
    if L < 1:
        raise ValueError(f"depth L must be ≥ 1, got {L}")
    if rho is not None and not 0 < rho < 0.5:
        raise ValueError(f"target sign-flip rate ρ must lie in (0, 0.5), got {rho}")
    log_rho = log_target_rate(L) if rho is None else math.log(rho)
    if log_rho > -700:
        log_p = math.log(-math.expm1(math.log1p(-2 * math.exp(log_rho)) / L) / 2)
    else:  # (1 − 2ρ)^{1/L} = 1 − 2ρ/L + O(ρ²): p = ρ/L
        log_p = log_rho - math.log(L)
    return -abs(omega) / float(ndtri_exp(log_p))


def _critical_scale(activation: Activation) -> float:
    omega = activation.omega
    if not math.isfinite(omega) or omega <= 0:
        raise ConfigError("initializer", f"'proposed' needs f'(0) > 0 (an odd sigmoid); {type(activation).__name__} "
                                         f"has ω = 1/f'(0) = {omega}")
    return omega


@register_initializer("proposed")
def proposed(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
             rho: Rate | None = None, sigma_z: PositiveFloat | None = None) -> None:
    """Signal-preserving W = D + Z with D = ω·(identity pattern), Z ~ N(0, σ_z²/fan_in), b = 0 (Lee 2026).

    ω = 1/f'(0) comes from the activation. σ_z = :func:`proposed_sigma_z` (ω, L, ρ) with L = the number of
    Linear layers in the stack (Lee 2026 writes x^ℓ = f(W^ℓ x^{ℓ−1} + b^ℓ) for ℓ = 1…L, and every Linear
    layer, output included, contributes one gain along a path); ``rho`` overrides the target rate ρ(L),
    ``sigma_z`` overrides σ_z altogether (it is then used as given, not scaled by ω).
    """
    omega = _critical_scale(activation)
    noise = sigma_z if sigma_z is not None else proposed_sigma_z(omega, len(layers), rho)
    diagonal_plus_noise(layers, generator, omega, noise)


@register_initializer("tanh_init")
def tanh_init(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
              sigma: PositiveFloat = 0.085) -> None:
    """Lee et al. 2024 tanh initialization: W = D + Z, D of ones, Z ~ N(0, (σ/√fan_in)²), σ = 0.085, b = 0.

    The authors' earlier method ('Robust weight initialization for tanh neural networks with fixed point
    analysis', Lee, Choi & Kim, ICLR 2025).
    """
    diagonal_plus_noise(layers, generator, 1.0, sigma)
