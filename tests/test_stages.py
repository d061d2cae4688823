"""The training pipeline (pinnit/training/stages.py + trainer.py): stages from the config, dtype switches, loss
forms, resampling inside closure stages, exact resume in a float64 quasi-Newton stage, and the migration line
for the older training.adam / training.lbfgs keys."""
from __future__ import annotations

import copy
import math
import os
import signal

import pytest
import torch

from pinnit import ConfigError, assemble, parse_config, resume
from pinnit.runs import run
from pinnit.training import Checkpointer, Trainer
from pinnit.training import trainer as trainer_mod
from pinnit.training.stages import resolve_stages


def _staged(burgers_cfg, stages: dict, **training) -> dict:
    data = copy.deepcopy(burgers_cfg)
    data["training"] = {k: v for k, v in data["training"].items() if k not in ("adam", "lbfgs")}
    data["training"].update(stages=stages, **training)
    return data


PIPELINE = {"adam": {"iterations": 40, "lr": 3e-3, "dtype": "float32"},
            "ssbroyden": {"iterations": 30, "dtype": "float64", "loss_form": "log", "chunk": 10,
                          "resample_every": 15}}


def test_stages_resolve_in_order_with_their_options(burgers_cfg):
    cfg = parse_config(_staged(burgers_cfg, {**PIPELINE, "polish": {"optimizer": "bfgs", "iterations": 0, "c2": 0.5}}))
    stages = resolve_stages(cfg)
    assert [s.name for s in stages] == ["adam", "ssbroyden", "polish"]
    assert [s.closure for s in stages] == [False, True, True]
    assert stages[0].options["lr"] == 3e-3 and stages[2].options["c2"] == 0.5
    assert [s.dtype for s in stages] == ["float32", "float64", "float64"]


def test_the_older_keys_are_the_two_stage_pipeline(burgers_cfg):
    stages = resolve_stages(parse_config(burgers_cfg))
    assert [(s.name, s.optimizer, s.iterations, s.closure) for s in stages] == [
        ("adam", "adam", 60, False), ("lbfgs", "lbfgs", 20, True)]
    assert stages[1].chunk == 10 and stages[1].options["history_size"] == 50


@pytest.mark.parametrize("stages, extra, path, message", [
    ({"adam": {"iterations": 5, "lr": -1}}, [], "training.stages.adam.lr", "greater than 0"),
    ({"newton": {"iterations": 5}}, [], "training.stages.newton", "unknown optimizer 'newton'"),
    ({"qn": {"optimizer": "ssbfgs", "iterations": 5, "c1": 0.95}}, [], "training.stages.qn", "0 < c1 < c2 < 1"),
    ({"bfgs": {"iterations": 5, "max_iter": 7}}, [], "training.stages.bfgs.max_iter", "chunk"),
    ({"bfgs": {"iterations": 5, "history_size": 7}}, [], "training.stages.bfgs.history_size", "unknown parameter"),
    ({"adam": {"iterations": 5, "loss_form": "cube"}}, [], "training.stages.adam.loss_form", "'mse', 'sqrt' or 'log'"),
    ({"adam": {"iterations": 0}}, [], "training.stages", "nothing to train"),
    ({"adam": {"iterations": 5}}, ["training.adam.iterations=500"], "training.adam.iterations",
     "set the stage's key instead (e.g. training.stages.<name>.iterations; stages here: adam)"),
])
def test_bad_stages_are_one_line_errors(burgers_cfg, stages, extra, path, message):
    with pytest.raises(ConfigError) as info:
        parse_config(_staged(burgers_cfg, stages), extra)
    text = str(info.value)
    assert text.startswith(path) and message in text and "\n" not in text


def test_a_float32_stage_then_a_float64_quasi_newton_stage(burgers_cfg, tmp_path):
    res = run(parse_config(_staged(burgers_cfg, PIPELINE)), run_dir=tmp_path / "r")
    m = res.metrics
    assert m["status"] == "completed" and m["iterations"] == {"adam": 40, "ssbroyden": 30}
    assert m["dtype"] == "float64" and m["stages"]["adam"]["dtype"] == "float32"
    assert m["stages"]["ssbroyden"]["stop_reason"] == "reached ssbroyden.iterations=30"
    snap = Checkpointer(res.path / "checkpoint.pt").load()
    assert all(v.dtype == torch.float64 for v in snap["model"].values())
    assert all(v.dtype.name == "float64" for v in snap["loss"]["points"].values())
    # the quasi-Newton stage lowered the loss far below the Adam stage's
    rows = [r for r in res_history(res.path) if r.get("loss_total")]
    adam_end = [float(r["loss_total"]) for r in rows if r["stage"] == "adam"][-1]
    assert float(rows[-1]["loss_total"]) < 0.5 * adam_end


def res_history(path):
    import csv

    with open(path / "history.csv") as fh:
        return list(csv.DictReader(fh))


def test_closure_stage_resamples_every_k_iterations_on_chunk_boundaries(burgers_cfg, monkeypatch):
    cfg = parse_config(_staged(burgers_cfg, {"bfgs": {"iterations": 40, "chunk": 10, "resample_every": 15}}))
    a = assemble(cfg)
    calls = []
    real = a.loss.resample

    def resample():
        calls.append(trainer.state.stage_step)
        real()

    monkeypatch.setattr(a.loss, "resample", resample)
    trainer = Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp := cfg.output.dir + "/c.pt"),
                      stages=resolve_stages(cfg), progress=False)
    trainer.train()
    done = trainer.state.iterations["bfgs"]
    assert done == 40
    assert calls == [15, 30]  # chunks of 10 are cut at 15 and 30 (10, 5, 10, 5, 10)
    os.remove(tmp)


@pytest.mark.parametrize("form, factor", [("mse", lambda L: 1.0), ("sqrt", lambda L: 0.5 / math.sqrt(L)),
                                          ("log", lambda L: 1.0 / L)])
def test_the_loss_form_scales_the_gradient_by_g_prime(burgers_cfg, tmp_path, form, factor):
    """One SGD step moves the weights by −η g'(L) ∇L: the loss form is what the optimizer sees."""
    cfg = parse_config(_staged(burgers_cfg, {"sgd": {"iterations": 1, "lr": 1e-3, "loss_form": form}},
                               checkpoint_every=0))
    a = assemble(cfg)
    before = [p.detach().clone() for p in a.model.parameters()]
    total = a.loss.total(a.loss.term_losses())
    grads = torch.autograd.grad(total, list(a.model.parameters()))
    Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp_path / "c.pt"), stages=resolve_stages(cfg),
            progress=False).train()
    L = float(total.detach())
    for p, p0, g in zip(a.model.parameters(), before, grads):
        torch.testing.assert_close(p.detach() - p0, -1e-3 * factor(L) * g, rtol=1e-9, atol=1e-15)


def _interrupt_in_chunk(monkeypatch, at_step: int) -> None:
    real = trainer_mod.Trainer.step
    fired = []

    def chunk(self):
        closure = self.stage.closure
        real(self)
        if closure and self.state.step >= at_step and not fired:
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(trainer_mod.Trainer, "step", chunk)


def test_a_run_interrupted_in_the_float64_stage_resumes_exactly(burgers_cfg, tmp_path, monkeypatch):
    data = _staged(burgers_cfg, PIPELINE, checkpoint_every=10)
    reference = run(parse_config(data), run_dir=tmp_path / "straight").metrics
    _interrupt_in_chunk(monkeypatch, 50)
    stopped = run(parse_config(data), run_dir=tmp_path / "killed")
    assert stopped.metrics["status"].startswith("interrupted") and stopped.metrics["iterations"]["ssbroyden"] == 10
    monkeypatch.undo()
    resumed = resume(tmp_path / "killed").metrics
    assert resumed["iterations"] == reference["iterations"]
    assert resumed["final_loss"] == reference["final_loss"]  # bit for bit: H, points and RNG came back
    assert resumed["rel_l2_u"] == reference["rel_l2_u"]


def test_stage_summary_and_restart_events_for_a_dense_stage(burgers_cfg, tmp_path):
    """A tolerance_change that stops every chunk early: the stage restarts (H = I) while the loss improves."""
    stages = {"adam": {"iterations": 20, "lr": 3e-3},
              "bfgs": {"iterations": 200, "chunk": 20, "tolerance_change": 1e-3, "restarts": 2}}
    m = run(parse_config(_staged(burgers_cfg, stages)), run_dir=tmp_path / "r").metrics
    s = m["stages"]["bfgs"]
    assert s["restarts"] == m["restarts"] <= 2 and s["iterations"] < 200
    assert "tolerance_change=0.001" in s["stop_reason"] and f"after {s['restarts']} restarts" in s["stop_reason"]
