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
from pinnit.errors import PinnitError

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
    md = (out / "bench.md").read_text()
    assert "| (1) DeepXDE Burgers example, 3×20 tanh | 5 |" in md and "PASSED" in md


def test_cli_bench_rejects_bad_setup(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pinnit", "bench", "--setups", "7", "--out", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--setups: unknown set-up '7'" in proc.stderr
