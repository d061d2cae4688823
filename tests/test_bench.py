"""``pinnit bench``: case parsing, identical pinnit/DeepXDE losses at the same weights, the CLI end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pinnit.bench.engines import time_engine
from pinnit.bench.runner import Worker
from pinnit.bench.setups import POINTS, BenchCase, cases_for, load_case_data, write_case_data
from pinnit.core.errors import PinnitError

REPO = Path(__file__).resolve().parents[1]


def test_cases_for_parses_groups_and_rejects_unknown_names():
    keys = [c.key for c in cases_for("1,2,scaling", steps=7)]
    assert keys[:2] == ["1", "2"] and "points-100000" in keys and "depth-50" in keys
    assert all(c.steps <= 7 for c in cases_for("scaling", steps=7))
    big = next(c for c in cases_for("scaling") if c.key == "points-100000")
    assert big.domain == 100_000 and big.steps <= 5
    with pytest.raises(PinnitError, match="valid: a comma list"):
        cases_for("1,5")


def test_case_data_is_deepxde_layout(tmp_path):
    case = BenchCase("t", "test", "tiny", depth=2, width=6, domain=100)
    write_case_data(case, tmp_path / "d.npz")
    data = load_case_data(tmp_path / "d.npz")
    # DeepXDE's PDE points are domain ∪ boundary ∪ initial
    assert data["pde"].shape == (100 + POINTS["boundary"] + POINTS["initial"], 2)
    assert (abs(data["boundary"][:, 0]) == 1).all() and (data["initial"][:, 1] == 0).all()
    assert [data[f"W{i}"].shape for i in range(3)] == [(6, 2), (6, 6), (1, 6)]


def test_pinnit_and_deepxde_losses_identical_in_float64(tmp_path):
    pytest.importorskip("deepxde")
    case = BenchCase("t", "test", "tiny", depth=2, width=8, domain=300)
    write_case_data(case, tmp_path / "d.npz")
    curves = {}
    for side in ("pinnit", "deepxde"):
        w = Worker(side, case, tmp_path / "d.npz", "float64", threads=1, warmup=0, tmp=tmp_path, engine="autograd")
        try:
            curves[side] = w.ask("trajectory 4")["losses"]
            w.close()
        except BaseException:
            w.kill()
            raise
    assert len(curves["pinnit"]) == 5
    assert curves["pinnit"][0]["total"] > curves["pinnit"][-1]["total"]  # Adam steps lowered the loss
    for p, d in zip(curves["pinnit"], curves["deepxde"]):
        for k in ("pde", "bc", "ic", "total"):
            assert p[k] == pytest.approx(d[k], rel=1e-12), k


def test_engines_agree_with_autograd_in_float64():
    for engine in ("jets", "func"):
        r = time_engine(engine, 2, 8, 64, steps=1, repeats=1, dtype=torch.float64, warmup=0)
        assert r["rel_loss_diff"] < 1e-12, r
        assert r["ms_per_step"] > 0


def test_cli_bench_writes_json_and_markdown(tmp_path):
    pytest.importorskip("deepxde")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, "-m", "pinnit", "bench", "--setups", "1", "--steps", "5", "--repeats", "1",
                           "--warmup", "1", "--check-steps", "5", "--engine", "autograd", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "bench.json").read_text())
    (case,) = result["cases"]
    p, d = case["pinnit"], case["deepxde"]
    assert p["it_per_s"] > 0 and d["it_per_s"] > 0 and p["threads"] == d["threads"] == 1
    assert case["ratio"] == pytest.approx(p["it_per_s"] / d["it_per_s"])
    assert p["peak_rss_mib"] >= p["setup_rss_mib"] > 50
    assert result["trajectory"]["passed"] and result["trajectory"]["max_rel_diff"] < 1e-10
    assert len(result["trajectory"]["pinnit_total"]) == 6
    assert result["meta"]["threads_per_side"] == 1 and len(result["meta"]["load_average_end"]) == 3
    assert result["stamp"]["torch"] == torch.__version__ and result["stamp"]["machine"]["cores"] == os.cpu_count()
    assert result["stamp"]["commit"] == result["meta"]["git_commit"]
    md = (out / "bench.md").read_text()
    assert "| (1) DeepXDE Burgers example, 3×20 tanh | 5 |" in md and "PASSED" in md


def test_cli_bench_rejects_bad_setup(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pinnit", "bench", "--setups", "7", "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--setups: unknown set-up '7'" in proc.stderr


def test_setup_3_times_each_quasi_newton_optimizer():
    from pinnit.bench.quasi_newton import time_quasi_newton

    rows = time_quasi_newton(max_iter=2, repeats=1, engine="autograd", optimizers=("ssbroyden", "lbfgs"),
                             log=lambda _: None)
    assert [r["optimizer"] for r in rows] == ["ssbroyden", "lbfgs"]
    for r in rows:
        assert r["evals_per_step"] >= 2 and r["ms_per_step"] >= r["ms_per_eval"] > 0 and r["engine"] == "autograd"


def test_setup_4_times_the_deeponet_derivative_modes():
    from pinnit.bench.operator_step import time_operator_step

    rows = time_operator_step(steps=1, repeats=1, modes=("jets", "zcs"), log=lambda _: None)
    assert [r["derivatives"] for r in rows] == ["jets", "zcs"]
    assert all(r["ms_per_step"] > 0 and r["speedup_vs_autograd"] is None for r in rows)


def test_scaling_figure_and_json(tmp_path):
    from pinnit.bench.report import markdown
    from pinnit.bench.scaling_plot import write_scaling

    def case(group, key, value, p_ms, d_ms):
        c = {"case": {"group": group, "domain": 2540, "depth": 3, key: value}, "pinnit": {"ms_per_it": p_ms,
                                                                                         "engine": "compiled"}}
        c["deepxde"] = {"ms_per_it": d_ms} if d_ms else None
        return c

    result = {"settings": {"threads": 1}, "cases": [case("scaling-points", "domain", 10_000, 20.0, 40.0),
                                                   case("scaling-points", "domain", 1_000, 4.0, 8.0),
                                                   case("scaling-depth", "depth", 50, 90.0, None)]}
    png, js = write_scaling(result, tmp_path)
    data = json.loads(js.read_text())
    assert data["scaling-points"]["x"] == [1_000, 10_000] and data["scaling-points"]["deepxde_ms"] == [8.0, 40.0]
    assert data["scaling-depth"]["deepxde_ms"] == [None] and png.stat().st_size > 10_000
    assert write_scaling({"settings": {"threads": 1}, "cases": []}, tmp_path / "none") is None
    md = markdown({"meta": {"date_utc": "d", "git_commit": "c", "pinnit": "0", "torch": "2", "python": "3",
                            "processor": "x", "cpu_count": 2, "load_average_start": [1, 1, 1],
                            "load_average_end": [1, 1, 1]},
                   "settings": {"threads": 1, "repeats": 1, "warmup": 1, "memory_method": "rss"}, "cases": [],
                   "quasi_newton": [{"optimizer": "bfgs", "max_iter": 5, "ms_per_step": 10.0, "evals_per_step": 6,
                                     "ms_per_eval": 1.5, "engine": "jets", "first_step_s": 0.1}],
                   "operator": [{"derivatives": "jet", "ms_per_step": 100.0, "speedup_vs_autograd": 29.5,
                                 "first_step_s": 0.1}]})
    assert "| bfgs | 5 | 10 | 6 | 1.5 | jets | 0.1 |" in md and "| jet | 100 | 29.50 | 0.1 |" in md
