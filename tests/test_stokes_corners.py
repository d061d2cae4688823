"""The corner-enriched Stokes problem (problems/stokes_corners.yaml): Stokes' corner flow at each lid corner, scaled
by that lid's own corner slope a = 1 + f(corner)/10, is built into the transform; with the network's output 0 the
fields are that flow near each corner, its pressure p = ±2μa·ln r, and it solves Stokes' equations there."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnit.derivatives.cartesian_fields import CartesianFields
from pinnit.nn.deeponet import build_deeponet
from pinnit.operators.loss import OperatorModel
from pinnit.problems import build_problem

MU = 0.01


@pytest.fixture(scope="module")
def problem():
    return build_problem({"name": "declared", "file": "problems/stokes_corners.yaml", "hard_constraints": True},
                         "problem")


def _zero_model(problem):
    from pinnit.config.schema import NetworkConfig

    cfg = NetworkConfig(arch="deeponet", width=8, depth=1, layout="independent", activation="tanh")
    net = build_deeponet(cfg, 101, 2, 3, torch.Generator().manual_seed(0), [0, 0], [1, 1])
    for p in net.parameters():  # the raw outputs N_u, N_v, N_p are 0: only the built-in corner flow is left
        torch.nn.init.zeros_(p)
    return OperatorModel(net, problem).double()


def _lids():
    """Two lids: the GRF's corner values enter only through f(0) and f(1), here 3, −2 and 0, 5."""
    F = np.zeros((2, 101))
    F[0], F[1] = np.linspace(3.0, -2.0, 101), np.linspace(0.0, 5.0, 101)
    return torch.as_tensor(F)


def _near(corner_x: float, r: np.ndarray, theta: np.ndarray) -> torch.Tensor:
    """Points at distance r from the lid corner (corner_x, 1), theta from the lid towards the side wall."""
    s, t = r * np.cos(theta), r * np.sin(theta)
    x = s if corner_x == 0 else 1 - s
    return torch.as_tensor(np.stack([x, 1 - t], 1))


def test_the_fields_are_each_lids_corner_flow(problem):
    model, F = _zero_model(problem), _lids()
    rng = np.random.default_rng(1)
    r, theta = rng.uniform(1e-4, 2e-3, 200), rng.uniform(0, np.pi / 2, 200)
    for corner_x, sign, column in ((0.0, 1.0, 0), (1.0, -1.0, 100)):
        a = 1 + F[:, column].numpy() / 10  # 1.3, 1.0 (left) and 0.8, 1.5 (right)
        with torch.no_grad():
            out = model(F, _near(corner_x, r, theta)).numpy()  # 2 lids × points × (u, v, p)
        phi = np.pi / 2 - theta  # the angle from the side wall
        s, t = r * np.cos(theta), r * np.sin(theta)
        u, v = s - t * phi, s * (np.pi / 2 - phi)
        # the cut-off changes them by O(r²/R²) relatively, and its stream-function term by 24 r³/R² ≤ 2e-7
        np.testing.assert_allclose(out[..., 0], a[:, None] * u, rtol=1e-4, atol=3e-7)
        np.testing.assert_allclose(out[..., 1], sign * a[:, None] * v, rtol=1e-4, atol=3e-7)
        # the pressure's log: p(r) − p(r') = ±2μa ln(r/r') along any ray (the gauge's constant cancels)
        with torch.no_grad():
            p = model(F, _near(corner_x, np.array([1e-5, 1e-3]), np.array([0.7, 0.7]))).numpy()[..., 2]
        np.testing.assert_allclose(p[:, 0] - p[:, 1], sign * 2 * MU * a * math.log(1e-2), rtol=1e-4)


@pytest.mark.parametrize("mode", ["jets", "autograd"])
def test_the_built_in_flow_solves_stokes_near_the_corners(problem, mode):
    """Near each corner, where |∇p| ~ 2μa/r is large, the built-in flow's momentum residuals stay bounded (the
    singular parts cancel exactly; the cut-off leaves O(μ/R²)) and mass holds exactly, in both engines."""
    model, F = _zero_model(problem), _lids()
    rng = np.random.default_rng(2)
    r, theta = np.geomspace(1e-5, 1e-2, 100), rng.uniform(0.05, np.pi / 2 - 0.05, 100)
    x = torch.cat([_near(0.0, r, theta), _near(1.0, r, theta)])
    evaluate = (lambda X: model.jet(F, X)) if mode == "jets" else (lambda X: model(F, X))
    f = CartesianFields.create(mode, x, problem.inputs, problem.outputs, evaluate, batch=len(F))
    grad_p = torch.hypot(f.d("p", "x"), f.d("p", "y")).detach()
    assert float(grad_p.min()) > 1.5  # 2μa/r ≥ 2·0.01·0.8/0.01
    momentum_x = MU * (f.d("u", "x", "x") + f.d("u", "y", "y")) - f.d("p", "x")
    momentum_y = MU * (f.d("v", "x", "x") + f.d("v", "y", "y")) - f.d("p", "y")
    mass = f.d("u", "x") + f.d("v", "y")
    assert float(grad_p.max()) > 1e3
    for residual in (momentum_x, momentum_y):  # bounded (the cut-off's O(μ/R²)), against |∇p| up to 3e3
        assert float(residual.detach().abs().max()) < 0.05
    assert float(mass.detach().abs().max()) < 1e-10  # the stream function keeps it exact


def test_the_walls_hold_for_any_network_and_the_corners_are_left_out(problem):
    assert set(problem.hard_terms) == {"lid_v", "walls_u", "walls_v"}  # checked on load with a random network
    assert problem.singular == ((0.0, 1.0), (1.0, 1.0))


def test_a_function_read_outside_its_sensors_is_one_line():
    from pinnit.core.errors import ConfigError

    spec = {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
            "output_transform": {"u": "u*x*(1 - x)*y*(1 + f(2))", "v": "v*x*(1 - x)*y*(1 - y)", "p": "p"}}
    with pytest.raises(ConfigError) as err:
        build_problem(spec, "problem")
    assert err.value.path == "problem.output_transform.u" and "f(2) is outside f's sensors [0, 1]" in str(err.value)


def test_a_corner_enriched_run_scores_and_predicts_without_the_corner_nodes(tmp_path, capsys):
    """End to end (a tiny run of the corner-enriched problem): p is −∞-like at the corner nodes, yet the metrics,
    the saved figures and ``pinnit predict --reference --plot`` use the other nodes only, all finite."""
    import json

    import yaml

    from pinnit.cli import main
    from pinnit.operators.evaluation import field_error
    from pinnit.runs import parse_config
    from pinnit.runs.pipeline import run

    raw = {"problem": {"name": "declared", "file": "problems/stokes_corners.yaml", "hard_constraints": True,
                       "functions": {"f": {"argument": "x", "train": 8, "test": 2}}},
           "network": {"arch": "deeponet", "width": 8, "depth": 1, "activation": "tanh"},
           "sampling": {"points": {"momentum_x": 32, "momentum_y": 32, "mass": 32, "lid": 8}, "function_batch": 4},
           "training": {"dtype": "float64", "threads": 1, "derivatives": "jets", "restore_best": False,
                        "stages": {"adam": {"iterations": 6, "lr": 1e-3},
                                   "lm": {"optimizer": "levenberg_marquardt", "iterations": 2, "chunk": 2,
                                          "cg_max_iter": 5}}},
           "evaluation": {"every": 100, "resolution": [11, 11], "functions": 2},
           "output": {"dir": str(tmp_path / "outputs"), "plots": True, "progress": False}}
    result = run(parse_config(raw), run_dir=tmp_path / "run")
    m = json.loads((result.path / "metrics.json").read_text())
    assert m["status"] == "completed" and all(np.isfinite(m[k]) for k in ("rel_l2_p", "rel_l2_p_f0"))
    with np.load(result.path / "prediction.npz") as z:
        assert z["p"][0, 10] < -0.4 and z["p"][10, 10] > 0.4  # μ·a·ln(1e-30) at the corners, left out
        keep = np.ones((11, 11), dtype=bool)
        keep[0, 10] = keep[10, 10] = False
        assert field_error(z["p"], z["p_ref"], True, keep) == pytest.approx(m["rel_l2_p_f0"], rel=1e-9)
        assert field_error(z["p"], z["p_ref"], True) > 1.5 * m["rel_l2_p_f0"]  # what the two nodes would add
    np.save(tmp_path / "lid.npy", np.linspace(-1.0, 2.0, 101))
    assert main(["predict", str(result.path), "--lid", str(tmp_path / "lid.npy"), "--out",
                 str(tmp_path / "lid.npz"), "--reference", "--plot"]) == 0
    out = capsys.readouterr().out
    p_error = float(out.split("relative L2 vs the solver: ")[1].split("p ")[1].split(",")[0])
    with np.load(tmp_path / "lid.npz") as z:
        assert p_error == pytest.approx(field_error(z["p"], z["p_ref"], True, keep), rel=1e-3)
    assert (tmp_path / "lid" / "p_fields.png").stat().st_size > 1000
