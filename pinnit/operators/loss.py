"""The physics-informed operator loss: a batch of training functions × each term's points per step.

Each call of :meth:`OperatorLoss.term_losses` is one optimisation step: it draws the next batch of
``function_batch`` training functions (epochs of a seeded permutation, as DeepXDE's batch sampler) and
evaluates Σ_terms λ_term · mean_{functions × points}(residual²), the residuals computed by the Cartesian
derivative engine (:mod:`pinnit.derivatives.cartesian_fields`, ZCS or autograd). It implements
:class:`~pinnit.training.loss_interface.Loss`, as :class:`~pinnit.training.loss.PinnLoss` does, so the trainer,
checkpoints and resume work unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..derivatives.cartesian_fields import CartesianFields
from ..derivatives.deeponet_jets import deeponet_jets
from ..runtime.context import RunContext
from ..core.errors import ConfigError
from ..problems.base import Problem, Term
from ..sampling import sample_region
from ..training.loss import term_counts_and_weights
from ..training.loss_interface import Loss
from ..sampling.functions import FunctionInput

#: salts of the seeded streams (functions drawn once; batches drawn step by step)
FUNCTION_SALT, BATCH_SALT = 101, 102


def seeded_rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), salt]))


def the_function(problem: Problem) -> FunctionInput:
    """The problem's one function input (the branch reads it at its sensors)."""
    functions = list(problem.functions.values())
    if len(functions) != 1:
        raise ConfigError("problem.functions", f"operator learning needs exactly one function input, "
                                               f"got {len(functions)}")
    return functions[0]


class OperatorModel(nn.Module):
    """A DeepONet plus the problem's output transform (hard constraints): ``model(F, X)`` → B × N × fields."""

    def __init__(self, net: nn.Module, problem: Problem):
        super().__init__()
        self.net = net
        self.problem = problem
        self._compiled: dict[tuple, object] = {}  # transform derivatives, compiled once
        self._rows: dict[tuple, torch.Tensor] = {}  # interpolation rows of the transform's f(0)

    def forward(self, F: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        out = self._transformed(F, X)
        anchor = self._anchor(F, X)
        return out if anchor is None else out - anchor

    def _transformed(self, F: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        y = self.net(F, X)
        if not self.problem.hard_constraints:
            return y
        at = self.at(F)
        if X.dim() == 3:  # per-function points: the transform works on flat columns
            b, n, d = X.shape
            flat = lambda name, where: at(name, where).expand(b, n).reshape(b * n)  # noqa: E731
            return self.problem.output_transform(X.reshape(b * n, d), y.reshape(b * n, -1), flat).view(b, n, -1)
        return self.problem.output_transform(X, y, at)

    def at(self, F: torch.Tensor):
        """(function input, point) → its value at that point for each function of ``F`` (B × 1): cubic from the
        sensors, as the loss reads it (a transform's ``f(0)``)."""
        def value(name: str, where: float) -> torch.Tensor:
            key = (where, F.dtype, F.device)
            if key not in self._rows:  # the interpolation row, built once
                x = torch.tensor([where], dtype=F.dtype, device=F.device)
                self._rows[key] = the_function(self.problem).interpolator(x)
            return F @ self._rows[key].T

        return value

    def _anchor(self, F: torch.Tensor, X: torch.Tensor) -> torch.Tensor | None:
        """The gauge (``problem.gauge``): the gauged field's value at its point (B × 1 × fields, zero in the
        other fields), subtracted everywhere, so that field is 0 there; its derivatives are unchanged."""
        gauge = getattr(self.problem, "gauge", None)
        if gauge is None:
            return None
        field, point = gauge
        mask = torch.zeros(len(self.problem.outputs), dtype=X.dtype, device=X.device)
        mask[self.problem.outputs.index(field)] = 1.0
        x0 = torch.as_tensor(point, dtype=X.dtype, device=X.device)[None]
        return self._transformed(F, x0) * mask

    def jet(self, F: torch.Tensor, X: torch.Tensor):
        """``d(field, key)`` → ∂^key of the (transformed) output (B × N), key sorted input indices (≤ 2)."""
        raw = deeponet_jets(self.net, F, X)  # (output index, key) → B × N
        inputs, outputs = self.problem.inputs, self.problem.outputs

        def raw_d(field: str, key: tuple[int, ...]) -> torch.Tensor:
            return raw(outputs.index(field), key)

        env = _RawJet(X, inputs, raw_d, self.at(F))
        anchor: list[torch.Tensor] = []

        def transformed(field: str, key: tuple[int, ...]) -> torch.Tensor:
            if not self.problem.hard_constraints:
                value = raw_d(field, key)
            else:
                if (field, key) not in self._compiled:
                    wrt = tuple(inputs[i] for i in key)
                    self._compiled[(field, key)] = self.problem.transform_derivative(field, wrt)
                value = self._compiled[(field, key)](env)
            gauge = getattr(self.problem, "gauge", None)
            if key or gauge is None or gauge[0] != field:
                return value
            if not anchor:  # the gauged field's value at its point, once per jet
                anchor.append(self._anchor(F, X)[..., outputs.index(field)])
            return value - anchor[0]

        return transformed


class _RawJet:
    """The expression environment of the raw network jet (for the output transform's derivatives)."""

    def __init__(self, x: torch.Tensor, inputs: Sequence[str], raw_d, at):
        self.x, self.inputs, self._d, self.function_at = x, tuple(inputs), raw_d, at

    def coord(self, name: str) -> torch.Tensor:
        return self.x[:, self.inputs.index(name)]

    def value(self, field: str) -> torch.Tensor:
        return self._d(field, ())

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        return self._d(field, tuple(sorted(self.inputs.index(v) for v in wrt)))


def draw_points(problem: Problem, ctx: RunContext, terms: Sequence[Term], counts: Mapping[str, int], sampler: str,
                refine: Sequence[tuple[dict, float]] = ()) -> dict[str, torch.Tensor]:
    """Fresh points for every term from the run's sampling generator. Equations on the same region with the
    same count share one set of points (and so one batch of derivatives, as in DeepXDE)."""
    points: dict[str, torch.Tensor] = {}
    drawn: list[tuple[Term, torch.Tensor]] = []
    for term in terms:
        same = next((x for t, x in drawn if term.kind == t.kind == "physics" and t.region == term.region
                     and counts[t.name] == counts[term.name]), None)
        if same is None:
            same = ctx.tensor(sample_region(term.region, problem.inputs, counts[term.name], sampler, ctx.sampling_rng,
                                            refine if term.kind == "physics" else ()))
        points[term.name] = same
        drawn.append((term, same))
    return points


class OperatorLoss(Loss):
    """Training functions, each term's points, and the weighted loss of one function batch (a :class:`Loss`
    that holds one batch per closure chunk, with a residual vector on that batch for least-squares methods)."""

    supports_residuals = True

    def __init__(self, problem: Problem, model: nn.Module, ctx: RunContext, *, sampler: str = "sobol",
                 points: Mapping[str, int] | None = None, weights: Mapping[str, float] | None = None,
                 refine: Sequence[tuple[dict, float]] = (), function_batch: int = 50, derivatives: str = "zcs",
                 functions: tuple[np.ndarray, np.ndarray] | None = None,
                 initial: Mapping[str, torch.Tensor] | None = None):
        """``functions`` (training, held-out) and ``initial`` (the terms' first points, :func:`draw_points`) when
        already drawn, e.g. for the network's initialization; else drawn here."""
        self.problem, self.model, self.ctx = problem, model, ctx
        self.function = the_function(problem)
        self.train_functions, self.test_functions = functions or self.function.sample(ctx.function_rng)
        self.train_tensor = ctx.tensor(self.train_functions)
        self.batch_size = min(function_batch, len(self.train_functions))
        self.derivatives = derivatives
        self.terms: list[Term] = problem.loss_terms()
        self.sampler = sampler
        self.counts, self.weights = term_counts_and_weights(self.terms, points, weights)
        self.refine = list(refine)
        self.points: dict[str, torch.Tensor] = dict(initial or {})
        self.batch_rng = ctx.batch_rng
        self.order = np.zeros(0, dtype=np.int64)  # the current epoch's permutation, consumed from the front
        self.batch: np.ndarray | None = None  # indices of the last batch drawn
        self.held: np.ndarray | None = None  # the batch every evaluation uses during a closure chunk
        self._interp: dict[str, torch.Tensor] = {}
        if initial is None:
            self.resample()

    # --- points and function batches ---------------------------------------------------------------
    def resample(self) -> None:
        """Draw fresh points for every term (:func:`draw_points`)."""
        self.points = draw_points(self.problem, self.ctx, self.terms, self.counts, self.sampler, self.refine)
        self._interp.clear()

    def next_batch(self) -> np.ndarray:
        """Indices of the next ``batch_size`` training functions (a new permutation at each epoch's end)."""
        if len(self.order) < self.batch_size:
            self.order = np.concatenate([self.order, self.batch_rng.permutation(len(self.train_functions))])
        self.batch, self.order = self.order[: self.batch_size], self.order[self.batch_size:]
        return self.batch

    def hold_batch(self, hold: bool) -> None:
        """``True``: draw the next batch and evaluate every later call on it (a closure optimizer's chunk: L-BFGS
        and the quasi-Newton methods need one fixed function-and-point batch per chunk); ``False``: back to a
        new batch per call. The trainer holds one batch per chunk, so batches change between chunks."""
        self.held = self.next_batch() if hold else None

    def set_dtype(self, dtype: torch.dtype) -> None:
        """Functions, points (and later draws, through the context) in ``dtype``: a float64 stage."""
        self.ctx.dtype = dtype
        self.train_tensor = self.train_tensor.to(dtype)
        shared: dict[int, torch.Tensor] = {}  # shared point sets stay shared
        self.points = {k: shared.setdefault(v.data_ptr(), v.to(dtype)) for k, v in self.points.items()}
        self._interp.clear()

    def function_values(self, F: torch.Tensor, points: Mapping[str, torch.Tensor] | None = None,
                        cache: dict[str, torch.Tensor] | None = None) -> callable:
        """(name, points) → f at the points' argument for every function of ``F`` (B × N), cubic from sensors.
        The interpolation matrix of a term's own points (``points``, default the loss's) is kept in ``cache``
        (default the loss's, cleared when they are resampled)."""
        fn = self.function
        column = self.problem.inputs.index(fn.argument)
        points = self.points if points is None else points
        cache = self._interp if cache is None else cache

        def values(name: str, x: torch.Tensor) -> torch.Tensor:
            key = next((k for k, p in points.items() if p.data_ptr() == x.data_ptr() and p.shape == x.shape),
                       None)
            if key is None:
                return F @ fn.interpolator(x[:, column]).T
            if key not in cache:
                cache[key] = fn.interpolator(x[:, column])
            return F @ cache[key].T

        return values

    def state(self) -> dict:
        return {"points": {k: v.cpu().numpy() for k, v in self.points.items()},
                "rng": self.ctx.sampling_rng.bit_generator.state,
                "batch_rng": self.batch_rng.bit_generator.state, "order": self.order.copy()}

    def load_state(self, state: dict) -> None:
        shared: dict[bytes, torch.Tensor] = {}
        for k, v in state["points"].items():  # shared point sets stay shared
            v = np.ascontiguousarray(v)
            self.points[k] = shared.setdefault(v.tobytes(), self.ctx.tensor(v))
        self.ctx.sampling_rng.bit_generator.state = state["rng"]
        self.batch_rng.bit_generator.state = state["batch_rng"]
        self.order = np.asarray(state["order"], dtype=np.int64)
        self.held = None
        self._interp.clear()

    # --- the loss -------------------------------------------------------------------------------------
    def fields(self, term: Term, F: torch.Tensor, model: nn.Module | None = None,
               points: Mapping[str, torch.Tensor] | None = None, values=None) -> CartesianFields:
        model = self.model if model is None else model
        x = (self.points if points is None else points)[term.name]
        evaluate = (lambda X: model.jet(F, X)) if self.derivatives == "jets" else (lambda X: model(F, X))
        return CartesianFields.create(self.derivatives, x, self.problem.inputs, self.problem.outputs,
                                      evaluate, values or self.function_values(F), batch=len(F))

    def residual_parts(self, F: torch.Tensor, model: nn.Module | None = None,
                       points: Mapping[str, torch.Tensor] | None = None, values=None) -> dict[str, list[torch.Tensor]]:
        """Each term's residuals (a list of B × N parts, one per residual the term returns) for the sensor values
        ``F`` (B × m); by default with the run's model, the loss's points and function values (the residual vector
        passes float64 copies, :mod:`pinnit.operators.residuals`)."""
        points = self.points if points is None else points
        out, envs = {}, {}
        for term in self.terms:
            key = points[term.name].data_ptr()  # terms on one point set share its derivatives
            f = envs[key] = envs.get(key) or self.fields(term, F, model, points, values)
            r = term.residual(f)
            shape = (len(F), len(f.x))
            out[term.name] = [torch.broadcast_to(p, shape) for p in (r if isinstance(r, (tuple, list)) else (r,))]
        return out

    def losses_for(self, F: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each term's mean over functions × points of residual² for the sensor values ``F`` (B × m)."""
        return {name: sum(torch.mean(p ** 2) for p in parts) for name, parts in self.residual_parts(F).items()}

    def batch_functions(self) -> torch.Tensor:
        """The sensor values of the batch a closure chunk holds (B × m); the last batch drawn when none is held."""
        batch = self.held if self.held is not None else self.batch if self.batch is not None else self.next_batch()
        return self.train_tensor[torch.as_tensor(batch, device=self.train_tensor.device)]

    def residuals(self):
        """The weighted residual vector r(θ) on the held function batch (:meth:`hold_batch`), ‖r‖² = the total
        loss; its Jacobian products by double backward (:class:`~pinnit.operators.residuals.OperatorResiduals`)."""
        from .residuals import OperatorResiduals

        return OperatorResiduals(self, self.batch_functions())

    def term_losses(self) -> dict[str, torch.Tensor]:
        """One step: the next batch of training functions (the held one in a closure chunk), each term's loss on it."""
        batch = self.next_batch() if self.held is None else self.held
        idx = torch.as_tensor(batch, device=self.train_tensor.device)
        return self.losses_for(self.train_tensor[idx])
