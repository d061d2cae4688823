"""Figures of a study report (matplotlib, Agg); each PNG has a JSON sidecar with the numbers it plots.

- ``vs_<axis>.png`` for each numeric axis (activation scale a, depth, ...; the "best PINN loss versus
  activation scale" of H. Lee, *Beyond Gaussian Initializations*, 2026): rows best loss, error metric,
  convergence slowness; one line per method = the median over seeds, band = min–max, dots = single seeds; one column per combination of the other axes. A cell with
  diverged/failed runs gets an ``x`` at the top of the panel, one with missing/interrupted runs a hollow ``^``.
- ``loss_curves.png``: see :mod:`pinnit.studies.loss_curves` (exploded runs are cut off a log axis and named).
- ``slowness.png``: convergence slowness (*Enhancing Performance of Multilayer Perceptrons by Knot-Gathering
  Initialization*) per method, a box over the completed runs with the runs as points, one panel per
  combination of the categorical axes (pooled over the numeric ones); below it the absolute levels it
  divides (first logged loss → mean loss), since slowness is relative to each run's own start.
- ``init/``: ``pinnit diagnose`` of each method's network at initialization (one cell, named in every title;
  MLPs only).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..outputs.plots import pyplot, save_figure
from ..core.atomic_files import write_json
from .figure_panels import cell_panels, figure_grid, panel_title, short_key
from .loss_curves import plot_loss_curves
from .results import Study, value_label

AXIS_LABELS = {
    "network.activation.a": r"activation scale $a$ in $a\,f(x)$",
    "network.activation.b": r"input scale $b$ in $f(b\,x)$",
    "network.activation.p": r"power $p$",
    "network.depth": r"depth $L$ (hidden layers)",
    "network.width": r"width $N$ (units per hidden layer)",
    "training.adam.lr": r"Adam learning rate $\eta$",
    "training.stages.adam.lr": r"Adam learning rate $\eta$",
    "network.initializer.sigma_b": r"bias std $\sigma_b$",
    "network.initializer.rho": r"target sign-flip rate $\rho$",
    "network.initializer.alpha": r"KGI perturbation factor $\alpha$",
}


def axis_label(key: str) -> str:
    return f"{AXIS_LABELS[key]}  [{key}]" if key in AXIS_LABELS else key


def metric_label(metric: str, weights: str) -> str:
    field = metric.split("_", 2)[-1]
    if metric.startswith("rel_l2_"):
        text = rf"relative $L^2$ error of ${field}$" if field.isidentifier() and "_" not in field else f"rel. L2 {field}"
    elif metric.startswith("max_abs_"):
        text = rf"$\max|{field} - {field}_{{ref}}|$" if field.isalpha() else f"max |error| {field}"
    else:
        text = metric
    return f"{text}\n({weights} weights)"


QUANTITIES = (("best_loss", "best loss (lowest total loss)"),
              ("slowness", r"convergence slowness $\bar{\mathcal{L}}/\mathcal{L}_0$"))


def _quantity(r, name: str, metric: str, weights: str) -> float | None:
    if name == "best_loss":
        return r.best_loss
    if name == "slowness":
        return r.slowness()
    return r.error(metric, weights)[0]


def _log_ok(values: list[float]) -> bool:
    v = np.array([x for x in values if x is not None], dtype=float)
    return v.size > 0 and bool((v > 0).all()) and v.max() / v.min() > 10


def _markers_legend(ax_handles: list, bad: bool, pending: bool) -> list:
    from matplotlib.lines import Line2D

    if bad:
        ax_handles.append(Line2D([], [], color="k", marker="x", ls="", label="diverged / failed runs (at top)"))
    if pending:
        ax_handles.append(Line2D([], [], color="k", marker="^", mfc="none", ls="", label="missing / interrupted (at top)"))
    return ax_handles


def _headroom(ax, log: bool, fraction: float) -> None:
    """Extend the y axis upwards by ``fraction`` of its span: a strip for the failure markers."""
    lo, hi = ax.get_ylim()
    if log:
        ax.set_ylim(lo, 10 ** (np.log10(hi) + fraction * (np.log10(hi) - np.log10(lo))))
    else:
        ax.set_ylim(lo, hi + fraction * (hi - lo))


def _line(runs: list, axis: str, name: str, metric: str, weights: str) -> dict[str, list]:
    """One method's points against ``axis``: median/min/max of ``name`` over the completed runs at each x, and
    the x values where runs diverged/failed or are missing/interrupted."""
    line: dict[str, list] = {"x": [], "median": [], "min": [], "max": [], "values": [], "diverged_or_failed": [],
                             "not_finished": []}
    for x in sorted({r.axes[axis] for r in runs if r.axes.get(axis) is not None}):
        at = [r for r in runs if r.axes.get(axis) == x]
        vals = [v for v in (_quantity(r, name, metric, weights) for r in at if r.outcome == "completed") if v is not None]
        if any(r.outcome in ("diverged", "failed") for r in at):
            line["diverged_or_failed"].append(x)
        if any(r.outcome in ("missing", "interrupted") for r in at):
            line["not_finished"].append(x)
        if vals:
            line["x"].append(x)
            line["values"].append(vals)
            for key, f in (("median", np.median), ("min", np.min), ("max", np.max)):
                line[key].append(float(f(vals)))
    return line


def _draw(ax, line: dict, method: str, k: int, top, handles: dict, plt) -> list[float]:
    """Median line, min–max band and seed dots of one method; its failure markers in the headroom strip (row k)."""
    colour = f"C{k}"
    if line["x"]:
        h, = ax.plot(line["x"], line["median"], "o-", color=colour, ms=4, lw=1.3, label=method)
        ax.fill_between(line["x"], line["min"], line["max"], color=colour, alpha=0.2, lw=0)
        for x, vals in zip(line["x"], line["values"]):
            ax.plot([x] * len(vals), vals, ".", color=colour, ms=3, alpha=0.6)
    else:
        h = plt.Line2D([], [], color=colour, marker="o", label=method)
    handles.setdefault(method, h)
    dy = 0.95 - 0.05 * k
    if line["diverged_or_failed"]:
        ax.plot(line["diverged_or_failed"], [dy] * len(line["diverged_or_failed"]), "x", color=colour, ms=7, mew=1.5,
                transform=top, clip_on=False)
    if line["not_finished"]:
        ax.plot(line["not_finished"], [dy] * len(line["not_finished"]), "^", mfc="none", color=colour, ms=6,
                transform=top, clip_on=False)
    return [v for vals in line["values"] for v in vals]


def plot_vs_axis(study: Study, axis: str, metric: str, weights: str, path: Path) -> dict:
    """Best loss, error and slowness against a numeric axis; returns the sidecar data."""
    plt = pyplot()
    from matplotlib.ticker import NullFormatter
    from matplotlib.transforms import blended_transform_factory

    other = [a for a in study.cell_axes if a != axis]
    panels = cell_panels(study, other)
    names = [("best_loss", QUANTITIES[0][1]), (metric, metric_label(metric, weights)), ("slowness", QUANTITIES[1][1])]
    fig, axes = figure_grid(plt, len(names), len(panels))
    data: dict[str, Any] = {"x_axis": axis, "metric": metric, "weights": weights,
                            "statistic": "median, min, max over completed seeds", "panels": []}
    handles: dict[str, Any] = {}
    any_bad = any_pending = False
    xs_all = sorted({r.axes[axis] for r in study.runs if r.axes.get(axis) is not None})
    for j, panel in enumerate(panels):
        entry = {"axes": dict(zip(other, map(value_label, panel))), "rows": {}}
        for i, (name, label) in enumerate(names):
            ax, lines, plotted = axes[i][j], {}, []
            top = blended_transform_factory(ax.transData, ax.transAxes)
            for k, method in enumerate(study.methods):
                runs = [r for r in study.runs if study.group(r) == method and study.cell(r, other) == panel]
                line = _line(runs, axis, name, metric, weights)
                plotted += _draw(ax, line, method, k, top, handles, plt)
                any_bad |= bool(line["diverged_or_failed"])
                any_pending |= bool(line["not_finished"])
                lines[method] = line
            log = _log_ok(plotted)
            if log:
                ax.set_yscale("log")
            _headroom(ax, log, 0.06 * len(study.methods) + 0.05)
            if xs_all and min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 50:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            if len(xs_all) <= 12:  # tick the values the study ran
                ax.set_xticks(xs_all, [f"{x:g}" for x in xs_all])
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel(label)
            if i == len(names) - 1:
                ax.set_xlabel(axis_label(axis))
            if i == 0 and other:
                ax.set_title(panel_title(study, other, panel), fontsize=9)
            entry["rows"][name] = lines
        data["panels"].append(entry)
    legend = _markers_legend(list(handles.values()), any_bad, any_pending)
    fig.legend(handles=legend, loc="outside lower center", fontsize=8, ncol=min(len(legend), 3))
    fig.suptitle(f"{study.name}: median over seeds (line), min–max (band), seeds (dots)", fontsize=10)
    save_figure(fig, path)
    plt.close(fig)
    return data


def _levels(r) -> tuple[float, float] | None:
    """(first logged loss L₀, mean loss L̄) of a run: slowness = L̄ / L₀."""
    _, loss = r.loss_curve()
    return (float(loss[0]), float(loss.mean())) if loss.size else None


def plot_slowness(study: Study, path: Path) -> dict:
    """Top row: convergence slowness L̄/L₀ per method (box over completed runs, runs as points). Bottom row,
    beside it, the absolute levels it divides: each run's first logged loss L₀ (hollow) joined to its mean
    loss L̄ (filled), since a method can have the lowest slowness while its loss is higher at every step."""
    plt = pyplot()
    numeric = study.numeric_axes
    keys = [a for a in study.cell_axes if a not in numeric]
    panels = cell_panels(study, keys)
    fig, axes = figure_grid(plt, 2, len(panels), max(2.6, 1.1 * len(study.methods) + 1.2), 3.3, sharey="row")
    pooled = f"; pooled over {', '.join(short_key(a, study.axes) for a in numeric)}" if numeric else ""
    data: dict[str, Any] = {"pooled_over": numeric, "panels": []}
    everything: list[float] = []
    levels_all: list[float] = []
    for j, panel in enumerate(panels):
        ax, low = axes[0][j], axes[1][j]
        entry = {"axes": dict(zip(keys, map(value_label, panel))), "methods": {}}
        groups = []
        for k, method in enumerate(study.methods):
            runs = [r for r in study.runs if study.group(r) == method and study.cell(r, keys) == panel
                    and r.outcome == "completed" and r.slowness() is not None]
            levels = [_levels(r) for r in runs]
            entry["methods"][method] = {"runs": [r.id for r in runs], "values": [r.slowness() for r in runs],
                                        "first_loss": [lv[0] for lv in levels], "mean_loss": [lv[1] for lv in levels]}
            groups.append(entry["methods"][method]["values"])
            everything += groups[-1]
            offsets = np.random.default_rng(k).uniform(-0.12, 0.12, len(levels))
            for (l0, mean), dx in zip(levels, offsets):
                low.plot([k + 1 + dx] * 2, [l0, mean], "-", color=f"C{k}", lw=0.8, alpha=0.7)
                low.plot(k + 1 + dx, l0, "^", mfc="none", color=f"C{k}", ms=5)
                low.plot(k + 1 + dx, mean, "o", color=f"C{k}", ms=4)
                levels_all += [l0, mean]
        ax.boxplot([g or [np.nan] for g in groups], tick_labels=study.methods, widths=0.5, showfliers=False,
                   medianprops={"color": "k"})
        rng = np.random.default_rng(0)
        for k, g in enumerate(groups):
            ax.plot(k + 1 + rng.uniform(-0.12, 0.12, len(g)), g, "o", color=f"C{k}", ms=4, alpha=0.8)
        low.set_xticks(range(1, len(study.methods) + 1), study.methods)
        low.set_xlim(0.5, len(study.methods) + 0.5)
        low.set_xlabel("method")
        for a in (ax, low):
            a.tick_params(axis="x", labelrotation=20 if len(study.methods) > 3 else 0)
            a.grid(alpha=0.3, axis="y")
        if j == 0:
            ax.set_ylabel(r"convergence slowness $\bar{\mathcal{L}}/\mathcal{L}_0$" "\n(relative to its own start)")
            low.set_ylabel("absolute loss: first logged\n$\\mathcal{L}_0$ (△) → mean $\\bar{\\mathcal{L}}$ (●)")
        if keys:
            ax.set_title(panel_title(study, keys, panel), fontsize=9)
        data["panels"].append(entry)
    if _log_ok(everything):
        for ax in axes[0]:
            ax.set_yscale("log")
    if _log_ok(levels_all):
        for ax in axes[1]:
            ax.set_yscale("log")
    fig.suptitle(f"{study.name}: convergence slowness (completed runs{pooled}; lower = faster)\n"
                 "slowness is relative to each run's first logged loss: a method can rank first with a higher "
                 "loss at every step; compare the absolute losses below", fontsize=9)
    save_figure(fig, path)
    plt.close(fig)
    return data


def write_figures(study: Study, rows: list[dict], metric: str, weights: str, out: Path, *,
                  diagnose: bool = True) -> list[Path]:
    """Write the figures that fit what the study varies, each with ``<name>.json``; returns the paths."""
    paths: list[Path] = []
    if not any(r.outcome != "missing" for r in study.runs):
        return paths
    jobs = [(f"vs_{a}", lambda p, a=a: plot_vs_axis(study, a, metric, weights, p)) for a in study.numeric_axes]
    jobs += [("loss_curves", lambda p: plot_loss_curves(study, p)), ("slowness", lambda p: plot_slowness(study, p))]
    for name, plot in jobs:
        png = out / f"{name}.png"
        write_json(out / f"{name}.json", plot(png))
        paths.append(png)
    if diagnose:
        from .init_figures import diagnose_methods

        paths += diagnose_methods(study, out / "init")
    return paths
