"""Best weights and exact resume: what metrics.json/model.pt hold, and that an interrupted run continues exactly."""
from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from pinnit import PinnitError, assemble, parse_config, resume
from pinnit.runs import run
from pinnit.training import Checkpointer, Trainer
from pinnit.training import steps as steps_mod


def _interrupt_at(monkeypatch, step: int) -> None:
    """Send this process a real SIGINT once, right after Adam step ``step`` (the trainer stops cleanly)."""
    real_step = Trainer.step
    fired = []

    def adam_step(self):
        closure = self.stage.closure
        real_step(self)
        if not closure and self.state.step == step and not fired:
            fired.append(step)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Trainer, "step", adam_step)


def _spike_at_the_end(monkeypatch, last: int = 3, lr: float = 0.5) -> None:
    """A huge learning rate for the last ``last`` Adam steps: the final weights are far worse than earlier ones."""
    real = steps_mod.scheduled_lr
    monkeypatch.setattr(steps_mod, "scheduled_lr",
                        lambda base, schedule, step, total: lr if step >= total - last else real(base, schedule, step,
                                                                                                     total))


def _spiky(burgers_cfg, *extra):
    return parse_config(burgers_cfg, ["training.lbfgs.iterations=0", "training.adam.iterations=60",
                                      "sampling.resample_every=0", *extra])


def _loss_of(cfg, weights: dict):
    """Total training loss of network weights on the run's (seed-determined) collocation points."""
    a = assemble(cfg)
    a.model.net.load_state_dict(weights)
    return float(a.loss.total(a.loss.term_losses()).detach()), a


def _final_weights(path) -> dict:
    """The network weights the checkpoint holds (the last step's)."""
    snap = Checkpointer(path / "checkpoint.pt").load()
    return {k[len("net."):]: v for k, v in snap["model"].items() if k.startswith("net.")}


def test_best_weights_are_saved_when_the_last_steps_spike(burgers_cfg, monkeypatch, tmp_path):
    _spike_at_the_end(monkeypatch)
    cfg = _spiky(burgers_cfg)
    res = run(cfg, run_dir=tmp_path / "best")
    m = res.metrics
    assert m["status"] == "completed" and m["restored_best"] is True
    assert m["best_step"] <= 57  # before the spike (steps 57, 58, 59 use lr 0.5)
    final, best = m["errors_final"], m["errors_best"]
    assert best["rel_l2_u"] < final["rel_l2_u"] and best["max_abs_u"] < final["max_abs_u"]
    assert m["rel_l2_u"] == best["rel_l2_u"] and m["max_abs_u"] == best["max_abs_u"]  # top level = the saved model
    # the numbers are the weights': model.pt reproduces best_loss on the training points and errors_best ...
    loss_best, a = _loss_of(cfg, torch.load(res.path / "model.pt"))
    assert loss_best == pytest.approx(m["best_loss"], rel=1e-12)
    assert a.evaluator.errors(a.evaluator.predict(a.model))["rel_l2_u"] == pytest.approx(best["rel_l2_u"], rel=1e-12)
    # ... and the checkpoint's (final) weights give errors_final and a higher loss
    loss_final, a = _loss_of(cfg, _final_weights(res.path))
    assert loss_final > 2 * m["best_loss"]
    assert a.evaluator.errors(a.evaluator.predict(a.model))["rel_l2_u"] == pytest.approx(final["rel_l2_u"], rel=1e-12)

    # restore_best: false saves the final weights and reports them at the top level; both sets still recorded
    m2 = run(_spiky(burgers_cfg, "training.restore_best=false"), run_dir=tmp_path / "final").metrics
    assert m2["restored_best"] is False and m2["rel_l2_u"] == m2["errors_final"]["rel_l2_u"] == final["rel_l2_u"]
    assert m2["errors_best"] == best and m2["best_step"] == m["best_step"] and m2["best_loss"] == m["best_loss"]


def test_best_is_final_when_the_loss_keeps_falling(burgers_cfg):
    """Without a spike the final weights (evaluated once after the last update) are the lowest-loss ones."""
    m = run(parse_config(burgers_cfg, ["training.lbfgs.iterations=0", "training.adam.lr=1e-3"])).metrics
    assert m["best_step"] == m["iterations"]["adam"] == 60
    assert m["errors_best"] == m["errors_final"] and m["rel_l2_u"] == m["errors_final"]["rel_l2_u"]


@pytest.mark.parametrize("stop_at", [30, 58])
def test_resume_keeps_the_best_weights_exactly(burgers_cfg, monkeypatch, tmp_path, stop_at):
    """Interrupted before the spike or inside it (the best then lives only in the checkpoint): identical outputs."""
    _spike_at_the_end(monkeypatch)
    cfg = _spiky(burgers_cfg)
    reference = run(cfg, run_dir=tmp_path / "whole").metrics
    _interrupt_at(monkeypatch, stop_at)
    assert run(cfg, run_dir=tmp_path / "cut").metrics["status"] == "interrupted (SIGINT)"
    resumed = resume(tmp_path / "cut").metrics
    for key in ("best_step", "best_loss", "errors_best", "errors_final", "final_loss", "rel_l2_u", "iterations"):
        assert resumed[key] == reference[key], key
    saved = torch.load(tmp_path / "cut" / "model.pt")
    for k, v in torch.load(tmp_path / "whole" / "model.pt").items():
        assert torch.equal(saved[k], v), k


@pytest.mark.parametrize("sampler", ["uniform", "sobol", "lhs"])
def test_resume_after_a_resample_is_exact_for_every_sampler(burgers_cfg, monkeypatch, tmp_path, sampler):
    """Interrupted at step 60 after resamples at 25 and 50: the continuation is bit-identical."""
    cfg = parse_config(burgers_cfg, [f"sampling.sampler={sampler}", "sampling.resample_every=25",
                                     "training.adam.iterations=80", "training.checkpoint_every=1000"])
    reference = run(cfg, run_dir=tmp_path / "whole").metrics
    _interrupt_at(monkeypatch, 60)
    assert run(cfg, run_dir=tmp_path / "cut").metrics["status"] == "interrupted (SIGINT)"
    resumed = resume(tmp_path / "cut").metrics
    assert resumed["iterations"] == reference["iterations"] == {"adam": 80, "lbfgs": 20}
    assert resumed["final_loss"] == reference["final_loss"]
    assert resumed["best_loss"] == reference["best_loss"] and resumed["rel_l2_u"] == reference["rel_l2_u"]


def _interrupted_run(burgers_cfg, monkeypatch, tmp_path):
    _interrupt_at(monkeypatch, 10)
    path = tmp_path / "cut"
    assert run(parse_config(burgers_cfg, ["training.lbfgs.iterations=0"]), run_dir=path).metrics["status"].startswith(
        "interrupted")
    return path


def test_the_start_record_holds_the_resolved_device_and_config_hash(burgers_cfg, monkeypatch, tmp_path):
    import hashlib

    path = _interrupted_run(burgers_cfg, monkeypatch, tmp_path)
    from pinnit.core.stamp import code_state

    started = json.loads((path / "started.json").read_text())
    assert started == {"device": "cpu", "dtype": "float64",
                       "config_sha256": hashlib.sha256((path / "config.yaml").read_bytes()).hexdigest(),
                       **code_state()}  # the commit the run started from (what metrics.json's stamp names)


def test_resuming_on_another_device_warns_in_one_line(burgers_cfg, monkeypatch, tmp_path, capsys):
    path = _interrupted_run(burgers_cfg, monkeypatch, tmp_path)
    started = json.loads((path / "started.json").read_text())
    (path / "started.json").write_text(json.dumps({**started, "device": "cuda:0"}))  # as if begun on a GPU
    capsys.readouterr()
    assert resume(path).metrics["status"] == "completed"
    warning = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "cuda:0" in warning[0] and "cpu" in warning[0]


def test_resuming_the_same_device_is_silent(burgers_cfg, monkeypatch, tmp_path, capsys):
    path = _interrupted_run(burgers_cfg, monkeypatch, tmp_path)
    capsys.readouterr()
    resume(path)
    assert "warning" not in capsys.readouterr().err


def test_resume_refuses_an_edited_config(burgers_cfg, monkeypatch, tmp_path, capsys):
    from pinnit.cli import main

    path = _interrupted_run(burgers_cfg, monkeypatch, tmp_path)
    config = path / "config.yaml"
    config.write_text(config.read_text().replace("lr: 0.003", "lr: 0.01"))
    with pytest.raises(PinnitError, match="edited after the run started"):
        resume(path)
    capsys.readouterr()
    assert main(["run", "--resume", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config.yaml" in err
