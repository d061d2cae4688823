"""Closure optimizers (L-BFGS, BFGS, SSBFGS, SSBroyden; Levenberg–Marquardt in test_operator_second_order.py)
and float64 stages on operator runs: each runs on one fixed function-and-point batch per chunk (a new batch
between chunks), a run interrupted inside a float64 L-BFGS stage resumes bit for bit, and a dense method on a
network above its max_params is refused in one line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import interrupt_after_chunks

from pinnit import resume
from pinnit.runs import run
from pinnit.cli import main
from pinnit.runs import parse_config
from pinnit.core.errors import ConfigError
from pinnit.operators.loss import OperatorLoss
from pinnit.operators.predict import load_operator
from pinnit.training import Trainer
from pinnit.core.yaml_io import read_yaml

REPO = Path(__file__).resolve().parents[1]


def tiny(tmp_path, stages, **training):
    """A tiny Stokes PI-DeepONet (a few hundred parameters, 12 training lids, batches of 4)."""
    return {
        "problem": {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
                    "functions": {"f": {"argument": "x", "train": 12, "test": 2}}},
        "network": {"arch": "deeponet", "width": 8, "depth": 1, "layout": "shared", "activation": "tanh"},
        "sampling": {"points": {"momentum_x": 32, "momentum_y": 32, "mass": 32, "lid": 8}, "function_batch": 4,
                     "resample_every": 0},
        "training": {"dtype": "float32", "threads": 1, "derivatives": "jets", "stages": stages,
                     "checkpoint_every": 4, **training},
        "evaluation": {"every": 0, "resolution": [11, 11], "functions": 2},
        "output": {"dir": str(tmp_path / "outputs"), "plots": False, "progress": False},
    }


def _record_batches(monkeypatch) -> list[tuple[str, tuple[int, ...]]]:
    """(stage, function indices) of every loss evaluation of the run."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    real_step, real_losses = Trainer.step, OperatorLoss.term_losses
    stage = ["?"]

    def losses(self):
        out = real_losses(self)
        seen.append((stage[0], tuple(int(i) for i in (self.held if self.held is not None else self.batch))))
        return out

    def step(self):
        stage[0] = f"{self.stage.name}:{'chunk' if self.stage.closure else 'step'}:{self.state.step}"
        real_step(self)
        stage[0] = "between"  # e.g. the completed run's look at its final weights

    monkeypatch.setattr(OperatorLoss, "term_losses", losses)
    monkeypatch.setattr(Trainer, "step", step)
    return seen


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", "ssbfgs", "ssbroyden"])
def test_each_closure_optimizer_trains_an_operator_on_one_batch_per_chunk(tmp_path, monkeypatch, optimizer):
    """Adam, then the closure optimizer in float64 in chunks of 3: every evaluation of a chunk sees the same
    functions, consecutive chunks see different ones (epochs of the permutation), and the loss goes down."""
    stages = {"adam": {"iterations": 4, "lr": 3e-3},
              "qn": {"optimizer": optimizer, "iterations": 9, "chunk": 3, "dtype": "float64"}}
    seen = _record_batches(monkeypatch)
    m = run(parse_config(tiny(tmp_path, stages)), run_dir=tmp_path / "r").metrics
    assert m["status"] == "completed" and m["iterations"]["adam"] == 4 and 0 < m["iterations"]["qn"] <= 9
    assert m["stages"]["qn"]["dtype"] == "float64" and np.isfinite(m["rel_l2_mean"])
    chunks: dict[str, set] = {}
    for where, batch in seen:
        if ":chunk:" in where:
            chunks.setdefault(where, set()).add(batch)
    assert len(chunks) >= 2 and all(len(b) == 1 for b in chunks.values())  # one batch per chunk
    batches = [next(iter(b)) for b in chunks.values()]
    assert all(a != b for a, b in zip(batches, batches[1:]))  # resampled between chunks
    adam = [b for w, b in seen if ":step:" in w]
    assert len(set(adam)) > 1  # Adam still draws a new batch per step
    weights = torch.load(tmp_path / "r" / "model.pt", weights_only=True)
    assert all(v.dtype == torch.float64 for v in weights.values() if v.is_floating_point())
    model = load_operator(tmp_path / "r")[2]  # what predict applies: the weights as saved, not cast to float32
    assert all(p.dtype == torch.float64 and torch.equal(p, weights[k]) for k, p in model.net.state_dict().items())
    assert m["best_loss"] < m["initial_loss"]


@pytest.mark.parametrize("optimizer", ["lbfgs", "ssbroyden"])
def test_an_operator_run_interrupted_in_a_float64_closure_stage_resumes_bit_for_bit(tmp_path, monkeypatch,
                                                                                    optimizer):
    stages = {"adam": {"iterations": 6, "lr": 3e-3},
              "lbfgs": {"optimizer": optimizer, "iterations": 12, "chunk": 3, "dtype": "float64",
                        "resample_every": 6}}
    data = tiny(tmp_path, stages)
    reference = run(parse_config(data), run_dir=tmp_path / "straight").metrics
    interrupt_after_chunks(monkeypatch, 3)  # 9 L-BFGS iterations in: past the points redrawn at 6
    stopped = run(parse_config(data), run_dir=tmp_path / "killed").metrics
    assert stopped["status"].startswith("interrupted") and 0 < stopped["iterations"]["lbfgs"] < 12
    monkeypatch.undo()
    resumed = resume(tmp_path / "killed").metrics
    assert resumed["iterations"] == reference["iterations"]
    for key in ("final_loss", "best_loss", "rel_l2_u", "rel_l2_v", "rel_l2_p", "rel_l2_mean"):
        assert resumed[key] == reference[key], key  # bit for bit: weights, curvature memory, batches and points
    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _cpu_config(stages):
    data = read_yaml(REPO / "configs" / "stokes_deeponet_cpu.yaml")
    for key in ("adam", "lbfgs"):
        data["training"].pop(key, None)
    data["training"]["stages"] = stages
    return data


@pytest.mark.parametrize("optimizer", ["ssbfgs", "ssbroyden", "bfgs"])
def test_a_dense_method_above_its_max_params_is_refused_in_one_line(optimizer):
    """The CPU recipe's DeepONet has 70,083 parameters: a dense 70k × 70k inverse Hessian is refused before
    anything is built, naming the key and the count; raising max_params admits it, and L-BFGS always runs."""
    stages = {"adam": {"iterations": 5}, "qn": {"optimizer": optimizer, "iterations": 5}}
    with pytest.raises(ConfigError, match=r"^training.stages.qn.max_params: '" + optimizer + r"' keeps a dense "
                                          r"70,083 × 70,083 inverse Hessian: this DeepONet has 70,083 parameters, "
                                          r"above max_params=20,000; use lbfgs") as err:
        parse_config(_cpu_config(stages))
    assert "\n" not in str(err.value)
    stages["qn"]["max_params"] = 80_000
    parse_config(_cpu_config(stages))
    stages["qn"] = {"optimizer": "lbfgs", "iterations": 5, "dtype": "float64"}
    assert parse_config(_cpu_config(stages)).training.stages["qn"].dtype == "float64"


def test_the_refusal_exits_2_with_the_line(tmp_path, capsys):
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_cpu_config({"adam": {"iterations": 5},
                                                "qn": {"optimizer": "ssbroyden", "iterations": 5}})))
    assert main(["run", str(path), "--set", f"output.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training.stages.qn.max_params" in err[0] and "70,083 parameters" in err[0]


def test_levenberg_marquardt_is_accepted_for_operator_runs(tmp_path):
    """LM works on the operator loss's residual vector on the held batch (tests/test_operator_second_order.py
    trains and resumes it); only the dense quasi-Newton methods keep a max_params refusal."""
    stages = {"adam": {"iterations": 5}, "lm": {"optimizer": "levenberg_marquardt", "iterations": 5,
                                                "max_params": 10}}
    assert parse_config(tiny(tmp_path, stages)).training.stages["lm"].iterations == 5
