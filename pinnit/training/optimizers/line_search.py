"""A strong-Wolfe line search (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Alg. 3.5 + 3.6).

Finds a step t > 0 along a descent direction d with

    f(x + t d) ≤ f(x) + c₁ t ∇f(x)ᵀd                (sufficient decrease, N&W eq. 3.7a)
    |∇f(x + t d)ᵀd| ≤ c₂ |∇f(x)ᵀd|                  (strong curvature,   N&W eq. 3.7b)

with 0 < c₁ < c₂ < 1. Trial steps come from the minimiser of the cubic that interpolates two points'
values and slopes (N&W eq. 3.59), safeguarded so each zoom step shrinks the bracket. On a quadratic that
cubic is exact, so with a small c₂ the search returns the exact minimiser along d. A non-finite f(x + t d)
is treated as "too far" and the bracket is bisected.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

#: φ(t) → (f(x + t d), ∇f(x + t d), ∇f(x + t d)ᵀd)
LineFunction = Callable[[float], tuple[float, torch.Tensor, float]]


@dataclass
class LineSearchResult:
    """The accepted step (or, on failure, the best step with sufficient decrease found, possibly 0)."""

    t: float
    f: float
    g: torch.Tensor
    gtd: float
    evals: int
    success: bool
    reason: str = ""


def cubic_minimizer(t1: float, f1: float, d1: float, t2: float, f2: float, d2: float,
                    lo: float, hi: float) -> float:
    """Minimiser of the cubic through (t1, f1, f'=d1), (t2, f2, f'=d2), clamped to [lo, hi] (N&W eq. 3.59);
    the midpoint of [lo, hi] when the cubic has no real minimiser or the data are not finite."""
    mid = 0.5 * (lo + hi)
    if not all(math.isfinite(v) for v in (t1, f1, d1, t2, f2, d2)) or t1 == t2:
        return mid
    e1 = d1 + d2 - 3.0 * (f1 - f2) / (t1 - t2)
    disc = e1 * e1 - d1 * d2
    if disc < 0:
        return mid
    e2 = math.copysign(math.sqrt(disc), t2 - t1)
    denom = d2 - d1 + 2.0 * e2
    if denom == 0:
        return mid
    t = t2 - (t2 - t1) * (d2 + e2 - e1) / denom
    return min(max(t, lo), hi) if math.isfinite(t) else mid


@dataclass
class _Point:
    t: float
    f: float
    g: torch.Tensor
    d: float


def strong_wolfe(phi: LineFunction, f0: float, g0: torch.Tensor, gtd0: float, t: float, *, c1: float = 1e-4,
                 c2: float = 0.9, max_evals: int = 25, tolerance_change: float = 1e-16,
                 max_step: float = 1e20) -> LineSearchResult:
    """Search along a descent direction (``gtd0 < 0``) from the trial step ``t``; at most ``max_evals``
    evaluations of ``phi``. ``success`` is False when no strong-Wolfe step was found: the result is then the
    lowest point found that satisfies sufficient decrease (``t = 0`` if none)."""
    if not gtd0 < 0:
        raise ValueError(f"not a descent direction: gradient·direction = {gtd0}")
    evals = 0
    prev = _Point(0.0, f0, g0, gtd0)

    def armijo(p: _Point) -> bool:
        return math.isfinite(p.f) and p.f <= f0 + c1 * p.t * gtd0

    def curvature(p: _Point) -> bool:
        return abs(p.d) <= -c2 * gtd0

    def evaluate(step: float) -> _Point:
        nonlocal evals
        evals += 1
        f, g, d = phi(step)
        return _Point(step, f, g, d)

    # --- bracketing phase (N&W Alg. 3.5) ---------------------------------------------------------------
    lo = hi = None
    while evals < max_evals:
        cur = evaluate(t)
        if not armijo(cur) or (evals > 1 and cur.f >= prev.f):
            lo, hi = prev, cur
            break
        if curvature(cur):
            return LineSearchResult(cur.t, cur.f, cur.g, cur.d, evals, True)
        if cur.d >= 0:
            lo, hi = cur, prev
            break
        if cur.t >= max_step:
            return LineSearchResult(cur.t, cur.f, cur.g, cur.d, evals, False, "step grew beyond max_step")
        nxt = cubic_minimizer(prev.t, prev.f, prev.d, cur.t, cur.f, cur.d,
                              cur.t + 0.01 * (cur.t - prev.t), min(10.0 * cur.t, max_step))
        prev, t = cur, nxt
    else:
        best = prev if prev.t > 0 and armijo(prev) else None
        return _failure(best, f0, g0, gtd0, evals, "no bracket within max_evals")

    # --- zoom phase (N&W Alg. 3.6): lo satisfies sufficient decrease and has the lowest f so far ------------
    insufficient = False
    while evals < max_evals:
        a, b = min(lo.t, hi.t), max(lo.t, hi.t)
        width = b - a
        if width * max(float(lo.g.abs().max()), 1e-300) < tolerance_change or width <= 1e-16 * b:
            return _failure(lo, f0, g0, gtd0, evals, "bracket below tolerance_change")
        tt = cubic_minimizer(lo.t, lo.f, lo.d, hi.t, hi.f, hi.d, a, b)
        # safeguard (as in minFunc / torch.optim.lbfgs): keep trial points away from the bracket's ends
        eps = 0.1 * width
        if min(b - tt, tt - a) < eps:
            if insufficient or tt >= b or tt <= a:
                tt = b - eps if abs(tt - b) < abs(tt - a) else a + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        cur = evaluate(tt)
        if not armijo(cur) or cur.f >= lo.f:
            hi = cur
        else:
            if curvature(cur):
                return LineSearchResult(cur.t, cur.f, cur.g, cur.d, evals, True)
            if cur.d * (hi.t - lo.t) >= 0:
                hi = lo
            lo = cur
    return _failure(lo, f0, g0, gtd0, evals, "no strong-Wolfe step within max_evals")


def _failure(best: _Point | None, f0: float, g0: torch.Tensor, gtd0: float, evals: int,
             reason: str) -> LineSearchResult:
    if best is None or best.t <= 0:
        return LineSearchResult(0.0, f0, g0, gtd0, evals, False, reason)
    return LineSearchResult(best.t, best.f, best.g, best.d, evals, False, reason)
