"""The PINN loss: Σ_terms λ_term · mean(residual²) over each term's sampled points (Lee 2026's
λ_physics, λ_boundary, λ_initial, λ_data weighting; a term's own name overrides its kind's λ)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..sampling.adaptive import AdaptiveSampling
from ..runtime.context import RunContext
from ..problems.base import Problem, Term
from ..sampling import sample_region
from ..derivatives.engine import LossEngine, TransformedNet
from .residuals import PinnResiduals


class PinnModel(TransformedNet):
    """The network plus the problem's output transform when hard constraints are on."""

    def __init__(self, net: nn.Module, problem: Problem):
        super().__init__(net)
        self.problem = problem

    @property
    def transform(self):
        return self.problem.output_transform if self.problem.hard_constraints else None


def term_counts_and_weights(terms: Sequence[Term], points: Mapping[str, int] | None,
                            weights: Mapping[str, float] | None) -> tuple[dict[str, int], dict[str, float]]:
    """Points per term (configured, else the term's default) and λ per term (its name's, else its kind's, else 1)."""
    points, weights = points or {}, weights or {}
    counts = {t.name: points.get(t.name, t.points) for t in terms}
    return counts, {t.name: float(weights.get(t.name, weights.get(t.kind, 1.0))) for t in terms}


class PinnLoss:
    """Holds the sampled points of every loss term and evaluates the weighted loss."""

    def __init__(self, problem: Problem, model: nn.Module, ctx: RunContext, *, sampler: str = "sobol",
                 points: Mapping[str, int] | None = None, weights: Mapping[str, float] | None = None,
                 refine: Sequence[tuple[dict, float]] = (), adaptive: AdaptiveSampling | None = None,
                 engine: str = "autograd"):
        self.problem, self.model, self.ctx = problem, model, ctx
        self.engine_name = engine  # training.derivatives (pinnit/derivatives/engine.py); built on the first call
        self._engine: LossEngine | None = None
        self.terms: list[Term] = problem.loss_terms()
        self.sampler = sampler
        self.counts, self.weights = term_counts_and_weights(self.terms, points, weights)
        self.refine = list(refine)
        self.adaptive = adaptive
        self.points: dict[str, torch.Tensor] = {}
        self.resample()

    def resample(self) -> None:
        """Draw fresh points for every term from the run's generator; with ``adaptive`` (RAD / RAR-D,
        pinnit/sampling/adaptive.py) the physics terms' points after the first draw follow the residual."""
        for term in self.terms:
            refine = self.refine if term.kind == "physics" else ()
            current = self.points.get(term.name)
            if self.adaptive and term.kind == "physics" and current is not None and term.region.points is None:
                pts = self.adaptive.resample(term, self.problem, self.model, current, self.counts[term.name],
                                             self.sampler, self.ctx.sampling_rng, refine)
            else:
                pts = sample_region(term.region, self.problem.inputs, self.counts[term.name], self.sampler,
                                    self.ctx.sampling_rng, refine)
            self.points[term.name] = self.ctx.tensor(pts)

    def set_dtype(self, dtype: torch.dtype) -> None:
        """Points (and later draws, through the context) in ``dtype``: a stage switching float32 → float64."""
        self.ctx.dtype = dtype
        self.points = {k: v.to(dtype) for k, v in self.points.items()}

    def state(self) -> dict:
        return {"points": {k: v.cpu().numpy() for k, v in self.points.items()},
                "rng": self.ctx.sampling_rng.bit_generator.state}

    def load_state(self, state: dict) -> None:
        self.points = {k: self.ctx.tensor(np.asarray(v)) for k, v in state["points"].items()}
        self.ctx.sampling_rng.bit_generator.state = state["rng"]

    @property
    def engine(self) -> LossEngine:
        """The derivative engine of the current model (rebuilt when ``model`` or ``engine_name`` change)."""
        e = self._engine
        if e is None or e.model is not self.model or e.requested != self.engine_name:
            self._engine = LossEngine(self.problem, self.terms, self.model, self.engine_name)
        return self._engine

    def term_losses(self) -> dict[str, torch.Tensor]:
        """``{term: mean(residual²)}`` at the current points (derivatives by ``training.engine``)."""
        return self.engine(self.points)

    def total(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights[k] * v for k, v in losses.items())

    def residuals(self) -> PinnResiduals:
        """The residual vector r(θ) at the current points, with ‖r‖² = the total loss (checked against it):
        r = concat_t √(λ_t/N_t)·r_t, a pure function of the flat float64 parameters, with its Jacobian
        (pinnit/training/residuals.py), for least-squares optimizers such as Levenberg–Marquardt."""
        return PinnResiduals(self)
