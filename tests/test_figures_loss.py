"""The run's loss.png: losses and errors on separate panels with colours no loss line uses, y axes whose
labelled ticks span the data (log only where powers of ten fall inside it), and the restored step marked."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from pinnit.outputs.plots import loss_figure  # noqa: E402

FIELDS = ("u", "v", "p", "mean")


def stokes_like_history() -> list[dict]:
    """The shape of an operator run's history: 4 loss terms + total, 8 error series (held-out and f ≡ 0),
    errors between 0.10 and 0.13 (the range the old shared log axis could not label)."""
    rows = []
    for i, step in enumerate(range(10, 310, 10)):
        row = {"step": step, "stage": "adam", "lr": 1e-3}
        for k, term in enumerate(("momentum_x", "momentum_y", "mass", "lid")):
            row[f"loss_{term}"] = 10.0 ** (-1 - k * 0.5) * np.exp(-i / 10)
        row["loss_total"] = sum(v for key, v in row.items() if key.startswith("loss_"))
        if step % 100 == 0:
            for j, field in enumerate(FIELDS):
                row[f"rel_l2_{field}"] = 0.10 + 0.01 * j - 0.001 * i / 10
                row[f"rel_l2_{field}_f0"] = 0.12 + 0.002 * j
            row["rel_l2_mean_std"] = 0.01
        rows.append(row)
    return rows


def labelled_ticks(ax) -> list[float]:
    """The y values whose tick has a visible label inside the axis limits (major and minor)."""
    ax.figure.canvas.draw()
    lo, hi = ax.get_ylim()
    ticks = [*ax.yaxis.get_major_ticks(), *ax.yaxis.get_minor_ticks()]
    return sorted(t.get_loc() for t in ticks if t.label1.get_visible() and t.label1.get_text()
                  and min(lo, hi) <= t.get_loc() <= max(lo, hi))


def test_losses_and_errors_get_separate_panels_and_distinct_colours():
    fig = loss_figure(stokes_like_history())
    loss_ax, error_ax = fig.axes[:2]
    losses = [ln for ln in loss_ax.get_lines() if ln.get_label().startswith("loss: ")]
    errors = [ln for ln in error_ax.get_lines() if ln.get_label().startswith("rel. ")]
    assert len(losses) == 5 and len(errors) == 8
    assert not any(ln.get_label().startswith("rel. ") for ln in loss_ax.get_lines())
    loss_colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in losses}
    error_colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in errors}
    assert len(loss_colours) == 5 and len(error_colours) == 4  # one per field; f ≡ 0 differs by line style
    assert not loss_colours & error_colours
    styles = {ln.get_label(): ln.get_linestyle() for ln in errors}
    assert styles["rel. $L^2$ error of $u$"] != styles["rel. $L^2$ error of $u$ at $f \\equiv 0$"]
    assert "rel. $L^2$ error mean over the fields" in styles


def test_every_panel_labels_ticks_across_its_data():
    fig = loss_figure(stokes_like_history())
    loss_ax, error_ax = fig.axes[:2]
    errs = np.concatenate([ln.get_ydata() for ln in error_ax.get_lines() if ln.get_label().startswith("rel. ")])
    assert error_ax.get_yscale() == "linear"  # 0.097–0.13: no power of ten inside, a log axis labels nothing
    ticks = labelled_ticks(error_ax)
    assert len(ticks) >= 3 and ticks[0] <= errs.min() + 0.3 * np.ptp(errs) and ticks[-1] >= errs.max() - 0.3 * np.ptp(errs)
    assert loss_ax.get_yscale() == "log"  # 1e-1 … 1e-3: decades inside the data
    assert len([t for t in labelled_ticks(loss_ax) if np.log10(t) % 1 == 0]) >= 2


def test_restored_step_is_marked_on_both_panels():
    history = stokes_like_history()
    fig = loss_figure(history, best_step=150, best_loss=history[14]["loss_total"], restored=True)
    loss_ax, error_ax = fig.axes[:2]
    marks = [ln for ln in loss_ax.get_lines() if ln.get_label().startswith("weights restored from step 150")]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [150, 150]
    assert any(list(ln.get_xdata()) == [150, 150] for ln in error_ax.get_lines())
    star = [ln for ln in loss_ax.get_lines() if ln.get_marker() == "*"]
    assert len(star) == 1 and star[0].get_ydata()[0] == pytest.approx(history[14]["loss_total"])
    kept = loss_figure(history, best_step=150, best_loss=0.1, restored=False)
    assert any(ln.get_label().startswith("lowest loss (final weights kept) at step 150") for ln in kept.axes[0].get_lines())
    unmarked = loss_figure(history, best_step=0, best_loss=float("inf"))  # no step recorded as best
    assert not any("step 0" in ln.get_label() for ln in unmarked.axes[0].get_lines())
