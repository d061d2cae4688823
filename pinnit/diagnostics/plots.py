"""Figures of ``pinnit diagnose`` (matplotlib, Agg), one curve or panel per initializer.

- ``activation_range.png``: left, mean ± std band and dashed min/max of x^l against depth (H. Lee, *Beyond
  Gaussian Initializations*, 2026, Fig. 10); right, std and sample_std on a log scale (a collapsed layer
  shows as sample_std → 0).
- ``last_layer_hist.png``: histogram of the last hidden layer's post-activations over all (unit, input) pairs,
  titled with their std, the sample std over inputs and the output's sample std; a layer whose sample std
  is below ``NEAR_CONSTANT`` × its std is flagged (its histogram is one spike per unit: it ignores the input).
- ``grad_norms.png``: ‖∂L/∂W^l‖ against depth (ibid., Fig. 11); omitted when no gradients were computed.
  Exact zeros (KGI at depth 500: layers 1 to ~300) cannot sit on a log axis: they are drawn as markers on a
  floor line below the smallest positive norm, named in the legend.
- ``chi1.png``: the empirical χ₁ against depth, with the edge of chaos χ₁ = 1 marked.

The ``*_figure`` functions return the figure (tests read its lines back); ``plot_all`` saves them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..outputs.plots import pyplot, save_figure

FILES = ("activation_range.png", "last_layer_hist.png", "grad_norms.png", "chi1.png")


def _column(rows: list[dict], key: str, kind: str = "hidden") -> tuple[np.ndarray, np.ndarray]:
    sel = [r for r in rows if r.get("kind", "hidden") == kind or kind == "all"]
    x = np.array([r["layer"] for r in sel], dtype=float)
    y = np.array([np.nan if r.get(key) is None else r[key] for r in sel], dtype=float)
    return x, y


def _depth_axis(ax, depth: int) -> None:
    if depth >= 100:
        ax.set_xscale("log")
    ax.set_xlabel("layer $l$")


def _positive(y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, y, np.nan)


def activation_range_figure(results):
    from matplotlib.lines import Line2D

    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    depth = 1
    for i, d in enumerate(results):
        colour = f"C{i}"
        x, mean = _column(d.rows, "mean")
        _, std = _column(d.rows, "std")
        _, lo = _column(d.rows, "min")
        _, hi = _column(d.rows, "max")
        _, spread = _column(d.rows, "sample_std")
        depth = max(depth, len(x))
        ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.25, lw=0)
        ax.plot(x, mean, color=colour, lw=1.2, label=d.label)
        ax.plot(x, lo, color=colour, lw=0.7, ls="--")
        ax.plot(x, hi, color=colour, lw=0.7, ls="--")
        ax2.plot(x, _positive(std), color=colour, lw=1.2, label=f"{d.label}: std")
        ax2.plot(x, _positive(spread), color=colour, lw=1.0, ls=":", label=f"{d.label}: sample std")
    for a in (ax, ax2):
        _depth_axis(a, depth)
    ax.set_ylabel("$x^l$: mean ± std (band), min/max (dashed)")
    ax2.set_yscale("log")
    ax2.set_ylabel("std of $x^l$ (solid), sample std (dotted)")
    extra = [Line2D([], [], color="grey", lw=0.7, ls="--", label="min / max of $x^l$"),
             Line2D([], [], color="grey", lw=6, alpha=0.25, label="mean ± std")]
    ax.legend(handles=ax.get_legend_handles_labels()[0] + extra, fontsize=8)
    ax2.legend(fontsize=7)
    fig.suptitle("activation range vs depth")
    fig.tight_layout()
    return fig


#: The last hidden layer counts as independent of the input when its sample std (over inputs, averaged over
#: units) is below this fraction of the std of all its values: the histogram then shows one spike per unit.
NEAR_CONSTANT = 1e-3


def last_layer_title(d) -> str:
    """What the histogram shows, in numbers: the std of all (unit, input) values, the sample std over the
    inputs (averaged over units) and the network output's sample std; a warning when the layer is
    (nearly) the same for every input."""
    last = d.summary.get("last_layer") or {}
    std, sample = last.get("std"), last.get("sample_std")
    out = d.summary.get("output_sample_std", d.summary.get("output_std"))
    lines = [d.label, f"std of all values {_g(std)}", f"sample std over inputs {_g(sample)}; output {_g(out)}"]
    if near_constant(d):
        lines.append("⚠ near-constant: ignores the input")
    return "\n".join(lines)


def near_constant(d) -> bool:
    last = d.summary.get("last_layer") or {}
    std, sample = last.get("std"), last.get("sample_std")
    return bool(std and sample is not None and np.isfinite(std) and sample <= NEAR_CONSTANT * std)


def _g(value) -> str:
    return "n/a" if value is None else f"{value:.2g}"


def last_layer_figure(results):
    """Histogram of the last hidden layer's values over all (unit, input) pairs, titled with
    :func:`last_layer_title`; a near-constant layer is annotated in the panel (its spikes are its units)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(3.9 * len(results), 3.7), squeeze=False, layout="constrained")
    for i, (ax, d) in enumerate(zip(axes[0], results)):
        values = d.last[np.isfinite(d.last)]
        ax.hist(values, bins=50, color=f"C{i}")
        flagged = near_constant(d)
        ax.set_title(last_layer_title(d), fontsize=8.5, color="firebrick" if flagged else "k")
        ax.set_xlabel(f"$x^{{{d.summary['depth']}}}$ (last hidden layer), all units × inputs")
        if flagged:
            ax.set_ylim(top=ax.get_ylim()[1] * 1.3)  # room for the note above the spikes
            width = d.summary.get("width")
            units = width[-1] if isinstance(width, list) else width
            ax.text(0.5, 0.97, f"each spike = one of the {units} units,\nthe same value for every input",
                    transform=ax.transAxes, ha="center", va="top", fontsize=7.5, color="firebrick",
                    bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "firebrick", "lw": 0.6})
    axes[0][0].set_ylabel("count")
    return fig


def grad_norms_figure(results):
    """None when no gradients were computed. Exact zeros are drawn on a floor below the smallest positive
    norm (a log axis cannot show 0), with the number of such layers in the legend."""
    computed = [d for d in results if d.summary["gradients"]["computed"]]
    if not computed:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    depth = 1
    curves = {}
    for i, d in enumerate(results):
        if d in computed:
            x, g = _column(d.rows, "grad_norm", "all")
            depth = max(depth, len(x))
            curves[i] = (d, x, g)
    positive = [g[g > 0] for _, _, g in curves.values()]
    smallest = min((float(p.min()) for p in positive if p.size), default=1.0)
    floor = smallest / 100
    zeros_drawn = False
    for i, (d, x, g) in curves.items():
        ax.plot(x, _positive(g), color=f"C{i}", lw=1.2, label=d.label)
        zero = g == 0
        if zero.any():
            layers = x[zero]
            ax.plot(layers, np.full(layers.shape, floor), ls="none", marker="v", ms=3, color=f"C{i}",
                    label=f"{d.label}: exactly 0 in {int(zero.sum())} layers ({_ranges(layers)})")
            zeros_drawn = True
    _depth_axis(ax, depth)
    ax.set_yscale("log")
    if zeros_drawn:
        ax.axhline(floor, color="grey", lw=0.6, ls=":")
        ax.annotate("▼ = exactly 0 (drawn at this floor)", (0.01, floor), xycoords=("axes fraction", "data"),
                    xytext=(0, 4), textcoords="offset points", fontsize=7, color="grey")
    ax.set_ylabel(r"$\|\partial L / \partial W^l\|$ (training loss at init)")
    ax.legend(fontsize=8)
    return fig


def _ranges(layers: np.ndarray) -> str:
    """``1–300, 412`` for a sorted list of layer numbers."""
    out, start, prev = [], None, None
    for v in (int(v) for v in layers):
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            out.append(f"{start}–{prev}" if prev > start else str(start))
            start = prev = v
    if start is not None:
        out.append(f"{start}–{prev}" if prev > start else str(start))
    text = ", ".join(out[:3])
    return text + (", …" if len(out) > 3 else "")


def chi1_figure(results):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    depth = 1
    for i, d in enumerate(results):
        x, c = _column(d.rows, "chi1")
        depth = max(depth, len(x))
        ax.plot(x, _positive(c), color=f"C{i}", lw=1.0, label=d.label)
    ax.axhline(1.0, color="k", lw=0.8, ls=":", label=r"edge of chaos $\chi_1 = 1$")
    _depth_axis(ax, depth)
    ax.set_yscale("log")
    ax.set_ylabel(r"empirical $\chi_1$ (perturbation growth per layer)")
    ax.legend(fontsize=8)
    return fig


def _write(fig, path: Path, caption: str | None = None) -> None:
    """Save ``fig``; a ``caption`` (what the figure is of, e.g. a study's cell) heads it and is stored as the
    PNG's Title metadata."""
    if caption:
        old = fig.get_suptitle()  # "" when there is none (matplotlib ≥ 3.8)
        fig.suptitle(f"{caption}\n{old}" if old else caption, fontsize=10)
    save_figure(fig, path, metadata={"Title": caption} if caption else None)
    pyplot().close(fig)


def plot_all(results, out: Path, caption: str | None = None) -> list[Path]:
    """Write every figure into ``out``, each headed by ``caption`` when given; returns the paths written."""
    paths = [out / "activation_range.png", out / "last_layer_hist.png"]
    _write(activation_range_figure(results), paths[0], caption)
    _write(last_layer_figure(results), paths[1], caption)
    grads = grad_norms_figure(results)
    if grads is not None:
        _write(grads, out / "grad_norms.png", caption)
        paths.append(out / "grad_norms.png")
    else:  # no stale figure from an earlier, shallower diagnosis in the same folder
        (out / "grad_norms.png").unlink(missing_ok=True)
    _write(chi1_figure(results), out / "chi1.png", caption)
    paths.append(out / "chi1.png")
    return paths
