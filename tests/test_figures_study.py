"""Study loss_curves.png: its step axis names only the optimizers that logged losses, in order, and the first
logged step (read from the runs' histories); on a log axis exploded runs are cut off and named, not allowed to
flatten the others."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pinnit.studies.loss_curves import plot_loss_curves, step_label


def run(*stages: tuple[str, list[int]]):
    rows = [{"step": step, "stage": name, "loss_total": 1.0} for name, steps in stages for step in steps]
    rows.insert(1, {"step": rows[0]["step"], "stage": "lbfgs", "event": "a restart, not a loss row"})
    return SimpleNamespace(history=lambda: rows)


def test_step_label_names_only_the_optimizers_that_ran_and_the_first_logged_step():
    adam_only = [run(("adam", [10, 20, 30])), run(("adam", [10, 20]))]
    assert step_label(adam_only) == "step (Adam; loss logged from step 10)"
    both = [run(("adam", [5, 10]), ("lbfgs", [15, 20]))]
    assert step_label(both) == "step (Adam, then L-BFGS; loss logged from step 5)"
    assert step_label([run(("ssbroyden", [0, 10]))]) == "step (SSBroyden; loss logged from step 0)"
    assert step_label([]) == "step"


class _Run(SimpleNamespace):
    def loss_curve(self):
        return self.steps, self.values

    def history(self):
        return [{"step": int(s), "stage": "adam", "loss_total": float(v)} for s, v in zip(self.steps, self.values)]


class _Study(SimpleNamespace):
    def group(self, r):
        return r.method

    def cell(self, r, axes=None):
        return ()


def curves_study(explode: float, diverged: float = 1e30) -> _Study:
    steps = np.arange(10, 1010, 10)
    runs = []
    for seed in range(3):
        decay = np.exp(-steps / 300.0)
        runs.append(_Run(id=f"tanh-s{seed}", method="tanh", outcome="completed", steps=steps, values=(seed + 1) * decay))
        runs.append(_Run(id=f"relu-s{seed}", method="relu", outcome="completed", steps=steps, values=2 * decay + 0.1))
    blown = np.where(steps > 500, explode, 5.0)
    runs.append(_Run(id="repu-s0", method="repu", outcome="completed", steps=steps, values=blown))
    runs.append(_Run(id="repu-s1", method="repu", outcome="diverged", steps=steps[:40], values=np.geomspace(5, diverged, 40)))
    return _Study(name="t", methods=["tanh", "relu", "repu"], runs=runs, cell_axes=[], axes=[])


def test_exploded_runs_are_cut_off_a_log_axis_and_named(tmp_path):
    """A run at 1e32 no longer sets the axis: the view stops 3 decades above the cell's typical first loss
    (median of the mean curves' first values), the clipped methods are named with their peaks, and the
    well-behaved curves keep their decades."""
    data = plot_loss_curves(curves_study(1e32), tmp_path / "c.png")
    clipped = data["panels"][0]["clipped"]
    assert set(clipped) == {"repu"} and clipped["repu"] == pytest.approx(1e32, rel=1e-6)
    from matplotlib import image
    assert image.imread(tmp_path / "c.png").shape[0] > 100
    tanh = data["panels"][0]["lines"]["tanh"]
    typical = np.median([data["panels"][0]["lines"][m]["mean"][0] for m in ("tanh", "relu", "repu")])
    assert max(tanh["max"]) < typical * 1e3


def test_nothing_is_cut_when_every_curve_fits(tmp_path):
    data = plot_loss_curves(curves_study(50.0, diverged=100.0), tmp_path / "c.png")
    assert data["panels"][0]["clipped"] == {}
    data = plot_loss_curves(curves_study(50.0, diverged=1e9), tmp_path / "d.png")
    assert set(data["panels"][0]["clipped"]) == {"repu"}  # a diverged run's climb is cut too
