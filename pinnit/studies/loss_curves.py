"""``loss_curves.png`` of a study report: total loss against step per cell, the geometric mean over the
completed seeds with a min–max band per method; diverged runs as thin dotted lines that end where they
diverged. The step axis starts at 0 and its label names the optimizers that logged losses and the first
logged step.

On a log axis the view reaches at most ``CLIP_DECADES`` decades above the cell's typical starting loss (the
median over methods of each mean curve's first value): a run that explodes to 1e32 would otherwise flatten
every other curve to a line. What is cut off is named in the panel, with its largest value, and in the JSON
sidecar (``clipped``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..outputs.plots import pyplot, save_figure
from .figure_panels import cell_panels, figure_grid, panel_title
from .results import Study, value_label

#: decades above the cell's typical starting loss that a log axis shows
CLIP_DECADES = 3.0


def _mean_curve(curves: list[tuple[np.ndarray, np.ndarray]], log: bool) -> dict[str, list]:
    """Mean (geometric if ``log``), min and max over runs on the union of their steps, each run interpolated
    within its own step range only."""
    steps = np.unique(np.concatenate([s for s, _ in curves]))
    grid = np.full((len(curves), steps.size), np.nan)
    for i, (s, v) in enumerate(curves):
        inside = (steps >= s[0]) & (steps <= s[-1])
        grid[i, inside] = np.interp(steps[inside], s, np.log10(v) if log else v)
    mean, lo, hi = np.nanmean(grid, axis=0), np.nanmin(grid, axis=0), np.nanmax(grid, axis=0)
    if log:
        mean, lo, hi = 10 ** mean, 10 ** lo, 10 ** hi
    return {"steps": steps.tolist(), "mean": mean.tolist(), "min": lo.tolist(), "max": hi.tolist()}


def step_label(runs: list) -> str:
    """The step axis of loss curves: the optimizers that logged losses in ``runs``, in order, and the first
    logged step (the curves, and slowness's L₀, start there, not at step 0)."""
    from ..training.optimizers import optimizer_label

    stages: dict[str, None] = {}
    first = []
    for r in runs:
        rows = [row for row in r.history() if row.get("loss_total") is not None and row.get("step") is not None]
        stages.update(dict.fromkeys(str(row["stage"]) for row in rows if row.get("stage")))
        first += [rows[0]["step"]] if rows else []
    parts = [", then ".join(optimizer_label(name) for name in stages)]
    parts.append(f"loss logged from step {min(first):g}" if first else "")
    inside = "; ".join(p for p in parts if p)
    return f"step ({inside})" if inside else "step"


def clip_log_axis(ax, lines: dict[str, dict], extra: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """Cut a log y axis at ``CLIP_DECADES`` above the median first value of the mean ``lines``; returns
    {method: largest value above the cut} over the bands and the ``extra`` (diverged) curves, and names them
    in the panel. Nothing is cut when everything fits."""
    starts = [line["mean"][0] for line in lines.values() if np.isfinite(line["mean"][0]) and line["mean"][0] > 0]
    values = {m: [np.asarray(line["max"], float)] for m, line in lines.items()}
    for m, curves in extra.items():
        values.setdefault(m, []).extend(np.asarray(c, float) for c in curves)
    peak = {m: max((float(np.max(v[np.isfinite(v)], initial=-np.inf)) for v in vs), default=-np.inf)
            for m, vs in values.items()}
    if not starts:
        return {}
    cut = 10 ** (float(np.median(np.log10(starts))) + CLIP_DECADES)
    clipped = {m: p for m, p in peak.items() if p > cut}
    if not clipped:
        return {}
    lows = [float(np.min(np.asarray(line["min"], float))) for line in lines.values()]
    ax.set_ylim(min(lows) / 10 ** 0.2, cut)
    text = "off scale (cut): " + ", ".join(f"{m} up to {p:.1e}" for m, p in clipped.items())
    ax.text(0.98, 0.97, text, ha="right", va="top", transform=ax.transAxes, fontsize=7, color="0.25",
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    return clipped


def plot_loss_curves(study: Study, path: Path) -> dict:
    plt = pyplot()
    axes_keys = study.cell_axes
    panels = cell_panels(study, axes_keys)
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = figure_grid(plt, rows, cols, 3.8, 2.9)
    data: dict[str, Any] = {"statistic": "geometric mean, min, max of loss_total over completed seeds", "panels": []}
    handles: dict[str, Any] = {}
    any_diverged = False
    for n, panel in enumerate(panels):
        ax = axes[n // cols][n % cols]
        entry = {"axes": dict(zip(axes_keys, map(value_label, panel))), "lines": {}}
        diverged: dict[str, list[np.ndarray]] = {}
        for k, method in enumerate(study.methods):
            runs = [r for r in study.runs if study.group(r) == method and study.cell(r) == panel]
            curves = [(r.id, *r.loss_curve()) for r in runs if r.outcome == "completed"]
            curves = [c for c in curves if c[1].size]
            log = all((c[2] > 0).all() for c in curves)
            if curves:
                line = _mean_curve([(s, v) for _, s, v in curves], log)
                line["runs"] = [c[0] for c in curves]
                h, = ax.plot(line["steps"], line["mean"], color=f"C{k}", lw=1.3, label=method)
                handles.setdefault(method, h)
                ax.fill_between(line["steps"], line["min"], line["max"], color=f"C{k}", alpha=0.2, lw=0)
                entry["lines"][method] = line
            for r in runs:
                if r.outcome == "diverged":
                    s, v = r.loss_curve()
                    ax.plot(s, v, color=f"C{k}", lw=0.8, ls=":")
                    diverged.setdefault(method, []).append(v)
                    any_diverged = True
        if all(all((np.asarray(line["min"]) > 0)) for line in entry["lines"].values()) and entry["lines"]:
            ax.set_yscale("log")
            entry["clipped"] = clip_log_axis(ax, entry["lines"], diverged)
        if not entry["lines"]:
            ax.text(0.5, 0.5, "no completed run yet", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_xlim(left=0)
        entry["x_label"] = step_label([r for r in study.runs if study.cell(r) == panel and r.outcome != "missing"])
        if n // cols == rows - 1 or n + cols >= len(panels):
            ax.set_xlabel(entry["x_label"])
        if n % cols == 0:
            ax.set_ylabel(r"total loss $\mathcal{L}$")
        ax.grid(alpha=0.3)
        if axes_keys:
            ax.set_title(panel_title(study, axes_keys, panel), fontsize=9)
        data["panels"].append(entry)
    for n in range(len(panels), rows * cols):
        axes[n // cols][n % cols].axis("off")
    legend = list(handles.values())
    if any_diverged:
        legend.append(plt.Line2D([], [], color="k", lw=0.8, ls=":", label="diverged run"))
    fig.legend(handles=legend, loc="outside lower center", fontsize=8, ncol=min(len(legend), 4))
    shown = "" if len(panels) == len(set(study.cell(r) for r in study.runs)) else f" ({len(panels)} cells shown)"
    fig.suptitle(f"{study.name}: loss curves, geometric mean over seeds (band: min–max){shown}", fontsize=10)
    save_figure(fig, path)
    plt.close(fig)
    return data
