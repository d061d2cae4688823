"""Evaluation of a trained model on the problem's grid against its reference solution.

Metric: relative L2 error ‖u − u_ref‖₂ / ‖u_ref‖₂ per field, plus max absolute error.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..runtime.context import RunContext
from ..problems.base import Problem
from .plots import plot_fields


def relative_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(pred - ref) / max(np.linalg.norm(ref), 1e-300))


class Evaluator:
    """The evaluation grid ('ij' mesh of the problem's axes) and the reference fields on it."""

    def __init__(self, problem: Problem, ctx: RunContext, resolution: list[int] | None = None,
                 batch: int = 65536):
        self.problem = problem
        self.axes = problem.evaluation_axes(resolution)
        mesh = np.meshgrid(*self.axes.values(), indexing="ij")
        self.shape = mesh[0].shape
        self.x = ctx.tensor(np.stack([m.ravel() for m in mesh], axis=-1))
        self.reference = problem.reference(self.axes)
        self.batch = batch

    def predict(self, model: nn.Module) -> dict[str, np.ndarray]:
        dtype = next(model.parameters()).dtype  # a float64 stage may follow a float32 one
        with torch.no_grad():
            y = torch.cat([model(chunk.to(dtype)) for chunk in torch.split(self.x, self.batch)])
        y = y.detach().cpu().double().numpy()
        return {name: y[:, j].reshape(self.shape) for j, name in enumerate(self.problem.outputs)}

    def errors(self, pred: dict[str, np.ndarray]) -> dict[str, float]:
        if self.reference is None:
            return {}
        out: dict[str, float] = {}
        time = self.problem.time_input
        axis = list(self.axes).index(time) if time in self.axes else None
        for name, ref in self.reference.items():
            out[f"rel_l2_{name}"] = relative_l2(pred[name], ref)
            out[f"max_abs_{name}"] = float(np.max(np.abs(pred[name] - ref)))
            if axis is not None:  # error on the last time slice (e.g. τ = T for an option price)
                last = [slice(None)] * ref.ndim
                last[axis] = -1
                out[f"rel_l2_{name}_final_{time}"] = relative_l2(pred[name][tuple(last)], ref[tuple(last)])
        return out

    def arrays(self, pred: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Named arrays for ``prediction.npz``: axes, predicted ``<f>``, ``<f>_ref`` and ``<f>_abs_error``."""
        out = {k: v for k, v in self.axes.items()}
        for name, value in pred.items():
            out[name] = value
            if self.reference is not None and name in self.reference:
                out[f"{name}_ref"] = self.reference[name]
                out[f"{name}_abs_error"] = np.abs(value - self.reference[name])
        return out

    def summary(self, history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Metrics beyond the errors that need the loss history (none for a PINN run)."""
        return {}

    def plot(self, pred: dict[str, np.ndarray], folder: Path) -> None:
        """``<field>_fields.png`` per output field: prediction, reference and error on the grid."""
        plot_fields(self.arrays(pred), self.problem.inputs, self.problem.outputs, folder)
