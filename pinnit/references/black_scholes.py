"""Closed-form European option prices for the Black–Scholes problem.

Convention: **tau is the time to maturity.**  Lee, 'Beyond Gaussian Initializations', 2026 writes the equation as
V_t + 1/2 sigma^2 S^2 V_SS + r S V_S - r V = 0 together with an "initial condition"
V(S, 0) = max(S - K, 0).  A payoff prescribed at t = 0 is only well posed if t is time to maturity,
so pinnit uses the forward-in-tau form::

    V_tau = 1/2 sigma^2 S^2 V_SS + r S V_S - r V,    V(S, 0) = max(S - K, 0)   (call),
    S in [0, 1], tau in [0, 1], K = 0.5, sigma = 0.2, r = 0.05.

Exact solution (Black & Scholes 1973; Hull, *Options, Futures and Other Derivatives*)::

    d1 = (ln(S/K) + (r + sigma^2/2) tau) / (sigma sqrt(tau)),   d2 = d1 - sigma sqrt(tau),
    call  V = S Phi(d1) - K e^{-r tau} Phi(d2),
    put   V = K e^{-r tau} Phi(-d2) - S Phi(-d1).

Limits are taken explicitly (no warnings, no NaN): tau = 0 gives the payoff max(S-K, 0) /
max(K-S, 0) exactly; S = 0 gives 0 (call) / K e^{-r tau} (put).

Boundaries used by the PINN problem: V(0, tau) = 0 and V(S_max, tau) ~ S_max - K e^{-r tau}.  The
latter is an approximation: the exact call exceeds it by the put value P(S_max, tau) (put–call
parity).  For the defaults (S_max = 1 = 2K, sigma = 0.2, r = 0.05, tau <= 1) that gap grows
with tau and is largest at tau = 1: 3.3e-6 absolute, 6.4e-6 relative to V(1, 1) ~ 0.524.  Over the
201 x 201 grid the truncated problem's solution is off this price by 6.4e-7 relative L2 at the defaults and
by 8.1e-6 at K = 0.4, sigma = 0.3, r = 0.03 (gap 4.1e-5 at tau = 1): floors for any PINN solving it, which is
why the accurate recipe uses ``boundary: exact`` (the put's price P(S_max, tau) added to the far boundary).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["black_scholes_price", "black_scholes_grid"]


def black_scholes_price(
    S: np.ndarray | float,
    tau: np.ndarray | float,
    K: float = 0.5,
    sigma: float = 0.2,
    r: float = 0.05,
    kind: str = "call",
) -> np.ndarray:
    """European call/put price V(S, tau), tau = time to maturity; numpy broadcasting over S and tau.

    Call: S Phi(d1) - K e^{-r tau} Phi(d2);  put: K e^{-r tau} Phi(-d2) - S Phi(-d1).
    tau = 0 -> payoff (exact), S = 0 -> 0 (call) / K e^{-r tau} (put).  Requires S >= 0, tau >= 0,
    K > 0, sigma > 0.  Phi is ``scipy.special.ndtr`` (accurate in both tails: Phi(-d) is evaluated
    directly, never as 1 - Phi(d)).
    """
    if kind not in ("call", "put"):
        raise ValueError(f"kind must be 'call' or 'put', got {kind!r}")
    if not (K > 0 and sigma > 0):
        raise ValueError("K and sigma must be positive")
    S, tau = np.broadcast_arrays(np.asarray(S, dtype=float), np.asarray(tau, dtype=float))
    if np.any(S < 0) or np.any(tau < 0):
        raise ValueError("S and tau must be non-negative")
    disc = K * np.exp(-r * tau)
    regular = (S > 0) & (tau > 0)
    # Safe placeholders outside the regular set; those entries are overwritten below.
    S_ = np.where(regular, S, 1.0)
    tau_ = np.where(regular, tau, 1.0)
    vol = sigma * np.sqrt(tau_)
    d1 = (np.log(S_ / K) + (r + 0.5 * sigma ** 2) * tau_) / vol
    d2 = d1 - vol
    if kind == "call":
        v = S * ndtr(d1) - disc * ndtr(d2)
        v = np.where(tau == 0, np.maximum(S - K, 0.0), v)
        v = np.where(S == 0, 0.0, v)
    else:
        v = disc * ndtr(-d2) - S * ndtr(-d1)
        v = np.where(tau == 0, np.maximum(K - S, 0.0), v)
        v = np.where((S == 0) & (tau > 0), disc, v)
    return v[()] if v.ndim == 0 else v


def black_scholes_grid(n_S: int = 201, n_tau: int = 201, S_max: float = 1.0, tau_max: float = 1.0):
    """Uniform evaluation grid (e.g. 201 x 201): returns S, tau 1-D arrays.

    Evaluate with ``black_scholes_price(S[:, None], tau[None, :])`` -> V[i, j] = V(S_i, tau_j).
    """
    return np.linspace(0.0, S_max, n_S), np.linspace(0.0, tau_max, n_tau)
