"""``pinnit bench --setups tta``: seconds to each error level, read from a run's history."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pinnit.bench.report import write_reports
from pinnit.bench.runner import run_bench
from pinnit.bench.tta import error_column, history_record, median_seconds, read_history, seconds_to

REPO = Path(__file__).resolve().parents[1]

TINY = """\
problem: {name: burgers, nu: 0.0031830988618379067}
network: {arch: mlp, width: 8, depth: 2, activation: tanh, initializer: {name: xavier_normal}}
sampling: {sampler: sobol, points: {pde: 256, initial: 32, boundary: 32}}
training:
  dtype: float32
  device: cpu
  seed: 0
  stages:
    adam: {iterations: 40, lr: 1.0e-2}
  checkpoint_every: 0
evaluation: {every: 10, resolution: [32, 16]}
output: {plots: false}
"""

# a history as history.csv has it: loss rows every step, the error only at evaluation steps (strings, blanks)
HISTORY = [
    {"step": "0", "time_s": "0.5", "loss_pde": "1.0", "rel_l2_u": "", "rel_l2_u_final_1": ""},
    {"step": "10", "time_s": "2.0", "loss_pde": "0.1", "rel_l2_u": "5e-3", "rel_l2_u_final_1": "1e-9"},
    {"step": "15", "time_s": "3.0", "loss_pde": "0.05", "rel_l2_u": "", "rel_l2_u_final_1": ""},
    {"step": "20", "time_s": "4.5", "loss_pde": "0.01", "rel_l2_u": "9.9e-4", "rel_l2_u_final_1": "1e-9"},
    {"step": "30", "time_s": "7.25", "loss_pde": "0.001", "rel_l2_u": "1e-4", "rel_l2_u_final_1": "1e-9"},
    {"step": "40", "time_s": "9.0", "loss_pde": "0.0001", "rel_l2_u": "2e-6", "rel_l2_u_final_1": "1e-9"},
]


def test_seconds_to_each_level_from_a_known_history():
    rec = history_record(HISTORY)
    assert rec["error"] == "rel_l2_u"  # the main error, not the final-time slice
    assert rec["curve"] == [[2.0, 5e-3], [4.5, 9.9e-4], [7.25, 1e-4], [9.0, 2e-6]]
    # first *below* the level: 1e-4 itself at 7.25 s does not count, 2e-6 at 9 s does; 1e-6 never
    assert rec["seconds_to"] == {"1e-03": 4.5, "1e-04": 9.0, "1e-05": 9.0, "1e-06": None}
    assert rec["final_error"] == 2e-6


def test_error_column_and_median_with_unreached_seeds():
    assert error_column(["step", "rel_l2_p_final_0.5", "rel_l2_p", "rel_l2_u"]) == "rel_l2_p"
    assert seconds_to([(1.0, 0.5)], (1.0, 0.1)) == {"1e+00": 1.0, "1e-01": None}
    assert median_seconds([3.0, None, 1.0]) == 3.0  # None counts as +inf: median of 1, 3, inf
    assert median_seconds([3.0, None, None]) is None and median_seconds([2.0, 4.0]) == 3.0


def test_tta_setup_trains_a_tiny_recipe_and_writes_json_and_figure(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY)
    out = tmp_path / "bench"
    result = run_bench("tta", recipes=[str(recipe)], seeds=2, threads=1, out=out, log=lambda _: None)
    written = write_reports(result, out)
    assert written == [out / "time_to_accuracy.json", out / "bench.md"] and not (out / "bench.json").exists()
    data = json.loads((out / "time_to_accuracy.json").read_text())
    assert data["stamp"]["torch"] == torch.__version__ and data["stamp"]["machine"]["cores"] == os.cpu_count()
    (entry,) = data["recipes"]
    assert entry["recipe"] == "tiny" and [s["seed"] for s in entry["seeds"]] == [0, 1]
    for seed in entry["seeds"]:
        assert seed["run_dir"] == f"tta/tiny-seed{seed['seed']}"  # relative to the bench folder, not absolute
        rows = read_history(out / seed["run_dir"] / "history.csv")
        # evaluations at steps 10, 20, 30, 40; the record is exactly what the run's history says
        assert len(seed["curve"]) == 4 and seed == {**seed, **history_record(rows)}
        assert seed["iterations"] == {"adam": 40}
        metrics = json.loads((out / seed["run_dir"] / "metrics.json").read_text())
        assert seed["run_error"] == metrics["rel_l2_u"]
        # pinnit run's metrics.json carries the same stamp keys as the bench files
        assert metrics["stamp"]["torch"] == torch.__version__ and metrics["stamp"]["machine"]["cores"] >= 1
    png = (out / "error_vs_time.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "| tiny | 2 |" in (out / "bench.md").read_text()


def test_a_bad_recipe_fails_before_any_training(tmp_path):
    from pinnit.core.errors import PinnitError

    with pytest.raises(PinnitError, match="nosuch: no such file"):
        run_bench("1,tta", recipes=["burgers", "nosuch"], with_deepxde=False, out=tmp_path, log=lambda _: None)
    with pytest.raises(PinnitError, match="training.nope"):
        run_bench("tta", recipes=["burgers"], overrides=["training.nope=1"], out=tmp_path, log=lambda _: None)
    assert not (tmp_path / "tta").exists()


def test_cli_tta_rejects_zero_seeds(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pinnit", "bench", "--setups", "tta", "--seeds", "0", "--out",
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "--seeds and --eval-every must be ≥ 1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_default_recipes_are_the_bench_defaults():
    """The CLI spells the default out (importing pinnit.bench at parse time would cost a second of start-up), so
    it must name exactly the recipes the bench times when none are given."""
    from pinnit.bench.tta import DEFAULT_RECIPES
    from pinnit.cli import build_parser

    args = build_parser().parse_args(["bench"])
    assert args.recipes == ",".join(DEFAULT_RECIPES)
