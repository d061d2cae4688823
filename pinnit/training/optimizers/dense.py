"""A dense inverse-Hessian quasi-Newton optimizer (BFGS, SSBFGS, SSBroyden) with a strong-Wolfe search.

The parameters are flattened into one vector x of n entries and H is an n × n matrix in their dtype
(float64 intended). Each iteration: d = −H g, a strong-Wolfe line search along d (c₁ = 1e-4, c₂ = 0.9 by
default), then the self-scaled update of :mod:`.scaling`. Cost per iteration: the function/gradient
evaluations of the line search plus O(n²) for H g and the rank-one updates; memory n² words.

Size: H costs n² words — 800 MB at n = 10⁴ float64 parameters, 3.2 GB at 2·10⁴ — and each iteration
passes over it three times (H g, H y and one rank-3 ``addmm_``): measured 0.08 s at n = 2000 and 0.44 s at
n = 5000 on one (shared) CPU core, so ≈ 2 s at n = 10⁴, where it outweighs a small PINN's loss. Above
``max_params`` (default 20 000) the constructor refuses with a PinnitError that points to L-BFGS
(O(m n) memory and time). The PINNs these methods were made for (3–4 × 20–30 tanh) have 10³–3·10³.

Failures: if d = −H g is not a descent direction (round-off can make H indefinite) or the line search
finds no strong-Wolfe step, H is reset to γ I with γ = sᵀy / yᵀy of the last accepted step (Nocedal &
Wright eq. 6.20; γ = 1 before any step) and the iteration goes on; a failed search still moves to the
lowest point it found with sufficient decrease. A search that finds no decrease at all twice in a row
(the second from the reset H) ends the ``step`` call (``state["stop_reason"]``). Failures, resets and
skipped updates (sᵀy ≤ 0 to round-off) are counted in the state.

``step(closure)`` runs up to ``max_iter`` iterations (like ``torch.optim.LBFGS``); ``state["n_iter"]``
counts the iterations done in total and ``state["loss"]`` is the loss at the point the parameters are left
at. The whole state (H included) is in ``state_dict()``, so a checkpoint taken between ``step`` calls
resumes bit for bit.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from ...core.errors import PinnitError
from .flat import flat_params, set_flat
from .line_search import strong_wolfe
from .scaling import COEFFICIENTS, curvature, update_inverse_hessian

DEFAULT_MAX_PARAMS = 20_000


class DenseQuasiNewton(torch.optim.Optimizer):
    """Quasi-Newton with a dense inverse Hessian; ``update`` is ``bfgs``, ``ssbfgs`` or ``ssbroyden``."""

    def __init__(self, params: Iterable[torch.nn.Parameter], *, update: str = "bfgs", max_iter: int = 20,
                 c1: float = 1e-4, c2: float = 0.9, max_evals: int = 25, tolerance_grad: float = 1e-12,
                 tolerance_change: float = 0.0, max_params: int = DEFAULT_MAX_PARAMS):
        if update not in COEFFICIENTS:
            raise PinnitError(f"unknown quasi-Newton update '{update}'; valid: {', '.join(COEFFICIENTS)}")
        if not 0 < c1 < c2 < 1:
            raise PinnitError(f"the strong-Wolfe constants need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
        defaults = dict(update=update, max_iter=max_iter, c1=c1, c2=c2, max_evals=max_evals,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change, max_params=max_params)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise PinnitError("the dense quasi-Newton optimizer takes one parameter group")
        self._params: list[torch.Tensor] = self.param_groups[0]["params"]
        n = sum(p.numel() for p in self._params)
        if n > max_params:
            gib = n * n * self._params[0].element_size() / 2**30
            raise PinnitError(
                f"{update} keeps a dense {n}×{n} inverse Hessian ({gib:.1f} GiB in "
                f"{str(self._params[0].dtype).replace('torch.', '')}), above max_params={max_params}; "
                "use lbfgs for networks this large (or raise max_params)")
        self._n = n

    # --- flat views -----------------------------------------------------------------------------
    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                          for p in self._params])


    # --- state --------------------------------------------------------------------------------------
    def _state(self) -> dict:
        state = self.state[self._params[0]]
        if "H" not in state:
            p = self._params[0]
            state.update(H=torch.eye(self._n, dtype=p.dtype, device=p.device), n_iter=0, func_evals=0,
                         prev_loss=None, gamma=1.0, line_search_failures=0, resets=0,
                         skipped_updates=0, last_tau=1.0, last_phi=1.0, loss=None, stop_reason=None)
        return state

    def _reset(self, state: dict) -> None:
        state["H"] = torch.eye(self._n, dtype=state["H"].dtype, device=state["H"].device) * state["gamma"]
        state["resets"] += 1

    # --- the iteration --------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; ``closure`` zeroes the gradients, returns the loss and
        back-propagates it."""
        group = self.param_groups[0]
        closure = torch.enable_grad()(closure)
        state = self._state()
        state["stop_reason"] = None
        orig_loss = closure()
        f = float(orig_loss.detach())
        state["func_evals"] += 1
        g = self._flat_grad().clone()
        state["loss"] = f
        if not math.isfinite(f):
            state["stop_reason"] = "non-finite loss"
            return orig_loss
        x = flat_params(self._params).clone()
        H = state["H"]
        coefficients = COEFFICIENTS[group["update"]]

        def phi(t: float, x: torch.Tensor, d: torch.Tensor) -> tuple[float, torch.Tensor, float]:
            """f, ∇f and ∇fᵀd at x + t d (the parameters are left there)."""
            set_flat(self._params, x + t * d)
            loss = float(closure().detach())
            grad = self._flat_grad().clone()
            return loss, grad, float(grad @ d)

        failed_in_a_row = 0
        for _ in range(group["max_iter"]):
            if float(g.abs().max()) <= group["tolerance_grad"]:
                state["stop_reason"] = f"gradient below tolerance_grad={group['tolerance_grad']}"
                break
            d = -(H @ g)
            gtd = float(g @ d)
            if not (math.isfinite(gtd) and gtd < 0):  # H lost positive definiteness: restart from γ I
                self._reset(state)
                H = state["H"]
                d = -(H @ g)
                gtd = float(g @ d)
            prev = state["prev_loss"]
            prev = f + float(g.norm()) / 2 if prev is None else prev  # scipy's first-step guess: t ≈ 1/‖g‖
            t0 = min(1.0, 1.01 * 2 * (f - prev) / gtd) if f != prev else 1.0
            t0 = t0 if t0 > 0 else 1.0
            res = strong_wolfe(lambda t, x=x, d=d: phi(t, x, d), f, g, gtd, t0, c1=group["c1"], c2=group["c2"],
                               max_evals=group["max_evals"])
            state["func_evals"] += res.evals
            x_new = x + res.t * d
            set_flat(self._params, x_new)
            if not res.success:
                state["line_search_failures"] += 1
                failed_in_a_row += 1
                self._reset(state)
                H = state["H"]
                if res.t == 0.0:  # no decrease at all: retry once from γ I, then give up this step call
                    if failed_in_a_row >= 2:
                        state["stop_reason"] = f"line search failed twice in a row ({res.reason})"
                        break
                    continue
            else:
                failed_in_a_row = 0
                s = res.t * d
                y = res.g - g
                sy = float(s @ y)
                if sy > 1e-12 * float(s.norm()) * float(y.norm()) and sy > 0:
                    Hy = H @ y
                    c = curvature(H, s, y, g, res.t, Hy)
                    if c.b > 0 and c.h > 0 and math.isfinite(c.b * c.h):
                        tau, phi_k = coefficients(c, self._n)
                        update_inverse_hessian(H, s, y, Hy, tau, phi_k)
                        state.update(last_tau=tau, last_phi=phi_k, gamma=sy / float(y @ y))
                    else:
                        state["skipped_updates"] += 1
                else:
                    state["skipped_updates"] += 1
            state["prev_loss"] = f
            change = abs(res.f - f)
            step_size = float((res.t * d).abs().max())
            x, f, g = x_new, res.f, res.g
            state["n_iter"] += 1
            state["loss"] = f
            tol = group["tolerance_change"]
            if tol > 0 and (change < tol or step_size < tol):
                state["stop_reason"] = f"loss or step change below tolerance_change={tol}"
                break
        self._write_grad(g)
        return orig_loss

    def _write_grad(self, g: torch.Tensor) -> None:
        """Leave ``p.grad`` at the gradient of the accepted point (the last closure call may have been a
        rejected trial)."""
        offset = 0
        for p in self._params:
            n = p.numel()
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            p.grad.copy_(g[offset:offset + n].view_as(p))
            offset += n
