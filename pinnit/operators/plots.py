"""Figures of an operator run: fields for f ≡ 0 and the median held-out function, the error distribution,
and the best, median and worst held-out functions with their predictions.

:func:`fields_figure` / :func:`plot_fields` draw any given fields on a 2-D grid (with or without a
reference): prediction and reference share one colour scale per field, diverging and centred on 0 when the
field changes sign, else sequential."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..outputs.evaluation import blank_unscored
from ..outputs.plots import ERROR, colour_scale, pyplot, save_figure, symbol


def fields_figure(axes: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray],
                  ref: Mapping[str, np.ndarray] | None = None, title: str = "", constant: Sequence[str] = (),
                  keep: np.ndarray | None = None):
    """One row per field of ``pred``: prediction | reference | |error| (just the prediction when ``ref`` is
    None). ``axes`` maps the two grid inputs to their 1-D coordinates (the first is drawn along x); each field
    is a 2-D array of shape (len(first), len(second)). Prediction and reference share one colour scale:
    sequential when the reference (else the prediction) keeps one sign, otherwise diverging and centred on 0
    (vmin = −vmax, so white means 0). Every colorbar is labelled. Fields in ``constant`` (a gauged pressure)
    are compared up to a constant: the error panel and its rel. L2 are those after the best constant shift.
    Nodes outside ``keep`` (singular points, :func:`~pinnit.outputs.evaluation.scored_nodes`) are left blank.
    Returns the matplotlib figure."""
    from .evaluation import field_error

    plt = pyplot()
    (n0, a0), (n1, a1) = list(axes.items())[:2]
    names = list(pred)
    cols = 3 if ref is not None else 1
    fig, grid = plt.subplots(len(names), cols, figsize=(4.2 * cols + 0.5, 3.4 * len(names)), squeeze=False,
                             layout="constrained")
    pred = blank_unscored(pred, keep, names)
    ref = None if ref is None else blank_unscored(ref, keep, names)
    for row, name in zip(grid, names):
        s = symbol(name)
        p = np.asarray(pred[name], float)
        r = None if ref is None else np.asarray(ref[name], float)
        panels = [(p, "prediction")] + ([] if r is None else [(r, "reference")])
        scale = colour_scale(*[d for d, _ in panels], sign_from=r)
        for ax, (data, what) in zip(row, panels):
            im = ax.pcolormesh(a0, a1, data.T, shading="auto", **scale)
            fig.colorbar(im, ax=ax, label=f"{s} ({what})")
            ax.set_title(f"{s}: {what}")
        if r is not None:
            shift = name in constant
            diff = (p - r) - np.nanmean(p - r) if shift else p - r
            im = row[2].pcolormesh(a0, a1, np.abs(diff).T, shading="auto", cmap=ERROR)
            fig.colorbar(im, ax=row[2], label=f"|{s} − reference{' − c' if shift else ''}|")
            rel = field_error(p, r, shift, keep)
            row[2].set_title(f"{s}: |error|{' up to a constant' if shift else ''} (rel. $L^2$ {rel:.3g})")
        for ax in row:
            ax.set_xlabel(symbol(n0))
            ax.set_ylabel(symbol(n1))
            ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
    return fig


def plot_fields(axes: Mapping[str, np.ndarray], pred: Mapping[str, np.ndarray], path: Path,
                ref: Mapping[str, np.ndarray] | None = None, title: str = "", constant: Sequence[str] = (),
                keep: np.ndarray | None = None) -> Path:
    """Save :func:`fields_figure` as a PNG at ``path`` (written atomically); returns ``path``."""
    fig = fields_figure(axes, pred, ref, title, constant, keep)
    save_figure(fig, path)
    pyplot().close(fig)
    return path


def plot_operator(ev: Any, pred: Mapping[str, Mapping[str, np.ndarray]], folder: Path) -> list[Path]:
    from .evaluation import HELD_OUT, ZERO, up_to_constant

    if ev.reference is None:
        return []
    plt = pyplot()
    paths = []
    constant = up_to_constant(ev.problem)
    paths.append(plot_fields(ev.axes, {k: v[0] for k, v in pred[ZERO].items()}, folder / "fields_f0.png",
                             {k: v[0] for k, v in ev.reference[ZERO].items()},
                             f"{ev.function.name} ≡ 0 (unperturbed)", constant, ev.keep))
    if HELD_OUT not in ev.reference:
        return paths
    errs = ev.per_function(pred[HELD_OUT], ev.reference[HELD_OUT])
    order = np.argsort(errs["mean"])
    median = int(order[len(order) // 2])
    paths.append(plot_fields(ev.axes, {k: v[median] for k, v in pred[HELD_OUT].items()}, folder / "fields_held_out.png",
                             {k: v[median] for k, v in ev.reference[HELD_OUT].items()},
                             f"held-out {ev.function.name} #{median} (median error)", constant, ev.keep))

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
    save_figure(fig, path)
    plt.close(fig)
    paths.append(path)

    fig = lids_figure(ev, pred, errs)
    path = folder / "lids.png"
    save_figure(fig, path)
    plt.close(fig)
    paths.append(path)
    return paths


def lids_figure(ev: Any, pred: Mapping[str, Mapping[str, np.ndarray]], errs: Mapping[str, np.ndarray]):
    """The held-out functions with the lowest (best), median and highest (worst) mean relative L2 error, one
    column each: the function on top, then the first output along the first input at two values of the
    second, reference solid and prediction dashed. Each column's title names its rank and error."""
    from .evaluation import HELD_OUT, up_to_constant

    plt = pyplot()
    order = np.argsort(errs["mean"])
    picks = [("best", int(order[0])), ("median", int(order[len(order) // 2])), ("worst", int(order[-1]))]
    (n0, a0), (n1, a1) = list(ev.axes.items())[:2]
    first = ev.problem.outputs[0]
    f, arg = ev.function.name, ev.function.argument
    rows = [len(a1) - 1, (len(a1) - 1) // 2]
    fig, grid = plt.subplots(1 + len(rows), len(picks), figsize=(4.4 * len(picks), 2.9 * (1 + len(rows)) + 0.4),
                             squeeze=False, layout="constrained")
    for col, (rank, b) in enumerate(picks):
        ax = grid[0][col]
        ax.plot(ev.function.sensors, ev.functions[HELD_OUT][b], "k-", lw=1)
        each = ", ".join(f"{symbol(k)} {e[b]:.2g}" for k, e in errs.items() if k != "mean")
        each = f"\n({each})" if len(errs) > 2 else ""  # several fields: each one's error too
        ax.set_title(f"{rank}: {f} #{b}, rel. $L^2$ error {errs['mean'][b]:.3g}{each}", fontsize=10)
        ax.set_xlabel(symbol(arg))
        ax.set_ylabel(f"{f}({arg})")
        for r, j in enumerate(rows, start=1):
            ax = grid[r][col]
            ax.plot(a0, ev.reference[HELD_OUT][first][b][:, j], "k-", lw=1.2, label="reference")
            ax.plot(a0, pred[HELD_OUT][first][b][:, j], "r--", lw=1.2, label="prediction")
            ax.set_title(f"{rank}: {symbol(first)} at {symbol(n1)} = {a1[j]:.2f}", fontsize=10)
            ax.set_xlabel(symbol(n0))
            ax.set_ylabel(symbol(first))
            ax.legend(fontsize=7)
    constant = "".join(f"; {symbol(k)} up to a constant" for k in up_to_constant(ev.problem))
    fig.suptitle(f"held-out {f}: best, median and worst of {len(order)} by the rel. $L^2$ error "
                 f"(mean over {', '.join(k for k in errs if k != 'mean')}{constant})")
    return fig

