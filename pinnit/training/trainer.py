"""The training loop: a pipeline of optimizer stages (pinnit/training/stages.py), e.g. Adam in float32, then
SSBroyden in float64 on the log of the loss with fresh collocation points every 500 iterations.

The trainer works on any :class:`~pinnit.training.loss_interface.Loss` (a PINN's or an operator's). Per stage:
its dtype (parameters, points and the loss switch dtype when a stage begins), its loss form (the optimizer
minimises g(L), g ∈ {identity, √, log}; the recorded losses are always L), its resampling period, and its
optimizer. Each call of the loop runs the current optimizer's :class:`~pinnit.training.steps.Step`: one
first-order iteration (eager, or Adam fused into one compiled graph) or one closure chunk of ``chunk``
iterations (L-BFGS, BFGS, SSBFGS, SSBroyden, Levenberg–Marquardt).

Resumable and safe: every ``checkpoint_every`` steps (and on SIGINT/SIGTERM) the full state — weights in the
stage's dtype, optimizer (the dense inverse Hessian included), sampled points, RNG, history — is written
atomically, so a resumed run continues exactly. A non-finite loss term stops the run (keeping the last good
checkpoint) or rolls back and lowers the learning rate, as configured.

Best weights: every evaluated loss (each first-order step's, each closure call's, and the completed run's final
weights) is compared with the lowest so far; on improvement the weights that produced it are copied. They
travel in the checkpoint, so a resumed run keeps them exactly.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import torch

from ..config.schema import TrainingConfig
from ..runtime.context import DTYPES
from ..core.errors import PinnitError
from .best_weights import BestWeights
from .checkpoint import Checkpointer, reason
from .fused_adam import FusedAdam
from .loss_interface import Loss
from .optimizers import loss_form, optimizer_label
from .progress import Progress
from .residuals import check_residual_stages
from .signals import StopRequest
from .stages import Stage, stages_of
from .steps import Step, recorded_values, step_for
from .train_state import Diverged, TrainState
from ..runtime.threads import ThreadGovernor


class Trainer:
    """Runs the stages on a :class:`Loss`; ``evaluate()`` returns error metrics."""

    def __init__(self, loss: Loss, cfg: TrainingConfig, *, checkpointer: Checkpointer,
                 evaluate: Callable[[], dict[str, float]] | None = None, eval_every: int = 0,
                 resample_every: int = 0, progress: bool = True, log_every: int = 10,
                 stages: list[Stage] | None = None):
        self.loss, self.cfg, self.ckpt = loss, cfg, checkpointer
        self.model = loss.model
        self.evaluate = evaluate
        self.eval_every, self.log_every = eval_every, log_every
        self.stages = stages if stages is not None else stages_of(cfg, resample_every)
        self.governor = ThreadGovernor(configured=bool(cfg.threads))
        #: the weights (model state_dict, cloned) of the lowest total loss seen so far; None before any evaluation
        self.best = BestWeights()
        self._step: Step | None = None  # the step of the current optimizer (chosen at its first iteration)
        self.progress = Progress({s.name: s.iterations for s in self.stages},
                                 labels={s.name: self.label(s) for s in self.stages}, enabled=progress)
        check_residual_stages(self.stages, loss)  # e.g. levenberg_marquardt: loss_form mse, a PINN loss
        self._clock = time.perf_counter()  # elapsed = now − _clock (train() continues a resumed run's time)
        self.state = TrainState(iterations={s.name: 0 for s in self.stages},
                                stop_reasons={s.name: None for s in self.stages},
                                restarts={s.name: 0 for s in self.stages})
        self._enter(self._next_stage(-1))

    @property
    def best_weights(self) -> dict[str, torch.Tensor] | None:
        """The weights (model state_dict, cloned) of the lowest total loss seen so far; None before any evaluation."""
        return self.best.weights

    @best_weights.setter
    def best_weights(self, weights: dict[str, torch.Tensor] | None) -> None:
        self.best.weights = weights

    @staticmethod
    def label(stage: Stage) -> str:
        """The stage as the progress bar and history name it, e.g. ``adam`` or ``polish (L-BFGS)``."""
        label = optimizer_label(stage.optimizer)
        return label if stage.name == stage.optimizer else f"{stage.name} ({label})"

    # --- stages -----------------------------------------------------------------------------------
    @property
    def stage(self) -> Stage:
        return self.stages[self.state.stage_index]

    def _next_stage(self, index: int) -> int:
        """The index of the next stage with iterations after ``index`` (len(stages) when none is left)."""
        index += 1
        while index < len(self.stages) and self.stages[index].iterations == 0:
            index += 1
        return index

    def _set_dtype(self, name: str) -> None:
        """Parameters, points and the run context in ``name`` (a no-op when they already are)."""
        dtype = DTYPES[name]
        if next(self.model.parameters()).dtype != dtype:
            self.model.to(dtype)
        if self.loss.ctx.dtype != dtype:
            self.loss.set_dtype(dtype)

    def _enter(self, index: int) -> None:
        """Begin stage ``index``: its dtype and a fresh optimizer."""
        s = self.state
        s.stage_index, s.stage_step = index, 0
        s.stage = self.stage.name
        s.next_resample = self.stage.resample_every
        self._set_dtype(self.stage.dtype)
        self.optimizer = self.stage.build(self.model.parameters(), s.lr_scale)
        self.form = loss_form(self.stage.loss_form)

    # --- checkpoints ----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "train": self.state.__dict__.copy(), "loss": self.loss.state(), "best_weights": self.best_weights,
                "engine": self._engine_state()}

    def _engine_state(self) -> dict[str, Any] | None:
        """The loss engine in use after any fallback, and whether the Adam step is fused (None: undecided)."""
        if self.loss.engine is None:
            return None
        fused = None if self._step is None or self._step.optimizer is not self.optimizer else self._step.fused
        return {"requested": self.cfg.derivatives, **self.loss.engine.state(), "ran": self.engine, "fused": fused}

    def resume(self, snap: dict[str, Any], source: str = "checkpoint") -> None:
        """:meth:`restore`, then continue on the engine (and fused or eager Adam step) the run was using, not
        choosing again; a snapshot that does not fit this run is a one-line PinnitError naming ``source``."""
        try:
            self.restore(snap)
            saved = snap.get("engine")
            if isinstance(saved, dict) and self.loss.engine is not None:
                self.loss.resume_engine(saved)
                if saved.get("fused") is False:
                    self._step = step_for(self, eager=True)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise PinnitError(f"{source}: does not fit this run ({reason(exc)})") from None

    def restore(self, snap: dict[str, Any]) -> None:
        known = {f.name for f in fields(TrainState)}
        self.state = TrainState(**{k: v for k, v in snap["train"].items() if k in known})
        self.state.history = list(self.state.history)
        self._set_dtype(self.stage.dtype)  # before loading: load_state_dict would cast into the old dtype
        self.model.load_state_dict(snap["model"])
        self.optimizer = self.stage.build(self.model.parameters(), self.state.lr_scale)
        self.optimizer.load_state_dict(snap["optimizer"])
        self.form = loss_form(self.stage.loss_form)
        self.loss.load_state(snap["loss"])
        self.best_weights = snap.get("best_weights")

    def save_checkpoint(self) -> None:
        self.ckpt.save(self.snapshot())

    # --- losses ---------------------------------------------------------------------------------------
    # (the steps' view of the trainer: pinnit/training/steps.py)
    def losses(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(L, {term: L_t}) at the loss's current points."""
        terms = self.loss.term_losses()
        return self.loss.total(terms), terms

    def check(self, total: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The recorded values (one host transfer for all terms); Diverged on the first non-finite one."""
        values = recorded_values(total, terms)
        self.raise_if_nonfinite(values)
        return values

    def raise_if_nonfinite(self, values: dict[str, float]) -> None:
        """Diverged on the first non-finite recorded value (non-finite weights named as such)."""
        for k, v in values.items():
            if not math.isfinite(v):
                self.check_parameters()  # non-finite weights (from the last update) are named as such
                raise Diverged(self.state.step, k, v)

    def consider(self, total: float, step: int, fused: FusedAdam | None = None) -> None:
        """Keep the weights if their (finite) total loss is the lowest so far: the current ones, or with ``fused``
        those before its last update."""
        if total < self.state.best_loss:
            self.state.best_loss, self.state.best_step = total, step
            if fused is not None:
                self.best.keep_later(fused.keep_previous())
            else:
                self.best.keep(self.model.state_dict())

    def check_parameters(self) -> None:
        """A finite loss can still give non-finite gradients (e.g. √u at u = 0): never keep NaN weights. Checked
        before each checkpoint, after each closure chunk and when a loss turns non-finite (NaN weights make the
        next loss NaN), not after every first-order step: no device sync per step for it."""
        finite = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all()
        if not finite:
            raise Diverged(self.state.step, "parameters", math.nan)

    def record(self, values: dict[str, float], lr: float, step0: int, *, log: bool = False,
                final: bool = False) -> None:
        """Log a history row (every ``log_every`` steps, or when ``log``) and evaluate against the reference
        when a multiple of ``eval_every`` was reached since ``step0`` or the stage ends (``final``)."""
        s = self.state
        s.last_losses = values
        due = bool(self.eval_every) and s.step // self.eval_every > step0 // self.eval_every
        evaluate = self.evaluate is not None and (due or final)
        if log or final or evaluate or s.step % self.log_every == 0:
            errors = {}
            if evaluate:
                t0 = time.perf_counter()
                errors = self.evaluate()
                s.eval_s += time.perf_counter() - t0
            row = {"step": s.step, "stage": s.stage, **{f"loss_{k}": v for k, v in values.items()}, "lr": lr,
                   "time_s": round(time.perf_counter() - self._clock, 6),  # since the run began, across resumes
                   "eval_s": round(s.eval_s, 6), **errors}  # evaluations so far: time_s − eval_s is training
            s.history.append(row)
        self.progress.update(s.step, values, s.stage)

    def maybe_resample(self) -> None:
        """Fresh points when the stage's ``resample_every`` iterations since the last draw have passed."""
        s, k = self.state, self.stage.resample_every
        if k and s.stage_step >= s.next_resample:
            self.loss.resample()
            s.next_resample = s.stage_step + k

    def advance(self, done: int) -> None:
        """Count ``done`` iterations of the current stage."""
        s = self.state
        s.stage_step += done
        s.step += done
        s.iterations[s.stage] += done

    # --- one iteration / one chunk --------------------------------------------------------------------
    @property
    def current_step(self) -> Step:
        """The step of the current optimizer (:mod:`pinnit.training.steps`), chosen at its first iteration."""
        if self._step is None or self._step.optimizer is not self.optimizer:
            self._step = step_for(self)
        return self._step

    def step(self) -> None:
        """One call of the loop: one first-order iteration or one closure chunk of the current stage."""
        self.current_step.run(self)

    @property
    def engine(self) -> str | None:
        """The derivative engine of the last iteration (``+ fused Adam`` when the step was one graph)."""
        if self._step is not None and self._step.fused and self._step.optimizer is self.optimizer:
            return "compiled (fused Adam step)"
        engine = self.loss.engine
        return None if engine is None else engine.active

    # --- the loop ---------------------------------------------------------------------------------
    def _stage_done(self) -> bool:
        return self.state.stage_step >= self.stage.iterations

    def _advance_stage(self) -> bool:
        """Move to the next stage; False when training is finished."""
        s = self.state
        if s.stop_reasons.get(s.stage) is None:
            s.stop_reasons[s.stage] = f"reached {s.stage}.iterations={self.stage.iterations}"
        index = self._next_stage(self.state.stage_index)
        if index >= len(self.stages):
            return False
        self._enter(index)
        return True

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
        if self.stage.closure:
            self.optimizer = self.stage.build(self.model.parameters(), self.state.lr_scale)
        self.progress.note(f"{err}; rolled back to step {self.state.step} with lr ×{self.state.lr_scale:g}")
        return True

    def train(self) -> TrainState:
        """Train to the end, to divergence, or until SIGINT/SIGTERM; returns the final state."""
        start = time.perf_counter()
        elapsed0 = self.state.elapsed
        self._clock = start - elapsed0
        if self.state.step == 0 and not self.ckpt.exists():
            self.save_checkpoint()  # the last good state before any step
        every = self.cfg.checkpoint_every
        try:
            with StopRequest() as stop:
                while True:
                    if self._stage_done() and not self._advance_stage():
                        self.state.status = "completed"
                        self.progress.finish(self.state.stop_reason)
                        break
                    self.governor.poll()  # fewer threads when a neighbour starts using the cores
                    try:
                        step0 = self.state.step
                        self.step()
                        if (every and self.state.step // every > step0 // every) or self._stage_done():
                            self.check_parameters()  # checkpoints and stage ends never keep non-finite weights
                        if self._out_of_time():
                            self.state.status = "completed"
                            self.progress.finish(self.state.stop_reason)
                            break
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

    def _out_of_time(self) -> bool:
        """``training.time_limit_s`` reached (training time: wall time since the run began, across resumes, less
        the evaluations'): the current stage stops with that reason, the later ones are skipped, and the last
        row is evaluated, as at a stage's end."""
        limit, s = self.cfg.time_limit_s, self.state
        if limit is None or time.perf_counter() - self._clock - s.eval_s < limit:  # _clock: the run's start
            return False
        self.check_parameters()
        s.stop_reasons[s.stage] = f"reached training.time_limit_s={limit:g}"
        lr = next((row["lr"] for row in reversed(s.history) if "lr" in row), 0.0)
        self.record(s.last_losses, lr, s.step, final=True)
        return True

    def _consider_final_weights(self) -> None:
        """The last update's weights were never evaluated (each step evaluates before updating): evaluate them
        once, so that best = final when training ended on its lowest loss. Only for completed runs: a resumed
        run evaluates them at its next step, exactly as the uninterrupted run does."""
        total, _ = self.losses()
        value = float(total.detach())
        if math.isfinite(value):
            self.consider(value, self.state.step)
