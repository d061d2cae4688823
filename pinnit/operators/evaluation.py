"""Scoring a trained operator: relative L2 on each field over held-out functions and the zero function.

For each held-out function f_b the relative L2 error ‖G(f_b) − G_ref(f_b)‖₂ / ‖G_ref(f_b)‖₂ per field on
the evaluation grid (a field with a declared ``gauge``, e.g. a pressure, up to a constant: both fields minus
their grid means, :func:`field_errors`); metrics are the means over the held-out functions (``rel_l2_u`` …, and
``rel_l2_mean``, the mean over the fields: the KGI preprint's Stokes metric), the same for f ≡ 0 (``…_f0``, the
unperturbed lid of the FreeFEM solution of DeepXDE's Stokes example), and the convergence slowness of the KGI preprint
(mean of the loss curve / initial loss).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..runtime.context import RunContext
from ..outputs.evaluation import relative_l2, scored_nodes
from ..problems.base import Problem
from ..sampling.functions import FunctionInput
from ..references.solvers import solve

HELD_OUT, ZERO = "held_out", "f0"


def up_to_constant(problem: Problem) -> tuple[str, ...]:
    """The fields compared up to a constant: the declared gauge's (a pressure), none otherwise."""
    gauge = getattr(problem, "gauge", None)
    return () if gauge is None else (gauge[0],)


def field_error(pred: np.ndarray, ref: np.ndarray, constant: bool = False, keep: np.ndarray | None = None
                ) -> float:
    """Relative L2 of one field on the nodes ``keep`` (default all, :func:`scored_nodes`); with ``constant`` up to a
    constant (the L2-best shift: both minus their means)."""
    if keep is not None:
        pred, ref = pred[keep], ref[keep]
    if constant:
        pred, ref = pred - np.mean(pred), ref - np.mean(ref)
    return relative_l2(pred, ref)


def field_errors(pred: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray], constant: Sequence[str] = (),
                 keep: np.ndarray | None = None) -> dict[str, float]:
    """``rel_l2_<field>`` for each field of ``ref`` (those in ``constant`` up to a constant) and ``rel_l2_mean``."""
    out = {f"rel_l2_{k}": field_error(np.asarray(pred[k]), np.asarray(r), k in constant, keep)
           for k, r in ref.items()}
    out["rel_l2_mean"] = float(np.mean(list(out.values())))
    return out


class OperatorEvaluator:
    """The evaluation grid, the held-out functions and their reference fields (None without a solver)."""

    def __init__(self, problem: Problem, ctx: RunContext, function: FunctionInput, held_out: np.ndarray,
                 resolution: list[int] | None = None, count: int | None = None, cache_dir: Path | None = None,
                 batch: int = 50):
        self.problem, self.ctx, self.function, self.batch = problem, ctx, function, batch
        self.axes = problem.evaluation_axes(resolution)
        mesh = np.meshgrid(*self.axes.values(), indexing="ij")
        self.shape = mesh[0].shape
        self.keep = scored_nodes(problem, self.axes)
        self.x = ctx.tensor(np.stack([m.ravel() for m in mesh], axis=-1))
        self.functions = {HELD_OUT: np.asarray(held_out[: len(held_out) if count is None else count], float),
                          ZERO: np.zeros((1, function.count))}
        self.reference: dict[str, dict[str, np.ndarray]] | None = None
        solver = getattr(problem, "solver", None)
        if solver is not None:
            self.reference = {k: solve(solver, v, function, self.axes, cache_dir) for k, v in self.functions.items()
                              if len(v)}
        self.initial: dict[str, float] = {}
        self.initial_loss: float | None = None

    def predict_values(self, model: nn.Module, values: np.ndarray) -> dict[str, np.ndarray]:
        """Fields (B × grid shape) for sensor values (B × sensors)."""
        outs = []
        dtype = next(model.parameters()).dtype  # a float64 stage's model, after a float32 start
        x = self.x.to(dtype)
        with torch.no_grad():
            for chunk in np.array_split(values, max(1, -(-len(values) // self.batch))):
                if len(chunk):
                    F = torch.as_tensor(chunk, dtype=dtype, device=x.device)
                    outs.append(model(F, x).detach().cpu().double().numpy())
        y = np.concatenate(outs) if outs else np.zeros((0, len(self.x), len(self.problem.outputs)))
        return {name: y[..., j].reshape(len(values), *self.shape) for j, name in enumerate(self.problem.outputs)}

    def predict(self, model: nn.Module) -> dict[str, dict[str, np.ndarray]]:
        return {k: self.predict_values(model, v) for k, v in self.functions.items()}

    def per_function(self, pred: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Relative L2 of each field for each function (B,), and their mean over the fields."""
        constant = up_to_constant(self.problem)
        out = {k: np.array([field_error(p, r, k in constant, self.keep) for p, r in zip(pred[k], ref[k])])
               for k in ref}
        out["mean"] = np.mean([out[k] for k in ref], axis=0)
        return out

    def errors(self, pred: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, float]:
        if self.reference is None:
            return {}
        out: dict[str, float] = {}
        for key, suffix in ((HELD_OUT, ""), (ZERO, "_f0")):
            if key not in self.reference:
                continue
            errs = self.per_function(pred[key], self.reference[key])
            for name, e in errs.items():
                out[f"rel_l2_{name}{suffix}"] = float(np.mean(e))
            if key == HELD_OUT:
                out["rel_l2_mean_std"] = float(np.std(errs["mean"]))
        return out

    def arrays(self, pred: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """``prediction.npz``: axes, the f ≡ 0 fields, ``<f>_ref`` and ``<f>_abs_error`` (as the PINN runs)."""
        out = {k: v for k, v in self.axes.items()}
        for name, value in pred[ZERO].items():
            out[name] = value[0]
            if self.reference is not None and ZERO in self.reference:
                out[f"{name}_ref"] = self.reference[ZERO][name][0]
                out[f"{name}_abs_error"] = np.abs(value[0] - out[f"{name}_ref"])
        return out

    # --- bookkeeping around training ---------------------------------------------------------------
    def record_initial(self, model: nn.Module, loss: Any) -> None:
        """Errors and loss of the untrained network (the baseline the trained one must beat clearly)."""
        self.initial = {f"initial_{k}": v for k, v in self.errors(self.predict(model)).items()
                        if k.startswith("rel_l2") and not k.endswith("_std")}
        first = loss.train_tensor[: loss.batch_size]
        self.initial_loss = float(loss.total(loss.losses_for(first)).detach())

    def summary(self, history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Convergence slowness (KGI preprint): mean of the loss curve / initial loss; untrained errors."""
        losses = [r["loss_total"] for r in history if "loss_total" in r]
        out: dict[str, Any] = dict(self.initial)
        if losses and self.initial_loss:
            out["convergence_slowness"] = float(np.mean(losses) / self.initial_loss)
        out["initial_loss"] = self.initial_loss
        out["held_out_functions"] = len(self.functions[HELD_OUT])
        return out

    def plot(self, pred: Mapping[str, Mapping[str, np.ndarray]], folder: Path) -> list[Path]:
        from .plots import plot_operator

        return plot_operator(self, pred, folder)
