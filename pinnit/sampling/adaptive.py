"""Residual-based adaptive collocation points: RAD and RAR-D (Wu, Zhu, Tan, Kartha, Lu, "A comprehensive
study of non-adaptive and residual-based adaptive sampling for physics-informed neural networks",
CMAME 403, 115671, 2023).

Both draw from a fresh candidate pool S₀ (``candidates`` points of the term's region from the run's sampler,
refine boxes included) with probabilities

    p(x) ∝ ε(x)^k / E[ε^k] + c,     ε(x) = |r(x)|,  ε² = Σ_i r_i²  for a residual with several parts,

E[ε^k] being the mean over S₀ (so c weighs a uniform share against the residual-driven one; k = 0 or
c → ∞ give the plain sampler's distribution).

* **RAD** (paper's defaults k = 1, c = 1): the term's points are replaced by N draws from S₀ without
  replacement, N the term's configured count.
* **RAR-D** (defaults k = 2, c = 0): the current points are kept and ``add`` draws from S₀ are appended; the
  set grows by ``add`` per resample until ``max_points`` (no cap when unset).

The residual at the candidates is evaluated in chunks with the same :class:`~pinnit.derivatives.fields.Fields` engine as
the loss (input derivatives by autograd), with the parameters' ``requires_grad`` switched off meanwhile so
no parameter graph is built, and detached. All randomness is drawn from ``ctx.rng``, whose state the loss
checkpoints, so resumed runs draw the same points.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..derivatives.fields import Fields
from ..geometry.regions import Box
from .samplers import sample_region

if TYPE_CHECKING:  # the problem layer sits above sampling
    from ..problems.base import Problem, Term

#: the paper's defaults per method: (k, c)
DEFAULTS = {"rad": (1.0, 1.0), "rar_d": (2.0, 0.0)}
CANDIDATES_PER_POINT = 10  # default pool: 10 × the term's points (RAD) or 10 × add (RAR-D), at least 1000


@dataclass(frozen=True)
class AdaptiveSampling:
    """One method with resolved settings; ``candidates=None`` means the default pool size."""

    method: str
    k: float
    c: float
    candidates: int | None = None
    add: int = 0
    max_points: int | None = None
    chunk: int = 4096

    @classmethod
    def from_config(cls, cfg) -> "AdaptiveSampling | None":
        """From ``sampling.adaptive`` (None when its method is ``none``); unset k, c, add get the defaults."""
        if cfg is None or cfg.method == "none":
            return None
        k, c = DEFAULTS[cfg.method]
        return cls(cfg.method, k if cfg.k is None else float(cfg.k), c if cfg.c is None else float(cfg.c),
                   cfg.candidates, cfg.add if cfg.add is not None else 0, cfg.max_points)

    def pool_size(self, n_points: int) -> int:
        if self.candidates is not None:
            return self.candidates
        return max(1000, CANDIDATES_PER_POINT * (n_points if self.method == "rad" else self.add))

    def resample(self, term: Term, problem: Problem, model: nn.Module, current: torch.Tensor, n_points: int,
                 sampler: str, rng: np.random.Generator, refine: Sequence[tuple[Box, float]] = ()) -> np.ndarray:
        """The term's next points: RAD → ``n_points`` new ones; RAR-D → ``current`` plus ``add`` new ones."""
        old = current.detach().cpu().numpy().astype(float)
        n_new = n_points if self.method == "rad" else self.add
        if self.method == "rar_d" and self.max_points is not None:
            n_new = max(0, min(n_new, self.max_points - len(old)))
        if n_new == 0:
            return old
        pool = sample_region(term.region, problem.inputs, self.pool_size(n_points), sampler, rng, refine)
        eps = residual_magnitude(term, problem, model, torch.as_tensor(pool, dtype=current.dtype,
                                                                        device=current.device), self.chunk)
        p = density(eps, self.k, self.c)
        picked = pool[rng.choice(len(pool), size=min(n_new, len(pool)), replace=False, p=p)]
        return picked if self.method == "rad" else np.concatenate([old, picked])


def density(eps: np.ndarray, k: float, c: float) -> np.ndarray:
    """Normalised probabilities ∝ ε^k / mean(ε^k) + c, floored so that every candidate stays drawable."""
    eps = np.abs(np.asarray(eps, dtype=float))
    scale = eps.max()
    e = (eps / scale) ** k if scale > 0 else np.ones_like(eps)  # ε^k / E[ε^k] is scale-free
    mean = e.mean()
    p = (e / mean if mean > 0 else np.ones_like(e)) + c
    p = np.maximum(p, 1e-12 * p.max())  # c = 0: zero-residual points keep a tiny chance (choice needs them)
    return p / p.sum()


def residual_magnitude(term: Term, problem: Problem, model: nn.Module, x: torch.Tensor,
                       chunk: int = 4096) -> np.ndarray:
    """ε(x) = |r(x)| (√Σ r_i² for several parts) at the rows of ``x``, in chunks, without parameter graphs."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        out = []
        for start in range(0, len(x), chunk):
            f = Fields(x[start:start + chunk], problem.inputs, problem.outputs, model)
            r = term.residual(f)
            parts = r if isinstance(r, (tuple, list)) else (r,)
            sq = sum(part.detach().to(torch.float64) ** 2 for part in parts)
            out.append(torch.sqrt(sq).reshape(-1).cpu().numpy())
        return np.concatenate(out)
    finally:
        for p in params:
            p.requires_grad_(True)
