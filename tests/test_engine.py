"""training.derivatives: every engine's losses and parameter gradients equal autograd's (float64), the fallbacks,
and exact resume with a non-default engine."""
from __future__ import annotations

import pytest
import torch

from conftest import interrupt_after_step as _interrupt_at
from pinnit import assemble, parse_config, resume
from pinnit.runs import run
from pinnit.geometry.regions import Region
from pinnit.problems.base import Term
from pinnit.derivatives import engine as engine_mod
from pinnit.derivatives.engine import LossEngine, resolve_engine

PROBLEMS = {
    "burgers": {"name": "burgers"},
    "black_scholes_hard": {"name": "black_scholes", "hard_constraints": True},
    "declared_heat_hard": {"name": "declared", "file": "problems/heat.yaml", "hard_constraints": True},
    "declared_advection_periodic": {"name": "declared", "file": "problems/advection.yaml"},
}


def _assembly(problem, engine="autograd"):
    return assemble(parse_config({
        "problem": problem, "network": {"width": 12, "depth": 3},
        "sampling": {"points": {}}, "output": {"plots": False, "progress": False},
        "training": {"dtype": "float64", "threads": 1, "derivatives": engine, "adam": {"iterations": 5},
                     "lbfgs": {"iterations": 0}}}))


def _losses_and_grads(loss):
    terms = loss.term_losses()
    grads = torch.autograd.grad(loss.total(terms), list(loss.model.parameters()))
    return {k: v.detach() for k, v in terms.items()}, grads


def _compare(a, engine):
    ref = _losses_and_grads(a.loss)
    a.loss.engine_name = engine
    got = _losses_and_grads(a.loss)
    assert a.loss.engine.active == engine and not a.loss.engine.notes
    for k, v in ref[0].items():
        torch.testing.assert_close(got[0][k], v, rtol=1e-10, atol=0, msg=k)
    for g, r in zip(got[1], ref[1]):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10 * float(r.abs().max()))
    return got


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_jets_engine_equals_autograd(name):
    a = _assembly(PROBLEMS[name])
    _compare(a, "jets")
    _compare(a, "jets")  # second call: the prepared plan, no rediscovery
    assert a.loss.engine.keys  # discovered per term


def test_compiled_jets_of_one_term_equal_autograd():
    """The quick check of ``compiled`` (one small term; the whole Burgers loss is the slow test below)."""
    a = _assembly(PROBLEMS["burgers"])
    pde = [t for t in a.loss.terms if t.name == "pde"]
    points = {"pde": a.loss.points["pde"][:64]}
    ref = LossEngine(a.problem, pde, a.model, "autograd")(points)["pde"]
    eng = LossEngine(a.problem, pde, a.model, "compiled", note=lambda m: None)
    got = eng(points)["pde"]
    assert eng.active == "compiled"
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=0)
    params = list(a.model.parameters())
    for g, r in zip(torch.autograd.grad(got, params), torch.autograd.grad(ref, params)):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10 * float(r.abs().max()))


@pytest.mark.slow
def test_compiled_engine_equals_autograd_and_compiles_once():
    from pinnit.runtime.torch_private import compiled_graph_count

    a = _assembly(PROBLEMS["burgers"])
    _compare(a, "compiled")
    graphs = compiled_graph_count()
    if graphs is None:
        pytest.skip("this torch has no dynamo graph counter")
    for _ in range(3):  # fresh points of the same shapes: no recompilation
        a.loss.resample()
        _losses_and_grads(a.loss)
    assert compiled_graph_count() == graphs
    assert a.loss.engine.active == "compiled"


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["compiled", "compiled_autograd"])
@pytest.mark.parametrize("name", ["black_scholes_hard", "declared_heat_hard"])
def test_compiled_engines_equal_autograd_with_hard_constraints(name, engine):
    """Both compile under an output transform: ``compiled`` differentiates it by its symbolic chain rule on the
    raw jets (no fallback to compiled_autograd any more)."""
    _compare(_assembly(PROBLEMS[name]), engine)  # asserts that `engine` ran, with no fallback note


def test_a_model_that_is_not_an_mlp_falls_back_once_with_a_note():
    a = _assembly(PROBLEMS["burgers"])
    ref = _losses_and_grads(a.loss)[0]
    notes = []
    eng = LossEngine(a.problem, a.loss.terms, torch.nn.Sequential(a.model), "jets", note=notes.append)
    out = eng(a.loss.points)
    assert eng.active == "autograd" and len(notes) == 1 and "not an MLP" in notes[0]
    for k in ref:
        torch.testing.assert_close(out[k].detach(), ref[k], rtol=1e-12, atol=0)


def test_only_a_transformed_net_is_split_into_mlp_and_transform():
    """The jets differentiate N of y = g(x, N(x)) only for a model that declares itself one (TransformedNet, as
    PinnModel): a module merely holding ``net`` and ``problem`` (here doubling the output) is not split, falls
    back to autograd, and its losses stay its own (4× the PinnModel's: the residual doubles)."""
    from pinnit.derivatives.engine import TransformedNet, split_model

    a = _assembly(PROBLEMS["black_scholes_hard"])
    net, transform = split_model(a.model)
    assert net is a.model.net and transform is not None and isinstance(a.model, TransformedNet)
    assert split_model(a.model.net) == (a.model.net, None)

    class Doubled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.net, self.problem, self.inner = inner.net, inner.problem, inner

        def forward(self, x):
            return 2 * self.inner(x)

    doubled = Doubled(a.model)
    assert split_model(doubled) is None
    notes = []
    out = LossEngine(a.problem, a.loss.terms, doubled, "jets", note=notes.append)(a.loss.points)
    ref = a.loss.engine.reference(a.loss.points)
    assert len(notes) == 1 and "not an MLP" in notes[0]
    pde = next(t.name for t in a.loss.terms if t.kind == "physics")
    torch.testing.assert_close(out[pde].detach(), 4 * ref[pde].detach(), rtol=1e-12, atol=0)


def test_a_third_derivative_falls_back_to_autograd():
    a = _assembly(PROBLEMS["burgers"])
    term = Term("third", "physics", Region(a.problem.domain), lambda f: f.d("u", "x", "x", "x"), points=10)
    notes = []
    eng = LossEngine(a.problem, [term], a.model, "jets", note=notes.append)
    out = eng({"third": a.loss.points["pde"][:10]})
    assert eng.active == "autograd" and "order 3" in notes[0] and out["third"] > 0


def test_a_compile_failure_falls_back_to_autograd(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C compiler")

    monkeypatch.setattr(engine_mod.torch, "compile", broken)
    a = _assembly(PROBLEMS["burgers"])
    ref = _losses_and_grads(a.loss)[0]
    notes = []
    eng = LossEngine(a.problem, a.loss.terms, a.model, "compiled", note=notes.append)
    out = eng(a.loss.points)
    assert eng.active == "autograd" and notes == ["training.derivatives: compiled → autograd (RuntimeError: no C compiler)"]
    assert all(torch.equal(out[k].detach(), ref[k]) for k in ref)
    eng(a.loss.points)
    assert len(notes) == 1  # noted once


def test_auto_compiles_only_long_runs():
    assert resolve_engine("auto", 50) == "autograd"
    assert resolve_engine("auto", 5000) == "compiled"  # falls back by itself where jets do not apply
    assert resolve_engine("auto", 999) == "autograd"
    assert resolve_engine("jets", 5) == "jets"


@pytest.mark.parametrize("engine", ["jets", "compiled"])  # compiled: the fused Adam step, then compiled jets
def test_resume_with_a_non_default_engine_is_exact(burgers_cfg, monkeypatch, tmp_path, engine):
    cfg = parse_config(burgers_cfg, [f"training.derivatives={engine}", "sampling.resample_every=25",
                                     "training.adam.iterations=40", "training.lbfgs.iterations=10"])
    reference = run(cfg, run_dir=tmp_path / "whole").metrics
    assert reference["engine"]["ran"] == engine and not reference["engine"]["notes"]  # the last stage: lbfgs
    _interrupt_at(monkeypatch, 30)
    assert run(cfg, run_dir=tmp_path / "cut").metrics["status"] == "interrupted (SIGINT)"
    resumed = resume(tmp_path / "cut").metrics
    assert resumed["final_loss"] == reference["final_loss"] and resumed["best_loss"] == reference["best_loss"]
    assert resumed["rel_l2_u"] == reference["rel_l2_u"]


def test_training_gets_the_configured_engine_and_one_off_assemblies_keep_autograd(burgers_cfg):
    from pinnit.runs.pipeline import assemble_for_training

    cfg = parse_config(burgers_cfg, ["training.derivatives=jets"])
    assert assemble_for_training(cfg).loss.engine_name == "jets"  # run and resume
    assert assemble(cfg).loss.engine_name == "autograd"  # e.g. pinnit diagnose: one evaluation, nothing to compile
    assert assemble_for_training(parse_config(burgers_cfg)).loss.engine_name == "autograd"  # auto, 80 steps: not worth compiling


def _jets_failing_at(monkeypatch, call: int) -> list[list[int]]:
    """Every jets loss that gets built raises on its ``call``-th evaluation (a fault after the first steps, so
    the engine falls back mid-run); returns one call counter per jets loss built."""
    real, built = LossEngine._jets_fn, []

    def jets_fn(self, net, transform, compiled):
        losses, calls = real(self, net, transform, compiled), [0]
        built.append(calls)

        def failing(points):
            calls[0] += 1
            if calls[0] == call:
                raise RuntimeError("injected fault")
            return losses(points)
        return failing

    monkeypatch.setattr(LossEngine, "_jets_fn", jets_fn)
    return built


def test_resume_after_a_mid_run_fallback_continues_on_the_fallback_engine(burgers_cfg, monkeypatch, tmp_path):
    """jets → autograd at step ~10; interrupted at 30, the resumed run stays on autograd (it neither plans again
    nor builds the jets) and ends exactly where the uninterrupted run ends."""
    built = _jets_failing_at(monkeypatch, 12)
    cfg = parse_config(burgers_cfg, ["training.derivatives=jets", "training.threads=1", "training.adam.iterations=40",
                                     "training.lbfgs.iterations=10"])
    reference = run(cfg, run_dir=tmp_path / "whole").metrics
    note = "training.derivatives: jets → autograd (RuntimeError after the first step: injected fault)"
    assert reference["engine"] == {"requested": "jets", "resolved": "jets", "ran": "autograd", "notes": [note]}
    _interrupt_at(monkeypatch, 30)
    assert run(cfg, run_dir=tmp_path / "cut").metrics["status"] == "interrupted (SIGINT)"
    snap = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert snap["engine"] == {"requested": "jets", "resolved": "jets", "active": "autograd", "notes": [note],
                              "ran": "autograd", "fused": False}
    built.clear()
    resumed = resume(tmp_path / "cut").metrics
    assert built == [] and resumed["engine"] == reference["engine"]
    assert resumed["final_loss"] == reference["final_loss"] and resumed["best_loss"] == reference["best_loss"]
    assert resumed["rel_l2_u"] == reference["rel_l2_u"]


def test_resume_keeps_the_engine_auto_resolved_to(burgers_cfg, tmp_path):
    """``auto`` depends on the thread count: a resumed run keeps what it resolved to when the run began."""
    from pinnit.runs.pipeline import assemble_for_training
    from pinnit.training import Checkpointer, Trainer
    from pinnit.training.stages import resolve_stages

    cfg = parse_config(burgers_cfg, ["training.threads=1"])
    a = assemble_for_training(cfg)
    assert a.loss.engine_name == "autograd"  # auto, 80 steps
    trainer = Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp_path / "c.pt"), stages=resolve_stages(cfg),
                      progress=False)
    snap = trainer.snapshot()
    snap["engine"] = {**snap["engine"], "resolved": "jets", "active": "jets"}
    trainer.resume(snap)
    assert a.loss.engine_name == "jets"
    trainer.step()
    assert trainer.engine == "jets" and not a.loss.engine.notes


def test_a_run_whose_adam_iterations_stayed_eager_resumes_eager(burgers_cfg, tmp_path, monkeypatch):
    """``compiled``, but torch.compile failed when the run began (e.g. no C compiler there): its Adam iterations
    ran eagerly on autograd. Resumed where compiling works, it stays so instead of trying a fused step."""
    from pinnit.training import Checkpointer, Trainer
    from pinnit.training import fused_adam as fused_adam_mod
    from pinnit.training.stages import resolve_stages

    cfg = parse_config(burgers_cfg, ["training.derivatives=compiled", "training.threads=1", "training.lbfgs.iterations=0"])

    def trainer():
        a = assemble(cfg)
        a.loss.engine_name = "compiled"
        a.loss.engine._note = lambda msg: None
        return Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp_path / "c.pt"), stages=resolve_stages(cfg),
                       progress=False, log_every=1)

    def broken(*args, **kwargs):
        raise RuntimeError("no C compiler")

    with monkeypatch.context() as m:
        m.setattr(torch, "compile", broken)
        first = trainer()
        for _ in range(3):
            first.step()
        snap = first.snapshot()
    assert snap["engine"]["active"] == "autograd" and snap["engine"]["fused"] is False
    assert len(snap["engine"]["notes"]) == 2  # the Adam step stays eager; the loss engine falls back
    tried = []
    monkeypatch.setattr(fused_adam_mod, "fused_adam_for", lambda *args: tried.append(args))
    second = trainer()
    second.resume(snap)
    second.step()
    first.step()
    assert tried == [] and second.engine == first.engine == "autograd"
    drop_time = lambda row: {k: v for k, v in row.items() if k != "time_s"}  # noqa: E731  (wall clocks differ)
    assert drop_time(second.state.history[-1]) == drop_time(first.state.history[-1])
    assert second.loss.engine.notes == first.loss.engine.notes
