"""End to end: a tiny Stokes PI-DeepONet run (metrics, plots, prediction.npz) and ``pinnit predict``."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from pinnit.cli import main
from pinnit.runs import parse_config
from pinnit.operators.evaluation import field_errors
from pinnit.runs.pipeline import assemble, run


def tiny(tmp_path, **training):
    return {
        "problem": {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
                    "functions": {"f": {"argument": "x", "train": 12, "test": 3}}},
        "network": {"arch": "deeponet", "width": 12, "depth": 1, "layout": "shared", "activation": "tanh"},
        "sampling": {"points": {"momentum_x": 64, "momentum_y": 64, "mass": 64, "lid": 16}, "function_batch": 4},
        "training": {"dtype": "float64", "threads": 1, "derivatives": "jets",
                     "adam": {"iterations": 30, "lr": 3e-3}, "lbfgs": {"iterations": 0}, "checkpoint_every": 10,
                     **training},
        "evaluation": {"every": 15, "resolution": [21, 21], "functions": 3},
        "output": {"dir": str(tmp_path / "outputs"), "plots": True, "progress": False},
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stokes")
    raw = tiny(tmp)
    (tmp / "run.yaml").write_text(yaml.safe_dump(raw))
    result = run(parse_config(raw), run_dir=tmp / "run")
    return tmp, raw, result


def test_run_writes_operator_metrics_plots_and_prediction(finished):
    tmp, _, result = finished
    m = json.loads((result.path / "metrics.json").read_text())
    assert m["status"] == "completed" and m["held_out_functions"] == 3
    for key in ("rel_l2_u", "rel_l2_v", "rel_l2_p", "rel_l2_mean", "rel_l2_u_f0", "rel_l2_mean_f0",
                "convergence_slowness", "initial_rel_l2_mean"):
        assert np.isfinite(m[key]), key
    assert m["rel_l2_mean"] == pytest.approx(np.mean([m["rel_l2_u"], m["rel_l2_v"], m["rel_l2_p"]]))
    assert 0 < m["convergence_slowness"] < 5
    for name in ("loss", "fields_f0", "fields_held_out", "errors", "lids"):
        assert (result.path / "plots" / f"{name}.png").stat().st_size > 1000
    with np.load(result.path / "prediction.npz") as z:
        assert z["u"].shape == z["u_ref"].shape == (21, 21)
        assert np.allclose(z["x"], np.linspace(0, 1, 21))
        assert np.allclose(z["u"][:, 0], 0) and abs(z["p"][0, 0]) < 1e-12  # hard walls; p's gauge point (0, 0)
        assert z["p_ref"][0, 0] == 0 and np.ptp(z["p_ref"][:, 0]) > 1e-4  # the solver's gauge: the same point
        pred, ref = {k: z[k] for k in "uvp"}, {k: z[f"{k}_ref"] for k in "uvp"}
    for c in (0.0, 1.0):  # p is scored up to a constant, the same in metrics.json and here
        errs = field_errors({**pred, "p": pred["p"] + c}, ref, ("p",))
        assert errs["rel_l2_p"] == pytest.approx(m["rel_l2_p_f0"], rel=1e-9)
        assert errs["rel_l2_mean"] == pytest.approx(m["rel_l2_mean_f0"], rel=1e-9)


def test_predict_matches_the_run_on_a_held_out_lid(finished, capsys):
    tmp, raw, result = finished
    a = assemble(parse_config(raw))  # same seed: the same held-out lids
    lid = a.loss.test_functions[1]
    np.save(tmp / "lid.npy", lid)
    (tmp / "lid.txt").write_text("\n".join(repr(float(v)) for v in lid) + "\n")
    rc = main(["predict", str(result.path), "--lid", str(tmp / "lid.npy"), "--out", str(tmp / "p.npz"),
               "--reference"])
    assert rc == 0
    assert "relative L2 vs the solver" in capsys.readouterr().out
    a.model.net.load_state_dict(__import__("torch").load(result.path / "model.pt", weights_only=True))
    pred = a.evaluator.predict_values(a.model, lid[None])
    errs = a.evaluator.per_function(pred, {k: v[1:2] for k, v in a.evaluator.reference["held_out"].items()})
    with np.load(tmp / "p.npz") as z:
        assert np.allclose(z["u"], pred["u"][0], atol=1e-12) and np.allclose(z["f"], lid)
        assert float(z["rel_l2_mean"]) == pytest.approx(errs["mean"][0], rel=1e-6)
        assert np.allclose(z["v_ref"], a.evaluator.reference["held_out"]["v"][1], atol=1e-12)
    assert main(["predict", str(result.path), "--lid", str(tmp / "lid.txt"), "--out", str(tmp / "q.npz")]) == 0
    with np.load(tmp / "q.npz") as z:
        assert np.allclose(z["u"], pred["u"][0], atol=1e-12) and "u_ref" not in z.files


@pytest.mark.parametrize("content, message", [
    (np.zeros(50), "50 values; the operator reads the function at 101 sensors"),
    (np.r_[np.zeros(100), np.nan], "value 101 is nan"),
    ("0.1\n0.2\nabc\n", "line 3: 'abc' is not a number"),
    (np.array(["a"] * 101), "expected 101 numbers"),
    (b"\x00\x01garbage", "not a readable .npy"),
])
def test_predict_rejects_bad_lid_files_with_one_line(finished, content, message, capsys):
    tmp, _, result = finished
    suffix = ".txt" if isinstance(content, str) else ".npy"
    path = tmp / f"bad{suffix}"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    assert main(["predict", str(result.path), "--lid", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_predict_cli_exit_code(finished):
    """The installed entry point: a wrong-length lid is one line on stderr and exit code 2."""
    tmp, _, result = finished
    np.savetxt(tmp / "short.csv", np.zeros(7))
    out = subprocess.run([sys.executable, "-m", "pinnit", "predict", str(result.path), "--lid",
                          str(tmp / "short.csv")], capture_output=True, text=True, timeout=240)
    assert out.returncode == 2
    assert out.stderr.strip().endswith("7 values; the operator reads the function at 101 sensors")


def test_predict_on_a_run_without_function_inputs_is_a_user_error(tmp_path, burgers_cfg, capsys):
    burgers_cfg["training"].update({"adam": {"iterations": 2}, "lbfgs": {"iterations": 0}})
    burgers_cfg["evaluation"]["every"] = 0
    result = run(parse_config(burgers_cfg), run_dir=tmp_path / "b")
    np.save(tmp_path / "lid.npy", np.zeros(101))
    assert main(["predict", str(result.path), "--lid", str(tmp_path / "lid.npy")]) == 2
    assert "learnt no operator" in capsys.readouterr().err


def test_other_seed_benchmark_scores_new_lids_like_the_held_out_ones(finished, tmp_path):
    """benchmarks/predict_other_seed.py: lids drawn with another seed, scored through predict's path; the same
    metric as the run's held-out evaluation (checked on one lid against field_errors of a direct solve), and the
    run's held-out figures copied beside them."""
    import importlib.util
    from pathlib import Path

    from pinnit.operators.loss import the_function
    from pinnit.operators.predict import load_operator, predict

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "predict_other_seed.py"
    spec = importlib.util.spec_from_file_location("predict_other_seed", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tmp, _, result = finished
    summary = module.main([str(tmp / "run"), "--count", "3", "--seed", "7", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "other_seed.json").read_text())
    assert written["count"] == 3 and len(written["per_function"]) == 3
    for k in ("rel_l2_u", "rel_l2_v", "rel_l2_p", "rel_l2_mean"):
        assert written["held_out"][k] == pytest.approx(result.metrics[k])
        assert summary["other_seed"][k] == pytest.approx(np.mean([r[k] for r in written["per_function"]]))
    _, problem, _ = load_operator(tmp / "run")
    fn = the_function(problem)
    first = fn.law.sample(3, fn.sensors, np.random.default_rng(7))[0]  # the script's first lid
    np.save(tmp_path / "lid.npy", first)
    _, errors = predict(tmp / "run", tmp_path / "lid.npy", out=tmp_path / "lid.npz", reference=True)
    assert errors == pytest.approx(written["per_function"][0])
