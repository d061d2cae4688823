"""Private torch APIs live behind pinnit/runtime/torch_private.py alone, and a torch without them gives the documented
fallback: no flag → ``compiled_autograd`` falls back to autograd with one note; no counter → None."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from pinnit import assemble, parse_config
from pinnit.runtime import torch_private
from pinnit.derivatives.engine import LossEngine

PACKAGE = Path(torch_private.__file__).parent
PRIVATE = re.compile(r"\btorch\._[A-Za-z]")  # torch._dynamo, torch._inductor, torch._C, ...


def test_only_the_guarded_module_touches_private_torch():
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if PRIVATE.search(p.read_text()))
    assert users == ["torch_private.py"]


def test_with_this_torch_the_private_apis_are_found():
    assert torch_private.has_trace_autograd_ops()
    with torch_private.trace_autograd_ops():
        import torch._dynamo.config as dyn

        assert dyn.trace_autograd_ops is True
    assert dyn.trace_autograd_ops is False  # restored
    count = torch_private.compiled_graph_count()
    assert isinstance(count, int) and count >= 0


@pytest.fixture
def no_dynamo(monkeypatch):
    """As if this torch had no dynamo: importing its config or utils fails."""
    monkeypatch.setitem(sys.modules, torch_private.DYNAMO_CONFIG, None)
    monkeypatch.setitem(sys.modules, torch_private.DYNAMO_UTILS, None)


def test_without_dynamo_the_guards_answer_instead_of_raising(no_dynamo):
    assert torch_private.has_trace_autograd_ops() is False
    assert torch_private.compiled_graph_count() is None
    with pytest.raises(RuntimeError, match="this torch has no dynamo trace_autograd_ops"):
        torch_private.trace_autograd_ops()


def test_a_renamed_flag_is_not_found(monkeypatch):
    monkeypatch.setattr(torch_private, "TRACE_FLAG", "trace_autograd_ops_v2")
    assert torch_private.has_trace_autograd_ops() is False
    with pytest.raises(RuntimeError, match="no dynamo trace_autograd_ops_v2"):
        torch_private.trace_autograd_ops()


@pytest.mark.parametrize("requested", ["compiled_autograd", "compiled"])
def test_without_the_flag_the_engine_falls_back_to_autograd_with_one_note(no_dynamo, requested):
    # a hard-constrained problem whose transform offers no symbolic derivatives (every built-in transform is an
    # expression now, so Black–Scholes' is hidden here: the engine sees a Python-only transform)
    a = assemble(parse_config({
        "problem": {"name": "black_scholes", "boundary": "exact", "hard_constraints": True},
        "network": {"width": 8, "depth": 2},
        "sampling": {"points": {"pde": 64}}, "output": {"plots": False, "progress": False},
        "training": {"dtype": "float64", "threads": 1, "adam": {"iterations": 2}, "lbfgs": {"iterations": 0}}}))
    a.problem.transform_derivative = lambda field, wrt=(): None
    reference = {k: v.detach() for k, v in a.loss.term_losses().items()}  # autograd
    notes = []
    engine = LossEngine(a.problem, a.loss.terms, a.model, requested, note=notes.append)
    out = engine(a.loss.points)
    assert engine.active == "autograd" and len(notes) == 1, notes
    # compiled: a transform without symbolic derivatives rules out the compiled jets, and compiled_autograd is
    # not there to take over
    assert notes[0].startswith(f"training.derivatives: {requested} → autograd (")
    if requested == "compiled_autograd":
        assert notes[0].endswith("(this torch has no dynamo trace_autograd_ops)")
    else:
        assert "no symbolic derivatives" in notes[0]
    assert all(torch.equal(out[k].detach(), v) for k, v in reference.items())
