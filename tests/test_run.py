"""End-to-end runs from Python: output files, falling error, seed reproducibility, --set viscosity."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from pinnit import parse_config
from pinnit.runs import run
from pinnit.core.errors import PinnitError


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_run_writes_a_complete_run_directory(burgers_cfg):
    result = run(parse_config(burgers_cfg, ["output.plots=true"]))
    d = result.path
    for name in ["config.yaml", "metrics.json", "history.csv", "prediction.npz", "model.pt", "checkpoint.pt",
                 "plots/loss.png", "plots/u_fields.png", "plots/u_profiles.png"]:
        assert (d / name).is_file(), name
    assert d.parent.name == "burgers" and d.name.startswith("s0-")
    m = json.loads((d / "metrics.json").read_text())
    assert m["status"] == "completed" and m["iterations"]["adam"] == 60
    assert 0 < m["iterations"]["lbfgs"] <= 20 and m["stop_reason"]
    assert m["dtype"] == "float64" and m["seed"] == 0 and m["device"] == "cpu"
    assert set(m["final_loss"]) == {"pde", "initial", "boundary", "total"}
    assert {"torch", "numpy", "pinnit"} <= set(m["versions"])
    pred = np.load(d / "prediction.npz")
    assert pred["u"].shape == (64, 20) == pred["u_ref"].shape
    np.testing.assert_allclose(pred["u_abs_error"], np.abs(pred["u"] - pred["u_ref"]))
    assert m["rel_l2_u"] == pytest.approx(np.linalg.norm(pred["u"] - pred["u_ref"]) / np.linalg.norm(pred["u_ref"]))
    last = pred["u"][:, -1] - pred["u_ref"][:, -1]
    assert m["rel_l2_u_final_t"] == pytest.approx(np.linalg.norm(last) / np.linalg.norm(pred["u_ref"][:, -1]))
    # the error falls during training (evaluations every 20 steps)
    errs = [float(r["rel_l2_u"]) for r in _rows(d / "history.csv") if r.get("rel_l2_u")]
    assert len(errs) >= 3 and errs[-1] < 0.8 * errs[0]
    losses = [float(r["loss_total"]) for r in _rows(d / "history.csv")]
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_numbers_and_other_seed_differs(tmp_path, burgers_cfg):
    a = run(parse_config(burgers_cfg), run_dir=tmp_path / "a").metrics
    b = run(parse_config(burgers_cfg), run_dir=tmp_path / "b").metrics
    c = run(parse_config(burgers_cfg, ["training.seed=1"]), run_dir=tmp_path / "c").metrics
    assert a["final_loss"] == b["final_loss"] and a["rel_l2_u"] == b["rel_l2_u"]
    assert c["rel_l2_u"] != a["rel_l2_u"]


def test_existing_run_directory_needs_overwrite(burgers_cfg):
    cfg = parse_config(burgers_cfg, ["training.adam.iterations=5", "training.lbfgs.iterations=0"])
    first = run(cfg)
    with pytest.raises(PinnitError, match="--overwrite"):
        run(cfg)
    assert run(cfg, overwrite=True).path == first.path


def test_other_viscosity_is_validated_against_its_own_exact_solution(burgers_cfg):
    from pinnit.references import burgers_exact

    nu = 0.05
    res = run(parse_config(burgers_cfg, [f"problem.nu={nu}"]))
    pred = np.load(res.path / "prediction.npz")
    np.testing.assert_allclose(pred["u_ref"], burgers_exact(pred["x"], pred["t"], nu=nu))
    assert not np.allclose(pred["u_ref"], burgers_exact(pred["x"], pred["t"]), atol=1e-3)
    assert res.metrics["rel_l2_u"] < 0.5


def test_hard_constraints_satisfy_initial_and_boundary_exactly(burgers_cfg):
    res = run(parse_config(burgers_cfg, ["problem.hard_constraints=true", "training.lbfgs.iterations=0"]))
    pred = np.load(res.path / "prediction.npz")
    np.testing.assert_allclose(pred["u"][:, 0], -np.sin(np.pi * pred["x"]), atol=1e-12)
    np.testing.assert_allclose(pred["u"][[0, -1], :], 0.0, atol=1e-12)
    assert set(res.metrics["final_loss"]) == {"pde", "total"}
