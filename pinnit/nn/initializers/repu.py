"""Gaussian initialization and susceptibilities for (M)RePU networks ('Why Rectified Power Unit Networks
Fail and How to Improve It: An Effective Theory Perspective').

Roberts–Yaida conventions: W ~ N(0, C_W/n_in), b ~ N(0, C_b), pre-activations z ~ N(0, K):
χ_∥(K) = C_W/(2K²)·E[σ(z)²(z² − K)] and χ_⊥(K) = C_W·E[σ'(z)²]. Criticality needs both equal to 1.
"""
from __future__ import annotations

import math

import torch
from pydantic import NonNegativeFloat, PositiveFloat
from torch import nn

from ..activations.base import Activation
from .base import register_initializer
from .classical import init_gaussian
from .eoc import gaussian_nodes, value_and_slope

def susceptibilities(activation: Activation, K: float, c_w: float = 1.0) -> tuple[float, float]:
    """(χ_∥, χ_⊥) at kernel K by Gaussian quadrature (RePU paper, Eqs. (5) and (7); :func:`gaussian_nodes`).

    Against adaptive quadrature split at the kink, 200 Hermite nodes give MRePU_2's χ_∥/χ_⊥ to ~1e−6 relative.
    """
    x, w = gaussian_nodes(K)
    phi, dphi = value_and_slope(activation, x)
    parallel = c_w / (2 * K**2) * float(w @ (phi**2 * (x**2 - K)))
    perpendicular = c_w * float(w @ dphi**2)
    return parallel, perpendicular


def double_factorial(n: int) -> int:
    """n!! with (−1)!! = 0!! = 1."""
    return math.prod(range(n, 0, -2)) if n > 0 else 1


def repu_susceptibilities(p: int, K: float, c_w: float = 1.0) -> tuple[float, float]:
    """RePU_p closed forms (derived here): χ_∥ = C_W·p(2p−1)!!/2·K^{p−1}, χ_⊥ = C_W·p²(2p−3)!!/2·K^{p−1}."""
    return (c_w * p * double_factorial(2 * p - 1) / 2 * K ** (p - 1),
            c_w * p**2 * double_factorial(2 * p - 3) / 2 * K ** (p - 1))


@register_initializer("repu_gaussian")
def repu_gaussian(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
                  c_w: PositiveFloat = 1.0, c_b: NonNegativeFloat = 0.0) -> None:
    """Roberts–Yaida Gaussian for (M)RePU: W ~ N(0, C_W/fan_in), b ~ N(0, C_b) (RePU paper, Section 2).

    C_W is empirical in the paper (0.45 for the MRePU p = 2 Burgers PINN; 0.5–1.0 in regressions).
    """
    init_gaussian(layers, generator, math.sqrt(c_w), math.sqrt(c_b))


__all__ = ["double_factorial", "repu_gaussian", "repu_susceptibilities", "susceptibilities"]
