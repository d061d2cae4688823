"""`pinnit diagnose`'s last_layer_hist.png: the title reports the std of all values, the sample std over the
inputs and the output's sample std, and a layer that does not depend on its input is flagged as such; a
caption (a study's cell) heads every figure and is stored in the PNG's Title."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np

matplotlib.use("Agg")

from PIL import Image  # noqa: E402

from pinnit.diagnostics.plots import last_layer_figure, plot_all  # noqa: E402


def diagnosis(label: str, last: np.ndarray, out_sample_std: float):
    """A diagnosis whose last hidden layer is ``last`` (samples × units)."""
    rows = [{"layer": 1, "kind": "hidden", "mean": float(last.mean()), "std": float(last.std()), "min": -1.0,
             "max": 1.0, "sample_std": float(last.std(axis=0).mean()), "chi1": 1.0, "grad_norm": None}]
    summary = {"depth": 1, "width": last.shape[1], "gradients": {"computed": False},
               "last_layer": {"std": rows[0]["std"], "sample_std": rows[0]["sample_std"]},
               "output_std": out_sample_std, "output_sample_std": out_sample_std}
    return SimpleNamespace(label=label, rows=rows, summary=summary, last=last.ravel())


def spikes():
    """16 units, each one value for all 512 inputs up to 1e-8: the histogram is 16 spikes, std ≈ 0.5."""
    rng = np.random.default_rng(0)
    return rng.uniform(-0.8, 0.8, 16)[None, :] + 1e-8 * rng.standard_normal((512, 16))


def test_a_layer_that_ignores_its_input_is_flagged_with_its_sample_std():
    healthy = np.random.default_rng(1).standard_normal((512, 16)) * 0.3
    fig = last_layer_figure([diagnosis("kgi", spikes(), 3.3e-8), diagnosis("xavier", healthy, 0.2)])
    kgi, xavier = (ax.get_title() for ax in fig.axes[:2])
    assert f"std of all values {spikes().std():.2g}" in kgi and spikes().std() > 0.3
    assert "sample std over inputs 1e-08" in kgi and "output 3.3e-08" in kgi
    assert "near-constant" in kgi and "ignores the input" in kgi
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert notes == ["each spike = one of the 16 units,\nthe same value for every input"]
    assert "near-constant" not in xavier and not fig.axes[1].texts
    assert "sample std over inputs 0.3" in xavier


def test_caption_heads_every_figure_and_is_the_png_title(tmp_path):
    caption = "tiny at initialization: cell a=0.5, seed 0"
    paths = plot_all([diagnosis("kgi", spikes(), 3.3e-8)], tmp_path, caption)
    assert [p.name for p in paths] == ["activation_range.png", "last_layer_hist.png", "chi1.png"]
    for p in paths:
        assert Image.open(p).info.get("Title") == caption
    assert "Title" not in Image.open(plot_all([diagnosis("kgi", spikes(), 0.0)], tmp_path / "bare")[0]).info
