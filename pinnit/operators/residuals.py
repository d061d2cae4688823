"""The residual vector of a physics-informed DeepONet on one function batch, for least-squares optimizers.

The operator loss of a batch of B functions is L(θ) = Σ_t λ_t Σ_parts mean_{B × N_t}(r_t²) (Wang, Wang &
Perdikaris, "Learning the solution operator of parametric PDEs with physics-informed DeepONets", 2021), so
L = ‖r‖² for r = concat_{t, part} √(λ_t / (B·N_t)) · r_t (each part scaled by its own element count, as the
loss's means are). r is taken on the batch a closure chunk holds
(:meth:`~pinnit.operators.loss.OperatorLoss.hold_batch`), in float64 whatever the stage's dtype, with the run's
derivative engine (zcs, autograd or jets: the loss's own code, so ‖r‖² is the loss).

Jacobian products by reverse mode only: Jᵀu is one backward pass of r; J v is the double-backward trick
(g(w) = Jᵀw is linear in w, so J v = ∂(g(w)·v)/∂w; J. Townsend, "A new trick for calculating Jacobian vector
products", 2017). Forward mode (``torch.func.jvp``) is not used: the derivative engines call
``torch.autograd.grad`` (zcs, autograd) and the function inputs are interpolated through NumPy, which
``torch.func`` transforms refuse; the double backward works with every engine.

:attr:`OperatorResiduals.linear_indices` are the entries of θ in which r is affine when the PDE and the output
transform are linear: the DeepONet's last layer — each branch's final Linear (weight and bias) and the output
bias β (G = Σ_k b_k t_k + β with b linear in them; Lu et al. 2021). ``lstsq_last`` solves for them exactly.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from ..core.errors import PinnitError
from ..training.residuals import Residuals


class _Parts(nn.Module):
    """``forward(F, points, values)`` → each term's residual parts with the wrapped model's parameters (so that
    ``functional_call`` can substitute θ)."""

    def __init__(self, loss):
        super().__init__()
        self.model = loss.model
        self._loss = [loss]  # not a submodule

    def forward(self, F, points, values):
        return self._loss[0].residual_parts(F, self.model, points, values)


def last_layer_names(model: nn.Module) -> list[str]:
    """Names (in ``model.named_parameters()``) of the DeepONet's last layer: every branch's final Linear and β."""
    net = model.net
    names = []
    for i, branch in enumerate(net.branches):
        last = len(branch.layers) - 1
        names += [f"net.branches.{i}.layers.{last}.weight", f"net.branches.{i}.layers.{last}.bias"]
    return names + ["net.bias"]


class OperatorResiduals(Residuals):
    """r(θ) for a flat float64 θ on the sensor values ``F`` (B × m) of one batch, at the loss's current points."""

    def __init__(self, loss, F: torch.Tensor):
        self.loss, model = loss, loss.model
        self.parts = _Parts(loss)
        named = list(model.named_parameters())
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.buffers = {f"model.{n}": b.detach().double() for n, b in model.named_buffers()}
        shared: dict[int, torch.Tensor] = {}  # shared point sets stay shared (one set of derivatives)
        self.points = {k: shared.setdefault(v.data_ptr(), v.detach().double()) for k, v in loss.points.items()}
        self.F = F.detach().double()
        self._interp: dict[str, torch.Tensor] = {}
        offsets, offset = {}, 0
        for name, shape in zip(self.names, self.shapes):
            offsets[name] = (offset, shape.numel())
            offset += shape.numel()
        self.linear_indices = torch.cat([torch.arange(o, o + k, device=F.device) for o, k in
                                         (offsets[n] for n in last_layer_names(model))])
        super().__init__(self._vector)
        reference = float(loss.total(loss.losses_for(F)).detach())
        value = float(self(self.theta()).pow(2).sum())
        tol = 1e-8 if F.dtype == torch.float64 else 1e-3
        if not abs(value - reference) <= tol * max(abs(reference), 1e-30) + 1e-30:
            raise PinnitError(f"operator residuals: ‖r‖² = {value:.6g} differs from the loss {reference:.6g}")

    def theta(self) -> torch.Tensor:
        """The model's parameters as one flat float64 vector."""
        return torch.cat([p.detach().reshape(-1).double() for p in self.loss.model.parameters()])

    def tensors(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The model's parameters (views of θ) and buffers (float64), named as in ``model.named_parameters()``."""
        tensors, offset = {k[len("model."):]: v for k, v in self.buffers.items()}, 0
        for name, shape in zip(self.names, self.shapes):
            tensors[name] = theta[offset:offset + shape.numel()].view(shape)
            offset += shape.numel()
        return tensors

    def _vector(self, theta: torch.Tensor, branch: list[torch.Tensor] | None = None,
                F: torch.Tensor | None = None) -> torch.Tensor:
        """r(θ); with ``branch`` (each output's branch features, B × p) in place of the branch nets' outputs; on
        the sensor values ``F`` instead of the batch's (scaled for its own count of functions)."""
        tensors = {f"model.{k}": v for k, v in self.tensors(theta).items()}
        F = self.F if F is None else F
        values = self.loss.function_values(F, self.points, self._interp)
        net = self.loss.model.net
        if branch is not None:
            net.branch_features = lambda F: branch  # an instance attribute shadows the method, removed below
        try:
            with torch.enable_grad():  # zcs and autograd differentiate in x even when no θ-gradient is wanted
                parts = functional_call(self.parts, tensors, (F, self.points, values))
        finally:
            if branch is not None:
                del net.branch_features
        weights = self.loss.weights
        self.sizes = [p.numel() // p.shape[0] for ps in parts.values() for p in ps]  # points of each part
        return torch.cat([(p * (weights[name] / p.numel()) ** 0.5).reshape(-1)
                          for name, ps in parts.items() for p in ps])

    def by_function(self, r: torch.Tensor) -> torch.Tensor:
        """r (the layout of :meth:`_vector`: term by term, each B × N row-major) as an M × B matrix: one column
        per function of the batch."""
        out, offset, b = [], 0, r.numel() // sum(self.sizes)
        for n in self.sizes:
            out.append(r[offset:offset + b * n].view(b, n).T)
            offset += b * n
        return torch.cat(out)

    def solve_last_layer(self, theta: torch.Tensor, **options) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(r, δ) minimising ‖r + J_S δ‖² (+ damping·‖δ‖²) over the last layer by its Kronecker structure
        (:func:`pinnit.operators.last_layer.solve_last_layer`); None when the structure does not hold."""
        from .last_layer import solve_last_layer

        return solve_last_layer(self, theta, **options)

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return self._vector(theta.detach()).detach()

    def linear(self, theta: torch.Tensor) -> tuple[torch.Tensor, Callable, Callable]:
        """(r, v ↦ J v, u ↦ Jᵀ u) at θ by reverse mode (J v by double backward, see the module docstring)."""
        leaf = theta.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            r = self._vector(leaf)
            w = torch.zeros_like(r, requires_grad=True)
            (g,) = torch.autograd.grad(r, leaf, w, create_graph=True)

        def JTu(u: torch.Tensor) -> torch.Tensor:
            return torch.autograd.grad(r, leaf, u, retain_graph=True)[0]

        def Jv(v: torch.Tensor) -> torch.Tensor:
            if not g.requires_grad:  # r does not depend on θ
                return torch.zeros_like(r)
            return torch.autograd.grad(g, w, v, retain_graph=True)[0]

        return r.detach(), Jv, JTu

    def jacobian(self, theta: torch.Tensor, columns: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(r, J) at θ, J = ∂r/∂θ (N × P), or only the ``columns`` of J (J v for their unit vectors)."""
        r, Jv, JTu = self.linear(theta)
        n = theta.numel()
        if columns is None and r.numel() < n:  # fewer rows: one backward per residual
            rows = [JTu(e) for e in torch.eye(r.numel(), dtype=r.dtype, device=r.device)]
            return r, torch.stack(rows)
        cols = torch.arange(n, device=r.device) if columns is None else columns
        out = torch.empty(r.numel(), len(cols), dtype=r.dtype, device=r.device)
        for j, c in enumerate(cols.tolist()):
            e = torch.zeros(n, dtype=theta.dtype, device=theta.device)
            e[c] = 1.0
            out[:, j] = Jv(e)
        return r, out
