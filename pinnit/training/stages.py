"""The training pipeline: an ordered list of optimizer stages, resolved and checked from the config.

``training.stages`` maps a stage name to its optimizer (default: the name), iteration count, dtype, loss form
(mse | sqrt | log), resampling period and the optimizer's own options::

    training:
      stages:
        adam: {iterations: 2000, lr: 5.0e-3, dtype: float32}
        ssbroyden: {iterations: 10000, dtype: float64, loss_form: log, resample_every: 500}

It is the one dialect: the older ``training.adam`` / ``training.lbfgs`` form is translated into the stages
``adam`` and ``lbfgs`` when a config is loaded (:mod:`pinnit.config.dialect`), with the defaults of
:mod:`pinnit.config.defaults`. A stage with 0 iterations is skipped (it still appears, with 0, in
metrics.json). Optimizers whose ``step`` takes a closure (L-BFGS and the dense quasi-Newton family) run in
chunks of ``chunk`` iterations; first-order ones (Adam) take one step per iteration with the lr ``schedule``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..config.defaults import CHUNK, RESTARTS, stage_options
from ..config.schema import RunConfig, Schedule, StageConfig, TrainingConfig
from ..core.errors import ConfigError, PinnitError
from ..core.params import bind_params, parameter_names
from .optimizers import OPTIMIZERS

#: options the trainer sets itself for closure optimizers (per chunk)
_MANAGED = ("max_iter",)


@dataclass(frozen=True)
class Stage:
    """One resolved stage; ``options`` are the optimizer entry's validated keyword arguments."""

    name: str
    optimizer: str
    iterations: int
    dtype: str
    loss_form: str = "mse"
    resample_every: int = 0
    chunk: int = CHUNK
    restarts: int = RESTARTS
    schedule: Schedule = field(default_factory=Schedule)
    options: dict[str, Any] = field(default_factory=dict)
    closure: bool = False

    @property
    def lr(self) -> float:
        return float(self.options.get("lr", 0.0))

    def build(self, params: Iterable[torch.nn.Parameter], lr_scale: float = 1.0) -> torch.optim.Optimizer:
        """A fresh optimizer for ``params`` (its learning rate, if it has one, times ``lr_scale``)."""
        options = dict(self.options)
        if "lr" in options:
            options["lr"] = options["lr"] * lr_scale
        if self.closure:
            options["max_iter"] = self.chunk
        return OPTIMIZERS.get(self.optimizer)(list(params), **options)


def _stage(name: str, s: StageConfig, t: TrainingConfig, resample_every: int) -> Stage:
    path = f"training.stages.{name}"
    optimizer = s.optimizer or name
    factory = OPTIMIZERS.get(optimizer, f"{path}.optimizer" if s.optimizer else f"{path} (its optimizer)")
    closure = bool(getattr(factory, "needs_closure", False))
    options = stage_options(optimizer, dict(s.model_extra or {}))
    for key in _MANAGED:
        if closure and key in options:
            raise ConfigError(f"{path}.{key}", f"set by the trainer from the stage's chunk ({s.chunk}); "
                                               f"set {path}.chunk instead")
    if not closure and s.schedule != Schedule() and "lr" not in parameter_names(factory, skip=1):
        raise ConfigError(f"{path}.schedule", f"optimizer '{optimizer}' has no learning rate to schedule")
    options = bind_params(factory, options, path, skip=1, internal=_MANAGED if closure else ())
    try:  # relations between options (e.g. 0 < c1 < c2 < 1) are checked by the optimizer itself
        factory([torch.nn.Parameter(torch.zeros(1))], **options)
    except PinnitError as err:
        raise ConfigError(path, str(err)) from None
    return Stage(name, optimizer, s.iterations, s.dtype or t.dtype, s.loss_form,
                 resample_every if s.resample_every is None else s.resample_every, s.chunk, s.restarts,
                 s.schedule, options, closure)


def resolve_stages(cfg: RunConfig) -> list[Stage]:
    """The stages, in order (the trainer skips those with 0 iterations); one-line ConfigErrors for bad ones."""
    return stages_of(cfg.training, cfg.sampling.resample_every)


def stages_of(t: TrainingConfig, resample_every: int = 0) -> list[Stage]:
    """The stages of ``t``; a stage's ``resample_every`` defaults to ``resample_every``."""
    stages = [_stage(name, s, t, resample_every) for name, s in t.stages.items()]
    if not any(s.iterations for s in stages):
        raise ConfigError("training.stages", "every stage has 0 iterations; nothing to train")
    return stages


def stage_summary(stages: list[Stage], state: Any) -> dict[str, dict[str, Any]]:
    """Per stage, for metrics.json: optimizer, dtype, loss form, iterations done, restarts, why it stopped."""
    return {s.name: {"optimizer": s.optimizer, "dtype": s.dtype, "loss_form": s.loss_form,
                     "iterations": state.iterations.get(s.name, 0), "planned": s.iterations,
                     "restarts": state.restarts.get(s.name, 0), "stop_reason": state.stop_reasons.get(s.name)}
            for s in stages}
