"""The fused Adam step (``training.engine: compiled``): the same iterations as eager autograd + torch's Adam to
1e-10 in float64 (losses, weights, moments, best weights) and to 1e-5 through a scheduled float32 stage and a
switch to a float64 stage, the undo on a non-finite loss, and the fallbacks to the eager step (exact resume:
tests/test_engine.py)."""
from __future__ import annotations

import io

import pytest
import torch

from pinnit import assemble, parse_config
from pinnit.training import Checkpointer, EagerStep, FusedStep, Trainer
from pinnit.derivatives import engine as engine_mod
from pinnit.training.stages import resolve_stages
from pinnit.training.trainer import Diverged


FUSED = "compiled (fused Adam step)"


def _trainer(cfg_dict, tmp_path, engine: str, name: str, notes: list | None = None, **stage):
    cfg = parse_config({**cfg_dict, "training": {
        **{k: v for k, v in cfg_dict["training"].items() if k not in ("adam", "lbfgs")}, "derivatives": engine,
        "stages": {"adam": {"iterations": 12, "lr": 1e-2, **stage}}}})
    a = assemble(cfg)
    a.loss.engine_name = engine
    if notes is not None:
        a.loss.engine._note = notes.append
    return Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp_path / f"{name}.pt"),
                   stages=resolve_stages(cfg), progress=False, log_every=1)


@pytest.mark.parametrize("form", ["mse", "log"])
def test_fused_iterations_equal_eager_adam_in_float64(burgers_cfg, tmp_path, form):
    eager = _trainer(burgers_cfg, tmp_path, "autograd", "eager", loss_form=form)
    fused = _trainer(burgers_cfg, tmp_path, "compiled", "fused", loss_form=form)
    for t in (eager, fused):
        for _ in range(12):
            t.step()
    assert fused.engine == FUSED and eager.engine == "autograd"
    rows = [(e["loss_total"], f["loss_total"]) for e, f in zip(eager.state.history, fused.state.history)]
    assert len(rows) == 12 and rows[-1][0] < rows[0][0]  # it trains
    for e, f in rows:
        assert f == pytest.approx(e, rel=1e-10)
    for (name, p), q in zip(eager.model.named_parameters(), fused.model.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-10, atol=1e-12, msg=name)
    es, fs = eager.optimizer.state_dict()["state"], fused.optimizer.state_dict()["state"]
    for i in es:
        assert float(fs[i]["step"]) == float(es[i]["step"]) == 12
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(fs[i][key], es[i][key], rtol=1e-9, atol=1e-15)
    # the best weights are those *before* the best step's update, as eagerly
    assert fused.state.best_step == eager.state.best_step and fused.state.best_loss == pytest.approx(
        eager.state.best_loss, rel=1e-10)
    for k, v in eager.best_weights.items():
        torch.testing.assert_close(fused.best_weights[k], v, rtol=1e-10, atol=1e-12, msg=k)
    fused.model.load_state_dict(fused.best_weights)
    with torch.enable_grad():
        best = fused.loss.total(fused.loss.engine.reference(fused.loss.points))
    assert float(best.detach()) == pytest.approx(fused.state.best_loss, rel=1e-10)


def test_the_model_parameters_and_adam_state_are_views_of_the_fused_buffers(burgers_cfg, tmp_path):
    t = _trainer(burgers_cfg, tmp_path, "compiled", "views")
    t.step()
    assert isinstance(t.current_step, FusedStep)
    fused = t.current_step.fused_adam
    before = [p.detach().clone() for p in t.model.parameters()]
    t.step()  # the update is visible through the model's own parameters and the optimizer's state
    assert all(not torch.equal(p, b) for p, b in zip(t.model.parameters(), before))
    first = next(iter(t.model.parameters()))
    assert first.data_ptr() == fused.flat.data_ptr()
    assert t.optimizer.state[first]["exp_avg"].data_ptr() == fused.m.data_ptr()


def test_a_non_finite_loss_undoes_the_update_and_names_the_term(burgers_cfg, tmp_path):
    t = _trainer(burgers_cfg, tmp_path, "compiled", "nan")
    t.step()
    assert t.engine == FUSED
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    t.loss.points["pde"][0, 0] = float("nan")
    with pytest.raises(Diverged) as err:
        t.step()
    assert err.value.term == "pde"
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_rar_d_and_other_optimizers_keep_the_eager_step(burgers_cfg, tmp_path):
    notes = []
    rar = dict(burgers_cfg, sampling={**burgers_cfg["sampling"], "adaptive": {"method": "rar_d", "add": 8}})
    t = _trainer(rar, tmp_path, "compiled", "rar", notes)
    t.step()
    assert t.engine != FUSED and any("RAR-D" in n for n in notes)
    sgd = _trainer(burgers_cfg, tmp_path, "compiled", "sgd", optimizer="sgd")
    sgd.step()
    assert isinstance(sgd.current_step, EagerStep) and sgd.engine == "compiled"


def test_a_fused_adam_that_disagrees_with_autograd_is_not_used(burgers_cfg, tmp_path, monkeypatch):
    real = engine_mod.LossEngine.jets_losses

    def doubled(self):
        losses = real(self)
        return lambda points: {k: 2 * v for k, v in losses(points).items()}

    monkeypatch.setattr(engine_mod.LossEngine, "jets_losses", doubled)
    notes = []
    t = _trainer(burgers_cfg, tmp_path, "compiled", "wrong", notes)
    eager = _trainer(burgers_cfg, tmp_path, "autograd", "right")
    for tr in (t, eager):
        tr.step()
    assert isinstance(t.current_step, EagerStep) and any("differs from autograd" in n for n in notes)
    assert t.state.history[-1]["loss_total"] == pytest.approx(eager.state.history[-1]["loss_total"], rel=1e-10)


def test_without_torch_compile_the_iterations_stay_eager(burgers_cfg, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C compiler")

    monkeypatch.setattr(torch, "compile", broken)
    notes = []
    t = _trainer(burgers_cfg, tmp_path, "compiled", "nocc", notes)
    eager = _trainer(burgers_cfg, tmp_path, "autograd", "cc")
    for tr in (t, eager):
        tr.step()
        tr.step()
    assert isinstance(t.current_step, EagerStep) and t.engine == "autograd"
    assert any("stay eager (RuntimeError: no C compiler)" in n for n in notes)
    assert t.state.history[-1]["loss_total"] == eager.state.history[-1]["loss_total"]


def test_a_checkpoint_of_fused_adam_resumes_eagerly_to_the_same_iterations(burgers_cfg, tmp_path):
    fused = _trainer(burgers_cfg, tmp_path, "compiled", "f12")
    for _ in range(6):
        fused.step()
    buffer = io.BytesIO()
    torch.save(fused.snapshot(), buffer)  # as the checkpoint file holds it (the live state holds views)
    buffer.seek(0)
    snap = torch.load(buffer, weights_only=False)
    steps = [s["step"] for s in snap["optimizer"]["state"].values()]
    assert len({id(s) for s in steps}) == len(steps) and {float(s) for s in steps} == {6.0}  # one per parameter
    eager = _trainer(burgers_cfg, tmp_path, "autograd", "e12")
    eager.restore(snap)
    for _ in range(6):
        fused.step()
        eager.step()
    assert eager.engine == "autograd" and fused.engine == FUSED
    for e, f in zip(eager.state.history[-6:], fused.state.history[-6:]):
        assert e["step"] == f["step"] and e["loss_total"] == pytest.approx(f["loss_total"], rel=1e-10)
    for p, q in zip(eager.model.parameters(), fused.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_float32_scheduled_stage_then_a_float64_stage_follow_eager_adam(burgers_cfg, tmp_path, monkeypatch):
    """The whole pipeline through ``Trainer.train()``: 40 fused float32 Adam iterations under an exponential
    schedule (lr = 1e-2 · 0.5^{(k−1)/20} at iteration k), then a switch to a float64 Adam stage (lr 2e-3, fresh
    moments), against eager autograd + torch.optim.Adam. Measured: the losses agree to 3.5e-7 relative at every
    one of the 50 iterations and the final weights to 1.2e-7 (float32 round-off carried into float64); the bound
    is 1e-5. Every iteration ran fused, in the stage's dtype and with the scheduled lr."""
    from pinnit.training import trainer as trainer_mod

    stages = {"warm": {"optimizer": "adam", "iterations": 40, "lr": 1e-2, "dtype": "float32",
                       "schedule": {"kind": "exponential", "decay_rate": 0.5, "decay_steps": 20}},
              "fine": {"optimizer": "adam", "iterations": 10, "lr": 2e-3, "dtype": "float64"}}
    calls = []
    real_call = trainer_mod.FusedAdam.__call__

    def spy(self, lr):
        calls.append((self.flat.dtype, lr))
        return real_call(self, lr)

    monkeypatch.setattr(trainer_mod.FusedAdam, "__call__", spy)
    runs = {}
    for engine in ("autograd", "compiled"):
        cfg = parse_config({**burgers_cfg, "training": {"dtype": "float32", "seed": 0, "derivatives": engine,
                                                        "stages": stages}})
        a = assemble(cfg)
        a.loss.engine_name = engine
        t = Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp_path / f"{engine}.pt"),
                    stages=resolve_stages(cfg), progress=False, log_every=1)
        state = t.train()
        assert state.status == "completed"
        runs[engine] = (t, [r for r in state.history if "loss_total" in r])
    (eager, e_rows), (fused, f_rows) = runs["autograd"], runs["compiled"]
    expected = [(torch.float32, 1e-2 * 0.5 ** (k / 20)) for k in range(40)] + [(torch.float64, 2e-3)] * 10
    assert [d for d, _ in calls] == [d for d, _ in expected]
    assert [lr for _, lr in calls] == pytest.approx([lr for _, lr in expected], rel=1e-12)
    assert fused.engine == FUSED and eager.engine == "autograd"
    assert [(r["step"], r["stage"]) for r in f_rows] == [(r["step"], r["stage"]) for r in e_rows] == [
        (k, "warm" if k <= 40 else "fine") for k in range(1, 51)]
    assert [r["lr"] for r in f_rows] == pytest.approx([lr for _, lr in expected], rel=1e-12)
    assert e_rows[-1]["loss_total"] < e_rows[0]["loss_total"] / 1.5  # it trains (measured: 0.670 → 0.351)
    for e, f in zip(e_rows, f_rows):
        assert f["loss_total"] == pytest.approx(e["loss_total"], rel=1e-5), e["step"]
    for (name, p), q in zip(eager.model.named_parameters(), fused.model.parameters()):
        assert q.dtype == p.dtype == torch.float64
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-5, msg=name)
    for state in (eager.optimizer.state_dict()["state"], fused.optimizer.state_dict()["state"]):
        assert {float(s["step"]) for s in state.values()} == {10.0}  # the float64 stage's own, fresh moments
