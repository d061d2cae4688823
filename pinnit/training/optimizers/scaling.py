"""Self-scaled Broyden-class updates of a dense inverse Hessian H ≈ (∇²f)⁻¹.

With s = x_{k+1} − x_k, y = g_{k+1} − g_k, ρ = 1/(yᵀs) and v = ρ s − H y / (yᵀH y), every method here is

    H_{k+1} = (1/τ_k) [ H − H y yᵀH / (yᵀH y) + φ_k (yᵀH y) v vᵀ ] + ρ s sᵀ                       (U)

(the self-scaled Broyden class; Urbán, Stefanou & Pons, JCP 2024, §2, in the form of their reference
code, github.com/jorgeurban/self_scaled_algorithms_pinns, ``modified_optimize.py``). φ = 1 is BFGS,
φ = 0 DFP; τ = 1 is unscaled. (U) satisfies the secant equation H_{k+1} y = s for every τ, φ.
The coefficients use the scalars (with B = H⁻¹ and B s = −t g_k, so sᵀB s = −t sᵀg_k):

    b_k = sᵀB s / sᵀy = −t sᵀg_k / sᵀy,    h_k = yᵀH y / sᵀy,    a_k = b_k h_k − 1 ≥ 0.

* ``bfgs``:  τ = 1, φ = 1.
* ``ssbfgs`` (Al-Baali's self-scaling, Urbán et al. eq. 11 — "SSBFGS_AB" in their code): τ = min(1, 1/b_k),
  φ = 1 (M. Al-Baali, "Numerical experience with a class of self-scaling quasi-Newton algorithms",
  JOTA 96, 1998).
* ``ssbroyden`` (Urbán et al. eqs. 13–23, "SSBroyden2" in their code; also the SSBroyden of Kiyani et al.,
  CMAME 2025): with n the number of parameters,

      ρ⁻ = min(1, h (1 − √(a/(1+a)))),   θ⁻ = (ρ⁻ − 1)/a,   θ⁺ = 1/ρ⁻,
      θ = max(θ⁻, min(θ⁺, (1 − b)/b)),   σ = 1 + a θ,   ρ̃ = min(1, 1/b),
      τ = min(ρ̃ σ^{1/(1−n)}, σ)  if θ ≤ 0,    τ = ρ̃ min(σ^{1/(1−n)}, 1/θ)  if θ > 0,
      φ = (1 − θ)/(1 + a θ).

  Guards (ours): when a ≤ 1e-14 (y ∥ B s: the Broyden class collapses to one update, v = 0) we take θ = 0,
  which the formulas above give as their limit (σ = 1, τ = ρ̃, φ = 1); for n = 1 we take σ^{1/(1−n)} = 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Curvature:
    """The scalars b_k, h_k (and a_k = b_k h_k − 1) of one step."""

    b: float
    h: float

    @property
    def a(self) -> float:
        return max(self.b * self.h - 1.0, 0.0)  # ≥ 0 by Cauchy–Schwarz; clip round-off


def bfgs_coefficients(c: Curvature, n: int) -> tuple[float, float]:
    """(τ, φ) = (1, 1): the BFGS inverse update."""
    return 1.0, 1.0


def ssbfgs_coefficients(c: Curvature, n: int) -> tuple[float, float]:
    """Al-Baali's self-scaled BFGS: τ = min(1, 1/b_k), φ = 1 (Urbán et al. 2024, eq. 11)."""
    return min(1.0, 1.0 / c.b), 1.0


def ssbroyden_theta(c: Curvature) -> float:
    """θ_k = max(θ⁻, min(θ⁺, (1 − b)/b)) (Urbán et al. 2024, eqs. 13–23)."""
    a, b, h = c.a, c.b, c.h
    if a <= 1e-14:
        return 0.0
    rho_minus = min(1.0, h * (1.0 - math.sqrt(a / (1.0 + a))))
    theta_minus = (rho_minus - 1.0) / a
    theta_plus = 1.0 / rho_minus
    return max(theta_minus, min(theta_plus, (1.0 - b) / b))


def ssbroyden_coefficients(c: Curvature, n: int) -> tuple[float, float]:
    """Self-scaled Broyden: τ_k and φ_k from θ_k (Urbán et al. 2024, eqs. 13–23)."""
    theta = ssbroyden_theta(c)
    a = c.a
    sigma = 1.0 + a * theta
    rho_tilde = min(1.0, 1.0 / c.b)
    sigma_n = abs(sigma) ** (1.0 / (1.0 - n)) if n > 1 else 1.0
    tau = min(rho_tilde * sigma_n, sigma) if theta <= 0 else rho_tilde * min(sigma_n, 1.0 / theta)
    phi = (1.0 - theta) / (1.0 + a * theta)
    return tau, phi


COEFFICIENTS = {"bfgs": bfgs_coefficients, "ssbfgs": ssbfgs_coefficients, "ssbroyden": ssbroyden_coefficients}


def curvature(H: torch.Tensor, s: torch.Tensor, y: torch.Tensor, g: torch.Tensor, t: float,
              Hy: torch.Tensor | None = None) -> Curvature:
    """b_k = −t sᵀg_k / sᵀy and h_k = yᵀH y / sᵀy for the step s = t d taken from gradient g_k."""
    sy = float(s @ y)
    Hy = H @ y if Hy is None else Hy
    return Curvature(b=-t * float(s @ g) / sy, h=float(y @ Hy) / sy)


def update_inverse_hessian(H: torch.Tensor, s: torch.Tensor, y: torch.Tensor, Hy: torch.Tensor,
                           tau: float, phi: float) -> None:
    """Apply (U) to ``H`` in place, as one rank-3 ``addmm_`` (a single pass over the n² entries):
    H ← H/τ + [Hy v s] diag(−1/(τ yᵀHy), φ yᵀHy/τ, ρ) [Hy v s]ᵀ."""
    sy = float(s @ y)
    yHy = float(y @ Hy)
    v = s / sy - Hy / yHy
    U = torch.stack([Hy, v, s], dim=1)
    c = torch.tensor([-1.0 / (tau * yHy), phi * yHy / tau, 1.0 / sy], dtype=H.dtype, device=H.device)
    H.addmm_(U, (U * c).T, beta=1.0 / tau)
