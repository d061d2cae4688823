"""Training safety: divergence handling, interruption by a real signal and exact resume."""
from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import time


import pytest
import torch
import yaml

from pinnit import parse_config, resume
from pinnit.runs import run
from pinnit.training.schedule import lr_factor
from pinnit.config.schema import Schedule
from conftest import wait_for

DIVERGING = ["network.activation=linear", "network.depth=4", "training.dtype=float32",
             "training.adam.lr=100", "training.lbfgs.iterations=0"]


def test_diverging_run_stops_cleanly_and_keeps_history(burgers_cfg):
    res = run(parse_config(burgers_cfg, DIVERGING))
    m = res.metrics
    assert m["status"] == "diverged"
    assert m["diverged"]["term"] in {"pde", "initial", "boundary", "total"}
    assert m["diverged"]["step"] >= 1 and "became" in m["diverged"]["message"]
    # the saved weights are the last good checkpoint's: finite predictions
    state = torch.load(res.path / "model.pt")
    assert all(torch.isfinite(v).all() for v in state.values())
    assert (res.path / "history.csv").exists() and (res.path / "checkpoint.pt").exists()


def test_rollback_lowers_the_learning_rate_and_finishes(burgers_cfg):
    res = run(parse_config(burgers_cfg, DIVERGING + ["training.on_divergence=rollback", "training.max_rollbacks=6",
                                                   "training.adam.iterations=30"]))
    m = res.metrics
    assert m["status"] == "completed" and m["rollbacks"] >= 1
    with open(res.path / "events.csv") as fh:
        events = [r["event"] for r in csv.DictReader(fh)]
    assert events and events[0].startswith("rollback")
    with open(res.path / "history.csv") as fh:
        reader = csv.DictReader(fh)
        steps = [int(r["step"]) for r in reader]
    assert "event" not in reader.fieldnames and len(steps) == len(set(steps))


def test_lr_schedules():
    assert lr_factor(Schedule(kind="constant"), 500, 1000) == 1
    assert lr_factor(Schedule(kind="exponential", decay_rate=0.5, decay_steps=100), 200, 1000) == pytest.approx(0.25)
    assert lr_factor(Schedule(kind="inverse_time", decay_rate=0.5, decay_steps=100), 200, 1000) == pytest.approx(0.5)
    assert lr_factor(Schedule(kind="step", decay_rate=0.1, decay_steps=100), 250, 1000) == pytest.approx(0.01)
    assert lr_factor(Schedule(kind="cosine"), 500, 1000) == pytest.approx(0.5)


def _wait_for(predicate):
    return wait_for(predicate, timeout=240.0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_killed_run_resumes_to_the_same_metrics(tmp_path, burgers_cfg, sig):
    burgers_cfg["training"].update({"adam": {"iterations": 400, "lr": 3e-3}, "lbfgs": {"iterations": 40, "chunk": 10},
                                    "checkpoint_every": 50})
    burgers_cfg["sampling"]["resample_every"] = 25  # the signal lands after resamples at 25 and 50 (sobol points)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(burgers_cfg))
    reference = run(parse_config(burgers_cfg), run_dir=tmp_path / "uninterrupted").metrics

    run_dir = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "pinnit", "run", str(config), "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = run_dir / "history.csv"
    ckpt = run_dir / "checkpoint.pt"
    # wait for the first periodic checkpoint after step 0, then signal mid-training
    assert _wait_for(lambda: ckpt.exists() and ckpt.stat().st_size > 0 and (run_dir / "config.yaml").exists())
    first = ckpt.stat().st_mtime_ns
    assert _wait_for(lambda: ckpt.stat().st_mtime_ns != first)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    interrupted = json.loads((run_dir / "metrics.json").read_text())
    assert interrupted["status"].startswith("interrupted")
    assert 0 < interrupted["iterations"]["adam"] + interrupted["iterations"]["lbfgs"] < 440
    assert history.exists() and "--resume" in out

    resumed = resume(run_dir).metrics
    assert resumed["status"] == "completed"
    assert resumed["iterations"] == reference["iterations"]
    assert resumed["final_loss"] == reference["final_loss"]
    assert resumed["rel_l2_u"] == reference["rel_l2_u"]


def test_full_disk_mid_training_is_one_line_and_keeps_the_last_checkpoint(tmp_path, burgers_cfg, monkeypatch,
                                                                          capsys):
    import errno

    from pinnit.cli import main
    from pinnit.training.checkpoint import Checkpointer

    calls = {"n": 0}
    real_save = Checkpointer.save

    def save(self, snapshot):
        calls["n"] += 1
        if calls["n"] == 3:  # the initial and first periodic checkpoints succeed, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real_save(self, snapshot)

    monkeypatch.setattr(Checkpointer, "save", save)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(burgers_cfg))
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err
    snap = Checkpointer(run_dir / "checkpoint.pt").load()
    assert snap["train"]["step"] == 20  # the last good checkpoint (checkpoint_every = 20)
    monkeypatch.setattr(Checkpointer, "save", real_save)
    assert resume(run_dir).metrics["status"] == "completed"


def test_repeated_rollbacks_compound_the_lr_factor(burgers_cfg, monkeypatch):
    """Each rollback to the same checkpoint lowers the lr again (×0.1, ×0.01, …) and the count is kept."""
    from pinnit.training import trainer as trainer_mod

    seen = []
    real_step = trainer_mod.Trainer.step

    def step(self):
        if self.state.step == 30 and self.state.lr_scale > 0.05:
            seen.append(self.state.lr_scale)
            raise trainer_mod.Diverged(30, "pde", math.nan)
        real_step(self)

    monkeypatch.setattr(trainer_mod.Trainer, "step", step)
    cfg = parse_config(burgers_cfg, ["training.on_divergence=rollback", "training.max_rollbacks=3",
                                     "training.lbfgs.iterations=0"])
    m = run(cfg).metrics
    assert seen == [1.0, pytest.approx(0.1)] and m["status"] == "completed" and m["rollbacks"] == 2


def test_non_finite_weights_after_an_adam_iteration_count_as_divergence(burgers_cfg, monkeypatch):
    real_step = torch.optim.Adam.step

    def poisoned(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        if self.state and next(iter(self.state.values()))["step"] >= 25:
            self.param_groups[0]["params"][0].data.fill_(math.nan)
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", poisoned)
    res = run(parse_config(burgers_cfg, ["training.lbfgs.iterations=0"]))
    assert res.metrics["status"] == "diverged" and res.metrics["diverged"]["term"] == "parameters"
    state = torch.load(res.path / "model.pt")
    assert all(torch.isfinite(v).all() for v in state.values())


def test_time_limit_stops_training_and_skips_the_later_stages(burgers_cfg):
    """``training.time_limit_s``: the stage running when the limit passes stops with that reason (status
    completed), later stages run 0 iterations, and the last history row is evaluated."""
    res = run(parse_config(burgers_cfg, ["training.adam.iterations=1000000", "training.lbfgs.iterations=50",
                                         "training.time_limit_s=1.5", "training.derivatives=autograd"]))
    m = res.metrics
    assert m["status"] == "completed"
    adam, lbfgs = m["stages"]["adam"], m["stages"]["lbfgs"]
    assert 10 < adam["iterations"] < 1000000 and lbfgs["iterations"] == 0
    assert adam["stop_reason"] == "reached training.time_limit_s=1.5"
    with open(res.path / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert int(rows[-1]["step"]) == adam["iterations"] and rows[-1]["rel_l2_u"]
    assert 1.5 <= float(rows[-1]["time_s"]) - float(rows[-1]["eval_s"]) < m["wall_time_s"]


def test_time_limit_leaves_the_evaluations_out(burgers_cfg, monkeypatch):
    """Evaluations that take 0.05 s each, after every step, do not count against a 0.3 s limit: the run trains
    for 0.3 s of its own (dozens of steps of this small network), not until its sixth evaluation."""
    from pinnit.outputs.evaluation import Evaluator

    real = Evaluator.errors

    def slow(self, pred):
        time.sleep(0.05)
        return real(self, pred)

    monkeypatch.setattr(Evaluator, "errors", slow)
    res = run(parse_config(burgers_cfg, ["training.adam.iterations=1000000", "training.lbfgs.iterations=0",
                                         "training.time_limit_s=0.3", "evaluation.every=1",
                                         "training.derivatives=autograd"]))
    steps = res.metrics["stages"]["adam"]["iterations"]
    with open(res.path / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert steps >= 10
    assert float(rows[-1]["eval_s"]) >= 0.05 * steps
