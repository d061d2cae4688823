"""Operator figures: field maps with a diverging scale centred on 0 (or a sequential one for a one-signed
field), with or without a reference; lids.png says which held-out function is best, median and worst."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from pinnit.operators.evaluation import HELD_OUT  # noqa: E402
from pinnit.operators.plots import fields_figure, lids_figure, plot_fields  # noqa: E402

X, Y = np.linspace(0, 1, 11), np.linspace(0, 1, 9)
GX, GY = np.meshgrid(X, Y, indexing="ij")
U_REF = 0.27 * GY ** 4 - 0.039 * np.sin(np.pi * GY)  # the lid-driven u: range about [−0.039, 0.27]
P_REF = 0.1 + GX * GY  # one sign


def test_a_sign_changing_field_is_centred_on_zero_and_a_one_signed_one_is_sequential():
    pred = {"u": 1.05 * U_REF, "p": P_REF + 0.01}
    fig = fields_figure({"x": X, "y": Y}, pred, {"u": U_REF, "p": P_REF}, "test")
    u_pred, u_ref, u_err = (ax.collections[0] for ax in fig.axes[:3])
    m = max(abs(pred["u"]).max(), abs(U_REF).max())
    assert U_REF.min() < 0 < U_REF.max()
    assert u_pred.get_clim() == u_ref.get_clim() == pytest.approx((-m, m))  # white = 0
    assert u_pred.get_cmap().name == "RdBu_r" and u_err.get_cmap().name == "magma"
    p_pred = fig.axes[3].collections[0]
    assert p_pred.get_cmap().name == "viridis" and p_pred.get_clim()[0] == pytest.approx(0.1)
    labels = [mesh.colorbar.ax.get_ylabel() for mesh in (u_pred, u_ref, u_err)]
    assert labels == ["$u$ (prediction)", "$u$ (reference)", "|$u$ − reference|"]
    assert [ax.get_xlabel() for ax in fig.axes[:3]] == ["$x$"] * 3


def test_fields_without_a_reference_plot_the_prediction_alone(tmp_path):
    fig = fields_figure({"x": X, "y": Y}, {"u": U_REF})
    meshes = [ax for ax in fig.axes if ax.collections and ax.get_label() != "<colorbar>"]
    assert len(meshes) == 1 and meshes[0].collections[0].get_clim() == pytest.approx((-0.27, 0.27), rel=1e-3)
    assert meshes[0].get_title() == "$u$: prediction"
    path = plot_fields({"x": X, "y": Y}, {"u": U_REF, "v": -U_REF}, tmp_path / "f.png", title="predict")
    assert path == tmp_path / "f.png" and path.stat().st_size > 5_000


def test_lids_titles_name_best_median_and_worst_with_their_errors():
    b = 5
    ref = np.stack([U_REF * (1 + k) for k in range(b)])
    scale = np.array([1.3, 1.01, 1.2, 1.05, 1.1])  # function 1 best, 0 worst, 4 median
    pred = ref * scale[:, None, None]
    ev = SimpleNamespace(axes={"x": X, "y": Y}, problem=SimpleNamespace(outputs=["u"]),
                         function=SimpleNamespace(name="f", argument="x", sensors=X),
                         functions={HELD_OUT: np.ones((b, X.size))}, reference={HELD_OUT: {"u": ref}})
    errs = {"u": np.abs(scale - 1), "mean": np.abs(scale - 1)}
    fig = lids_figure(ev, {HELD_OUT: {"u": pred}}, errs)
    top = [ax.get_title() for ax in fig.axes[:3]]
    assert top == ["best: f #1, rel. $L^2$ error 0.01", "median: f #4, rel. $L^2$ error 0.1",
                   "worst: f #0, rel. $L^2$ error 0.3"]
    assert fig.axes[3].get_title().startswith("best: $u$ at $y$ = ")
    assert "best, median and worst of 5" in fig._suptitle.get_text()
    reference = [ln for ln in fig.axes[3].get_lines() if ln.get_label() == "reference"][0]
    assert np.allclose(reference.get_ydata(), ref[1][:, -1])
