"""Exact least squares over the parameters in which the residual is affine (a DeepONet's last layer).

With every other parameter frozen, a physics-informed DeepONet's residual on a linear PDE with a linear output
transform is affine in its last layer θ_S (each branch's final Linear and the output bias β):
r(θ_S + δ) = r + J_S δ exactly. The loss ‖r‖² is then minimised over θ_S in one linear least-squares solve,

    δ* = argmin_δ ‖r + J_S δ‖² + ε‖δ‖²   (ε = ``damping``; with ε = 0 the minimum-norm solution),

the step of the hybrid least-squares / gradient-descent training of DeepONets (J. Choi, C.-O. Lee & M. Moon,
"Hybrid least squares/gradient descent methods for DeepONets", 2025), which alternates it with Adam on the rest
(stages ``adam → lstsq_last → adam → …``). Solvers, in order of preference:

- ``structured`` (default): the residuals' own ``solve_last_layer`` when they offer it — for a DeepONet the
  Kronecker structure of branch × trunk (:mod:`pinnit.operators.last_layer`), exact and cheap, over the held
  batch or every training function (``functions: all``);
- dense, when |S| ≤ ``max_params``: J_S column by column (J e_i), then an SVD least-squares solve (LAPACK
  gelsd, no normal equations), on the held batch;
- matrix-free beyond: conjugate gradients (Hestenes & Stiefel 1952, :mod:`.cg`) on the normal equations
  (J_SᵀJ_S + ε I) δ = −J_Sᵀ r with J_S v and J_Sᵀ u from the bound residuals, to ``cg_tolerance``; they square
  J_S's condition number, so on an ill-conditioned layer they stop short of the minimum (``cg_max_iter``).

Affinity is checked once per solve, for the price of one residual evaluation: ‖r(θ + δ) − (r + J_S δ)‖ ≤
``affine_tolerance``·(‖r‖ + ‖J_S δ‖) in float64 on the held batch (default 1e-6: rounding in a large,
ill-conditioned solve reaches 1e-7; a nonlinear term, e.g. Navier–Stokes' u·u_x, gives order one). Failing it
refuses the solve with one line, the parameters unchanged.

``step(closure)`` is one solve on the batch the trainer holds (a second solve on the same batch would not move,
so a stage of several iterations needs ``chunk: 1``); ``state["n_iter"]`` counts solves; the counters are in
``state_dict()``, so a resumed run continues bit for bit.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from ...core.errors import PinnitError
from .cg import conjugate_gradient
from .flat import flat_params, set_flat

DEFAULT_MAX_PARAMS = 2000
#: the functions a solve fits: the held batch, or every training function (the structured solver only)
FUNCTIONS = ("batch", "all")


class LeastSquaresLast(torch.optim.Optimizer):
    """One exact least-squares solve for the residuals' ``linear_indices``; bind ``residuals`` before ``step``."""

    needs_residuals = True

    def __init__(self, params: Iterable[torch.nn.Parameter], *, max_iter: int = 1, max_params: int = DEFAULT_MAX_PARAMS,
                 damping: float = 0.0, cg_max_iter: int = 2000, cg_tolerance: float = 1e-12,
                 affine_tolerance: float = 1e-6, structured: bool = True, functions: str = "batch"):
        if functions not in FUNCTIONS:
            raise PinnitError(f"unknown functions '{functions}'; valid: {', '.join(FUNCTIONS)}")
        defaults = dict(max_iter=max_iter, max_params=max_params, damping=damping, cg_max_iter=cg_max_iter,
                        cg_tolerance=cg_tolerance, affine_tolerance=affine_tolerance, structured=structured,
                        functions=functions)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise PinnitError("lstsq_last takes one parameter group")
        self._params: list[torch.Tensor] = self.param_groups[0]["params"]
        #: the residual vector (a :class:`~pinnit.training.residuals.Residuals` with ``linear_indices``)
        self.residuals = None

    def _state(self) -> dict:
        state = self.state[self._params[0]]
        if "n_iter" not in state:
            state.update(n_iter=0, structured=0, dense=0, cg_iterations=0, loss=None, loss_before=None,
                         affine_error=None, stop_reason=None)
        return state

    @staticmethod
    def _embed(x: torch.Tensor, S: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        full = torch.zeros_like(x)
        full[S] = v
        return full

    def _solve(self, x: torch.Tensor, S: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(r, δ_S, J_S δ_S) at x."""
        group, state = self.param_groups[0], self._state()
        info: dict = {}
        solved = self.residuals.solve_last_layer(
            x, functions=group["functions"], damping=group["damping"], dense_max=group["max_params"],
            cg_max_iter=group["cg_max_iter"], cg_tolerance=group["cg_tolerance"], info=info
        ) if group["structured"] and hasattr(self.residuals, "solve_last_layer") else None
        if solved is not None:  # the loss's own structured solver (a DeepONet's Kronecker structure)
            r, d = solved
            state["structured"] += 1
            state["cg_iterations"] += info.get("cg_iterations", 0)
            return r, d, self.residuals.linear(x)[1](self._embed(x, S, d))
        if group["functions"] != "batch":
            raise PinnitError("lstsq_last: functions: all needs the DeepONet's Kronecker structure, which this "
                              "problem lacks (a coefficient depends on the function); use functions: batch")
        if len(S) <= group["max_params"]:
            r, J = self.residuals.jacobian(x, columns=S)
            if group["damping"] > 0:  # ridge: min ‖r + Jδ‖² + ε‖δ‖²
                J = torch.cat([J, group["damping"] ** 0.5 * torch.eye(len(S), dtype=J.dtype, device=J.device)])
                rhs = torch.cat([-r, torch.zeros(len(S), dtype=r.dtype, device=r.device)])
            else:
                rhs = -r
            d = torch.linalg.lstsq(J.cpu(), rhs.cpu()[:, None], driver="gelsd").solution[:, 0].to(x.device)
            state["dense"] += 1
            return r, d, J[:len(r)] @ d
        r, Jv, JTu = self.residuals.linear(x)
        embed = lambda v: self._embed(x, S, v)  # noqa: E731
        eps = group["damping"]
        d, k = conjugate_gradient(lambda v: JTu(Jv(embed(v)))[S] + eps * v, -JTu(r)[S],
                                  max_iter=group["cg_max_iter"], tolerance=group["cg_tolerance"])
        state["cg_iterations"] += k
        return r, d, Jv(embed(d))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):  # type: ignore[override]
        """One solve on the bound residuals; returns the loss at the start (from ``closure``, if any)."""
        if self.residuals is None:
            raise PinnitError("lstsq_last needs a residual vector: set optimizer.residuals first")
        S = getattr(self.residuals, "linear_indices", None)
        if S is None:
            raise PinnitError("lstsq_last solves for a DeepONet's last layer; this residual vector has none "
                              "(network.arch: deeponet only): use levenberg_marquardt or lbfgs")
        group, state = self.param_groups[0], self._state()
        closure = torch.enable_grad()(closure) if closure is not None else None
        first = closure() if closure is not None else None
        x = flat_params(self._params, torch.float64)
        r, d, Jd = self._solve(x, S)
        x_new = x.clone()
        x_new[S] += d
        r_new = self.residuals(x_new)
        predicted = r + Jd
        scale = float(r.norm() + Jd.norm())
        error = float((r_new - predicted).norm()) / scale if scale > 0 else 0.0
        state["affine_error"] = error
        if not error <= group["affine_tolerance"]:
            raise PinnitError(f"lstsq_last: the residual is not affine in the DeepONet's last layer "
                              f"(‖r(θ+δ) − r − Jδ‖ = {error:.2g}·(‖r‖ + ‖Jδ‖), above affine_tolerance="
                              f"{group['affine_tolerance']:g}): the PDE or the output transform is nonlinear; "
                              "use lbfgs or levenberg_marquardt")
        state["loss_before"], state["loss"] = float(r @ r), float(r_new @ r_new)
        set_flat(self._params, x_new)
        state["n_iter"] += 1
        state["stop_reason"] = None
        if closure is not None:
            closure()
        return first
