"""Function inputs in declarations: problems/stokes.yaml, the hard walls, the lid term, one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pinnit.derivatives.cartesian_fields import CartesianFields
from pinnit.config.schema import NetworkConfig
from pinnit.core.errors import ConfigError
from pinnit.nn.deeponet import build_deeponet
from pinnit.operators.loss import OperatorModel
from pinnit.problems import build_problem

STOKES = {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True}


def _stokes(**inline):
    return build_problem({**STOKES, **inline})


def _model(problem):
    cfg = NetworkConfig(arch="deeponet", width=12, depth=2, activation="tanh")
    net = build_deeponet(cfg, 101, 2, 3, torch.Generator().manual_seed(0), [0, 0], [1, 1])
    return OperatorModel(net, problem)


def test_stokes_declaration():
    p = _stokes()
    assert p.inputs == ("x", "y") and p.outputs == ("u", "v", "p")
    f = p.functions["f"]
    assert f.argument == "x" and f.train == 1000 and f.test == 200
    assert np.allclose(f.sensors, np.linspace(0, 1, 101))
    assert (f.law.length_scale, f.law.variance) == (0.2, 1.0)
    assert p.solver == ("stokes", {"mu": 0.01, "gauge": "corner"})
    assert [t.name for t in p.loss_terms()] == ["momentum_x", "momentum_y", "mass", "lid"]
    assert set(p.hard_terms) == {"lid_v", "walls_u", "walls_v"}
    assert p.gauge == ("p", (0.0, 0.0))  # p pinned at one point, not along the bottom wall


@pytest.mark.parametrize("mode", ["zcs", "autograd", "jets"])
def test_walls_exact_and_lid_residual(mode):
    """With the output transform the walls hold exactly for any network; the lid residual is
    u(x, 1) − (1 + f(x)/10)·x(1−x) with f cubic-interpolated from the sensors."""
    p = _stokes()
    model = _model(p).double()
    F = torch.as_tensor(np.random.default_rng(0).standard_normal((3, 101)))
    f = p.functions["f"]
    terms = {t.name: t for t in p.terms()}
    rng = np.random.default_rng(1)
    for name in ("walls_u", "walls_v", "lid_v"):
        x = torch.as_tensor(np.concatenate([rng.random((20, 1)), rng.random((20, 1))], 1))
        for face in terms[name].region.faces:
            pts = x.clone()
            for k, v in face.items():
                pts[:, p.inputs.index(k)] = v
            env = CartesianFields.create(mode, pts, p.inputs, p.outputs, _evaluate(model, F, mode), batch=3)
            assert float(terms[name].residual(env).detach().abs().max()) < 1e-14, name
    x = torch.as_tensor(np.stack([rng.random(15), np.ones(15)], 1))
    values = lambda name, pts: F @ f.interpolator(pts[:, 0]).T  # noqa: E731
    env = CartesianFields.create(mode, x, p.inputs, p.outputs, _evaluate(model, F, mode), values, batch=3)
    lid = terms["lid"].residual(env)
    xs = x[:, 0].numpy()
    expected = model(F, x)[..., 0].detach().numpy() - (1 + f.evaluate(F.numpy(), xs) / 10) * xs * (1 - xs)
    assert np.allclose(lid.detach().numpy(), expected, atol=1e-12)


def _evaluate(model, F, mode):
    return (lambda X: model.jet(F, X)) if mode == "jets" else (lambda X: model(F, X))


def test_momentum_residual_is_the_stokes_operator():
    p = _stokes()
    model = _model(p).double()
    F = torch.randn(2, 101, dtype=torch.float64)
    x = torch.rand(9, 2, dtype=torch.float64)
    env = CartesianFields.create("zcs", x, p.inputs, p.outputs, lambda X: model(F, X))
    r = {t.name: t.residual(env) for t in p.loss_terms() if t.kind == "physics"}
    torch.testing.assert_close(r["momentum_x"], 0.01 * (env["u_xx"] + env["u_yy"]) - env["p_x"])
    torch.testing.assert_close(r["mass"], env["u_x"] + env["v_y"])


@pytest.mark.parametrize("inline, path, message", [
    ({"functions": {"f": {"argument": "z"}}}, "problem.functions.f.argument", "'z' is not an input"),
    ({"functions": {"f": {"argument": "x", "law": {"kernal": "rbf"}}}}, "problem.functions.f.law.kernal",
     "unknown key 'kernal' (did you mean 'kernel'?)"),
    ({"functions": {"f": {"argument": "x", "law": {"kind": "brownian"}}}}, "problem.functions.f.law.kind",
     "valid: grf"),
    ({"functions": {"f": {"argument": "x", "sensors": {"count": 2}}}}, "problem.functions.f.sensors.count", ""),
    ({"functions": {"f": {"argument": "x", "sensors": {"range": [1, 0]}}}}, "problem.functions.f.sensors.range",
     "empty interval"),
    ({"functions": {"mu": {"argument": "x"}}}, "problem.functions.mu", "already declared as a parameter"),
    ({"equations": {"momentum_x": "mu*(u_xx + u_yy) - p_x + diff(f, x)"}}, "problem.equations.momentum_x",
     "cannot differentiate function input 'f' by 'x'"),
    ({"solver": {"name": "stoke"}}, "problem.solver.name", "did you mean 'stokes'"),
    ({"solver": {"name": "stokes", "nu": 1}}, "problem.solver.nu", "unknown parameter"),
])
def test_declaration_errors_name_the_key(inline, path, message):
    with pytest.raises(ConfigError) as err:
        _stokes(**inline)
    assert err.value.path == path
    assert message in str(err.value) and "\n" not in str(err.value)


def test_function_in_a_value_without_function_inputs_is_unknown():
    with pytest.raises(ConfigError, match="unknown symbol 'f'"):
        build_problem({"name": "declared", "inputs": {"x": [0, 1]}, "fields": ["u"], "equations": ["u_xx"],
                       "conditions": [{"kind": "dirichlet", "at": "x", "value": "f"}]})
