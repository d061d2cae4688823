"""pinnit's side of a bench case: the run assembled from the case's config, with the shared points and weights.

One timed step is :meth:`pinnit.training.Trainer.step`, i.e. exactly a training step of ``pinnit run``:
``term_losses()`` + total + finiteness check + backward + Adam step + parameter check + history bookkeeping.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from .setups import BenchCase, layer_arrays


class PinnitStepper:
    """Holds the assembled run and its Trainer; ``step()`` is one Adam step, ``losses()`` the current loss."""

    name = "pinnit"

    def __init__(self, case: BenchCase, data: dict[str, np.ndarray], dtype: str, threads: int, engine: str = "auto"):
        from ..runs import parse_config
        from ..runs.pipeline import assemble
        from ..training import Checkpointer, Trainer
        from ..derivatives.engine import resolve_engine

        cfg = parse_config(case.pinnit_config(dtype, threads=threads, engine=engine))
        a = assemble(cfg)
        a.loss.engine_name = resolve_engine(engine, cfg.training.stages["adam"].iterations)
        a.loss.points = {k: a.ctx.tensor(data[k]) for k in ("pde", "initial", "boundary")}
        with torch.no_grad():
            for layer, (w, b) in zip(a.model.net.layers, layer_arrays(data), strict=True):
                layer.weight.copy_(torch.as_tensor(w))
                layer.bias.copy_(torch.as_tensor(b))
        self.assembly = a
        self._tmp = tempfile.TemporaryDirectory(prefix="pinnit-bench-")
        self.trainer = Trainer(a.loss, cfg.training, checkpointer=Checkpointer(Path(self._tmp.name) / "c.pt"),
                               progress=False)

    @property
    def engine(self) -> str | None:
        """The derivative engine in use (after the first step; pinnit/derivatives/engine.py)."""
        return self.trainer.engine

    def step(self) -> None:
        self.trainer.step()

    def losses(self) -> dict[str, float]:
        """Per-term losses and the total at the current parameters (DeepXDE's names: pde, bc, ic)."""
        with torch.enable_grad():
            terms = self.assembly.loss.term_losses()
        values = {"pde": float(terms["pde"]), "bc": float(terms["boundary"]), "ic": float(terms["initial"])}
        values["total"] = float(self.assembly.loss.total(terms))
        return values
