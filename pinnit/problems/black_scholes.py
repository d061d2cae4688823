"""Black–Scholes European option in time-to-maturity form (the PINN of Lee 2026)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch
from pydantic import PositiveFloat, NonNegativeFloat

from ..derivatives.fields import Fields
from ..geometry.regions import Box, Region
from .base import Problem, Term, register_problem


@register_problem("black_scholes")
class BlackScholes(Problem):
    """Black–Scholes V_τ = ½σ²S²V_SS + rSV_S − rV, τ = time to maturity, payoff at τ = 0 (Lee 2026).

    Lee 2026 writes V_t + ½σ²S²V_SS + rSV_S − rV = 0 with the payoff as an *initial* condition, which
    is well posed only when t is the time to maturity τ; pinnit solves that forward-in-τ form on
    S ∈ [0, S_max], τ ∈ [0, T]. Call: V(S,0) = max(S−K,0), V(0,τ) = 0, V(S_max,τ) = S_max − K e^{−rτ};
    put: V(S,0) = max(K−S,0), V(0,τ) = K e^{−rτ}, V(S_max,τ) = 0 (``boundary: exact`` uses the exact price
    on S = S_max instead). Reference: the closed-form Black–Scholes price, which the asymptotic far boundary
    misses by the put's price P(S_max, τ) (put–call parity): the truncated problem's solution is off the closed
    form by 6.4e-7 relative L2 at the defaults and 8.1e-6 at K 0.4, σ 0.3, r 0.03 (Crank–Nicolson on the
    difference), so the accurate recipe uses ``boundary: exact``.
    Hard constraints satisfy both boundaries: V = B(S,τ) + S·(S_max−S)·N, B = (1−S/S_max)·g₀(τ) + (S/S_max)·g₁(τ)
    with g₀, g₁ the boundary values. ``hard_initial: true`` also builds in the payoff,
    V = A(S,τ) + τ·S·(S_max−S)·N with A = payoff(S) + (1−S/S_max)(g₀(τ)−g₀(0)) + (S/S_max)(g₁(τ)−g₁(0)) — but
    then the kink of the payoff is never smoothed: autograd sees payoff'' (a Dirac delta at S = K) as 0, so the
    residual is blind to it and the PINN keeps a wrong kink for all τ (measured: 3 % relative L2). Off by default.
    ``hard_initial: smoothed`` builds it in through the heat-kernel-smoothed payoff instead
    (:meth:`smoothed_payoff_expression`): configs/black_scholes.yaml reaches 5e-8 – 7e-8 with it.
    """

    inputs = ("S", "tau")
    outputs = ("V",)
    time_input = "tau"

    def __init__(self, *, K: PositiveFloat = 0.5, sigma: PositiveFloat = 0.2, r: NonNegativeFloat = 0.05,
                 S_max: PositiveFloat = 1.0, T: PositiveFloat = 1.0, option: Literal["call", "put"] = "call",
                 boundary: Literal["asymptotic", "exact"] = "asymptotic",
                 hard_initial: bool | Literal["smoothed"] = False):
        self.K, self.sigma, self.r, self.S_max, self.T = K, sigma, r, S_max, T
        self.option, self.boundary, self.hard_initial = option, boundary, hard_initial
        self.hard_terms = ("initial", "boundary") if hard_initial else ("boundary",)

    @property
    def domain(self) -> Box:
        return {"S": (0.0, self.S_max), "tau": (0.0, self.T)}

    def default_resolution(self) -> list[int]:
        return [201, 201]

    def payoff(self, S: torch.Tensor) -> torch.Tensor:
        return torch.relu(S - self.K) if self.option == "call" else torch.relu(self.K - S)

    def _price_np(self, S, tau) -> np.ndarray:
        from ..references.black_scholes import black_scholes_price

        return black_scholes_price(S, tau, K=self.K, sigma=self.sigma, r=self.r, kind=self.option)

    def boundary_values(self, tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(g₀(τ), g₁(τ)): V at S = 0 and at S = S_max."""
        disc = self.K * torch.exp(-self.r * tau)
        g0 = torch.zeros_like(tau) if self.option == "call" else disc
        if self.boundary == "exact":
            g1 = torch.as_tensor(self._price_np(self.S_max, tau.detach().cpu().double().numpy()),
                                 dtype=tau.dtype, device=tau.device)
        else:
            g1 = self.S_max - disc if self.option == "call" else torch.zeros_like(tau)
        return g0, g1

    def terms(self) -> list[Term]:
        box, s2, r = self.domain, 0.5 * self.sigma**2, self.r

        def pde(f: Fields) -> torch.Tensor:
            S = f["S"]
            return f["V_tau"] - (s2 * S**2 * f["V_SS"] + r * S * f["V_S"] - r * f["V"])

        def initial(f: Fields) -> torch.Tensor:
            return f["V"] - self.payoff(f["S"])

        def boundary(f: Fields) -> torch.Tensor:
            g0, g1 = self.boundary_values(f["tau"])
            return f["V"] - torch.where(f["S"] < 0.5 * self.S_max, g0, g1)

        return [
            Term("pde", "physics", Region(box), pde, points=8192),
            Term("initial", "initial", Region(box, ({"tau": 0.0},)), initial, points=512),
            Term("boundary", "boundary", Region(box, ({"S": 0.0}, {"S": self.S_max})), boundary, points=256),
        ]

    def far_put_expression(self) -> str:
        """The put's closed-form price at S = S_max as an expression in τ (Black & Scholes 1973):
        P = K e^{−rτ} Φ(−d₂) − S_max Φ(−d₁), Φ(−d) = erfc(d/√2)/2, d₁ = (ln(S_max/K) + (r + σ²/2)τ)/(σ√τ),
        d₂ = d₁ − σ√τ. τ is floored at 1e-12 so that P and its τ-derivatives stay finite at τ = 0."""
        ts = "Max(tau, 1e-12)"
        d1 = f"(log(S_max/K) + (r + sigma**2/2)*{ts})/(sigma*sqrt({ts}))"
        d2 = f"({d1} - sigma*sqrt({ts}))"
        return f"(K*exp(-r*{ts})*erfc({d2}/sqrt(2))/2 - S_max*erfc({d1}/sqrt(2))/2)"

    def smoothed_payoff_expression(self, S: str = "S") -> str:
        """The payoff smoothed by the heat kernel of the equation frozen at the strike, as an expression in S, τ:
        the Bachelier price P = m Φ(m/w) + w φ(m/w), m = S − K (call) or K − S (put), w = σK√τ (Bachelier 1900;
        its τ = 0 limit is the payoff). It solves P_τ = ½σ²K² P_SS, so the Black–Scholes residual of P,
        ½σ²(K² − S²) P_SS − rS P_S + rP, stays bounded at the strike as τ → 0 (P_SS ~ 1/√τ meets K² − S² → 0).
        τ is floored at 1e-14 (P then equals the payoff to 4e-9)."""
        m = f"({S} - K)" if self.option == "call" else f"(K - {S})"
        w = "(sigma*K*sqrt(Max(tau, 1e-14)))"
        return f"({m}*(1 + erf({m}/({w}*sqrt(2))))/2 + {w}*exp(-({m}/{w})**2/2)/sqrt(2*pi))"

    def transform_expressions(self) -> dict[str, str]:
        """The hard-constraint transform (class docstring) as an expression. ``boundary: exact`` adds
        (S/S_max)·P(S_max, τ), the put's price at S_max (:meth:`far_put_expression`): by put–call parity the
        call's price there is S_max − K e^{−rτ} + P, the put's is P. Written as an expression, its τ-derivatives
        enter the residual like the rest of the transform (the jets engines and autograd alike)."""
        if self.hard_initial == "smoothed":
            return {"V": self._smoothed_transform()}
        bubble = "S*(S_max - S)*V" if not self.hard_initial else "tau*S*(S_max - S)*V"
        if self.option == "call":  # B = (S/S_max)(S_max − K e^{−rτ});  A = payoff + (S/S_max)(K − K e^{−rτ})
            lift = ("S/S_max*(S_max - K*exp(-r*tau))" if not self.hard_initial
                    else "Max(S - K, 0) + S/S_max*(K - K*exp(-r*tau))")
        else:  # B = (1 − S/S_max) K e^{−rτ};  A = payoff + (1 − S/S_max)(K e^{−rτ} − K)
            lift = ("(1 - S/S_max)*K*exp(-r*tau)" if not self.hard_initial
                    else "Max(K - S, 0) + (1 - S/S_max)*(K*exp(-r*tau) - K)")
        if self.boundary == "exact":
            lift += f" + S/S_max*{self.far_put_expression()}"
        return {"V": f"{lift} + {bubble}"}

    def _smoothed_transform(self) -> str:
        """V = P(S, τ) + (1 − S/S_max)(g₀ − P(0, τ)) + (S/S_max)(g₁ − P(S_max, τ)) + τ·S·(S_max − S)·N with P the
        smoothed payoff: every condition holds exactly (P(·, 0) is the payoff) and N learns a remainder whose
        source is bounded, instead of the payoff's kink."""
        disc = "K*exp(-r*tau)"
        g0, g1 = ("0", f"(S_max - {disc})") if self.option == "call" else (disc, "0")
        if self.boundary == "exact":
            g1 = f"({g1} + {self.far_put_expression()})"
        P = self.smoothed_payoff_expression
        return (f"{P('S')} + (1 - S/S_max)*({g0} - {P('0')}) + S/S_max*({g1} - {P('S_max')})"
                " + tau*S*(S_max - S)*V")

    def transform_parameters(self) -> dict[str, float]:
        return {"K": self.K, "r": self.r, "S_max": self.S_max, "sigma": self.sigma}

    def reference(self, axes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"V": self._price_np(axes["S"][:, None], axes["tau"][None, :])}
