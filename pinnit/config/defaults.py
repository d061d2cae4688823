"""Training defaults, in one table: read by the stage schema (:class:`~pinnit.config.schema.StageConfig`), the
resolved stages (:mod:`pinnit.training.stages`) and the translation of the older ``training.adam`` /
``training.lbfgs`` form into stages (:mod:`pinnit.config.dialect`).

L-BFGS stopping tolerances: torch's own defaults (``tolerance_grad`` 1e-7, ``tolerance_change`` 1e-9, which the
``lbfgs`` optimizer entry keeps) stop a PINN's L-BFGS long before its iteration budget, while float32 line
searches stall spuriously anyway (pinnit restarts a chunk that stopped early after lowering the loss, up to
``restarts`` times). Every config written as ``training.lbfgs`` trained with 1e-9 / 1e-12, and so does an
``lbfgs`` stage: one default for both forms, so moving a config to stages does not loosen its stopping test.
"""
from __future__ import annotations

from typing import Any

#: closure optimizers (L-BFGS, the dense quasi-Newton family): iterations per ``optimizer.step`` call
CHUNK = 50
#: closure optimizers: restarts (curvature memory cleared) after a chunk stopped early having lowered the loss
RESTARTS = 10

#: optimizer options whose default in a stage is not the optimizer entry's own (see the module docstring)
STAGE_OPTIONS: dict[str, dict[str, Any]] = {
    "lbfgs": {"tolerance_grad": 1e-9, "tolerance_change": 1e-12},
}

#: the older form's ``training.adam``: the stage ``adam`` (Adam), taken first
ADAM: dict[str, Any] = {"iterations": 5000, "lr": 1e-3, "betas": (0.9, 0.999)}
#: the older form's ``training.lbfgs``: the stage ``lbfgs`` (L-BFGS), taken second; it never resampled the
#: collocation points (its ``resample_every`` is 0 whatever ``sampling.resample_every`` says)
LBFGS: dict[str, Any] = {"iterations": 0, "lr": 1.0, "history_size": 50, "line_search": "strong_wolfe",
                         **STAGE_OPTIONS["lbfgs"], "chunk": CHUNK, "restarts": RESTARTS, "resample_every": 0}


def stage_options(optimizer: str, given: dict[str, Any]) -> dict[str, Any]:
    """A stage's optimizer options: this table's defaults for ``optimizer``, then those ``given``."""
    return {**STAGE_OPTIONS.get(optimizer, {}), **given}
