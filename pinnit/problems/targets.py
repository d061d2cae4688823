"""The values a network should take on a problem's initial/data/boundary terms, derived from their residuals.

Works for any Problem (built-in or declared) without a per-problem method: each term's residual is probed
with constant raw network outputs y ≡ 0, y_j ≡ 1 and y_j ≡ 2 (through the output transform when hard
constraints are on). Where a residual part is affine in y_j — r = a·y_j + c, checked by the third probe —
with a ≠ 0 and no other output moving it, that part is a :class:`~pinnit.nn.initializers.targets.FitTarget`.
Conditions on derivatives (u_t = 0) see no change under constant probes (a = 0) and are skipped; so are
points where a hard constraint already fixes the field (a = 0) and residuals not affine in the output.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..derivatives.fields import Fields
from ..nn.initializers.targets import FitTarget
from .base import Problem

FIT_KINDS = ("initial", "data", "boundary")


def _residual_parts(problem: Problem, term, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    def evaluate(pts: torch.Tensor) -> torch.Tensor:
        const = y.expand(pts.shape[0], -1).to(pts.dtype)
        return problem.output_transform(pts, const) if problem.hard_constraints else const

    r = term.residual(Fields(x, problem.inputs, problem.outputs, evaluate))
    parts = r if isinstance(r, (tuple, list)) else (r,)
    return [p.detach().reshape(-1) for p in parts]


def condition_targets(problem: Problem, points: Mapping[str, torch.Tensor],
                      weights: Mapping[str, float] | None = None, kinds: Sequence[str] = FIT_KINDS,
                      tol: float = 1e-8) -> list[FitTarget]:
    """FitTargets of the loss terms of ``kinds`` at their sampled ``points`` (term name → n × d tensor);
    ``weights`` are the loss weights λ by term name (default 1)."""
    out: list[FitTarget] = []
    n_out = len(problem.outputs)
    for term in problem.loss_terms():
        if term.kind not in kinds or term.name not in points:
            continue
        x = points[term.name].detach().cpu().to(torch.float64)
        zero = torch.zeros(1, n_out, dtype=torch.float64)
        base = _residual_parts(problem, term, x, zero)
        slopes, affine = [], []
        for j in range(n_out):
            unit = zero.clone()
            unit[0, j] = 1.0
            once = _residual_parts(problem, term, x, unit)
            twice = _residual_parts(problem, term, x, 2 * unit)
            slopes.append([r1 - r0 for r0, r1 in zip(base, once)])
            affine.append([(r2 - 2 * r1 + r0).abs() <= tol * (1 + r0.abs() + r1.abs())
                           for r0, r1, r2 in zip(base, once, twice)])
        w = float((weights or {}).get(term.name, 1.0))
        for p, r0 in enumerate(base):
            moves = [slopes[j][p].abs() > tol * (1 + r0.abs()) for j in range(n_out)]
            count = torch.stack(moves).sum(0)
            for j in range(n_out):
                keep = moves[j] & affine[j][p] & (count == 1)  # a part that depends on y_j alone
                if keep.any():
                    out.append(FitTarget(term.name, term.kind, x[keep], slopes[j][p][keep], r0[keep], j, w))
    return out
