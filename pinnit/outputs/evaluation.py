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


def scored_nodes(problem: Problem, axes: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The nodes of the 'ij' grid of ``axes`` that the errors use (boolean, grid shape): all but the node
    nearest each of the problem's ``singular`` points (within half a grid step in every input), where the
    solution has no value (e.g. p ~ ln r at a lid corner) and any reference's is an artefact of its grid; None
    when nothing is left out."""
    if not problem.singular:
        return None
    grids = [np.asarray(axes[k], float) for k in problem.inputs]
    keep = np.ones([len(g) for g in grids], dtype=bool)
    for point in problem.singular:
        near = [np.abs(g - c) <= 0.5 * (np.min(np.diff(g)) if len(g) > 1 else np.inf) + 1e-12 * (1 + abs(c))
                for g, c in zip(grids, point)]
        keep &= ~np.logical_and.reduce(np.meshgrid(*near, indexing="ij"))
    return keep


def blank_unscored(arrays: Mapping[str, np.ndarray], keep: np.ndarray | None, fields: Sequence[str]
                   ) -> dict[str, np.ndarray]:
    """A copy of ``arrays`` with each field (and its ``_ref``, ``_abs_error``) NaN outside ``keep``
    (:func:`scored_nodes`), so figures leave singular points blank instead of spanning their colour scale."""
    out = dict(arrays)
    if keep is None:
        return out
    for name in (f"{f}{suffix}" for f in fields for suffix in ("", "_ref", "_abs_error")):
        if name in out and np.shape(out[name]) == keep.shape:
            out[name] = np.where(keep, np.asarray(out[name], float), np.nan)
    return out


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
        self.keep = scored_nodes(problem, self.axes)
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
        keep = np.ones(self.shape, dtype=bool) if self.keep is None else self.keep
        for name, ref in self.reference.items():
            out[f"rel_l2_{name}"] = relative_l2(pred[name][keep], ref[keep])
            out[f"max_abs_{name}"] = float(np.max(np.abs(pred[name] - ref)[keep]))
            if axis is not None:  # error on the last time slice (e.g. τ = T for an option price)
                last = [slice(None)] * ref.ndim
                last[axis] = -1
                last, k = tuple(last), keep[tuple(last)]
                out[f"rel_l2_{name}_final_{time}"] = relative_l2(pred[name][last][k], ref[last][k])
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
        arrays = blank_unscored(self.arrays(pred), self.keep, self.problem.outputs)
        plot_fields(arrays, self.problem.inputs, self.problem.outputs, folder)
