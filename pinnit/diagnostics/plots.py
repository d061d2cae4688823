"""Figures of ``pinnit diagnose`` (matplotlib, Agg), one curve or panel per initializer.

- ``activation_range.png``: left, mean ± std band and dashed min/max of x^l against depth (seed 000, Fig. 10);
  right, std and sample_std on a log scale (a collapsed layer shows as sample_std → 0).
- ``last_layer_hist.png``: histogram of the last hidden layer's post-activations (seed 000, Fig. 9).
- ``grad_norms.png``: ‖∂L/∂W^l‖ against depth (seed 000, Fig. 11); omitted when no gradients were computed.
- ``chi1.png``: the empirical χ₁ against depth, with the edge of chaos χ₁ = 1 marked (methods.md §2.2).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plots import _figure, _save

FILES = ("activation_range.png", "last_layer_hist.png", "grad_norms.png", "chi1.png")


def _column(rows: list[dict], key: str, kind: str = "hidden") -> tuple[np.ndarray, np.ndarray]:
    sel = [r for r in rows if r.get("kind", "hidden") == kind or kind == "all"]
    x = np.array([r["layer"] for r in sel], dtype=float)
    y = np.array([np.nan if r.get(key) is None else r[key] for r in sel], dtype=float)
    return x, y


def _depth_axis(ax, depth: int) -> None:
    if depth >= 100:
        ax.set_xscale("log")
    ax.set_xlabel("layer l")


def _positive(y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, y, np.nan)


def plot_activation_range(results, path: Path) -> None:
    plt = _figure()
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
    ax.set_ylabel("x^l: mean ± std, min/max (dashed)")
    ax2.set_yscale("log")
    ax2.set_ylabel("std (solid), sample std (dotted)")
    ax.legend(fontsize=8)
    ax2.legend(fontsize=7)
    fig.suptitle("activation range vs depth")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_last_layer(results, path: Path) -> None:
    plt = _figure()
    fig, axes = plt.subplots(1, len(results), figsize=(3.6 * len(results), 3.2), squeeze=False)
    for i, (ax, d) in enumerate(zip(axes[0], results)):
        values = d.last[np.isfinite(d.last)]
        ax.hist(values, bins=50, color=f"C{i}")
        std = float(values.std()) if values.size else float("nan")
        ax.set_title(f"{d.label}\nstd {std:.3g}", fontsize=9)
        ax.set_xlabel(f"x^{d.summary['depth']} (last hidden layer)")
    axes[0][0].set_ylabel("count")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_grad_norms(results, path: Path) -> bool:
    computed = [d for d in results if d.summary["gradients"]["computed"]]
    if not computed:
        return False
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    depth = 1
    for i, d in enumerate(results):
        if d in computed:
            x, g = _column(d.rows, "grad_norm", "all")
            depth = max(depth, len(x))
            ax.plot(x, _positive(g), color=f"C{i}", lw=1.2, label=d.label)
    _depth_axis(ax, depth)
    ax.set_yscale("log")
    ax.set_ylabel("‖∂L/∂W^l‖ (training loss at init)")
    ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)
    return True


def plot_chi1(results, path: Path) -> None:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    depth = 1
    for i, d in enumerate(results):
        x, c = _column(d.rows, "chi1")
        depth = max(depth, len(x))
        ax.plot(x, _positive(c), color=f"C{i}", lw=1.0, label=d.label)
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    _depth_axis(ax, depth)
    ax.set_yscale("log")
    ax.set_ylabel("empirical χ₁ (perturbation growth per layer)")
    ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)


def plot_all(results, out: Path) -> list[Path]:
    """Write every figure into ``out``; returns the paths written."""
    paths = [out / "activation_range.png", out / "last_layer_hist.png"]
    plot_activation_range(results, paths[0])
    plot_last_layer(results, paths[1])
    if plot_grad_norms(results, out / "grad_norms.png"):
        paths.append(out / "grad_norms.png")
    else:  # no stale figure from an earlier, shallower diagnosis in the same folder
        (out / "grad_norms.png").unlink(missing_ok=True)
    plot_chi1(results, out / "chi1.png")
    paths.append(out / "chi1.png")
    return paths
