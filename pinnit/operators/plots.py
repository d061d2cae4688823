"""Figures of an operator run: fields for f ≡ 0 and a held-out function, the error distribution, and a few
held-out functions with their predictions. Prediction and reference share one colour scale per field."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..plots import _figure, _save


def _fields_figure(axes: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray],
                   title: str, path: Path) -> None:
    """One row per field: prediction | reference (one colour scale) | |error|, each colorbar labelled."""
    plt = _figure()
    (n0, a0), (n1, a1) = list(axes.items())[:2]
    names = list(pred)
    fig, grid = plt.subplots(len(names), 3, figsize=(12.5, 3.4 * len(names)), squeeze=False, layout="constrained")
    for row, name in zip(grid, names):
        p, r = pred[name], ref[name]
        lo, hi = float(min(p.min(), r.min())), float(max(p.max(), r.max()))
        for ax, data, what in ((row[0], p, "prediction"), (row[1], r, "reference")):
            im = ax.pcolormesh(a0, a1, data.T, shading="auto", cmap="RdBu_r", vmin=lo, vmax=hi)
            fig.colorbar(im, ax=ax, label=name)
            ax.set_title(f"{name}: {what}")
        err = np.abs(p - r)
        im = row[2].pcolormesh(a0, a1, err.T, shading="auto", cmap="magma")
        fig.colorbar(im, ax=row[2], label=f"|{name} − {name}_ref|")
        row[2].set_title(f"{name}: |error| (rel. L2 {np.linalg.norm(p - r) / max(np.linalg.norm(r), 1e-300):.3g})")
        for ax in row:
            ax.set_xlabel(n0)
            ax.set_ylabel(n1)
            ax.set_aspect("equal")
    fig.suptitle(title)
    _save(fig, path)
    plt.close(fig)


def plot_operator(ev: Any, pred: Mapping[str, Mapping[str, np.ndarray]], folder: Path) -> list[Path]:
    from .evaluation import HELD_OUT, ZERO

    if ev.reference is None:
        return []
    plt = _figure()
    paths = []
    path = folder / "fields_f0.png"
    _fields_figure(ev.axes, {k: v[0] for k, v in pred[ZERO].items()}, {k: v[0] for k, v in ev.reference[ZERO].items()},
                   f"{ev.function.name} ≡ 0 (unperturbed)", path)
    paths.append(path)
    if HELD_OUT not in ev.reference:
        return paths
    errs = ev.per_function(pred[HELD_OUT], ev.reference[HELD_OUT])
    order = np.argsort(errs["mean"])
    median = int(order[len(order) // 2])
    path = folder / "fields_held_out.png"
    _fields_figure(ev.axes, {k: v[median] for k, v in pred[HELD_OUT].items()},
                   {k: v[median] for k, v in ev.reference[HELD_OUT].items()},
                   f"held-out {ev.function.name} #{median} (median error)", path)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    bins = np.geomspace(max(min(e.min() for e in errs.values()), 1e-6), max(e.max() for e in errs.values()), 30)
    for name, e in errs.items():
        ax.hist(e, bins=bins, histtype="step", lw=1.5 if name == "mean" else 1.0,
                label=f"{name}: mean {e.mean():.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("relative L2 error per held-out function")
    ax.set_ylabel("functions")
    ax.set_title(f"{len(errs['mean'])} held-out functions")
    ax.legend(fontsize=8)
    path = folder / "errors.png"
    _save(fig, path)
    plt.close(fig)
    paths.append(path)

    picks = [int(order[0]), median, int(order[-1])]
    (n0, a0), (n1, a1) = list(ev.axes.items())[:2]
    first = ev.problem.outputs[0]
    rows = [len(a1) - 1, (len(a1) - 1) // 2]
    fig, grid = plt.subplots(1 + len(rows), len(picks), figsize=(4.2 * len(picks), 2.8 * (1 + len(rows))),
                             squeeze=False, layout="constrained")
    for col, b in enumerate(picks):
        ax = grid[0][col]
        ax.plot(ev.function.sensors, ev.functions[HELD_OUT][b], "k-", lw=1)
        ax.set_title(f"#{b}: {ev.function.name} (rel. L2 {errs['mean'][b]:.3g})")
        ax.set_xlabel(ev.function.argument)
        for r, j in enumerate(rows, start=1):
            ax = grid[r][col]
            ax.plot(a0, ev.reference[HELD_OUT][first][b][:, j], "k-", lw=1.2, label="reference")
            ax.plot(a0, pred[HELD_OUT][first][b][:, j], "r--", lw=1.2, label="prediction")
            ax.set_title(f"{first}({n0}, {n1} = {a1[j]:.2f})")
            ax.set_xlabel(n0)
            ax.legend(fontsize=7)
    path = folder / "lids.png"
    _save(fig, path)
    plt.close(fig)
    paths.append(path)
    return paths
