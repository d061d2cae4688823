"""The Stokes pressure gauge: p is pinned at one point (the corner (0, 0)) by the network and by the solver alike,
never along a whole wall, and the metric compares p up to a constant."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pinnit.derivatives.cartesian_fields import CartesianFields
from pinnit.core.errors import ConfigError
from pinnit.nn.deeponet import build_deeponet
from pinnit.operators.evaluation import field_errors, up_to_constant
from pinnit.operators.loss import OperatorModel
from pinnit.references.solvers import solve
from pinnit.problems import build_problem
from pinnit.references.stokes import solve_stokes_batch

STOKES = {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True}


def _stokes(**extra):
    return build_problem({**STOKES, **extra}, "problem")


def _model(problem):
    from pinnit.config.schema import NetworkConfig

    cfg = NetworkConfig(arch="deeponet", width=16, depth=2, layout="independent", activation="tanh")
    net = build_deeponet(cfg, 101, 2, 3, torch.Generator().manual_seed(3), [0, 0], [1, 1])
    return OperatorModel(net, problem).double()


@pytest.fixture(scope="module")
def references():
    F = np.random.default_rng(0).standard_normal((2, 101))
    return F, solve_stokes_batch(F, n=21, gauge="corner")


def test_the_metric_compares_p_up_to_a_constant(references):
    """On the solver's own solution, p + c scores 0 for every c; u + c does not (u is not up to a constant)."""
    _, sol = references
    problem = _stokes()
    constant = up_to_constant(problem)
    assert constant == ("p",)
    for b in range(2):
        ref = {k: sol[k][b] for k in "uvp"}
        for c in (0.0, 1e-3, -0.7, 25.0):
            errs = field_errors({**ref, "p": ref["p"] + c}, ref, constant)
            assert errs["rel_l2_p"] < 1e-11 and errs["rel_l2_mean"] < 1e-11, c  # rounding of p + c only
        assert field_errors({**ref, "p": ref["p"] + 0.01}, ref)["rel_l2_p"] > 0.1  # not blind without the gauge
        assert field_errors({**ref, "u": ref["u"] + 0.01}, ref, constant)["rel_l2_u"] > 0.1
        wrong = field_errors({**ref, "p": 1.1 * ref["p"] + 3.0}, ref, constant)["rel_l2_p"]
        assert wrong == pytest.approx(0.1, rel=1e-9)  # a scaled p is still wrong, by exactly its 10 %


def test_the_solver_and_the_network_pin_p_at_the_same_point(references):
    """The declaration's gauge point is where the solver's corner gauge is 0 and where the network's p is 0,
    exactly, for any network and every derivative mode; the bottom wall is not pinned (p(x, 0) varies)."""
    F, sol = references
    problem = _stokes()
    field, point = problem.gauge
    assert (field, point) == ("p", (0.0, 0.0)) and problem.solver == ("stokes", {"mu": 0.01, "gauge": "corner"})
    assert np.all(sol["p"][:, 0, 0] == 0.0)  # the solver: p(0, 0) = 0 in the gauge the declaration names
    assert np.ptp(sol["p"][:, :, 0], axis=1).min() > 1e-3  # a true solution is not constant along the bottom wall
    axes = {"x": np.linspace(0, 1, 21), "y": np.linspace(0, 1, 21)}
    function = problem.functions["f"]
    through = solve(problem.solver, F, function, axes)  # through the declared solver spec
    assert np.allclose(through["p"], sol["p"], atol=1e-12, rtol=0)
    model = _model(problem)
    Ft = torch.as_tensor(F)
    x0 = torch.tensor([point], dtype=torch.float64)
    assert torch.all(model(Ft, x0)[..., 2] == 0)
    bottom = torch.stack([torch.linspace(0, 1, 11, dtype=torch.float64), torch.zeros(11, dtype=torch.float64)], 1)
    assert float(model(Ft, bottom)[..., 2].detach().abs().max()) > 1e-3  # not p = N_p·y: free along the wall
    jet = model.jet(Ft, torch.cat([x0, bottom]))  # the jets (another evaluation order): 0 to rounding
    assert float(jet("p", ())[:, 0].detach().abs().max()) < 1e-14
    assert torch.allclose(jet("p", ()), model(Ft, torch.cat([x0, bottom]))[..., 2], atol=1e-13)


@pytest.mark.parametrize("mode", ["zcs", "autograd", "jets"])
def test_the_gauge_shifts_p_by_a_constant_and_keeps_its_derivatives(mode):
    """p − p(0, 0): the gauged and the free network differ by one constant per function, so p_x, p_y (and every
    loss term) are those of the free network."""
    gauged = _stokes()
    free = _stokes()
    free.gauge = None
    model = _model(gauged)
    free_model = OperatorModel(model.net, free)
    F = torch.as_tensor(np.random.default_rng(1).standard_normal((3, 101)))
    x = torch.as_tensor(np.random.default_rng(2).random((30, 2)))
    diff = (model(F, x) - free_model(F, x)).detach()
    assert torch.all(diff[..., :2] == 0)
    assert torch.allclose(diff[..., 2], diff[:, :1, 2].expand(-1, 30), atol=1e-14)
    assert float(diff[..., 2].abs().max()) > 1e-4
    grads = []
    for m in (model, free_model):
        evaluate = (lambda X, m=m: m.jet(F, X)) if mode == "jets" else (lambda X, m=m: m(F, X))
        env = CartesianFields.create(mode, x, gauged.inputs, gauged.outputs, evaluate, batch=3)
        grads.append(torch.stack([env.d("p", "x"), env.d("p", "y")]).detach())
    assert torch.allclose(grads[0], grads[1], atol=1e-12)


@pytest.mark.parametrize("gauge, message", [
    ({"field": "q", "at": {"x": 0, "y": 0}}, r"^problem.gauge.field: 'q' is not a field; fields: u, v, p$"),
    ({"field": "p", "at": {"x": 0}}, r"^problem.gauge.at: give one point: a value for every input \(missing y\)$"),
    ({"field": "p", "at": {"x": 0, "y": 2}}, r"^problem.gauge.at.y: 2.0 lies outside the domain \[0.0, 1.0\]$"),
    ({"field": "p", "at": {"x": 0, "y": 0, "z": 0}}, r"^problem.gauge.at.z: not an input"),
    ({"field": "p"}, r"^problem.gauge.at"),
])
def test_a_bad_gauge_is_one_line(gauge, message):
    from pathlib import Path

    from pinnit.core.yaml_io import read_yaml

    declaration = read_yaml(Path(__file__).resolve().parents[1] / "problems" / "stokes.yaml")
    with pytest.raises(ConfigError, match=message) as err:
        build_problem({"name": "declared", "hard_constraints": True, **declaration, "gauge": gauge}, "problem")
    assert "\n" not in str(err.value)


def test_a_gauge_needs_function_inputs():
    declaration = {"name": "declared", "inputs": {"x": [0, 1]}, "fields": ["u", "p"],
                   "equations": {"a": "u_xx - p_x", "b": "u_x + p"}, "gauge": {"field": "p", "at": {"x": 0}}}
    with pytest.raises(ConfigError, match=r"^problem.gauge: a gauge is applied by operator runs"):
        build_problem(declaration, "problem")


def test_figures_score_p_up_to_a_constant_and_name_each_fields_error(references):
    """fields_figure: p's error panel is the error after the best constant shift (0 for p + c); lids.png's
    columns give every field's error beside the mean, and its title says p is up to a constant."""
    from types import SimpleNamespace

    from pinnit.operators.evaluation import HELD_OUT
    from pinnit.operators.plots import fields_figure, lids_figure

    F, sol = references
    axes = {"x": sol["x"], "y": sol["y"]}
    ref = {k: sol[k][0] for k in "uvp"}
    fig = fields_figure(axes, {**ref, "p": ref["p"] + 0.5}, ref, constant=("p",))
    def p_error(fig) -> tuple[str, float]:
        (title,) = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("$p$: |error|")]
        return title, float(title.split("$L^2$ ")[1].rstrip(")"))

    title, rel = p_error(fig)
    assert title.startswith("$p$: |error| up to a constant (rel.") and rel < 1e-12
    title, rel = p_error(fields_figure(axes, {**ref, "p": ref["p"] + 0.5}, ref))
    assert "constant" not in title and rel > 1
    problem = _stokes()
    ev = SimpleNamespace(axes=axes, problem=problem, function=problem.functions["f"],
                         functions={HELD_OUT: F}, reference={HELD_OUT: {k: sol[k] for k in "uvp"}})
    errs = {"u": np.array([0.1, 0.2]), "v": np.array([0.3, 0.4]), "p": np.array([0.05, 0.9])}
    errs["mean"] = np.mean([errs[k] for k in "uvp"], axis=0)
    fig = lids_figure(ev, {HELD_OUT: {k: sol[k] for k in "uvp"}}, errs)
    assert fig.axes[0].get_title() == "best: f #0, rel. $L^2$ error 0.15\n($u$ 0.1, $v$ 0.3, $p$ 0.05)"
    assert "p$ up to a constant" in fig._suptitle.get_text()
