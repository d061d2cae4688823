"""The step interface: what one call of the training loop does in the current stage.

A :class:`Step` belongs to one optimizer (a stage's, rebuilt on a restart or rollback) and ``run(trainer)``
advances the trainer's state:

- :class:`EagerStep` — one iteration of a first-order optimizer (Adam, SGD, …): the loss at θ_k, its
  gradient by autograd, ``optimizer.step()``, with the learning rate of the stage's schedule;
- :class:`FusedStep` — the same Adam iteration (Kingma & Ba, "Adam: a method for stochastic optimization",
  2015, Alg. 1) as one compiled graph (:mod:`pinnit.training.fused_adam`), when the loss offers it;
- :class:`ClosureStep` — up to ``chunk`` iterations of a closure optimizer (L-BFGS, BFGS, SSBFGS, SSBroyden,
  Levenberg–Marquardt) on one held batch; a chunk that stops early after lowering the loss restarts the
  optimizer with an empty curvature memory, at most ``restarts`` times.

Each evaluated loss is that of the weights before the update (first-order) or of the evaluated point
(closure); it is recorded, checked for finiteness (:class:`~pinnit.training.train_state.Diverged`) and offered
to the best-weights tracker. :func:`step_for` chooses the step of the trainer's current optimizer.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import torch

from .schedule import scheduled_lr

if TYPE_CHECKING:
    from .fused_adam import FusedAdam
    from .trainer import Trainer


def recorded_values(total: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """``{term: L_t, …, "total": L}`` as floats (one host transfer for all terms)."""
    names = [*terms, "total"]
    return dict(zip(names, torch.stack([*(v.detach() for v in terms.values()), total.detach()]).tolist()))


class Step(ABC):
    """One call of the training loop for ``optimizer``'s stage."""

    #: recorded in checkpoints: True for the fused Adam step, False for an eager first-order one, None otherwise
    fused: bool | None = None

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer

    @abstractmethod
    def run(self, trainer: Trainer) -> None:
        """Advance ``trainer`` by one iteration (first-order) or one chunk of iterations (closure)."""


class FirstOrderStep(Step):
    """One iteration: resample when due, the scheduled learning rate, :meth:`update`, record."""

    def run(self, trainer: Trainer) -> None:
        s, stage = trainer.state, trainer.stage
        trainer.maybe_resample()
        lr = scheduled_lr(stage.lr, stage.schedule, s.stage_step, stage.iterations) * s.lr_scale
        if "lr" in stage.options:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        values = self.update(trainer, lr)
        trainer.advance(1)
        trainer.record(values, lr, s.step - 1, final=s.stage_step == stage.iterations)

    @abstractmethod
    def update(self, trainer: Trainer, lr: float) -> dict[str, float]:
        """Update the weights once; the recorded losses of the weights before the update."""


class EagerStep(FirstOrderStep):
    """Loss, backward of g(L) (the stage's loss form), ``optimizer.step()``."""

    fused = False

    def update(self, trainer: Trainer, lr: float) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        total, terms = trainer.losses()
        values = trainer.check(total, terms)
        trainer.consider(values["total"], trainer.state.step)  # the loss of the weights before this update
        trainer.form(total).backward()
        self.optimizer.step()
        return values


class FusedStep(FirstOrderStep):
    """Adam's iteration as one compiled graph; a non-finite loss undoes its update (as the eager step makes none)."""

    fused = True

    def __init__(self, optimizer: torch.optim.Optimizer, fused_adam: FusedAdam):
        super().__init__(optimizer)
        self.fused_adam = fused_adam

    def update(self, trainer: Trainer, lr: float) -> dict[str, float]:
        total, terms = self.fused_adam(lr)  # the losses of the weights before the update
        values = recorded_values(total, terms)
        if not all(map(math.isfinite, values.values())):
            self.fused_adam.undo()
        trainer.raise_if_nonfinite(values)
        trainer.consider(values["total"], trainer.state.step, self.fused_adam)
        return values


class ClosureStep(Step):
    """Up to ``chunk`` iterations of a closure optimizer on one held batch, then the restart rule."""

    def run(self, trainer: Trainer) -> None:
        t, s, stage, opt = trainer, trainer.state, trainer.stage, self.optimizer
        t.maybe_resample()
        n = min(stage.chunk, stage.iterations - s.stage_step)
        if stage.resample_every:
            n = min(n, s.next_resample - s.stage_step)
        group = opt.param_groups[0]
        group["max_iter"] = n
        if "max_eval" in group:  # torch's L-BFGS: evaluations per call
            group["max_eval"] = n * 5
        state = opt.state[group["params"][0]]
        before = state.get("n_iter", 0)
        last: dict[str, Any] = {}
        t.loss.hold_batch(True)  # e.g. operator runs: one function batch for the whole chunk
        if getattr(opt, "needs_residuals", False):  # least squares: r(θ) on this chunk's points (and batch)
            opt.residuals = t.loss.residuals()

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            total, terms = t.losses()
            value = float(total.detach())  # the one host sync per evaluation (finite check, best tracking)
            trained = t.form(total)
            if math.isfinite(value):
                trained.backward()
                t.consider(value, s.step + state.get("n_iter", 0) - before)  # weights = the evaluated point
            last["total"], last["terms"] = total, terms
            return trained

        opt.step(closure)
        done = max(state.get("n_iter", 0) - before, 0)
        # torch's L-BFGS ends on its last evaluation; the dense methods may end after a rejected trial point
        total, terms = (last["total"], last["terms"]) if isinstance(opt, torch.optim.LBFGS) else t.losses()
        t.loss.hold_batch(False)
        values = t.check(total.detach(), {k: v.detach() for k, v in terms.items()})
        t.check_parameters()
        self._finish(t, state, values, n, done)

    def _finish(self, t: Trainer, state: dict[str, Any], values: dict[str, float], n: int, done: int) -> None:
        """Record the chunk; a chunk that stopped early either restarts the optimizer or ends the stage."""
        s, stage = t.state, t.stage
        improved = values["total"] < s.last_losses.get("total", math.inf)
        step0 = s.step
        t.advance(done)
        stopped_early, restart = done < n, False
        tolerance_grad = stage.options.get("tolerance_grad", 0.0)
        if stopped_early:
            grad = torch.cat([p.grad.reshape(-1) for p in t.model.parameters() if p.grad is not None])
            if grad.numel() and float(grad.abs().max()) <= tolerance_grad:
                s.stop_reasons[s.stage] = f"gradient below tolerance_grad={tolerance_grad}"
            else:
                restart = improved and s.restarts[s.stage] < stage.restarts
                why = state.get("stop_reason") or (f"loss or step change below tolerance_change="
                                                   f"{stage.options.get('tolerance_change')}")
                s.stop_reasons[s.stage] = f"{why} (after {s.restarts[s.stage]} restarts)"
        t.record(values, stage.lr * s.lr_scale, step0, log=True,
                 final=(stopped_early and not restart) or s.stage_step >= stage.iterations)
        if restart:  # clear the curvature memory and go on
            s.restarts[s.stage] += 1
            s.history.append({"step": s.step, "stage": s.stage,
                              "event": f"{t.label(stage)} restart {s.restarts[s.stage]}"})
            t.optimizer = stage.build(t.model.parameters(), s.lr_scale)
        elif stopped_early:
            s.stage_step = stage.iterations  # converged: the stage is over


def step_for(trainer: Trainer, eager: bool = False) -> Step:
    """The step of the trainer's current optimizer: closure stages chunk; first-order ones take the loss's fused
    Adam step when it offers one (and ``eager`` is not asked for, e.g. a resumed run that ran eagerly)."""
    optimizer = trainer.optimizer
    if trainer.stage.closure:
        return ClosureStep(optimizer)
    fused = None if eager else trainer.loss.fused_adam(optimizer, trainer.form)
    return EagerStep(optimizer) if fused is None else FusedStep(optimizer, fused)
