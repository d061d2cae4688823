"""Edge-of-chaos (EOC) initialization: mean-field solver for any activation.

Mean-field maps for W ~ N(0, σ_w²/N_{l−1}), b ~ N(0, σ_b²) (Poole et al. 2016; Schoenholz et al. 2017,
Deep Information Propagation; Hayou et al., ICML 2019):

- length map q^l = σ_b² + σ_w²·E[φ(√q^{l−1} Z)²], fixed point q*;
- χ₁ = σ_w²·E[φ'(√q* Z)²]; the EOC is χ₁ = 1.

Parameterised by q = q*: σ_w²(q) = 1/E[φ'(√q Z)²] and σ_b²(q) = q − σ_w²(q)·E[φ(√q Z)²]; for a target
σ_b the solver root-finds σ_b²(q) = σ_b² in q and reads σ_w. Expectations use Gauss–Hermite quadrature
(probabilists' weight, 200 nodes; composite Gauss–Legendre for q > 3, see :func:`gaussian_nodes`); φ and φ'
come from the activation object via torch autograd in float64.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from numpy.polynomial import hermite_e
from pydantic import NonNegativeFloat
from scipy.optimize import brentq
from torch import nn

from ...core.errors import ConfigError
from ..activations.base import Activation
from .base import register_initializer
from .classical import init_gaussian

#: Gauss–Hermite nodes (≥ 100; even, so no node sits on a kink at 0).
NODES = 200
#: Largest variance q handled by Gauss–Hermite; wider Gaussians use composite Gauss–Legendre panels of width PANEL.
WIDE = 3.0
PANEL = 0.125


@lru_cache(maxsize=8)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and normalised weights w with Σ w g(z) ≈ E[g(Z)], Z ~ N(0, 1) (numpy's hermegauss, n ≤ ~500)."""
    z, w = hermite_e.hermegauss(n)
    return z, w / w.sum()


def gaussian_nodes(q: float, n: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes x and weights w with Σ w g(x) ≈ E[g(X)], X ~ N(0, q).

    Gauss–Hermite x = √q·z for q ≤ ``WIDE`` (error < 1e−13 for erf, checked against its closed forms).
    Wider Gaussians spread the Hermite nodes farther apart than the unit-scale features of a saturating φ,
    so there a composite 8-point Gauss–Legendre rule on panels of width 1/8 over |x| ≤ 12√q is used.
    """
    if q <= WIDE:
        z, w = gauss_hermite(n)
        return math.sqrt(q) * z, w
    half = 12 * math.sqrt(q)
    panels = math.ceil(2 * half / PANEL)
    t, v = np.polynomial.legendre.leggauss(8)
    left = -half + 2 * half / panels * np.arange(panels)
    x = (left[:, None] + (t[None, :] + 1) * half / panels).ravel()
    w = np.tile(v * half / panels, panels) * np.exp(-x**2 / (2 * q)) / math.sqrt(2 * math.pi * q)
    return x, w


def value_and_slope(activation: Activation, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """φ(x) and φ'(x) element-wise, in float64, by autograd through the activation object."""
    t = torch.as_tensor(x, dtype=torch.float64).requires_grad_(True)
    with torch.enable_grad():
        y = activation(t)
        (g,) = torch.autograd.grad(y.sum(), t)
    return y.detach().numpy(), g.numpy()


def gaussian_moments(activation: Activation, q: float) -> tuple[float, float]:
    """(E[φ(√q Z)²], E[φ'(√q Z)²]) for Z ~ N(0, 1), by :func:`gaussian_nodes` quadrature."""
    x, w = gaussian_nodes(q)
    phi, dphi = value_and_slope(activation, x)
    return float(w @ phi**2), float(w @ dphi**2)


def chi1(activation: Activation, sigma_w: float, q: float) -> float:
    """χ₁ = σ_w²·E[φ'(√q Z)²], the mean-field per-layer gradient/perturbation growth factor."""
    return sigma_w**2 * gaussian_moments(activation, q)[1]


class EOCPoint(NamedTuple):
    """A point on the EOC curve: σ_w, σ_b and the fixed point q* of the length map."""

    sigma_w: float
    sigma_b: float
    q_star: float


def _reject(activation: Activation, path: str) -> None:
    if activation.family == "normalizing":
        raise ConfigError(path, f"EOC needs an element-wise activation, not '{type(activation).__name__}'")


def eoc_point(activation: Activation, sigma_b: float = 0.0, path: str = "sigma_b") -> EOCPoint:
    """The EOC point (σ_w, σ_b, q*) of ``activation`` for the bias scale ``sigma_b``.

    Special cases at σ_b = 0: a positively homogeneous φ (ReLU, leaky ReLU) has
    σ_b²(q) ≡ 0, so its point is σ_w = 1/√E[φ'(Z)²] (√2 for ReLU) with every q a fixed point (``q_star``
    is NaN); otherwise φ(0) = 0 and φ'(0) ≠ 0 (every odd φ) give q* = 0 and σ_w = 1/|φ'(0)| = |ω|.
    In general the first sign change of σ_b²(q) − σ_b² on a log grid q ∈ [1e−10, 1e4] is refined by
    Brent's method.
    """
    _reject(activation, path)
    if sigma_b < 0:
        raise ConfigError(path, f"got {sigma_b}; σ_b ≥ 0 is required")

    def gap(q: float) -> float:
        second, slope2 = gaussian_moments(activation, q)
        return q - second / slope2 - sigma_b**2 if slope2 > 0 else math.nan

    if sigma_b == 0 and all(abs(gap(q)) <= 1e-12 * q for q in (0.5, 1.0, 2.0)):  # homogeneous: σ_b²(q) ≡ 0
        return EOCPoint(1.0 / math.sqrt(gaussian_moments(activation, 1.0)[1]), 0.0, math.nan)
    phi0, slope0 = value_and_slope(activation, np.zeros(1))
    if sigma_b == 0 and phi0[0] == 0 and slope0[0] != 0:
        return EOCPoint(1.0 / abs(float(slope0[0])), 0.0, 0.0)
    grid = np.logspace(-10, 4, 85)
    previous = gap(grid[0])
    for lo, hi in zip(grid[:-1], grid[1:]):
        current = gap(hi)
        if previous * current <= 0:
            q_star = float(brentq(gap, lo, hi, xtol=1e-15, rtol=1e-14))
            return EOCPoint(1.0 / math.sqrt(gaussian_moments(activation, q_star)[1]), float(sigma_b), q_star)
        previous = current
    raise ConfigError(path, f"no edge-of-chaos point with σ_b = {sigma_b} for {type(activation).__name__}: "
                            f"σ_b²(q) = q − E[φ²]/E[φ'²] never reaches {sigma_b**2:.6g} for q in [1e−10, 1e4]")


@register_initializer("eoc")
def eoc(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
        sigma_b: NonNegativeFloat = 0.0) -> None:
    """Edge of chaos: W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) with σ_w solved from χ₁ = 1 (Schoenholz et al. 2017).

    The baseline of Lee 2026 (Hayou et al. 2019); σ_w comes from :func:`eoc_point` for the given σ_b, for
    any element-wise activation (odd φ at σ_b = 0: σ_w = ω; ReLU: √2).
    """
    point = eoc_point(activation, sigma_b, "initializer.sigma_b")
    init_gaussian(layers, generator, point.sigma_w, point.sigma_b)
