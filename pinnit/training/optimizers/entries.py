"""The registered optimizers: ``adam``, ``sgd`` and ``lbfgs`` (torch's), ``bfgs``, ``ssbfgs`` and ``ssbroyden``
(:class:`.dense.DenseQuasiNewton`), ``levenberg_marquardt`` (:class:`.levenberg_marquardt.LevenbergMarquardt`) and
``lstsq_last`` (:class:`.least_squares.LeastSquaresLast`, a DeepONet's last layer by exact least squares).
Each entry's keyword arguments are its config options; an entry whose optimizer's ``step`` needs a closure (it
evaluates the loss itself) sets ``needs_closure = True``, and the trainer then runs it in chunks of ``max_iter``
iterations; one that also sets ``needs_residuals = True`` gets the loss's residual vector bound before each chunk
(``optimizer.residuals = loss.residuals()``; the loss form must be ``mse``); ``needs_last_layer = True`` asks
for an operator loss, ``one_solve_per_chunk = True`` for ``chunk: 1`` when the stage has several iterations."""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field

from .base import register_optimizer
from .dense import DEFAULT_MAX_PARAMS, DenseQuasiNewton
from .least_squares import DEFAULT_MAX_PARAMS as LS_MAX_PARAMS
from .least_squares import FUNCTIONS, LeastSquaresLast
from .levenberg_marquardt import DEFAULT_MAX_PARAMS as LM_MAX_PARAMS
from .levenberg_marquardt import SCALINGS, LevenbergMarquardt

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Unit = Annotated[float, Field(gt=0, lt=1)]
Count = Annotated[int, Field(gt=0, le=10**9)]
Beta = Annotated[float, Field(ge=0, lt=1)]


@register_optimizer("adam")
def adam(params, *, lr: Positive = 1e-3, betas: tuple[Beta, Beta] = (0.9, 0.999),
         eps: Positive = 1e-8) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015), torch's implementation."""
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)


@register_optimizer("sgd")
def sgd(params, *, lr: Positive = 1e-3, momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0,
        nesterov: bool = False) -> torch.optim.Optimizer:
    """Stochastic gradient descent (with optional heavy-ball or Nesterov momentum), torch's implementation."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov)


class LBFGS(torch.optim.LBFGS):
    """torch's L-BFGS, except that a line search that meets a NaN loss ends the ``step`` call at the last
    accepted point (``state["stop_reason"]``) instead of raising: torch's strong-Wolfe search orders its bracket
    by comparing losses, and a NaN trial that passes the curvature test (the trainer leaves the gradient of a
    non-finite loss at zero) makes it index a one-point bracket (IndexError in ``_strong_wolfe``). The parameters
    are back at the search's start by then; the closure is called there once more, so the caller's last
    evaluation is of the point it is left at."""

    def step(self, closure):  # type: ignore[override]
        state = self.state[self._params[0]]
        state.pop("stop_reason", None)
        try:
            return super().step(closure)
        except IndexError as exc:
            if exc.__traceback__ is None or _innermost(exc.__traceback__) != "_strong_wolfe":
                raise
        state["n_iter"] = state.get("n_iter", 1) - 1  # the iteration whose search failed did not move
        state["stop_reason"] = "the line search met a non-finite loss"
        with torch.enable_grad():
            return closure()


def _innermost(tb) -> str:
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_name


@register_optimizer("lbfgs")
def lbfgs(params, *, lr: Positive = 1.0, max_iter: Count = 50, history_size: Count = 50,
          tolerance_grad: NonNegative = 1e-7, tolerance_change: NonNegative = 1e-9,
          line_search: Literal["strong_wolfe", "none"] = "strong_wolfe") -> torch.optim.Optimizer:
    """L-BFGS with a strong-Wolfe line search, torch's implementation (O(m n) memory). The tolerances here are
    torch's; a config's ``lbfgs`` stage overrides them with 1e-9 / 1e-12 (:mod:`pinnit.config.defaults`)."""
    return LBFGS(params, lr=lr, max_iter=max_iter, max_eval=max_iter * 5, history_size=history_size,
                 tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                 line_search_fn=None if line_search == "none" else "strong_wolfe")


lbfgs.needs_closure = True  # type: ignore[attr-defined]


def _dense(update: str, doc: str):
    def entry(params, *, max_iter: Count = 50, c1: Unit = 1e-4, c2: Unit = 0.9, max_evals: Count = 25,
              tolerance_grad: NonNegative = 1e-12, tolerance_change: NonNegative = 0.0,
              max_params: Count = DEFAULT_MAX_PARAMS) -> torch.optim.Optimizer:
        return DenseQuasiNewton(params, update=update, max_iter=max_iter, c1=c1, c2=c2, max_evals=max_evals,
                                tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                                max_params=max_params)

    entry.__name__, entry.__doc__ = update, doc
    entry.needs_closure = True  # type: ignore[attr-defined]
    return entry


register_optimizer("bfgs")(_dense("bfgs", "BFGS, dense inverse Hessian, strong-Wolfe line search (≤ ~10⁴ parameters)."))
register_optimizer("ssbfgs")(_dense(
    "ssbfgs", "Self-scaled BFGS (Al-Baali's τ), dense inverse Hessian, strong Wolfe (Urbán et al. 2024)."))
register_optimizer("ssbroyden")(_dense(
    "ssbroyden", "Self-scaled Broyden (τ_k, φ_k), dense inverse Hessian, strong Wolfe (Urbán et al. 2024)."))


@register_optimizer("levenberg_marquardt")
def levenberg_marquardt(params, *, max_iter: Count = 50, damping: Positive = 1e-3,
                        scaling: Literal[SCALINGS] = "identity", max_params: Count = LM_MAX_PARAMS,
                        max_rejections: Count = 30, cg_max_iter: Count = 200, cg_tolerance: Positive = 1e-10,
                        tolerance_grad: NonNegative = 0.0,
                        tolerance_change: NonNegative = 0.0) -> torch.optim.Optimizer:
    """Levenberg–Marquardt (Nielsen's damping) on the residual vector, loss_form mse; CG above max_params.

    Dense JᵀJ with a Cholesky solve up to ``max_params`` parameters, matrix-free conjugate gradients beyond."""
    return LevenbergMarquardt(params, max_iter=max_iter, damping=damping, scaling=scaling, max_params=max_params,
                              max_rejections=max_rejections, cg_max_iter=cg_max_iter, cg_tolerance=cg_tolerance,
                              tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)


levenberg_marquardt.needs_closure = True  # type: ignore[attr-defined]
levenberg_marquardt.needs_residuals = True  # type: ignore[attr-defined]  (the trainer binds loss.residuals())


@register_optimizer("lstsq_last")
def lstsq_last(params, *, max_iter: Count = 1, max_params: Count = LS_MAX_PARAMS, damping: NonNegative = 0.0,
               cg_max_iter: Count = 2000, cg_tolerance: Positive = 1e-12,
               affine_tolerance: Positive = 1e-6, structured: bool = True,
               functions: Literal[FUNCTIONS] = "batch") -> torch.optim.Optimizer:
    """A DeepONet's last layer by exact least squares on the held batch, the rest frozen (Choi, Lee & Moon 2025).

    One solve per iteration (per chunk) fitting the held batch or every training function (``functions: all``),
    with an optional ridge ``damping``·‖δ‖²: by the DeepONet's Kronecker structure (``structured``, when the loss's
    residuals offer it; dense up to ``max_params`` unknowns, block-preconditioned CG beyond), else on the batch's
    Jacobian (dense SVD up to ``max_params`` last-layer parameters, CG on the normal equations beyond); refused
    when the residual is not affine in them (a nonlinear problem)."""
    return LeastSquaresLast(params, max_iter=max_iter, max_params=max_params, damping=damping, cg_max_iter=cg_max_iter,
                            cg_tolerance=cg_tolerance, affine_tolerance=affine_tolerance, structured=structured,
                            functions=functions)


lstsq_last.needs_closure = True  # type: ignore[attr-defined]
lstsq_last.needs_residuals = True  # type: ignore[attr-defined]
lstsq_last.needs_last_layer = True  # type: ignore[attr-defined]  (operator runs only)
lstsq_last.one_solve_per_chunk = True  # type: ignore[attr-defined]
