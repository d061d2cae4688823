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

from ..core.atomic_files import write_bytes
from ..training.optimizers import optimizer_label

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu",
         "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Phi", "Psi", "Omega"}
SEQUENTIAL, DIVERGING, ERROR = "viridis", "RdBu_r", "magma"


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use: plotting is optional work)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``fig`` as a PNG (110 dpi, tight bounding box, optional PNG text ``metadata``) atomically at ``path``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata=metadata)
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
    """``rel_l2_u`` → ``rel. L2 of u``; ``rel_l2_u_final_t`` → ``… of u at the final t``; ``rel_l2_u_f0`` →
    ``… of u at f ≡ 0`` (an operator's unperturbed input); ``rel_l2_mean`` → ``… mean over the fields``."""
    field, variant = _error_parts(key)
    what = "mean over the fields" if field == "mean" else f"of {symbol(field)}"
    where = {"": "", "f0": " at $f \\equiv 0$"}.get(variant, f" at the final {symbol(variant[len('final_'):])}")
    return f"rel. $L^2$ error {what}{where}"


def _error_parts(key: str) -> tuple[str, str]:
    """``rel_l2_u_final_t`` → (``u``, ``final_t``); ``rel_l2_p_f0`` → (``p``, ``f0``); ``rel_l2_v`` → (``v``, "")."""
    rest = key[len("rel_l2_"):]
    field, sep, where = rest.partition("_final_")
    if sep:
        return field, f"final_{where}"
    if rest.endswith("_f0"):
        return rest[:-3], "f0"
    return rest, ""


def readable_scale(ax, values: Sequence[float], axis: str = "y") -> str:
    """A log scale only where at least two powers of ten fall inside the data (so that labelled ticks span
    it); otherwise linear, whose ticks always label the range. Returns the scale chosen."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    log = v.size > 0 and bool((v > 0).all()) and np.floor(np.log10(v.max())) - np.ceil(np.log10(v.min())) >= 1
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log" if log else "linear")
    return "log" if log else "linear"


def loss_figure(history: Sequence[Mapping[str, Any]], *, best_step: int | None = None,
                best_loss: float | None = None, restored: bool = False):
    """Two panels sharing the step axis: the loss terms (top) and the relative-L2 errors (bottom, one colour
    per field, not used by any loss line; line style and marker per variant). Each panel's y axis is log only
    where powers of ten fall inside its data. Every stage change (e.g. Adam → SSBroyden) is marked and
    labelled; ``best_step`` (the lowest-loss step; ``restored``: its weights were restored and saved) is
    marked on both panels. None without loss rows."""
    plt = pyplot()
    rows = [r for r in history if "loss_total" in r]
    if not rows:
        return None
    steps = np.array([r["step"] for r in rows])
    error_keys = [k for k in dict.fromkeys(k for r in rows for k in r)  # errors, not their spreads (*_std)
                  if k.startswith("rel_l2_") and not k.endswith("_std")]
    fig, axes = plt.subplots(2 if error_keys else 1, 1, sharex=True, squeeze=False, layout="constrained",
                             figsize=(8.5, 6.6 if error_keys else 4.0))
    ax = axes[0][0]
    palette = list(plt.get_cmap("tab10").colors)
    keys = [k for k in rows[-1] if k.startswith("loss_")]
    terms = [k for k in keys if k != "loss_total"]
    loss_values = []
    for key in keys:
        values = [r.get(key, np.nan) for r in rows]
        loss_values += values
        colour = "k" if key == "loss_total" else palette[terms.index(key) % len(palette)]
        ax.plot(steps, values, label=f"loss: {key[5:]}", lw=1.6 if key == "loss_total" else 0.9, color=colour)
    readable_scale(ax, loss_values)
    ax.set_ylabel("loss (mean squared residual)")
    ax.set_title("training losses" + (" (top) and errors against the reference (bottom)" if error_keys else ""))
    panels = [ax]
    if error_keys:
        ax2 = axes[1][0]
        panels.append(ax2)
        fields = list(dict.fromkeys(_error_parts(k)[0] for k in error_keys))
        free = [c for i, c in enumerate(palette) if i >= len(terms)] or palette
        variants = list(dict.fromkeys(_error_parts(k)[1] for k in error_keys))
        styles, markers = ["-", "--", ":", "-."], "os^dv<>"
        error_values = []
        for key in error_keys:
            field, variant = _error_parts(key)
            pts = np.array([(r["step"], r[key]) for r in rows if r.get(key) not in (None, "")], dtype=float)
            if pts.size:
                v = variants.index(variant)
                ax2.plot(pts[:, 0], pts[:, 1], ls=styles[v % len(styles)], marker=markers[v % len(markers)], ms=4,
                         lw=1.1, color=free[fields.index(field) % len(free)], label=_error_label(key))
                error_values += list(pts[:, 1])
        readable_scale(ax2, error_values)
        ax2.set_ylabel("relative $L^2$ error")
        ax2.grid(alpha=0.3)
    for i, (boundary, before, after) in enumerate(_stage_changes(rows)):
        for a in panels:
            a.axvline(boundary, color="grey", ls=(0, (1, 1 + i)), lw=1.0,
                      label=f"{optimizer_label(before)} → {optimizer_label(after)} (step {boundary:g})"
                      if a is ax else "_nolegend_")
    if best_loss is not None and not np.isfinite(best_loss):  # no step was recorded as best
        best_step = best_loss = None
    if best_step is not None:
        what = "weights restored from" if restored else "lowest loss (final weights kept) at"
        label = f"{what} step {best_step:g}" + (f" (loss {best_loss:.3g})" if best_loss is not None else "")
        for a in panels:
            a.axvline(best_step, color="k", lw=1.0, ls="-.", label=label if a is ax else "_nolegend_")
        if best_loss is not None:
            ax.plot([best_step], [best_loss], marker="*", ms=13, color="gold", mec="k", ls="none", label="_nolegend_")
    ax.grid(alpha=0.3)
    for a in panels:
        a.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    panels[-1].set_xlabel("step")
    return fig


def _stage_changes(rows: list[dict]) -> list[tuple[int, str, str]]:
    """(last step of a stage, its name, the next stage's name) at every change of the ``stage`` column."""
    out = []
    for prev, row in zip(rows, rows[1:]):
        if row.get("stage") and prev.get("stage") and row["stage"] != prev["stage"]:
            out.append((prev["step"], prev["stage"], row["stage"]))
    return out


def plot_losses(history: Sequence[Mapping[str, Any]], path: Path, *, best_step: int | None = None,
                best_loss: float | None = None, restored: bool = False) -> None:
    """``loss.png`` (see :func:`loss_figure`); nothing without loss rows."""
    fig = loss_figure(history, best_step=best_step, best_loss=best_loss, restored=restored)
    if fig is not None:
        save_figure(fig, path)
        pyplot().close(fig)


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
    plt = pyplot()
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
        save_figure(fig, path)
        pyplot().close(fig)
        paths.append(path)
    return paths


def profiles_figures(arrays: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str], time: str,
                     count: int = 4) -> dict[str, Any]:
    """Field name → figure: the field against the other input at a few times, prediction solid and the
    reference dashed (named in the legend)."""
    plt = pyplot()
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
        save_figure(fig, path)
        pyplot().close(fig)
        paths.append(path)
    return paths
