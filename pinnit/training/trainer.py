"""The training loop: a pipeline of optimizer stages (pinnit/training/stages.py), e.g. Adam in float32, then
SSBroyden in float64 on the log of the loss with fresh collocation points every 500 iterations.

Per stage: its dtype (parameters, points and the loss switch dtype when a stage begins), its loss form
(the optimizer minimises g(L), g ∈ {identity, √, log}; the recorded losses are always L), its resampling
period, and its optimizer — first-order ones take one step per iteration (with the lr schedule), closure
ones (L-BFGS, BFGS, SSBFGS, SSBroyden) run ``chunk`` iterations per call. A closure chunk that stops early
after lowering the loss restarts the optimizer with an empty curvature memory, at most ``restarts`` times.

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
from ..derivatives.engine import ENGINES
from .fused_adam import FusedAdam, fused_adam_for
from .loss import PinnLoss
from .optimizers import loss_form, optimizer_label
from .progress import Progress
from .residuals import check_residual_stages
from .schedule import scheduled_lr
from .signals import StopRequest
from .stages import Stage, stages_of
from .train_state import Diverged, TrainState
from ..runtime.threads import ThreadGovernor


class Trainer:
    """Runs the stages on a :class:`PinnLoss`; ``evaluate()`` returns error metrics."""

    def __init__(self, loss: PinnLoss, cfg: TrainingConfig, *, checkpointer: Checkpointer,
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
        self._fused: tuple[torch.optim.Optimizer, FusedAdam | None] | None = None  # (for this optimizer, step)
        self.progress = Progress({s.name: s.iterations for s in self.stages},
                                 labels={s.name: self._label(s) for s in self.stages}, enabled=progress)
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
    def _label(stage: Stage) -> str:
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
        self._form = loss_form(self.stage.loss_form)

    # --- checkpoints ----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "train": self.state.__dict__.copy(), "loss": self.loss.state(), "best_weights": self.best_weights,
                "engine": self._engine_state()}

    def _engine_state(self) -> dict[str, Any] | None:
        """The loss engine in use after any fallback, and whether the Adam step is fused (None: undecided)."""
        if not isinstance(self.loss, PinnLoss):
            return None
        fused = None if self._fused is None or self._fused[0] is not self.optimizer else self._fused[1] is not None
        return {"requested": self.cfg.derivatives, **self.loss.engine.state(), "ran": self.engine, "fused": fused}

    def resume(self, snap: dict[str, Any], source: str = "checkpoint") -> None:
        """:meth:`restore`, then continue on the engine (and fused or eager Adam step) the run was using, not
        choosing again; a snapshot that does not fit this run is a one-line PinnitError naming ``source``."""
        try:
            self.restore(snap)
            saved = snap.get("engine")
            if isinstance(saved, dict) and isinstance(self.loss, PinnLoss):
                if saved.get("resolved") in ENGINES and saved["resolved"] != "auto":
                    self.loss.engine_name = saved["resolved"]  # auto is not resolved again (e.g. other threads)
                self.loss.engine.load_state(saved)
                if saved.get("fused") is False:
                    self._fused = (self.optimizer, None)
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
        self._form = loss_form(self.stage.loss_form)
        self.loss.load_state(snap["loss"])
        self.best_weights = snap.get("best_weights")

    def save_checkpoint(self) -> None:
        self.ckpt.save(self.snapshot())

    # --- losses ---------------------------------------------------------------------------------------
    def _losses(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms = self.loss.term_losses()
        return self.loss.total(terms), terms

    def _check(self, total: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The recorded values (one host transfer for all terms); Diverged on the first non-finite one."""
        values = self._values(total, terms)
        self._raise_if_nonfinite(values)
        return values

    @staticmethod
    def _values(total: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        names = [*terms, "total"]
        return dict(zip(names, torch.stack([*(v.detach() for v in terms.values()), total.detach()]).tolist()))

    def _raise_if_nonfinite(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            if not math.isfinite(v):
                self._check_parameters()  # non-finite weights (from the last update) are named as such
                raise Diverged(self.state.step, k, v)

    def _consider(self, total: float, step: int, fused: FusedAdam | None = None) -> None:
        """Keep the weights if their (finite) total loss is the lowest so far: the current ones, or with ``fused``
        those before its last update."""
        if total < self.state.best_loss:
            self.state.best_loss, self.state.best_step = total, step
            if fused is not None:
                self.best.keep_later(fused.keep_previous())
            else:
                self.best.keep(self.model.state_dict())

    def _check_parameters(self) -> None:
        """A finite loss can still give non-finite gradients (e.g. √u at u = 0): never keep NaN weights. Checked
        before each checkpoint, after each closure chunk and when a loss turns non-finite (NaN weights make the
        next loss NaN), not after every first-order step: no device sync per step for it."""
        finite = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all()
        if not finite:
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
            row = {"step": s.step, "stage": s.stage, **{f"loss_{k}": v for k, v in values.items()}, "lr": lr,
                   "time_s": round(time.perf_counter() - self._clock, 6)}  # since the run began, across resumes
            if evaluate:
                row.update(self.evaluate())
            s.history.append(row)
        self.progress.update(s.step, values, s.stage)

    def _maybe_resample(self) -> None:
        s, k = self.state, self.stage.resample_every
        if k and s.stage_step >= s.next_resample:
            self.loss.resample()
            s.next_resample = s.stage_step + k

    def _advance(self, done: int) -> None:
        s = self.state
        s.stage_step += done
        s.step += done
        s.iterations[s.stage] += done

    # --- one iteration / one chunk --------------------------------------------------------------------
    def _adam_step(self) -> None:
        """One iteration of a first-order stage (Adam or another ``step()`` optimizer); with the ``compiled``
        engine, Adam's iteration is one compiled graph (pinnit/training/fused_adam.py)."""
        s, stage = self.state, self.stage
        self._maybe_resample()
        lr = scheduled_lr(stage.lr, stage.schedule, s.stage_step, stage.iterations) * s.lr_scale
        if "lr" in stage.options:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        fused = self._fused_step()
        if fused is not None:
            total, terms = fused(lr)  # the losses of the weights before the update
            values = self._values(total, terms)
            if not all(map(math.isfinite, values.values())):
                fused.undo()  # as eagerly: no update from a non-finite loss
            self._raise_if_nonfinite(values)
            self._consider(values["total"], s.step, fused)
        else:
            self.optimizer.zero_grad(set_to_none=True)
            total, terms = self._losses()
            values = self._check(total, terms)
            self._consider(values["total"], s.step)  # the loss of the weights before this step's update
            self._form(total).backward()
            self.optimizer.step()
        self._advance(1)
        self._record(values, lr, s.step - 1, final=s.stage_step == stage.iterations)

    def _fused_step(self) -> FusedAdam | None:
        """The fused Adam step of the current optimizer (built on its first iteration), or None."""
        if self._fused is None or self._fused[0] is not self.optimizer:
            self._fused = (self.optimizer, fused_adam_for(self.loss, self.optimizer, self._form))
        return self._fused[1]

    @property
    def engine(self) -> str | None:
        """The derivative engine of the last iteration (``+ fused Adam`` when the step was one graph)."""
        if self._fused is not None and self._fused[1] is not None and self._fused[0] is self.optimizer:
            return "compiled (fused Adam step)"
        return self.loss.engine.active

    def _closure_chunk(self) -> None:
        """Up to ``chunk`` iterations of a closure stage (L-BFGS, BFGS, SSBFGS, SSBroyden)."""
        s, stage = self.state, self.stage
        self._maybe_resample()
        n = min(stage.chunk, stage.iterations - s.stage_step)
        if stage.resample_every:
            n = min(n, s.next_resample - s.stage_step)
        group = self.optimizer.param_groups[0]
        group["max_iter"] = n
        if "max_eval" in group:  # torch's L-BFGS: evaluations per call
            group["max_eval"] = n * 5
        state = self.optimizer.state[group["params"][0]]
        before = state.get("n_iter", 0)
        last: dict[str, Any] = {}
        if getattr(self.optimizer, "needs_residuals", False):  # Levenberg–Marquardt: r(θ) at this chunk's points
            self.optimizer.residuals = self.loss.residuals()
        hold = getattr(self.loss, "hold_batch", None)  # operator runs: one function batch for the whole chunk
        if hold is not None:
            hold(True)

        def closure() -> torch.Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            total, terms = self._losses()
            value = float(total.detach())  # the one host sync per evaluation (finite check, best tracking)
            trained = self._form(total)
            if math.isfinite(value):
                trained.backward()
                self._consider(value, s.step + state.get("n_iter", 0) - before)  # weights = the evaluated point
            last["total"], last["terms"] = total, terms
            return trained

        self.optimizer.step(closure)
        done = max(state.get("n_iter", 0) - before, 0)
        # torch's L-BFGS ends on its last evaluation; the dense methods may end after a rejected trial point
        lbfgs = isinstance(self.optimizer, torch.optim.LBFGS)
        total, terms = (last["total"], last["terms"]) if lbfgs else self._losses()
        if hold is not None:
            hold(False)
        values = self._check(total.detach(), {k: v.detach() for k, v in terms.items()})
        self._check_parameters()
        improved = values["total"] < s.last_losses.get("total", math.inf)
        step0 = s.step
        self._advance(done)
        stopped_early = done < n
        restart = False
        tolerance_grad = stage.options.get("tolerance_grad", 0.0)
        if stopped_early:
            grad = torch.cat([p.grad.reshape(-1) for p in self.model.parameters() if p.grad is not None])
            if grad.numel() and float(grad.abs().max()) <= tolerance_grad:
                s.stop_reasons[s.stage] = f"gradient below tolerance_grad={tolerance_grad}"
            else:
                restart = improved and s.restarts[s.stage] < stage.restarts
                why = state.get("stop_reason") or (f"loss or step change below tolerance_change="
                                                   f"{stage.options.get('tolerance_change')}")
                s.stop_reasons[s.stage] = f"{why} (after {s.restarts[s.stage]} restarts)"
        self._record(values, stage.lr * s.lr_scale, step0, log=True,
                     final=(stopped_early and not restart) or s.stage_step >= stage.iterations)
        if restart:  # clear the curvature memory and go on
            s.restarts[s.stage] += 1
            s.history.append({"step": s.step, "stage": s.stage,
                              "event": f"{self._label(stage)} restart {s.restarts[s.stage]}"})
            self.optimizer = stage.build(self.model.parameters(), s.lr_scale)
        elif stopped_early:
            s.stage_step = stage.iterations  # converged: the stage is over

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
                        self._closure_chunk() if self.stage.closure else self._adam_step()
                        if (every and self.state.step // every > step0 // every) or self._stage_done():
                            self._check_parameters()  # checkpoints and stage ends never keep non-finite weights
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
