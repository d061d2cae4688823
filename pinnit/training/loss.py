"""The PINN loss: Σ_terms λ_term · mean(residual²) over each term's sampled points (Lee 2026's
λ_physics, λ_boundary, λ_initial, λ_data weighting; a term's own name overrides its kind's λ)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..sampling.adaptive import AdaptiveSampling
from ..runtime.context import RunContext
from ..problems.base import Problem, Term
from ..sampling import sample_region
from . import fused_adam as fused_adam_mod
from ..derivatives.engine import ENGINES, LossEngine, TransformedNet
from .loss_interface import Loss
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


def draw_term(term: Term, problem: Problem, ctx: RunContext, count: int, sampler: str,
              refine: Sequence[tuple[dict, float]] = ()) -> torch.Tensor:
    """``count`` fresh points of ``term`` from the run's sampling generator (``refine`` boxes apply to physics
    terms only): the first draw of a :class:`PinnLoss`, also made before the network exists so that a
    data-driven initializer can see the points."""
    return ctx.tensor(sample_region(term.region, problem.inputs, count, sampler, ctx.sampling_rng,
                                    refine if term.kind == "physics" else ()))


class PinnLoss(Loss):
    """Holds the sampled points of every loss term and evaluates the weighted loss (a :class:`Loss` with the
    residual vector, a selectable derivative engine and the fused Adam step)."""

    supports_residuals = True

    def __init__(self, problem: Problem, model: nn.Module, ctx: RunContext, *, sampler: str = "sobol",
                 points: Mapping[str, int] | None = None, weights: Mapping[str, float] | None = None,
                 refine: Sequence[tuple[dict, float]] = (), adaptive: AdaptiveSampling | None = None,
                 engine: str = "autograd", initial: Mapping[str, torch.Tensor] | None = None):
        """``initial``: the terms' first points when already drawn (:func:`draw_term`), else drawn here."""
        self.problem, self.model, self.ctx = problem, model, ctx
        self.engine_name = engine  # training.derivatives (pinnit/derivatives/engine.py); built on the first call
        self._engine: LossEngine | None = None
        self.terms: list[Term] = problem.loss_terms()
        self.sampler = sampler
        self.counts, self.weights = term_counts_and_weights(self.terms, points, weights)
        self.refine = list(refine)
        self.adaptive = adaptive
        self.points: dict[str, torch.Tensor] = dict(initial or {})
        if initial is None:
            self.resample()

    def resample(self) -> None:
        """Draw fresh points for every term from the run's generator; with ``adaptive`` (RAD / RAR-D,
        pinnit/sampling/adaptive.py) the physics terms' points after the first draw follow the residual."""
        for term in self.terms:
            current = self.points.get(term.name)
            if self.adaptive and term.kind == "physics" and current is not None and term.region.points is None:
                pts = self.adaptive.resample(term, self.problem, self.model, current, self.counts[term.name],
                                             self.sampler, self.ctx.sampling_rng, self.refine)
                self.points[term.name] = self.ctx.tensor(pts)
            else:
                self.points[term.name] = draw_term(term, self.problem, self.ctx, self.counts[term.name],
                                                   self.sampler, self.refine)

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

    def resume_engine(self, saved: Mapping[str, Any]) -> None:
        """The engine the checkpointed run resolved to (``auto`` is not resolved again, e.g. on other threads),
        with its fallback state."""
        if saved.get("resolved") in ENGINES and saved["resolved"] != "auto":
            self.engine_name = saved["resolved"]
        self.engine.load_state(saved)

    def fused_adam(self, optimizer: torch.optim.Optimizer, form: Callable[[torch.Tensor], torch.Tensor]
                   ) -> fused_adam_mod.FusedAdam | None:
        """With ``training.derivatives: compiled``, Adam's iteration as one compiled graph (pinnit/training/fused_adam.py)."""
        if self.engine_name != "compiled" or type(optimizer) is not torch.optim.Adam:
            return None
        return fused_adam_mod.fused_adam_for(self, optimizer, form)

    @property
    def engine(self) -> LossEngine:
        """The derivative engine of the current model (rebuilt when ``model`` or ``engine_name`` change)."""
        e = self._engine
        if e is None or e.model is not self.model or e.requested != self.engine_name:
            self._engine = LossEngine(self.problem, self.terms, self.model, self.engine_name)
        return self._engine

    def term_losses(self) -> dict[str, torch.Tensor]:
        """``{term: mean(residual²)}`` at the current points (derivatives by ``training.derivatives``)."""
        return self.engine(self.points)

    def residuals(self) -> PinnResiduals:
        """The residual vector r(θ) at the current points, with ‖r‖² = the total loss (checked against it):
        r = concat_t √(λ_t/N_t)·r_t, a pure function of the flat float64 parameters, with its Jacobian
        (pinnit/training/residuals.py), for least-squares optimizers such as Levenberg–Marquardt."""
        return PinnResiduals(self)
