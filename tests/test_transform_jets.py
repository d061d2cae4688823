"""Output transforms as expressions (pinnit/problems/transform_expressions.py) and the forward jets through them
(pinnit/derivatives/jet_fields.py ``chain``): the built-in transforms equal their former Python formulas, the
transformed fields' derivatives from the raw jets equal nested autograd, the jets loss and its gradient equal
autograd's with no autograd call in the loss, and ``compiled`` under hard constraints takes the compiled jets and
the fused Adam step (no fallback) with the eager step's iterates. All float64."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from pinnit import assemble, parse_config
from pinnit.derivatives.fields import Fields
from pinnit.derivatives.jet_fields import JetFields, transform_chain
from pinnit.nn.mlp import build_mlp
from pinnit.problems import build_problem

NONLINEAR = {  # two fields, a transform non-linear in the raw outputs and mixing them (g_yy and cross terms)
    "name": "declared", "inputs": {"x": [0, 1], "t": [0, 1]}, "fields": ["u", "v"],
    "equations": ["u_t = v_xx + u*u_x", "v_t = u_xt"],
    "conditions": [{"name": "u0", "kind": "initial", "at": {"t": 0}, "field": "u", "value": "sin(x)"},
                   {"name": "v0", "kind": "initial", "at": {"t": 0}, "field": "v", "value": 0}],
    "output_transform": {"u": "sin(x) + t*u*exp(v)", "v": "t*tanh(v)*u + t**2*x"}, "satisfies": ["u0", "v0"]}
PROBLEMS = {
    "burgers": {"name": "burgers"},
    "black_scholes_call": {"name": "black_scholes"},
    "black_scholes_call_hard_initial": {"name": "black_scholes", "hard_initial": True},
    "black_scholes_put_hard_initial": {"name": "black_scholes", "option": "put", "hard_initial": True, "r": 0.08},
    "black_scholes_call_exact": {"name": "black_scholes", "boundary": "exact", "K": 0.4, "sigma": 0.3, "r": 0.03},
    "black_scholes_put_exact": {"name": "black_scholes", "option": "put", "boundary": "exact", "K": 0.8, "sigma": 0.5},
    "black_scholes_call_smoothed": {"name": "black_scholes", "hard_initial": "smoothed", "boundary": "exact"},
    "black_scholes_put_smoothed": {"name": "black_scholes", "option": "put", "hard_initial": "smoothed", "K": 0.7},
    "declared_heat": {"name": "declared", "file": "problems/heat.yaml"},
    "declared_nonlinear": NONLINEAR,
}


def _problem(name):
    return build_problem({**PROBLEMS[name], "hard_constraints": True})


def _points(problem, n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    lo, hi = (torch.tensor([problem.domain[k][i] for k in problem.inputs], dtype=torch.float64) for i in (0, 1))
    return lo + (hi - lo) * torch.rand(n, len(problem.inputs), dtype=torch.float64, generator=g)


def _net(problem, seed=1):
    box = problem.domain
    return build_mlp(len(problem.inputs), len(problem.outputs), [8, 8], "tanh", "xavier_normal",
                     torch.Generator().manual_seed(seed), lower=[box[k][0] for k in problem.inputs],
                     upper=[box[k][1] for k in problem.inputs]).double()


def _old_black_scholes(p, x, y):
    """The Python transform Black–Scholes had before it was written as an expression."""
    S, tau = x[:, :1], x[:, 1:2]
    g0, g1 = p.boundary_values(tau)
    w, bubble = S / p.S_max, S * (p.S_max - S)
    if not p.hard_initial:
        return (1 - w) * g0 + w * g1 + bubble * y
    z0, z1 = p.boundary_values(torch.zeros_like(tau))
    return p.payoff(S) + (1 - w) * (g0 - z0) + w * (g1 - z1) + tau * bubble * y


@pytest.mark.parametrize("option", ["call", "put"])
@pytest.mark.parametrize("hard_initial", [False, True])
def test_builtin_transforms_equal_their_python_formulas(option, hard_initial):
    bs = build_problem({"name": "black_scholes", "option": option, "hard_initial": hard_initial, "r": 0.07,
                        "K": 0.45, "S_max": 1.3, "hard_constraints": True})
    x = _points(bs, 400)
    y = torch.randn(400, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    got, want = bs.output_transform(x, y), _old_black_scholes(bs, x, y)
    assert got.shape == want.shape == (400, 1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)
    burgers = _problem("burgers")
    x = _points(burgers, 400)
    want = -torch.sin(math.pi * x[:, :1]) + x[:, 1:2] * (1 - x[:, :1] ** 2) * y
    torch.testing.assert_close(burgers.output_transform(x, y), want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("option", ["call", "put"])
@pytest.mark.parametrize("hard_initial", [False, True])
def test_black_scholes_exact_boundary_carries_the_far_price_and_its_time_derivative(option, hard_initial):
    """``boundary: exact``: the transform equals the former formula with the closed-form price on S = S_max, and
    its τ-derivatives there are the closed form's (they were 0 when that price came from numpy, detached)."""
    from pinnit.references.black_scholes import black_scholes_price

    par = {"K": 0.4, "sigma": 0.3, "r": 0.03}
    bs = build_problem({"name": "black_scholes", "option": option, "hard_initial": hard_initial,
                        "boundary": "exact", "hard_constraints": True, **par})
    x = _points(bs, 200)
    y = torch.randn(200, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(bs.output_transform(x, y), _old_black_scholes(bs, x, y), rtol=0, atol=1e-14)
    tau = torch.tensor([0.05, 0.3, 0.6, 1.0], dtype=torch.float64)
    far = torch.stack([torch.full_like(tau, bs.S_max), tau], 1)
    f = Fields(far, bs.inputs, bs.outputs, lambda q: bs.output_transform(q, torch.zeros(len(q), 1, dtype=q.dtype)))
    price = lambda t: black_scholes_price(bs.S_max, t, kind=option, **par)  # noqa: E731
    h, t = 1e-5, tau.numpy()
    torch.testing.assert_close(f["V"].reshape(-1), torch.as_tensor(price(t)), rtol=0, atol=1e-14)
    torch.testing.assert_close(f.d("V", "tau").reshape(-1), torch.as_tensor((price(t + h) - price(t - h)) / (2 * h)),
                               rtol=0, atol=1e-9)
    torch.testing.assert_close(f.d("V", "tau", "tau").reshape(-1),
                               torch.as_tensor((price(t + h) - 2 * price(t) + price(t - h)) / h**2), rtol=0, atol=2e-5)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_jets_through_the_transform_equal_nested_autograd(name):
    """u, every first and second derivative (pure and mixed), on f and on f.at(<input> = its upper bound)."""
    p = _problem(name)
    net, x = _net(p), _points(p)
    d = len(p.inputs)
    keys = [(u, idx) for u in p.outputs for k in (1, 2) for idx in itertools.combinations_with_replacement(range(d), k)]
    chain = transform_chain(p.transform_derivative, p.inputs, p.outputs, keys)
    assert chain is not None
    ref = Fields(x, p.inputs, p.outputs, lambda q: p.output_transform(q, net(q)))
    jet = JetFields(x, p.inputs, p.outputs, net, p.output_transform, keys, chain=chain)
    assert not jet.x.requires_grad  # the chain route: no graph to x
    first = p.inputs[0]
    at = {first: p.domain[first][1]}
    for f, g in ((jet, ref), (jet.at(**at), ref.at(**at))):
        for u in p.outputs:
            torch.testing.assert_close(f[u], g[u], rtol=1e-10, atol=1e-12, msg=u)
        for u, idx in keys:
            wrt = [p.inputs[i] for i in idx]
            torch.testing.assert_close(f.d(u, *wrt), g.d(u, *wrt), rtol=1e-10, atol=1e-10, msg=f"{name}: {u} {wrt}")
    only = JetFields(x, p.inputs, p.outputs, net, p.output_transform, (), chain={k: chain[k] for k in chain if not k[1]})
    torch.testing.assert_close(only.y, ref.y, rtol=1e-12, atol=1e-14)  # order 0: values only


def _assembly(problem, points):
    return assemble(parse_config({
        "problem": {**problem, "hard_constraints": True}, "network": {"width": 8, "depth": 2},
        "sampling": {"points": points},
        "output": {"plots": False, "progress": False},
        "training": {"dtype": "float64", "threads": 1, "adam": {"iterations": 5},
                     "lbfgs": {"iterations": 0}}}))


def _losses_and_grads(loss):
    terms = loss.term_losses()
    grads = torch.autograd.grad(loss.total(terms), list(loss.model.parameters()))
    return {k: v.detach() for k, v in terms.items()}, grads


@pytest.mark.parametrize("name, points", [("burgers", {"pde": 64}), ("black_scholes_call_hard_initial", {"pde": 64}),
                                          ("black_scholes_put_hard_initial", {"pde": 64}),
                                          ("declared_heat", {"insulated": 16})])
def test_jets_loss_and_gradient_equal_autograd_without_autograd_in_the_loss(name, points, monkeypatch):
    a = _assembly(PROBLEMS[name], points)
    ref = _losses_and_grads(a.loss)
    a.loss.engine_name = "jets"
    a.loss.term_losses()  # the first call: discovery (autograd) and the check against it
    real_grad = torch.autograd.grad

    def no_nested_autograd(*args, **kwargs):
        raise AssertionError("autograd inside the jets loss")

    with monkeypatch.context() as m:  # the Taylor route (nested autograd of the transform) would fail here
        m.setattr(torch.autograd, "grad", no_nested_autograd)
        terms = a.loss.term_losses()
    grads = real_grad(a.loss.total(terms), list(a.loss.model.parameters()))
    assert a.loss.engine.active == "jets" and not a.loss.engine.notes
    for k, v in ref[0].items():
        torch.testing.assert_close(terms[k].detach(), v, rtol=1e-10, atol=0, msg=k)
    for g, r in zip(grads, ref[1]):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10 * float(r.abs().max()))


def test_compiled_burgers_with_hard_constraints_takes_the_fused_adam_step(tmp_path):
    """No fallback: the compiled jets and the fused Adam step run, and 4 iterations end on the eager
    autograd + torch Adam weights to 1e-10 (compiling takes a minute or more on a busy machine)."""
    from pinnit.training import Checkpointer, Trainer
    from pinnit.training.stages import resolve_stages

    trainers = {}
    for engine in ("autograd", "compiled"):
        cfg = parse_config({
            "problem": {"name": "burgers", "hard_constraints": True},
            "network": {"width": 8, "depth": 2, "activation": "tanh", "initializer": "xavier_normal"},
            "sampling": {"points": {"pde": 64}}, "output": {"plots": False, "progress": False},
            "training": {"dtype": "float64", "seed": 0, "threads": 1, "derivatives": engine,
                         "stages": {"adam": {"iterations": 4, "lr": 1e-2}}}})
        a = assemble(cfg)
        a.loss.engine_name = engine
        notes = []
        a.loss.engine._note = notes.append
        t = Trainer(a.loss, cfg.training, checkpointer=Checkpointer(tmp_path / f"{engine}.pt"),
                    stages=resolve_stages(cfg), progress=False, log_every=1)
        for _ in range(4):
            t.step()
        trainers[engine] = (t, notes)
    (eager, _), (fused, notes) = trainers["autograd"], trainers["compiled"]
    assert notes == [] and fused.loss.engine.plan(fused.loss.points) == "compiled"  # the plan the fused step took
    assert fused.engine == "compiled (fused Adam step)" and eager.engine == "autograd"
    assert fused.snapshot()["engine"]["fused"] is True
    for e, f in zip(eager.state.history, fused.state.history):
        assert f["loss_total"] == pytest.approx(e["loss_total"], rel=1e-10)
    for (name, p), q in zip(eager.model.named_parameters(), fused.model.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-10, atol=1e-12, msg=name)
