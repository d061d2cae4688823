"""Residual vectors r(θ) and their Jacobians, for least-squares optimizers (Levenberg–Marquardt).

The PINN loss Σ_t λ_t·mean(r_t²) equals ‖r‖² for r = concat_t √(λ_t/N_t)·r_t (each part of a term that
returns several residuals scaled by its own element count, as the loss engine's mean of squares does).
Here r is a pure function of the flat parameter vector θ (float64), so ``torch.func`` transforms compose:

- the derivatives in x come from :class:`FuncFields` (nested ``torch.func.jacfwd`` of the model at one
  point, vmapped over the points) — the autograd :class:`~pinnit.derivatives.fields.Fields` calls
  ``torch.autograd.grad``, which ``torch.func`` transforms refuse. The model is the run's model (a
  :class:`~pinnit.training.loss.PinnModel` applies the output transform), so hard constraints hold;
- the Jacobian, when the model is an MLP whose only parameters are its linear layers (under an output transform
  or not), comes from one backward through its forward jets (:mod:`.jet_jacobian`): measured 0.215 s for
  N = 12,000 points of Burgers' 1,341-parameter network on one idle core, against 1.76 s for the general route;
- otherwise the Jacobian is reverse mode per point (``vmap`` over the points of ``jacrev`` over θ): one residual row
  per point costs one small backward, so J costs O(N·P) and needs no P-fold batch of the activations;
  measured 1.05 s for N = 3000 points of Burgers' 1,341-parameter network on one shared core, against
  400 s for forward mode over θ (``vmap`` of ``jvp`` over unit tangents, 32 at a time). Per-point
  evaluation assumes each residual row depends on its own point only (true of PDE, boundary and periodic
  residuals); every provider checks ‖r‖² against the loss engine's total at the current weights and, if a
  term is not pointwise, falls back to forward mode over the whole batch, saying so once on stderr.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from torch.func import functional_call, jacfwd, jacrev, jvp, vjp, vmap

from ..core.errors import PinnitError
from ..derivatives.fields import Fields
from .jet_jacobian import JetJacobian, jet_jacobian_applies

#: points per vmapped chunk of the per-point Jacobian (memory ∝ chunk · P)
POINT_CHUNK = 4096
#: unit tangents per vmapped chunk of the forward-mode Jacobian (the fallback)
TANGENT_CHUNK = 32


class FuncFields(Fields):
    """:class:`~pinnit.derivatives.fields.Fields` with x-derivatives by ``torch.func`` (nested jacfwd at each point, vmapped),
    so that a residual built on it can itself be differentiated by ``torch.func`` transforms."""

    def __init__(self, x: torch.Tensor, inputs, outputs, evaluate: Callable[[torch.Tensor], torch.Tensor]):
        self.x, self.inputs, self.outputs, self._evaluate = x, tuple(inputs), tuple(outputs), evaluate
        self.y = evaluate(x)
        self._orders: dict[int, torch.Tensor] = {}
        self._cache = {}

    def _order(self, k: int) -> torch.Tensor:
        """All k-th derivatives, N × outputs × d^k."""
        if k not in self._orders:
            g = lambda p: self._evaluate(p[None])[0]  # noqa: E731  (one point → its outputs)
            for _ in range(k):
                g = jacfwd(g)
            self._orders[k] = vmap(g)(self.x)
        return self._orders[k]

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        if not wrt:
            return self.value(field)
        for v in wrt:
            if v not in self.inputs:
                raise PinnitError(f"cannot differentiate '{field}' by '{v}'; inputs: {', '.join(self.inputs)}")
        if field not in self.outputs:
            raise PinnitError(f"unknown field '{field}'; fields: {', '.join(self.outputs)}")
        idx = (slice(None), self.outputs.index(field), *(self.inputs.index(v) for v in wrt))
        return self._order(len(wrt))[idx]

    def at(self, **coords: float) -> "FuncFields":
        x = self.x.detach().clone()
        for name, value in coords.items():
            x[:, self.inputs.index(name)] = value
        return FuncFields(x, self.inputs, self.outputs, self._evaluate)


class Residuals:
    """r(θ) for a flat float64 θ: ``fn`` is pure (``torch.func``-composable). ``jacobian`` picks forward mode
    when there are at least as many residuals as parameters, else reverse mode."""

    #: entries of θ in which r is affine when the problem is linear (a DeepONet's last layer); None if unknown
    linear_indices: torch.Tensor | None = None

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.fn = fn

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.fn(theta)

    def jacobian(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(r, J) at θ, J = ∂r/∂θ (N × P)."""
        r = self(theta)
        return r, (jacfwd(self.fn) if r.numel() >= theta.numel() else jacrev(self.fn))(theta)

    def linear(self, theta: torch.Tensor) -> tuple[torch.Tensor, Callable, Callable]:
        """(r, v ↦ J v, u ↦ Jᵀ u) at θ, matrix-free (forward- and reverse-mode products)."""
        r, pullback = vjp(self.fn, theta)
        return r.detach(), (lambda v: jvp(self.fn, (theta,), (v,))[1]), (lambda u: pullback(u)[0])


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Two float64 evaluations of one residual vector agree: ‖a − b‖ ≤ 1e-7·‖b‖. Norm-wise, because rows near
    zero differ by the round-off of their O(1) terms (u_t, u·u_x, ν·u_xx), not in proportion to themselves;
    a residual that is not pointwise differs at O(1)."""
    return float((a - b).norm()) <= 1e-7 * float(b.norm()) + 1e-300


class PinnResiduals(Residuals):
    """The residual vector of a :class:`~pinnit.training.loss.PinnLoss` at its current points: values by
    nested autograd over the whole batch (as the loss engine), Jacobians per point (see the module docstring);
    ``fn`` (for matrix-free products) is the batch residual on :class:`FuncFields`."""

    def __init__(self, loss, reference: float | None = None):
        self.loss, model = loss, loss.model
        self.names = [n for n, _ in model.named_parameters()]
        self.shapes = [p.shape for _, p in model.named_parameters()]
        self.buffers = {n: b.detach().double() for n, b in model.named_buffers()}
        self.points = {k: v.detach().double() for k, v in loss.points.items()}
        self.pointwise: bool | None = None  # decided by the first Jacobian
        self._jets = JetJacobian(model, loss.problem) if jet_jacobian_applies(model) else None
        self._widths: dict[str, list[int]] = {}
        super().__init__(self._batch)
        theta = self.theta()
        if reference is None:
            reference = float(loss.total(loss.term_losses()).detach())
        value = float(self(theta).pow(2).sum())
        tol = 1e-8 if next(model.parameters()).dtype == torch.float64 else 1e-3
        if not abs(value - reference) <= tol * max(abs(reference), 1e-30) + 1e-30:
            raise PinnitError(f"levenberg_marquardt: ‖r‖² = {value:.6g} differs from the loss {reference:.6g}; "
                              "this loss is not a weighted sum of mean squares")

    def theta(self) -> torch.Tensor:
        """The model's parameters as one flat float64 vector."""
        return torch.cat([p.detach().reshape(-1).double() for p in self.loss.model.parameters()])

    def _evaluate(self, theta: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        tensors, offset = dict(self.buffers), 0
        for name, shape in zip(self.names, self.shapes):
            tensors[name] = theta[offset:offset + shape.numel()].view(shape)
            offset += shape.numel()
        return lambda x: functional_call(self.loss.model, tensors, (x,))

    def _term(self, term, fields: Fields) -> list[torch.Tensor]:
        r = term.residual(fields)
        return [part.reshape(fields.x.shape[0], -1) for part in (r if isinstance(r, (tuple, list)) else (r,))]

    def _func_fields(self, x: torch.Tensor, evaluate) -> FuncFields:
        return FuncFields(x, self.loss.problem.inputs, self.loss.problem.outputs, evaluate)

    def _scaled(self, term, parts: list[torch.Tensor]) -> torch.Tensor:
        """The term's rows (N × m), each part's columns times √(λ/(N·m)), flattened part by part."""
        n, w = parts[0].shape[0], self.loss.weights[term.name]
        return torch.cat([(q * (w / (n * q.shape[-1])) ** 0.5).T.reshape(-1) for q in parts])

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        evaluate, p, out = self._evaluate(theta), self.loss.problem, []
        with torch.enable_grad():
            for term in self.loss.terms:
                parts = self._term(term, Fields(self.points[term.name], p.inputs, p.outputs, evaluate))
                out.append(self._scaled(term, parts).detach())
        return torch.cat(out)

    def _batch(self, theta: torch.Tensor) -> torch.Tensor:
        evaluate = self._evaluate(theta)
        return torch.cat([self._scaled(t, self._term(t, self._func_fields(self.points[t.name], evaluate)))
                          for t in self.loss.terms])

    def _per_point(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rs, js = [], []
        for term in self.loss.terms:
            x = self.points[term.name]

            def one(th, xi, term=term):
                parts = self._term(term, self._func_fields(xi[None], self._evaluate(th)))
                r = torch.cat(parts, dim=-1)[0]
                return r, r

            jac, r = vmap(jacrev(one, has_aux=True), in_dims=(None, 0), chunk_size=POINT_CHUNK)(theta, x)
            widths = [q.shape[-1] for q in self._term(term, self._func_fields(x[:1], self._evaluate(theta)))]
            rs.append(self._scaled(term, list(r.split(widths, dim=-1))))
            cols = jac.split(widths, dim=1)  # N × m × P per part
            js.append(torch.cat([c.transpose(0, 1).reshape(-1, theta.numel())
                                 * (self.loss.weights[term.name] / (len(x) * c.shape[1])) ** 0.5 for c in cols]))
        return torch.cat(rs).detach(), torch.cat(js).detach()

    def _pointwise_at_a_few_points(self, theta: torch.Tensor, count: int = 3) -> bool:
        """Whether each term's residual at its first ``count`` points, evaluated one point at a time, equals its
        rows in the whole batch (the jets route assumes it; a residual that couples points differs at O(1))."""
        evaluate, p = self._evaluate(theta), self.loss.problem
        with torch.enable_grad():
            for term in self.loss.terms:
                x = self.points[term.name]
                batch = torch.cat(self._term(term, Fields(x[:count], p.inputs, p.outputs, evaluate)), dim=-1)
                alone = torch.cat([torch.cat(self._term(term, Fields(x[i:i + 1], p.inputs, p.outputs, evaluate)),
                                             dim=-1) for i in range(min(count, len(x)))])
                whole = torch.cat(self._term(term, Fields(x, p.inputs, p.outputs, evaluate)), dim=-1)[:count]
                if not (_same(alone.detach(), whole.detach()) and _same(batch.detach(), whole.detach())):
                    return False
        return True

    def _by_jets(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(r, J) from one backward through the MLP's jets per residual column (:mod:`.jet_jacobian`)."""
        rs, js = [], []
        for term in self.loss.terms:
            x, w = self.points[term.name], self.loss.weights[term.name]
            columns, blocks = self._jets.rows(term, x, theta)
            start = 0
            for m in self._jets_widths(term, x, theta):  # each part's columns times √(λ/(N·m)), as the mean of squares
                c = (w / (len(x) * m)) ** 0.5
                rs += [col * c for col in columns[start:start + m]]
                js += [b.mul_(c) for b in blocks[start:start + m]]
                start += m
        return torch.cat(rs), (js[0] if len(js) == 1 else torch.cat(js))

    def _jets_widths(self, term, x: torch.Tensor, theta: torch.Tensor) -> list[int]:
        if term.name not in self._widths:
            self._widths[term.name] = [q.shape[-1] for q in self._term(term, self._func_fields(x[:1], self._evaluate(theta)))]
        return self._widths[term.name]

    def jacobian(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(r, J): by the jets when they apply (:mod:`.jet_jacobian`), else per point by vmap(jacrev), and by
        forward mode over the parameters when a residual is not pointwise (decided at the first call)."""
        r = self(theta)
        if self._jets is not None and self.pointwise is None and not self._pointwise_at_a_few_points(theta):
            self._not_pointwise()
        if self._jets is not None and self.pointwise is not False:
            r_jets, J = self._by_jets(theta)
            if _same(r_jets, r):
                self.pointwise = True
                return r, J
            self._jets = None
            print("levenberg_marquardt: the jets' residual differs from the loss; Jacobians per point by vmap",
                  file=sys.stderr)
        if self.pointwise is not False:
            r_points, J = self._per_point(theta)
            if self.pointwise or _same(r_points, r):
                self.pointwise = True
                return r, J
            self._not_pointwise()
        eye = torch.eye(theta.numel(), dtype=theta.dtype)
        return r, vmap(lambda v: jvp(self.fn, (theta,), (v,))[1], chunk_size=TANGENT_CHUNK)(eye).T.detach()

    def _not_pointwise(self) -> None:
        self.pointwise = False
        print("levenberg_marquardt: a residual is not pointwise; Jacobians by forward mode over the parameters "
              "(slow)", file=sys.stderr)


def check_one_solve_per_chunk(stage) -> None:
    """An optimizer that solves exactly once per held batch (``one_solve_per_chunk``, e.g. ``lstsq_last``) runs
    one iteration per chunk: ``iterations`` > 1 needs ``chunk: 1`` (a fresh batch each); one-line ConfigError."""
    from ..core.errors import ConfigError
    from .optimizers import OPTIMIZERS

    if getattr(OPTIMIZERS.get(stage.optimizer), "one_solve_per_chunk", False) and stage.iterations > 1 \
            and stage.chunk != 1:
        raise ConfigError(f"training.stages.{stage.name}.chunk",
                          f"{stage.optimizer} solves exactly once per function batch, so each iteration is one "
                          f"chunk: set chunk: 1 (got {stage.chunk}) or iterations: 1")


def check_residual_stages(stages, loss) -> None:
    """Before training: a stage whose optimizer works on the residual vector (``needs_residuals``) must train
    the plain loss (``loss_form: mse``) of a loss that has residuals (a PINN's or an operator's); one that solves
    for a DeepONet's last layer (``needs_last_layer``) needs an operator loss. One-line ConfigErrors."""
    from ..core.errors import ConfigError
    from .optimizers import OPTIMIZERS

    for s in stages:
        factory = OPTIMIZERS.get(s.optimizer)
        if not getattr(factory, "needs_residuals", False):
            continue
        if s.loss_form != "mse":
            raise ConfigError(f"training.stages.{s.name}.loss_form",
                              f"{s.optimizer} minimises the sum of squared residuals itself, so only 'mse' applies "
                              f"(got '{s.loss_form}')")
        if not loss.supports_residuals:
            raise ConfigError(f"training.stages.{s.name}",
                              f"{s.optimizer} needs the residual vector of a PINN or operator loss; this "
                              f"run's loss ({type(loss).__name__}) has none")
        if getattr(factory, "needs_last_layer", False) and not hasattr(loss, "batch_functions"):
            raise ConfigError(f"training.stages.{s.name}.optimizer",
                              f"{s.optimizer} solves for a DeepONet's last layer; this run's loss "
                              f"({type(loss).__name__}) has none (network.arch: deeponet only): use "
                              "levenberg_marquardt or lbfgs")
        check_one_solve_per_chunk(s)
