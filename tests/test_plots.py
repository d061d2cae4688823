"""Plots that do not mislead: one labelled line per metric, a labelled stage boundary, labelled colorbars,
one colour scale for prediction and reference, sequential colours for one-signed fields, the dashed
reference named, and exact-zero gradient norms shown (read back from the figures' lines)."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from pinnit.diagnostics.plots import activation_range_figure, chi1_figure, grad_norms_figure  # noqa: E402
from pinnit.outputs.plots import colour_scale, fields_figures, loss_figure, profiles_figures, symbol  # noqa: E402
from test_history import HISTORY  # noqa: E402  (Adam to step 20, then L-BFGS with a restart; errors at 20 and 90)


def _lines(fig):
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def test_each_error_metric_is_its_own_labelled_line():
    lines = _lines(loss_figure(HISTORY))
    u = lines["rel. $L^2$ error of $u$"]
    final = lines["rel. $L^2$ error of $u$ at the final $t$"]
    assert list(u.get_xdata()) == [20, 90] and list(u.get_ydata()) == [0.3, 0.01]
    assert list(final.get_xdata()) == [20, 90] and list(final.get_ydata()) == [0.5, 0.02]
    assert list(lines["loss: total"].get_ydata()) == [0.7, 0.6, 0.2, 0.1, 0.1]
    boundary = [k for k in lines if k.startswith("Adam → L-BFGS")]
    assert boundary == ["Adam → L-BFGS (step 20)"] and list(lines[boundary[0]].get_xdata()) == [20, 20]
    legend = {t.get_text() for ax in loss_figure(HISTORY).axes for t in ax.get_legend().get_texts()}
    assert {"rel. $L^2$ error of $u$", "Adam → L-BFGS (step 20)", "loss: pde"} <= legend


def test_symbols_are_mathtext():
    assert symbol("u") == "$u$" and symbol("tau") == "$\\tau$" and symbol("V_ref") == "$V_{ref}$"


def test_prediction_and_reference_share_one_colour_scale_and_colorbars_are_labelled():
    x, t = np.linspace(-1, 1, 5), np.linspace(0, 1, 4)
    X, T = np.meshgrid(x, t, indexing="ij")
    arrays = {"x": x, "t": t, "u": np.sin(3 * X) * (1 + T), "u_ref": 1.2 * np.sin(3 * X) * (1 + T)}
    arrays["u_abs_error"] = np.abs(arrays["u"] - arrays["u_ref"])
    fig = fields_figures(arrays, ["x", "t"], ["u"])["u"]
    pred, ref, err = [ax.collections[0] for ax in fig.axes[:3]]
    assert pred.get_clim() == ref.get_clim()
    m = np.abs(arrays["u_ref"]).max()
    assert pred.get_clim() == pytest.approx((-m, m))  # changes sign: diverging, centred on 0
    assert pred.get_cmap().name == "RdBu_r" and err.get_cmap().name == "magma"
    labels = [mesh.colorbar.ax.get_ylabel() for mesh in (pred, ref, err)]
    assert labels == ["$u$ (prediction)", "$u$ (reference)", "|$u$ − reference|"]


def test_one_signed_field_gets_a_sequential_colormap():
    price = np.linspace(0, 0.5, 20).reshape(5, 4)
    prediction = price - 1e-3  # a trained price dips just below 0 near the kink
    scale = colour_scale(prediction, price, sign_from=price)
    assert scale["cmap"] == "viridis" and scale["vmin"] == pytest.approx(-1e-3) and scale["vmax"] == 0.5
    assert colour_scale(-price)["cmap"] == "viridis"
    assert colour_scale(price - 0.25)["cmap"] == "RdBu_r"


def test_profiles_name_the_dashed_reference():
    x, t = np.linspace(-1, 1, 7), np.linspace(0, 1, 5)
    X, T = np.meshgrid(x, t, indexing="ij")
    arrays = {"x": x, "t": t, "u": X * T, "u_ref": X * T + 0.1}
    fig = profiles_figures(arrays, ["x", "t"], ["u"], "t", count=3)["u"]
    lines = fig.axes[0].get_lines()
    dashed = [ln for ln in lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 3 and [ln.get_label() for ln in dashed].count("reference (dashed)") == 1
    legend = [tx.get_text() for tx in fig.axes[0].get_legend().get_texts()]
    assert legend == ["$t$ = 0", "$t$ = 0.5", "$t$ = 1", "reference (dashed)"]
    assert np.allclose(dashed[0].get_ydata(), arrays["u_ref"][:, 0])


def _diagnosis(label, grads, depth=None):
    rows = [{"layer": i + 1, "kind": "hidden", "grad_norm": g, "mean": 0.0, "std": 0.5, "min": -1.0, "max": 1.0,
             "sample_std": 0.4, "chi1": 1.0} for i, g in enumerate(grads)]
    return SimpleNamespace(label=label, rows=rows, last=np.zeros(4),
                           summary={"gradients": {"computed": True}, "depth": depth or len(grads)})


def test_exact_zero_gradient_norms_are_drawn_on_a_floor_and_named():
    grads = [0.0] * 6 + [1e-20, 1e-10, 1e-3, 1.0]
    fig = grad_norms_figure([_diagnosis("kgi", grads), _diagnosis("proposed", [0.5] * 10)])
    lines = _lines(fig)
    zeros = lines["kgi: exactly 0 in 6 layers (1–6)"]
    assert list(zeros.get_xdata()) == [1, 2, 3, 4, 5, 6]
    floor = zeros.get_ydata()
    assert np.all(floor == floor[0]) and 0 < floor[0] < 1e-20  # below every positive norm, on the log axis
    curve = lines["kgi"].get_ydata()
    assert np.isnan(curve[:6]).all() and curve[-1] == 1.0
    assert "$" in fig.axes[0].get_ylabel()  # mathtext
    assert not any("exactly 0" in k for k in _lines(grad_norms_figure([_diagnosis("p", [0.5] * 4)])))


def test_diagnostic_legends_name_dashed_lines_and_the_edge_of_chaos():
    results = [_diagnosis("eoc", [1.0] * 5)]
    labels = [t.get_text() for t in activation_range_figure(results).axes[0].get_legend().get_texts()]
    assert "min / max of $x^l$" in labels
    assert "edge of chaos $\\chi_1 = 1$" in _lines(chi1_figure(results))
