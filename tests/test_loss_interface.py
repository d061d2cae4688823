"""The Loss and Step interfaces: the PINN and the operator loss both implement Loss, each trains through the
same Trainer, capabilities only one kind has are asked for (not type-tested), and a third loss written only
against the interface trains to its closed-form minimum."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
import torch
from torch import nn

from pinnit.core.errors import ConfigError
from pinnit.problems import build_problem
from pinnit.runs import parse_config
from pinnit.runs.pipeline import assemble
from pinnit.runtime.context import RunContext
from pinnit.training import Checkpointer, ClosureStep, EagerStep, Loss, PinnLoss, Trainer
from pinnit.training.stages import resolve_stages

from test_operator_loss import tiny as tiny_operator


def _trainer(a, cfg, tmp_path, name="c"):
    return Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp_path / f"{name}.pt"),
                   stages=resolve_stages(cfg), progress=False, log_every=1)


def _staged(data: dict, stages: dict) -> dict:
    training = {k: v for k, v in data["training"].items() if k not in ("adam", "lbfgs")}
    return {**data, "training": {**training, "stages": stages}}


def test_both_losses_implement_the_interface_and_train_their_real_model(burgers_cfg, tmp_path):
    from pinnit.operators.loss import OperatorLoss

    pinn = assemble(parse_config(burgers_cfg))
    operator = assemble(parse_config(tiny_operator(tmp_path)))
    assert isinstance(pinn.loss, PinnLoss) and isinstance(operator.loss, OperatorLoss)
    for a in (pinn, operator):
        assert isinstance(a.loss, Loss)
        assert a.loss.model is a.model  # built around the run's network, no placeholder
    # capabilities: declared on the interface, answered by each loss
    assert pinn.loss.supports_residuals and operator.loss.supports_residuals  # both: least squares applies
    assert operator.loss.engine is None and operator.loss.engine_name is None
    assert pinn.loss.engine is not None and pinn.loss.engine_name == "autograd"
    r = pinn.loss.residuals()
    total = float(pinn.loss.total(pinn.loss.term_losses()).detach())
    assert float(r(r.theta()).pow(2).sum()) == pytest.approx(total, rel=1e-10)  # ‖r‖² = L


@pytest.mark.parametrize("kind", ["pinn", "operator"])
def test_each_loss_trains_through_the_same_trainer_and_steps(burgers_cfg, tmp_path, kind):
    stages = {"adam": {"iterations": 8, "lr": 3e-3}, "lbfgs": {"iterations": 6, "chunk": 3}}
    cfg = parse_config(_staged(burgers_cfg if kind == "pinn" else tiny_operator(tmp_path), stages))
    a = assemble(cfg)
    t = _trainer(a, cfg, tmp_path)
    kinds = []
    while t.state.stage_step < t.stage.iterations:
        kinds.append(type(t.current_step))
        t.step()
    assert kinds == [EagerStep] * 8  # one Adam iteration per call
    state = t.train()  # the rest: the L-BFGS stage, in chunks of 3
    assert state.status == "completed" and state.iterations["adam"] == 8 and 0 < state.iterations["lbfgs"] <= 6
    assert isinstance(t.current_step, ClosureStep)
    losses = [r["loss_total"] for r in state.history if "loss_total" in r]
    assert np.all(np.isfinite(losses)) and min(losses[1:]) < losses[0]  # it trains


def test_a_least_squares_stage_on_a_loss_without_residuals_is_one_line(burgers_cfg, tmp_path):
    """The trainer asks the loss (``supports_residuals``) before a Levenberg–Marquardt stage starts."""
    lm = parse_config(_staged(burgers_cfg, {"adam": {"iterations": 2, "lr": 1e-3},
                                            "levenberg_marquardt": {"iterations": 4}}))
    loss = QuadraticLoss(RunContext.create("cpu", "float64", 0))  # written against the interface only
    with pytest.raises(ConfigError, match="levenberg_marquardt needs the residual vector of a PINN or operator "
                                          "loss; this run's loss \\(QuadraticLoss\\) has none"):
        Trainer(loss, lm.training, checkpointer=Checkpointer(tmp_path / "lm.pt"), stages=resolve_stages(lm),
                progress=False)


class QuadraticLoss(Loss):
    """L(θ) = mean((Aθ − b)²) + mean(θ²)/10, a ridge regression: its minimiser solves
    (AᵀA/n + I/(10 p)) θ = Aᵀb/n (Hoerl & Kennard, "Ridge regression", 1970)."""

    def __init__(self, ctx: RunContext, n: int = 40, p: int = 5):
        g = torch.Generator().manual_seed(3)
        self.ctx, self.model = ctx, nn.Linear(p, 1, bias=False).double()
        self.A, self.b = torch.randn(n, p, generator=g, dtype=torch.float64), torch.randn(n, generator=g,
                                                                                          dtype=torch.float64)
        self.weights = {"fit": 1.0, "ridge": 0.1}
        self.draws, self.points = 0, {}

    def term_losses(self) -> dict[str, torch.Tensor]:
        theta = self.model.weight.reshape(-1)
        return {"fit": torch.mean((self.A.to(theta.dtype) @ theta - self.b.to(theta.dtype)) ** 2),
                "ridge": torch.mean(theta ** 2)}

    def resample(self) -> None:
        self.draws += 1

    def set_dtype(self, dtype: torch.dtype) -> None:
        self.ctx.dtype = dtype

    def state(self) -> dict:
        return {"draws": self.draws}

    def load_state(self, state: Mapping) -> None:
        self.draws = state["draws"]


def test_a_loss_written_only_against_the_interface_trains_to_its_minimum(burgers_cfg, tmp_path):
    cfg = parse_config(_staged(burgers_cfg, {"adam": {"iterations": 20, "lr": 1e-2, "resample_every": 5},
                                             "lbfgs": {"iterations": 40, "chunk": 20, "resample_every": 0}}))
    loss = QuadraticLoss(RunContext.create("cpu", "float64", 0))
    t = Trainer(loss, cfg.training, checkpointer=Checkpointer(tmp_path / "q.pt"), stages=resolve_stages(cfg),
                progress=False)
    state = t.train()
    n, p = loss.A.shape
    theta = torch.linalg.solve(loss.A.T @ loss.A / n + 0.1 * torch.eye(p, dtype=torch.float64) / p,
                               loss.A.T @ loss.b / n)
    assert state.status == "completed" and loss.draws == 3  # resampled at Adam iterations 5, 10, 15
    torch.testing.assert_close(loss.model.weight.detach().reshape(-1), theta, rtol=1e-5, atol=1e-6)
    assert t.engine is None and t.snapshot()["engine"] is None  # no engine to record


def test_a_problem_declares_its_function_inputs(tmp_path):
    burgers = build_problem({"name": "burgers"})
    assert dict(burgers.functions) == {} and not burgers.is_operator
    operator = assemble(parse_config(tiny_operator(tmp_path))).problem
    assert list(operator.functions) == ["f"] and operator.is_operator
