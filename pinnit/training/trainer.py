"""The training loop: Adam (with a learning-rate schedule), then L-BFGS with strong-Wolfe line search.

Resumable and safe: every ``checkpoint_every`` steps (and on SIGINT/SIGTERM) the full state — weights,
optimizer, sampled points, RNG, history — is written atomically, so a resumed run continues exactly. A
non-finite loss term stops the run (keeping the last good checkpoint) or rolls back and lowers the
learning rate, as configured.

Best weights: every evaluated loss (each Adam step's, each L-BFGS closure call's, and the completed run's final
weights) is compared with the lowest so far; on improvement the weights that produced it are copied (on the
device, no extra host sync). They travel in the checkpoint, so a resumed run keeps them exactly.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..config.schema import TrainingConfig
from .checkpoint import Checkpointer
from .loss import PinnLoss
from .progress import Progress
from .schedule import scheduled_lr
from .signals import StopRequest
from ..threads import ThreadGovernor


class Diverged(Exception):
    def __init__(self, step: int, term: str, value: float):
        self.step, self.term, self.value = step, term, value
        super().__init__(f"loss term '{term}' became {value} at step {step}")


@dataclass
class TrainState:
    """Everything needed to continue a run exactly (saved in the checkpoint)."""

    stage: str = "adam"
    stage_step: int = 0
    step: int = 0
    lr_scale: float = 1.0
    best_loss: float = math.inf
    best_step: int = 0
    rollbacks: int = 0
    elapsed: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    iterations: dict[str, int] = field(default_factory=lambda: {"adam": 0, "lbfgs": 0})
    lbfgs_stop: str | None = None
    lbfgs_restarts: int = 0
    status: str = "running"
    diverged: dict[str, Any] | None = None
    last_losses: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Runs the optimizer schedule on a :class:`PinnLoss`; ``evaluate()`` returns error metrics."""

    def __init__(self, loss: PinnLoss, cfg: TrainingConfig, *, checkpointer: Checkpointer,
                 evaluate: Callable[[], dict[str, float]] | None = None, eval_every: int = 0,
                 resample_every: int = 0, progress: bool = True, log_every: int = 10):
        self.loss, self.cfg, self.ckpt = loss, cfg, checkpointer
        self.model = loss.model
        self.evaluate = evaluate
        self.eval_every, self.resample_every, self.log_every = eval_every, resample_every, log_every
        self.state = TrainState()
        self.governor = ThreadGovernor(configured=bool(cfg.threads))
        #: the weights (model state_dict, cloned) of the lowest total loss seen so far; None before any evaluation
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.progress = Progress({"adam": cfg.adam.iterations, "lbfgs": cfg.lbfgs.iterations}, enabled=progress)
        self.optimizer = self._make_optimizer("adam" if cfg.adam.iterations else "lbfgs")
        if not cfg.adam.iterations:
            self.state.stage = "lbfgs"

    # --- optimizers -----------------------------------------------------------------------------
    def _make_optimizer(self, stage: str) -> torch.optim.Optimizer:
        params = list(self.model.parameters())
        if stage == "adam":
            return torch.optim.Adam(params, lr=self.cfg.adam.lr, betas=self.cfg.adam.betas)
        c = self.cfg.lbfgs
        return torch.optim.LBFGS(params, lr=c.lr * self.state.lr_scale, max_iter=c.chunk, max_eval=c.chunk * 5,
                                 history_size=c.history_size, tolerance_grad=c.tolerance_grad,
                                 tolerance_change=c.tolerance_change,
                                 line_search_fn=None if c.line_search == "none" else "strong_wolfe")

    # --- checkpoints ----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "train": self.state.__dict__.copy(), "loss": self.loss.state(), "best_weights": self.best_weights}

    def restore(self, snap: dict[str, Any]) -> None:
        self.model.load_state_dict(snap["model"])
        self.state = TrainState(**snap["train"])
        self.state.history = list(self.state.history)
        self.optimizer = self._make_optimizer(self.state.stage)
        self.optimizer.load_state_dict(snap["optimizer"])
        self.loss.load_state(snap["loss"])
        self.best_weights = snap.get("best_weights")

    def save_checkpoint(self) -> None:
        self.ckpt.save(self.snapshot())

    # --- one step ---------------------------------------------------------------------------------
    def _losses(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms = self.loss.term_losses()
        return self.loss.total(terms), terms

    def _check(self, total: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        values = {k: float(v.detach()) for k, v in terms.items()}
        values["total"] = float(total.detach())
        for k, v in values.items():
            if not math.isfinite(v):
                raise Diverged(self.state.step, k, v)
        return values

    def _consider(self, total: float, step: int) -> None:
        """Keep a copy of the current weights if their (finite) total loss is the lowest so far."""
        if total < self.state.best_loss:
            self.state.best_loss, self.state.best_step = total, step
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _check_parameters(self) -> None:
        """A finite loss can still give non-finite gradients (e.g. √u at u = 0): never keep NaN weights."""
        finite = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all()
        if not finite:  # one device sync per step, not one per tensor
            raise Diverged(self.state.step, "parameters", math.nan)

    def _record(self, values: dict[str, float], lr: float, step0: int, *, log: bool = False,
                final: bool = False) -> None:
        """Log a history row (every ``log_every`` steps, or when ``log``) and evaluate against the reference
        when a multiple of ``eval_every`` was reached since ``step0`` or the stage ends (``final``)."""
        s = self.state
        s.last_losses = values
        due = bool(self.eval_every) and s.step // self.eval_every > step0 // self.eval_every
        evaluate = self.evaluate is not None and (due or final)
        if log or final or evaluate or s.step % self.log_every == 0:
            row = {"step": s.step, "stage": s.stage, **{f"loss_{k}": v for k, v in values.items()}, "lr": lr}
            if evaluate:
                row.update(self.evaluate())
            s.history.append(row)
        self.progress.update(s.step, values, s.stage)

    def _adam_step(self) -> None:
        s, c = self.state, self.cfg.adam
        if self.resample_every and s.stage_step and s.stage_step % self.resample_every == 0:
            self.loss.resample()
        lr = scheduled_lr(c.lr, c.schedule, s.stage_step, c.iterations) * s.lr_scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        total, terms = self._losses()
        values = self._check(total, terms)
        self._consider(values["total"], s.step)  # the loss of the weights before this step's update
        total.backward()
        self.optimizer.step()
        self._check_parameters()
        s.stage_step += 1
        s.step += 1
        s.iterations["adam"] += 1
        self._record(values, lr, s.step - 1, final=s.stage_step == c.iterations)

    def _lbfgs_chunk(self) -> None:
        s, c = self.state, self.cfg.lbfgs
        n = min(c.chunk, c.iterations - s.stage_step)
        for group in self.optimizer.param_groups:
            group["max_iter"] = n
        last: dict[str, Any] = {}

        state = self.optimizer.state[self.optimizer.param_groups[0]["params"][0]]
        before = state.get("n_iter", 0)

        def closure() -> torch.Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            total, terms = self._losses()
            value = float(total.detach())  # the one host sync per evaluation (finite check, best tracking)
            if math.isfinite(value):
                total.backward()
                self._consider(value, s.step + state.get("n_iter", 0) - before)  # weights = the evaluated point
            last["total"], last["terms"] = total, terms
            return total

        self.optimizer.step(closure)
        done = state.get("n_iter", 0) - before
        values = self._check(last["total"].detach(), {k: v.detach() for k, v in last["terms"].items()})
        self._check_parameters()
        improved = values["total"] < s.last_losses.get("total", math.inf)
        step0 = s.step
        s.stage_step += max(done, 0)
        s.step += max(done, 0)
        s.iterations["lbfgs"] += max(done, 0)
        stopped_early = done < n
        restart = False
        if stopped_early:
            grad = torch.cat([p.grad.reshape(-1) for p in self.model.parameters() if p.grad is not None])
            if grad.abs().max() <= c.tolerance_grad:
                s.lbfgs_stop = f"gradient below tolerance_grad={c.tolerance_grad}"
            else:
                restart = improved and s.lbfgs_restarts < c.restarts
                s.lbfgs_stop = (f"loss or step change below tolerance_change={c.tolerance_change}"
                                f" (after {s.lbfgs_restarts} restarts)")
        elif s.stage_step >= c.iterations:
            s.lbfgs_stop = f"reached lbfgs.iterations={c.iterations}"
        self._record(values, c.lr * s.lr_scale, step0, log=True,
                     final=(stopped_early and not restart) or s.stage_step >= c.iterations)
        if restart:  # clear the curvature memory and go on
            s.lbfgs_restarts += 1
            s.history.append({"step": s.step, "stage": s.stage, "event": f"L-BFGS restart {s.lbfgs_restarts}"})
            self.optimizer = self._make_optimizer("lbfgs")
        elif stopped_early:
            s.stage_step = c.iterations  # converged: the stage is over

    # --- the loop ---------------------------------------------------------------------------------
    def _stage_done(self) -> bool:
        s = self.state
        return s.stage_step >= (self.cfg.adam.iterations if s.stage == "adam" else self.cfg.lbfgs.iterations)

    def _advance_stage(self) -> bool:
        """Move to the next stage; False when training is finished."""
        if self.state.stage == "adam" and self.cfg.lbfgs.iterations:
            self.state.stage, self.state.stage_step = "lbfgs", 0
            self.optimizer = self._make_optimizer("lbfgs")
            return True
        return False

    def _rollback(self, err: Diverged) -> bool:
        s = self.state
        if self.cfg.on_divergence != "rollback" or s.rollbacks >= self.cfg.max_rollbacks:
            return False
        rollbacks, history, lr_scale = s.rollbacks + 1, s.history, s.lr_scale
        self.restore(self.ckpt.load())
        self.state.rollbacks = rollbacks
        self.state.lr_scale = lr_scale * self.cfg.rollback_lr_factor  # compounds over repeated rollbacks
        self.state.history = history[: len(self.state.history)] + [
            {"step": err.step, "stage": s.stage, "event": f"rollback: {err}; lr ×{self.cfg.rollback_lr_factor}"}]
        if self.state.stage == "lbfgs":
            self.optimizer = self._make_optimizer("lbfgs")
        self.progress.note(f"{err}; rolled back to step {self.state.step} with lr ×{self.state.lr_scale:g}")
        return True

    def train(self) -> TrainState:
        """Train to the end, to divergence, or until SIGINT/SIGTERM; returns the final state."""
        start = time.perf_counter()
        elapsed0 = self.state.elapsed
        if self.state.step == 0 and not self.ckpt.exists():
            self.save_checkpoint()  # the last good state before any step
        every = self.cfg.checkpoint_every
        try:
            with StopRequest() as stop:
                while True:
                    if self._stage_done() and not self._advance_stage():
                        self.state.status = "completed"
                        self.progress.finish(self.state.lbfgs_stop)
                        break
                    self.governor.poll()  # fewer threads when a neighbour starts using the cores
                    try:
                        step0 = self.state.step
                        self._adam_step() if self.state.stage == "adam" else self._lbfgs_chunk()
                    except Diverged as err:
                        if self._rollback(err):
                            continue
                        self.progress.note(f"diverged: {err}; keeping the last good checkpoint")
                        history, rollbacks = self.state.history, self.state.rollbacks
                        self.restore(self.ckpt.load())
                        self.state.status, self.state.history = "diverged", history
                        self.state.rollbacks = rollbacks
                        self.state.diverged = {"step": err.step, "term": err.term, "value": str(err.value),
                                               "message": str(err)}
                        break
                    if every and self.state.step // every > step0 // every:
                        self.state.elapsed = elapsed0 + time.perf_counter() - start
                        self.save_checkpoint()
                    if stop.requested:
                        self.state.status = f"interrupted ({stop.signal_name})"
                        break
        finally:
            self.progress.close()
            self.state.elapsed = elapsed0 + time.perf_counter() - start
        if self.state.status == "completed":
            self._consider_final_weights()
        if self.state.status != "diverged":
            self.save_checkpoint()
        return self.state

    def _consider_final_weights(self) -> None:
        """The last update's weights were never evaluated (each step evaluates before updating): evaluate them
        once, so that best = final when training ended on its lowest loss. Only for completed runs: a resumed
        run evaluates them at its next step, exactly as the uninterrupted run does."""
        total, _ = self._losses()
        value = float(total.detach())
        if math.isfinite(value):
            self._consider(value, self.state.step)
