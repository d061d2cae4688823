"""One Adam iteration as one compiled graph: the loss terms by forward jets, their parameter gradient and
torch's Adam update (``training.derivatives: compiled``, and ``auto`` on long single-thread runs).

Eagerly, a training step is a loss graph, a backward through it and an optimizer step over every parameter
tensor: hundreds of small kernels and as many Python dispatches. Here the step is the function

    (θ, m, v) ↦ θ − α_t m̂ / (√v̂ + ε)   with   g = ∇_θ g_form(Σ_k λ_k L_k(θ)),  m ← β₁m + (1−β₁)g,
    v ← β₂v + (1−β₂)g²,  α_t = lr / (1 − β₁ᵗ),  √v̂ = √v / √(1 − β₂ᵗ)

(Kingma & Ba 2015, Alg. 1, in torch's arrangement of the bias corrections), with L_k from
:func:`pinnit.derivatives.mlp_jets` and g by ``torch.func.grad``; ``torch.compile(fullgraph=True)`` turns it
into one graph whose element-wise work is fused into a few loops. The parameters, m and v live in three
flat buffers: the model's parameters and the Adam state tensors in ``optimizer.state`` are views into them, so
checkpoints, evaluation and ``load_state_dict`` see the same numbers as the eager path. The weights before
the update are copied to a fourth buffer before each call (best-weight tracking and divergence need them).

Before it is used (:func:`fused_adam_for`) the step is compiled and run once on copies of the buffers: its losses
and its gradient must match nested autograd's (1e-8 relative in float64, 1e-3 in float32); a failure to
compile or a mismatch leaves the eager step in charge, with one line saying why. The model's parameters are
views of the flat buffer from then on either way; the optimizer's state is only re-pointed once the check passed.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..derivatives.engine import error_line, loss_mismatch, tolerance

if TYPE_CHECKING:
    from .loss import PinnLoss

Losses = dict[str, torch.Tensor]
#: the compiled step gets inductor's C++ wrapper up to this many linear layers (see FusedAdam)
CPP_WRAPPER_MAX_LAYERS = 8


def unsupported(optimizer: torch.optim.Adam, loss: PinnLoss) -> str | None:
    """Why this Adam stage cannot take the fused step (None: it can)."""
    if len(optimizer.param_groups) != 1:
        return "several parameter groups"
    group = optimizer.param_groups[0]
    if group["amsgrad"] or group["maximize"] or group["weight_decay"] or group.get("differentiable"):
        return "an Adam variant (amsgrad, maximize, weight decay)"
    params = list(loss.model.parameters())
    if [id(p) for p in group["params"]] != [id(p) for p in params if p.requires_grad] or not params:
        return "the optimizer does not hold exactly the model's trainable parameters"
    if len({(p.dtype, p.device) for p in params}) != 1:
        return "parameters of mixed dtype or device"
    if loss.adaptive is not None and loss.adaptive.method == "rar_d":
        return "RAR-D grows the point set (each new size would recompile)"
    return None


class _Objective(nn.Module):
    """``forward(points)`` = the per-term losses of ``model`` by ``losses`` (a module, so that
    ``torch.func.functional_call`` can substitute the parameters)."""

    def __init__(self, model: nn.Module, losses: Callable[[Mapping[str, torch.Tensor]], Losses]):
        super().__init__()
        self.model = model
        self._losses = losses

    def forward(self, points: Mapping[str, torch.Tensor]) -> Losses:
        return self._losses(points)


class FusedAdam:
    """The compiled Adam step of ``optimizer`` (a fresh or loaded ``torch.optim.Adam``) on ``loss``.

    ``losses``: the per-term jets losses (``LossEngine.jets_losses()``); ``form``: the stage's loss form g; the
    term weights λ are the loss's. Calling it with the iteration's learning rate returns (total, terms) at the
    weights *before* the update, and updates the parameters and the optimizer state in place.
    """

    def __init__(self, loss: PinnLoss, optimizer: torch.optim.Adam,
                 losses: Callable[[Mapping[str, torch.Tensor]], Losses], form: Callable[[torch.Tensor], torch.Tensor]):
        self.loss, self.optimizer = loss, optimizer
        group = optimizer.param_groups[0]
        self.params: list[nn.Parameter] = list(group["params"])
        objective = _Objective(loss.model, losses)
        ids = {id(p): n for n, p in objective.named_parameters()}
        self.names = [ids[id(p)] for p in self.params]
        self.state_names = [n.removeprefix("model.") for n in self.names]
        self._flatten()
        beta1, beta2 = group["betas"]
        eps, weights = float(group["eps"]), dict(loss.weights)
        shapes, sizes, names = [p.shape for p in self.params], [p.numel() for p in self.params], self.names

        def objective_of(flat: torch.Tensor, points: Mapping[str, torch.Tensor]):
            views = [v.view(s) for v, s in zip(torch.split(flat, sizes), shapes)]
            terms = torch.func.functional_call(objective, dict(zip(names, views)), (points,))
            total = sum(weights[k] * v for k, v in terms.items())
            return form(total), (total, terms)

        def step(flat, m, v, points, scalars):
            grad, (total, terms) = torch.func.grad(objective_of, has_aux=True)(flat, points)
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            flat.sub_(scalars[0] * m / (v.sqrt() / scalars[1] + eps))
            return total, terms

        # a C++ wrapper saves ~0.1 ms of Python per call (2.31 → 2.22 ms per step of a 3×20 net) but compiles
        # slowly for deep nets (136 s against 54 s at depth 50, no faster there): small nets only
        layers = sum(isinstance(m, nn.Linear) for m in loss.model.modules())
        self._step = torch.compile(step, dynamic=False, fullgraph=True,
                                   options={"cpp_wrapper": layers <= CPP_WRAPPER_MAX_LAYERS})

    def _views(self, buffer: torch.Tensor) -> list[torch.Tensor]:
        """``buffer`` (flat, parameter order) as one view per parameter, shaped like it."""
        return [v.view_as(p) for v, p in zip(torch.split(buffer, [p.numel() for p in self.params]), self.params)]

    def _flatten(self) -> None:
        """Parameters, m and v into flat buffers, the parameters re-pointed at views of them (the optimizer's
        state follows in :meth:`install`, once the step is known to work)."""
        params, opt = self.params, self.optimizer
        state = [opt.state.get(p, {}) for p in params]
        fresh = not state[0]
        with torch.no_grad():
            self.flat = torch.cat([p.detach().reshape(-1) for p in params])
            self.m = torch.zeros_like(self.flat) if fresh else torch.cat([s["exp_avg"].reshape(-1) for s in state])
            self.v = torch.zeros_like(self.flat) if fresh else torch.cat([s["exp_avg_sq"].reshape(-1)
                                                                           for s in state])
        self.previous = self.flat.clone()
        self.best: torch.Tensor | None = None  # the kept best weights (see keep_previous)
        self.t = 0 if fresh else int(state[0]["step"])
        self._steps: list[torch.Tensor] = []
        for p, view in zip(params, self._views(self.flat)):
            p.data = view

    def install(self) -> None:
        """Make ``optimizer.state`` views of m and v (one float32 step tensor per parameter, as torch's Adam
        keeps them), so that state_dict() and checkpoints see the fused step's moments."""
        self._steps = []
        for p, m, v in zip(self.params, self._views(self.m), self._views(self.v)):
            step = torch.tensor(float(self.t))
            self.optimizer.state[p] = {"step": step, "exp_avg": m, "exp_avg_sq": v}
            self._steps.append(step)

    def keep_previous(self) -> Callable[[], dict[str, torch.Tensor]]:
        """Copy the weights before the last update into the kept buffer; returns what turns that buffer into a
        state_dict (cloned, model buffers included) when the best weights are asked for."""
        if self.best is None:
            self.best = torch.empty_like(self.previous)
        with torch.no_grad():
            self.best.copy_(self.previous)
        return self._best_state

    def _best_state(self) -> dict[str, torch.Tensor]:
        out = {k: v.detach().clone() for k, v in self.loss.model.state_dict().items()}
        out.update((name, view.clone()) for name, view in zip(self.state_names, self._views(self.best)))
        return out

    def undo(self) -> None:
        """Back to the weights before the last update (the moments keep the step: a rollback reloads them)."""
        with torch.no_grad():
            self.flat.copy_(self.previous)

    def _scalars(self, lr: float, t: int) -> torch.Tensor:
        # torch's Adam: step_size = lr / (1 − β₁ᵗ), denominator √v / √(1 − β₂ᵗ) + ε (host arithmetic in float64)
        beta1, beta2 = self.optimizer.param_groups[0]["betas"]
        return torch.tensor([lr / (1 - beta1 ** t), math.sqrt(1 - beta2 ** t)], dtype=self.flat.dtype,
                            device=self.flat.device)

    def check(self, reference: Losses, gradient: torch.Tensor) -> str | None:
        """Compile, then run the step once on copies of the buffers (the run's state is untouched) and compare
        its losses with ``reference`` and its gradient (recovered from m, started at 0: m = (1 − β₁)g) with
        ``gradient`` (flat, by autograd); why not to use it, or None."""
        beta1 = self.optimizer.param_groups[0]["betas"][0]
        m = torch.zeros_like(self.m)
        try:
            with torch.no_grad():
                _, terms = self._step(self.flat.clone(), m, self.v.clone(), self.loss.points, self._scalars(1e-3, 1))
        except Exception as exc:  # noqa: BLE001 (a compile failure must not stop training)
            return error_line(exc)
        why = loss_mismatch(reference, terms)
        if why is not None:
            return why
        fused = m / (1 - beta1)
        err = float(torch.linalg.vector_norm(fused - gradient)) / max(float(torch.linalg.vector_norm(gradient)), 1e-30)
        if not err <= tolerance(self.flat.dtype):  # also catches NaN
            return f"gradient differs from autograd's by {err:.3g} (relative norm)"
        return None

    def __call__(self, lr: float) -> tuple[torch.Tensor, Losses]:
        self.t += 1
        for step in self._steps:
            step.fill_(self.t)
        with torch.no_grad():
            # outside the graph: copied inside, the saved weights aliased the updated ones (AOT input mutations)
            self.previous.copy_(self.flat)
            return self._step(self.flat, self.m, self.v, self.loss.points, self._scalars(lr, self.t))


def fused_adam_for(loss: PinnLoss, optimizer: torch.optim.Optimizer,
                   form: Callable[[torch.Tensor], torch.Tensor]) -> FusedAdam | None:
    """The fused step for this stage when the loss engine is ``compiled`` and the jets apply, else None (the
    eager step runs; a line says why when Adam under ``compiled`` cannot be fused)."""
    if loss.engine_name != "compiled" or type(optimizer) is not torch.optim.Adam:
        return None
    engine = loss.engine
    why = unsupported(optimizer, loss)
    if why is None and engine.plan(loss.points) != "compiled":
        return None  # the engine says why the jets do not apply at its first call
    if why is None:
        reference = engine.reference(loss.points)
        total = sum(loss.weights[k] * v for k, v in reference.items())
        params = list(optimizer.param_groups[0]["params"])
        grads = torch.autograd.grad(form(total), params, allow_unused=True)
        gradient = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)])
        try:
            fused = FusedAdam(loss, optimizer, engine.jets_losses(), form)
        except Exception as exc:  # noqa: BLE001 (e.g. torch.compile unavailable: train eagerly)
            why = error_line(exc)
        else:
            why = fused.check({k: v.detach() for k, v in reference.items()}, gradient)
            if why is None:
                fused.install()
                return fused
    engine.note(f"training.derivatives: compiled: the Adam iterations stay eager ({why})")
    return None
