"""Activations: registry, formulas, derivatives against finite differences, and the critical scale ω."""
from __future__ import annotations

import math

import pytest
import torch

from pinnit.core.errors import ConfigError
from pinnit.nn.activations import ACTIVATIONS, OddSigmoid, build_activation

ODD_SIGMOIDS = ["tanh", "erf", "arctan", "gd", "softsign_1", "softsign_2", "softsign", "sum"]
STANDARD = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "softplus", "elu", "celu", "selu", "gelu",
            "relu6", "log_sigmoid", "softmin", "softmax", "log_softmax", "sin"]
#: Points where an activation (at default parameters) is not differentiable.
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "prelu": [0.0], "selu": [0.0], "relu6": [0.0, 6.0], "repu": [0.0],
         "mrepu": [-1.0]}


def test_registry_holds_the_catalogue():
    expected = set(STANDARD) | set(ODD_SIGMOIDS) | {"repu", "mrepu"}
    assert expected <= set(ACTIVATIONS)
    for name in expected:
        assert ACTIVATIONS.describe()[name], f"{name} has no one-line description"


def _points(name: str) -> torch.Tensor:
    x = torch.linspace(-7.5, 7.5, 61, dtype=torch.float64)
    keep = torch.ones_like(x, dtype=torch.bool)
    for kink in KINKS.get(name, []):
        keep &= (x - kink).abs() > 1e-2
    return x[keep]


@pytest.mark.parametrize("spec", sorted(ACTIVATIONS) + [
    {"name": "tanh", "a": 2.0, "b": 0.3}, {"name": "softsign", "k": 3.0}, {"name": "erf", "b": 2.0, "trainable": True},
    {"name": "repu", "p": 1}, {"name": "repu", "p": 3}, {"name": "mrepu", "p": 1}, {"name": "mrepu", "p": 3},
    {"name": "gelu", "approximate": "tanh"}, {"name": "celu", "alpha": 0.5}, {"name": "softplus", "beta": 2.0}])
def test_derivative_matches_central_differences(spec):
    act = build_activation(spec)
    name = spec if isinstance(spec, str) else spec["name"]
    x = _points(name)
    if act.family == "normalizing":
        x = x[:30].reshape(5, 6) / 3  # rows of a batch: the map is not element-wise
    assert torch.autograd.gradcheck(act, (x.requires_grad_(),), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name, reference", [
    ("tanh", torch.tanh),
    ("erf", torch.erf),
    ("arctan", torch.atan),
    ("gd", lambda x: torch.atan(torch.sinh(x))),
    ("softsign_1", lambda x: x / (1 + x.abs())),
    ("softsign_2", lambda x: x / torch.sqrt(1 + x**2)),
    ("sigmoid", lambda x: 1 / (1 + torch.exp(-x))),
    ("log_sigmoid", lambda x: -torch.log1p(torch.exp(-x))),
    ("relu6", lambda x: x.clamp(0, 6)),
    ("leaky_relu", lambda x: torch.where(x >= 0, x, 0.01 * x)),
    ("prelu", lambda x: torch.where(x >= 0, x, 0.25 * x)),
    ("elu", lambda x: torch.where(x > 0, x, torch.exp(x) - 1)),
    ("gelu", lambda x: x * (1 + torch.erf(x / math.sqrt(2))) / 2),
    ("sin", lambda x: torch.sin(30 * x)),
    ("repu", lambda x: x.clamp(min=0) ** 2),
    ("mrepu", lambda x: x * (x + 1).clamp(min=0) ** 2),
])
def test_formula(name, reference):
    x = torch.linspace(-8, 8, 101, dtype=torch.float64)
    torch.testing.assert_close(build_activation(name)(x), reference(x), rtol=1e-12, atol=1e-14)


def test_softmax_family_normalises_over_dim():
    x = torch.randn(4, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(build_activation("softmax")(x).sum(-1), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(build_activation("softmin")(x), build_activation("softmax")(-x))
    torch.testing.assert_close(build_activation("log_softmax")(x).exp(), build_activation("softmax")(x))
    by_column = build_activation({"name": "softmax", "dim": 0})(x)
    torch.testing.assert_close(by_column.sum(0), torch.ones(7, dtype=torch.float64))


def test_softsign_k_general_form_and_no_overflow():
    x = torch.tensor([-1e300, -3.0, -0.5, 0.0, 0.7, 2.0, 1e300], dtype=torch.float64)
    for k in (1.0, 2.0, 3.5):
        y = build_activation({"name": "softsign", "k": k})(x)
        assert torch.isfinite(y).all()
        finite = x.abs() < 1e10
        torch.testing.assert_close(y[finite], x[finite] / (1 + x[finite].abs() ** k) ** (1 / k), rtol=1e-13, atol=0)
        torch.testing.assert_close(y[~finite], torch.sign(x[~finite]))
    torch.testing.assert_close(build_activation({"name": "softsign", "k": 2.0})(x), build_activation("softsign_2")(x))


@pytest.mark.parametrize("name, omega", [("tanh", 1.0), ("erf", math.sqrt(math.pi) / 2), ("arctan", 1.0), ("gd", 1.0),
                                         ("softsign_1", 1.0), ("softsign_2", 1.0), ("softsign", 1.0)])
def test_omega_table(name, omega):
    act = build_activation(name)
    assert act.family == "odd_sigmoid"
    assert act.omega == pytest.approx(omega, rel=1e-14)
    # the closed form agrees with autograd through the forward pass (base class method)
    assert 1 / autograd_slope(act) == pytest.approx(omega, rel=1e-12)


def autograd_slope(act) -> float:
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(act(x).sum(), x)
    return float(g)


@pytest.mark.parametrize("name", ["tanh", "erf", "arctan", "gd", "softsign_1", "softsign_2"])
@pytest.mark.parametrize("a, b", [(0.1, 1.0), (2.0, 0.5), (1e10, 1.0), (1.0, 1e-3)])
def test_scaled_omega(name, a, b):
    base = build_activation(name)
    scaled = build_activation({"name": name, "a": a, "b": b})
    assert scaled.omega == pytest.approx(1 / (a * b * base.slope_at_zero()), rel=1e-13)
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    torch.testing.assert_close(scaled(x), a * base(b * x))


def test_sum_rule_and_seed_equation_1():
    terms = [{"name": "tanh", "b": 10}, {"name": "erf", "b": 1000, "c": 0.5}, {"name": "softsign_1", "b": 10},
             {"name": "gd", "b": 1, "c": 2.0}]
    act = build_activation({"name": "sum", "terms": terms})
    parts = [build_activation({k: v for k, v in t.items() if k != "c"}) for t in terms]
    cs = [t.get("c", 1.0) for t in terms]
    assert 1 / act.omega == pytest.approx(sum(c / f.omega for c, f in zip(cs, parts)), rel=1e-13)
    # Lee 2026, Eq. (1): ω = 1/(a + 2b/√π + c + d) for c_j = 1
    eq1 = build_activation({"name": "sum", "terms": [{"name": "tanh", "b": 10}, {"name": "erf", "b": 1000},
                                                     {"name": "softsign_1", "b": 10}, {"name": "gd", "b": 1}]})
    assert eq1.omega == pytest.approx(1 / (10 + 2 * 1000 / math.sqrt(math.pi) + 10 + 1), rel=1e-13)
    assert 1 / autograd_slope(act) == pytest.approx(act.omega, rel=1e-10)
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    torch.testing.assert_close(act(x), sum(c * f(x) for c, f in zip(cs, parts)))
    assert build_activation("sum").omega == pytest.approx(0.5)  # default softsign_1 + softsign_2


@pytest.mark.parametrize("spec, path", [
    ({"name": "tanh", "a": 0.0}, "a"), ({"name": "erf", "b": -1.0}, "b"), ({"name": "softsign", "k": 0.5}, "k"),
    ({"name": "sum", "terms": [{"name": "relu"}]}, "terms[0].name"),
    ({"name": "sum", "terms": [{"name": "tanh", "c": -1}]}, "terms[0].c"),
    ({"name": "sum", "terms": [{"name": "tanh", "c": 0}]}, "terms"), ({"name": "repu", "p": 0}, "p"),
    ({"name": "gelu", "approximate": "exact"}, "approximate")])
def test_invalid_parameters_name_the_key(spec, path):
    with pytest.raises(ConfigError) as err:
        build_activation(spec)
    assert path in str(err.value)


def test_trainable_scales_are_log_parameters_with_exact_gradients():
    act = build_activation({"name": "tanh", "a": 1e10, "b": 2e-10, "trainable": True})
    assert isinstance(act, OddSigmoid)
    params = dict(act.named_parameters())
    assert set(params) == {"log_a", "log_b"} and all(float(p.detach()) == 0 for p in params.values())
    assert act.omega == pytest.approx(0.5, rel=1e-13)
    x = torch.linspace(-1e9, 5e9, 7, dtype=torch.float64)
    act(x).sum().backward()
    with torch.no_grad():
        for name in ("log_a", "log_b"):
            p, h = params[name], 1e-6
            p += h
            up = act(x).sum()
            p -= 2 * h
            down = act(x).sum()
            p += h
            assert float(p.grad) == pytest.approx(float((up - down) / (2 * h)), rel=1e-6)
        params["log_a"] += math.log(3.0)
    assert act.omega == pytest.approx(0.5 / 3, rel=1e-12)  # ω follows the trained scale


def test_non_trainable_has_no_parameters_and_prelu_learns():
    assert not list(build_activation("tanh").parameters())
    prelu = build_activation({"name": "prelu", "init": 0.1})
    (alpha,) = prelu.parameters()
    assert float(alpha.detach()) == pytest.approx(0.1) and alpha.requires_grad


@pytest.mark.parametrize("name, bounds", [("tanh", (-0.8, 0.8)), ("relu", (0.2, 0.8)), ("sigmoid", (0.1, 0.9)),
                                          ("mrepu", (0.2, 0.8)), ("sin", (-0.8, 0.8))])
def test_default_kgi_bounds(name, bounds):
    assert build_activation(name).default_bounds() == bounds


def test_siren_slope_and_relu_family():
    assert build_activation({"name": "sin", "w0": 5.0}).omega == pytest.approx(0.2)
    assert build_activation("sin").family == "periodic"
    assert all(build_activation(n).family == "relu_like" for n in ("relu", "repu", "mrepu", "gelu", "elu"))
    assert math.isinf(build_activation("relu").omega)
