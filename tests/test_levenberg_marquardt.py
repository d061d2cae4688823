"""Levenberg–Marquardt: known minimisers (linear, exponential fit, Rosenbrock), dense vs CG, the PINN residual
vector, a stage through ``pinnit run``, exact resume and the one-line refusal of other loss forms."""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml

from pinnit import assemble, parse_config, resume
from pinnit.runs import run
from pinnit.training import trainer as trainer_mod
from pinnit.training.optimizers import OPTIMIZERS
from pinnit.training.optimizers.levenberg_marquardt import LevenbergMarquardt
from pinnit.training.residuals import Residuals
from conftest import small_burgers


def _fit(fn, x0, **options) -> tuple[torch.Tensor, dict]:
    x = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = OPTIMIZERS.get("levenberg_marquardt")([x], **options)
    opt.residuals = Residuals(fn)
    opt.step()
    return x.detach(), opt.state[x]


def test_linear_least_squares_reaches_the_exact_minimiser_in_a_few_iterations():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(40, 6, dtype=torch.float64, generator=g)
    b = torch.randn(40, dtype=torch.float64, generator=g)
    x, state = _fit(lambda th: A @ th - b, [0.0] * 6, max_iter=3)
    exact = torch.linalg.lstsq(A, b[:, None]).solution[:, 0]
    assert state["n_iter"] == 3 and float((x - exact).abs().max()) < 1e-10


def test_exponential_fit_recovers_the_generating_parameters():
    t = torch.linspace(0, 2, 30, dtype=torch.float64)
    data = 2.0 * torch.exp(-1.5 * t) + 0.3
    x, state = _fit(lambda th: th[0] * torch.exp(th[1] * t) + th[2] - data, [1.0, 0.0, 0.0], max_iter=60,
                    tolerance_grad=1e-14)
    assert torch.allclose(x, torch.tensor([2.0, -1.5, 0.3], dtype=torch.float64), rtol=0, atol=1e-10), x
    assert state["n_iter"] < 60


def _rosenbrock(th):
    return torch.stack([10 * (th[1] - th[0] ** 2), 1 - th[0]])


@pytest.mark.parametrize("scaling", ["identity", "marquardt"])
def test_rosenbrock_residuals_reach_1_1(scaling):
    x, state = _fit(_rosenbrock, [-1.2, 1.0], max_iter=100, scaling=scaling)
    assert float((x - 1).abs().max()) < 1e-10 and state["n_iter"] < 40 and state["rejections"] > 0


def test_dense_and_matrix_free_cg_paths_agree():
    dense = [_fit(_rosenbrock, [-1.2, 1.0], max_iter=k)[0] for k in (1, 3)]
    cg = [_fit(_rosenbrock, [-1.2, 1.0], max_iter=k, max_params=1, cg_tolerance=1e-14)[0] for k in (1, 3)]
    for a, b in zip(dense, cg):
        assert float((a - b).abs().max()) < 1e-10
    x, state = _fit(_rosenbrock, [-1.2, 1.0], max_iter=100, max_params=1)
    assert float((x - 1).abs().max()) < 1e-10 and state["cg_iterations"] > 0


def test_marquardt_scaling_needs_the_dense_path():
    with pytest.raises(Exception, match="scaling 'marquardt' needs the dense path"):
        LevenbergMarquardt([torch.nn.Parameter(torch.zeros(3))], scaling="marquardt", max_params=2)


def _config(tmp_path, stages: dict, **extra) -> dict:
    cfg = small_burgers(tmp_path)
    cfg["network"].update(width=10, depth=2)
    cfg["sampling"]["points"] = {"pde": 200, "initial": 40, "boundary": 40}
    training = {k: v for k, v in cfg["training"].items() if k not in ("adam", "lbfgs")}
    cfg["training"] = {**training, "stages": stages, "checkpoint_every": 1000, **extra}
    cfg["evaluation"] = {"every": 1000, "resolution": [32, 10]}
    return cfg


@pytest.mark.parametrize("hard", [False, True])
def test_the_pinn_residual_vector_gives_the_loss_and_its_gradient(tmp_path, hard):
    """‖r‖² is the training loss and 2 Jᵀr its autograd gradient (every term; hard constraints too)."""
    cfg = _config(tmp_path, {"adam": {"iterations": 1}})
    cfg["problem"]["hard_constraints"] = hard
    a = assemble(parse_config(cfg))
    total = a.loss.total(a.loss.term_losses())
    grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(total, list(a.model.parameters()))])
    res = a.loss.residuals()
    r, J = res.jacobian(res.theta())
    assert res.pointwise and len(r) == sum(len(p) for p in a.loss.points.values())
    assert float(r @ r) == pytest.approx(float(total), rel=1e-12)
    assert torch.allclose(2 * J.T @ r, grad, rtol=1e-9, atol=1e-12)


def test_a_residual_that_is_not_pointwise_falls_back_to_forward_mode(tmp_path, capsys):
    """A physics residual minus its mean couples every point: the per-point Jacobian would be wrong, so the
    provider notices (its per-point values differ) and takes J by forward mode over the parameters."""
    cfg = _config(tmp_path, {"adam": {"iterations": 1}})
    cfg["sampling"]["points"] = {"pde": 60, "initial": 20, "boundary": 20}
    a = assemble(parse_config(cfg))

    def centred(old):
        return lambda f: old(f) - old(f).mean()

    a.loss.terms = [dataclasses.replace(t, residual=centred(t.residual)) if t.kind == "physics" else t
                    for t in a.loss.terms]
    total = a.loss.total(a.loss.term_losses())
    grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(total, list(a.model.parameters()))])
    res = a.loss.residuals()
    r, J = res.jacobian(res.theta())
    assert res.pointwise is False and "not pointwise" in capsys.readouterr().err
    assert float(r @ r) == pytest.approx(float(total), rel=1e-12)
    assert torch.allclose(2 * J.T @ r, grad, rtol=1e-9, atol=1e-12)


def _history(path):
    with open(path / "history.csv") as fh:
        return list(csv.DictReader(fh))


ADAM = {"adam": {"iterations": 30, "lr": 5e-3}}
LM = {"levenberg_marquardt": {"iterations": 8, "chunk": 4}}


@pytest.mark.slow
def test_an_lm_stage_through_pinnit_run_lowers_the_loss_far_below_adam(tmp_path):
    """30 Adam steps then 30 LM iterations, against 60 Adam steps (measured: loss 0.039 against 0.34)."""
    adam_only = run(parse_config(_config(tmp_path, {"adam": {"iterations": 60, "lr": 5e-3}})),
                    run_dir=tmp_path / "adam").metrics
    path = tmp_path / "lm.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, {**ADAM, "levenberg_marquardt": {"iterations": 30, "chunk": 10}})))
    out = tmp_path / "lm"
    proc = subprocess.run([sys.executable, "-m", "pinnit", "run", str(path), "--run-dir", str(out)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["stages"]["levenberg_marquardt"]["iterations"] == 30
    assert m["final_loss"]["total"] < adam_only["final_loss"]["total"] / 5
    assert m["rel_l2_u"] < adam_only["rel_l2_u"]
    assert {r["stage"] for r in _history(out)} == {"adam", "levenberg_marquardt"}


def test_an_interrupted_lm_stage_resumes_bit_identically_and_the_clock_continues(tmp_path, monkeypatch):
    lm = {"levenberg_marquardt": {**LM["levenberg_marquardt"], "resample_every": 4}}  # new points every chunk
    cfg = parse_config(_config(tmp_path, {**ADAM, **lm}, checkpoint_every=4))
    whole = run(cfg, run_dir=tmp_path / "whole").metrics
    real = trainer_mod.Trainer.step

    def chunk(self):  # a real SIGINT after the first LM chunk (step 34): the trainer stops cleanly
        closure = self.stage.closure
        real(self)
        if closure and self.state.step == 34:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(trainer_mod.Trainer, "step", chunk)
    assert run(cfg, run_dir=tmp_path / "cut").metrics["status"] == "interrupted (SIGINT)"
    cut_history = _history(tmp_path / "cut")
    monkeypatch.setattr(trainer_mod.Trainer, "step", real)
    resumed = resume(tmp_path / "cut").metrics
    for key in ("final_loss", "best_loss", "best_step", "errors_final", "iterations"):
        assert resumed[key] == whole[key], key
    saved, reference = torch.load(tmp_path / "cut" / "model.pt"), torch.load(tmp_path / "whole" / "model.pt")
    assert all(torch.equal(saved[k], v) for k, v in reference.items())
    # the time column: seconds since the run began, non-decreasing and continued (not restarted) by the resume
    rows = _history(tmp_path / "cut")
    times = [float(r["time_s"]) for r in rows]
    assert times == sorted(times) and times[0] > 0
    before = float(cut_history[-1]["time_s"])
    after = [float(r["time_s"]) for r in rows if int(r["step"]) > 34]
    assert after and min(after) > before
    assert resumed["wall_time_s"] >= times[-1]


def test_lm_refuses_other_loss_forms_in_one_line(tmp_path, capsys):
    from pinnit.cli import main

    path = tmp_path / "log.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, {**ADAM, "levenberg_marquardt": {"iterations": 4,
                                                                                       "loss_form": "log"}})))
    code = main(["run", str(path), "--run-dir", str(tmp_path / "log")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "training.stages.levenberg_marquardt.loss_form" in err and "only 'mse' applies (got 'log')" in err
