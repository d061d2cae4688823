"""Fit targets for output-layer projections, and the weighted least-squares head they define.

A :class:`FitTarget` is a loss term whose residual is pointwise affine in one raw network output y_j:
r_i = a_i·y_j(x_i) + c_i (every condition "field = g" has this form, with or without an affine hard-constraint
transform; pinnit.problems.targets derives them from a Problem). Minimising Σ_terms λ·mean(r²) over an output
layer y = C·F(x) (features F, coefficients C) is then a linear least-squares problem.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class FitTarget:
    """Residual r = slope·y[:, output] + offset at ``points`` of the term ``name`` (of ``kind``), weight λ."""

    name: str
    kind: str
    points: torch.Tensor   # n × d network inputs
    slope: torch.Tensor    # n
    offset: torch.Tensor   # n
    output: int = 0
    weight: float = 1.0

    def mapped(self, shift: torch.Tensor, scale: torch.Tensor) -> "FitTarget":
        """The same target with its points in the network's normalised coordinates (x − shift)·scale."""
        return replace(self, points=(self.points.to(shift.dtype) - shift) * scale)


def least_squares_rows(targets: Sequence[FitTarget], output: int, features) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Design rows and right-hand side of min Σ λ/n·Σ_i (a_i·F(x_i)·c + c_i)² for one output, or None."""
    rows, rhs = [], []
    for t in targets:
        if t.output != output or len(t.points) == 0:
            continue
        w = (t.weight / len(t.points)) ** 0.5
        feats = features(t.points)
        rows.append(w * t.slope[:, None].to(feats.dtype) * feats)
        rhs.append(-w * t.offset.to(feats.dtype))
    if not rows:
        return None
    return torch.cat(rows), torch.cat(rhs)


def ridge_solve(design: torch.Tensor, rhs: torch.Tensor, ridge: float, penalty: torch.Tensor) -> torch.Tensor:
    """argmin ‖design·c − rhs‖² + ε·Σ_k penalty_k·c_k², ε = ridge · trace(designᵀdesign)/columns.

    Among (nearly) equally good fits it picks the one with the smallest penalised norm — e.g. initial-condition
    points all at t = 0 determine only Σ_j c_{i,j}P_j(−1) in t, and a penalty growing with the degree prefers
    the smoothest extension in t.
    """
    gram = design.T @ design
    eps = ridge * torch.trace(gram) / gram.shape[0]
    if float(eps) == 0.0:
        return torch.linalg.lstsq(design, rhs[:, None], driver="gelsd").solution[:, 0]
    return torch.linalg.solve(gram + eps * torch.diag(penalty.to(gram.dtype)), design.T @ rhs)
