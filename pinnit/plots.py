"""PNG plots of a run: loss curves and prediction / reference / absolute-error heatmaps (matplotlib, Agg).

Each ``*_figure`` function builds and returns the figure (tests read its lines back); ``plot_*`` saves it
atomically. Conventions, so that no picture misleads: every line and colorbar is labelled (mathtext for
symbols), the prediction and its reference share one colour scale, a field that keeps one sign gets a
sequential colormap (a diverging one, centred on 0, only when the sign changes), and the dashed reference
lines are named in the legend.
"""
from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .rundir import write_bytes
from .training.optimizers import optimizer_label

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu",
         "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Phi", "Psi", "Omega"}
SEQUENTIAL, DIVERGING, ERROR = "viridis", "RdBu_r", "magma"


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buf.getvalue())


def symbol(name: str) -> str:
    """A variable name as mathtext: ``u`` → ``$u$``, ``tau`` → ``$\\tau$``, ``u_final`` → ``$u_{final}$``."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*", name):
        return name
    head, *subs = name.split("_")
    head = f"\\{head}" if head in GREEK else head
    sub = ",".join(f"\\{s}" if s in GREEK else s for s in subs)
    return f"${head}_{{{sub}}}$" if subs else f"${head}$"


def _error_label(key: str) -> str:
    """``rel_l2_u`` → ``rel. L2 of u``; ``rel_l2_u_final_t`` → ``rel. L2 of u at the final t``."""
    rest = key[len("rel_l2_"):]
    field, _, where = rest.partition("_final_")
    return f"rel. $L^2$ error of {symbol(field)}" + (f" at the final {symbol(where)}" if where else "")


def loss_figure(history: Sequence[Mapping[str, Any]]):
    """Loss terms (log scale) against step; one dashed line per relative-L2 metric on a second axis;
    every stage change (e.g. Adam → SSBroyden) marked and labelled. None without loss rows."""
    plt = _figure()
    rows = [r for r in history if "loss_total" in r]
    if not rows:
        return None
    steps = np.array([r["step"] for r in rows])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    keys = [k for k in rows[-1] if k.startswith("loss_")]
    for key in keys:
        ax.semilogy(steps, [r.get(key, np.nan) for r in rows], label=f"loss: {key[5:]}",
                    lw=1.6 if key == "loss_total" else 0.9, color="k" if key == "loss_total" else None)
    handles = ax.get_lines()[:]
    for i, (boundary, before, after) in enumerate(_stage_changes(rows)):
        handles.append(ax.axvline(boundary, color="grey", ls=(0, (1, 1 + i)), lw=1.0,
                                  label=f"{optimizer_label(before)} → {optimizer_label(after)} (step {boundary})"))
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean squared residual)")
    error_keys = [k for k in dict.fromkeys(k for r in rows for k in r)  # errors, not their spreads (*_std)
                  if k.startswith("rel_l2_") and not k.endswith("_std")]
    if error_keys:
        ax2 = ax.twinx()
        markers = "os^dv<>"
        for i, key in enumerate(error_keys):
            pts = np.array([(r["step"], r[key]) for r in rows if r.get(key) not in (None, "")], dtype=float)
            if pts.size:
                line, = ax2.semilogy(pts[:, 0], pts[:, 1], ls="--", marker=markers[i % len(markers)], ms=3.5,
                                     lw=0.9, color=f"C{(i + len(keys)) % 10}", label=_error_label(key))
                handles.append(line)
        ax2.set_ylabel("relative $L^2$ error (dashed)")
    ax.legend(handles=handles, labels=[h.get_label() for h in handles], fontsize=7.5, loc="upper center",
              bbox_to_anchor=(0.5, -0.14), ncol=3)
    ax.set_title("training losses and errors")
    return fig


def _stage_changes(rows: list[dict]) -> list[tuple[int, str, str]]:
    """(last step of a stage, its name, the next stage's name) at every change of the ``stage`` column."""
    out = []
    for prev, row in zip(rows, rows[1:]):
        if row.get("stage") and prev.get("stage") and row["stage"] != prev["stage"]:
            out.append((prev["step"], prev["stage"], row["stage"]))
    return out


def plot_losses(history: Sequence[Mapping[str, Any]], path: Path) -> None:
    fig = loss_figure(history)
    if fig is not None:
        _save(fig, path)
        _figure().close(fig)


def _finite(*arrays: np.ndarray) -> np.ndarray:
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    return values[np.isfinite(values)]


def colour_scale(*arrays: np.ndarray, sign_from: np.ndarray | None = None) -> dict[str, Any]:
    """One colour scale spanning ``arrays`` (one quantity): sequential when the quantity keeps one sign, else
    diverging and symmetric about 0 (so white means zero). The sign is judged on ``sign_from`` (the
    reference: a price ≥ 0 stays sequential though its prediction dips to −1e-3) when given."""
    values = _finite(*arrays)
    if not values.size:
        return {"cmap": SEQUENTIAL}
    lo, hi = float(values.min()), float(values.max())
    judge = _finite(sign_from) if sign_from is not None else values
    if judge.size and judge.min() < 0 < judge.max():
        m = max(-lo, hi)
        return {"cmap": DIVERGING, "vmin": -m, "vmax": m}
    return {"cmap": SEQUENTIAL, "vmin": lo, "vmax": hi}


def fields_figures(arrays: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str]) -> dict[str, Any]:
    """Field name → figure: prediction, reference (one shared colour scale) and |error| over two inputs."""
    plt = _figure()
    if len(inputs) != 2:
        return {}
    a0, a1 = arrays[inputs[0]], arrays[inputs[1]]
    figures = {}
    for name in fields:
        s = symbol(name)
        panels = [(name, "prediction", f"{s} (prediction)"), (f"{name}_ref", "reference", f"{s} (reference)"),
                  (f"{name}_abs_error", "|error|", f"|{s} − reference|")]
        panels = [p for p in panels if p[0] in arrays]
        scale = colour_scale(*[arrays[k] for k, _, _ in panels if "error" not in k],
                             sign_from=arrays.get(f"{name}_ref"))
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False,
                                 layout="constrained")
        for ax, (key, title, label) in zip(axes[0], panels):
            style = {"cmap": ERROR} if "error" in key else scale
            im = ax.pcolormesh(a1, a0, arrays[key], shading="auto", **style)
            fig.colorbar(im, ax=ax, label=label)
            ax.set_title(f"{s}: {title}")
            ax.set_xlabel(symbol(inputs[1]))
            ax.set_ylabel(symbol(inputs[0]))
        figures[name] = fig
    return figures


def plot_fields(arrays: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str], folder: Path) -> list[Path]:
    """One PNG per field, ``<field>_fields.png``."""
    paths = []
    for name, fig in fields_figures(arrays, inputs, fields).items():
        path = folder / f"{name}_fields.png"
        _save(fig, path)
        _figure().close(fig)
        paths.append(path)
    return paths


def profiles_figures(arrays: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str], time: str,
                     count: int = 4) -> dict[str, Any]:
    """Field name → figure: the field against the other input at a few times, prediction solid and the
    reference dashed (named in the legend)."""
    plt = _figure()
    if len(inputs) != 2 or time not in inputs:
        return {}
    space = inputs[1 - inputs.index(time)]
    t_axis, s_axis = arrays[time], arrays[space]
    picks = np.unique(np.linspace(0, len(t_axis) - 1, count).round().astype(int))
    figures = {}
    for name in fields:
        fig, ax = plt.subplots(figsize=(6, 4))
        for k, j in enumerate(picks):
            take = (slice(None), j) if inputs.index(time) == 1 else (j, slice(None))
            ax.plot(s_axis, arrays[name][take], color=f"C{k}", lw=1.4,
                    label=f"{symbol(time)} = {t_axis[j]:.3g}")
            if f"{name}_ref" in arrays:
                ax.plot(s_axis, arrays[f"{name}_ref"][take], color="k", ls="--", lw=0.8,
                        label="reference (dashed)" if k == len(picks) - 1 else "_nolegend_")
        ax.set_xlabel(symbol(space))
        ax.set_ylabel(symbol(name))
        ref = " and reference (dashed)" if f"{name}_ref" in arrays else ""
        ax.set_title(f"{symbol(name)}: prediction (solid){ref}")
        ax.legend(fontsize=8)
        figures[name] = fig
    return figures


def plot_profiles(arrays: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str], time: str,
                  folder: Path, count: int = 4) -> list[Path]:
    """One PNG per field, ``<field>_profiles.png``."""
    paths = []
    for name, fig in profiles_figures(arrays, inputs, fields, time, count).items():
        path = folder / f"{name}_profiles.png"
        _save(fig, path)
        _figure().close(fig)
        paths.append(path)
    return paths
