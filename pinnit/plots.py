"""PNG plots of a run: loss curves and prediction / reference / absolute-error heatmaps (matplotlib, Agg)."""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .rundir import write_bytes


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buf.getvalue())


def plot_losses(history: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Loss terms (log scale) against step, with the relative L2 error on a second axis."""
    plt = _figure()
    rows = [r for r in history if "loss_total" in r]
    if not rows:
        return
    steps = np.array([r["step"] for r in rows])
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in [k for k in rows[-1] if k.startswith("loss_")]:
        ax.semilogy(steps, [r.get(key, np.nan) for r in rows], label=key[5:], lw=1.2 if key == "loss_total" else 0.8)
    lbfgs = [r["step"] for r in rows if r.get("stage") == "lbfgs"]
    if lbfgs:
        ax.axvline(lbfgs[0], color="grey", ls=":", lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    errs = [(r["step"], v) for r in rows for k, v in r.items() if k.startswith("rel_l2_")]
    if errs:
        ax2 = ax.twinx()
        e = np.array(errs)
        ax2.semilogy(e[:, 0], e[:, 1], "k.--", ms=3, lw=0.6, label="rel. L2")
        ax2.set_ylabel("relative L2 error")
        ax2.legend(loc="upper center", fontsize=8)
    ax.legend(fontsize=8, loc="upper right")
    _save(fig, path)
    plt.close(fig)


def plot_fields(arrays: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str], folder: Path) -> list[Path]:
    """One PNG per field: prediction, reference and |error| over the first two inputs."""
    plt = _figure()
    if len(inputs) != 2:
        return []
    a0, a1 = arrays[inputs[0]], arrays[inputs[1]]
    paths = []
    for name in fields:
        panels = [(name, "prediction"), (f"{name}_ref", "reference"), (f"{name}_abs_error", "|error|")]
        panels = [(k, t) for k, t in panels if k in arrays]
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False,
                                 layout="constrained")
        for ax, (key, title) in zip(axes[0], panels):
            im = ax.pcolormesh(a1, a0, arrays[key], shading="auto", cmap="magma" if "error" in key else "RdBu_r")
            fig.colorbar(im, ax=ax)
            ax.set_title(f"{name}: {title}")
            ax.set_xlabel(inputs[1])
            ax.set_ylabel(inputs[0])
        path = folder / f"{name}_fields.png"
        _save(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_profiles(arrays: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str], time: str,
                  folder: Path, count: int = 4) -> list[Path]:
    """Each field against the other input at a few times: prediction (lines) vs reference (dashed)."""
    plt = _figure()
    if len(inputs) != 2 or time not in inputs:
        return []
    space = inputs[1 - inputs.index(time)]
    t_axis, s_axis = arrays[time], arrays[space]
    picks = np.unique(np.linspace(0, len(t_axis) - 1, count).round().astype(int))
    paths = []
    for name in fields:
        fig, ax = plt.subplots(figsize=(6, 4))
        for k, j in enumerate(picks):
            take = (slice(None), j) if inputs.index(time) == 1 else (j, slice(None))
            color = f"C{k}"
            ax.plot(s_axis, arrays[name][take], color=color, lw=1.4, label=f"{time} = {t_axis[j]:.3g}")
            if f"{name}_ref" in arrays:
                ax.plot(s_axis, arrays[f"{name}_ref"][take], color="k", ls="--", lw=0.8)
        ax.set_xlabel(space)
        ax.set_ylabel(name)
        ax.set_title(f"{name}: prediction (solid) and reference (dashed)")
        ax.legend(fontsize=8)
        path = folder / f"{name}_profiles.png"
        _save(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths
