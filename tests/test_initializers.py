"""Initializer registry, classical schemes, SIREN, and every registered entry on small stacks."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pinnit.core.errors import ConfigError
from pinnit.nn.activations import build_activation
from pinnit.nn.initializers import INITIALIZERS, initialize, validate_initializer
from pinnit.nn.mlp import MLP

#: Modules of this package whose entries are checked exhaustively below.
OWN_MODULES = ("classical", "eoc", "kgi", "repu", "siren", "signal_preserving")
OWN = sorted(n for n in INITIALIZERS if INITIALIZERS.get(n).__module__.rsplit(".", 1)[-1] in OWN_MODULES)
ODD_SIGMOIDS = ["tanh", "erf", "arctan", "gd", "softsign_1", "softsign_2", {"name": "softsign", "k": 3},
                {"name": "tanh", "a": 1e10, "trainable": True}, {"name": "softsign_2", "a": 0.1},
                {"name": "sum", "terms": [{"name": "tanh", "b": 10}, {"name": "erf", "b": 1000},
                                          {"name": "softsign_1", "b": 10}, {"name": "gd"}]}]


def test_registered_names():
    assert set(OWN) == {"xavier_normal", "xavier_uniform", "he_normal", "he_uniform", "lecun_normal",
                        "lecun_uniform", "orthogonal", "eoc", "proposed", "tanh_init", "kgi", "repu_gaussian", "siren"}
    assert all(INITIALIZERS.describe()[n] for n in OWN)


def _state(spec, act_spec, seed):
    act = build_activation(act_spec)
    net = MLP(2, 1, [16, 16, 16], act)
    sample = torch.rand(64, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64) * 2 - 1
    initialize(net.layers, act, torch.Generator().manual_seed(seed), spec, sample=sample)
    x = torch.rand(32, 2, generator=torch.Generator().manual_seed(12), dtype=torch.float64) * 2 - 1
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, net(x).detach()


@pytest.mark.parametrize("name", OWN)
@pytest.mark.parametrize("act", ODD_SIGMOIDS, ids=str)
def test_every_initializer_on_every_odd_sigmoid(name, act):
    spec = {"name": name, "data_bounds": True} if name == "kgi" else name
    state, out = _state(spec, act, seed=0)
    assert torch.isfinite(out).all() and out.abs().max() > 0
    again, out_again = _state(spec, act, seed=0)
    assert all(torch.equal(state[k], again[k]) for k in state) and torch.equal(out, out_again)
    other, _ = _state(spec, act, seed=1)
    assert any(not torch.equal(state[k], other[k]) for k in state if k.endswith("weight"))


@pytest.mark.parametrize("name", OWN)
def test_global_rng_is_untouched(name):
    act = build_activation("tanh")
    layers = [nn.Linear(a, b, dtype=torch.float64) for a, b in [(2, 8), (8, 8), (8, 1)]]  # built before seeding
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    initialize(layers, act, torch.Generator().manual_seed(0), name, sample=torch.zeros(4, 2, dtype=torch.float64))
    torch.testing.assert_close(torch.rand(3), expected)


def _layer(fan_in=300, fan_out=500, spec="xavier_normal", act="tanh") -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out, dtype=torch.float64)
    initialize([layer], build_activation(act), torch.Generator().manual_seed(0), spec)
    return layer


@pytest.mark.parametrize("spec, variance", [
    ("xavier_normal", 2 / 800), ({"name": "xavier_normal", "gain": 2.0}, 4 * 2 / 800), ("xavier_uniform", 2 / 800),
    ("he_normal", 2 / 300), ("he_uniform", 2 / 300), ({"name": "he_normal", "mode": "fan_out"}, 2 / 500),
    ({"name": "he_normal", "nonlinearity": "tanh"}, (5 / 3) ** 2 / 300),
    ({"name": "he_uniform", "nonlinearity": "leaky_relu", "negative_slope": 0.2}, 2 / 1.04 / 300),
    ("lecun_normal", 1 / 300), ("lecun_uniform", 1 / 300), ({"name": "orthogonal", "gain": 3.0}, 9 / 500)])
def test_classical_weight_variance(spec, variance):
    w = _layer(spec=spec).weight.detach()
    assert float(w.var()) == pytest.approx(variance, rel=4 * math.sqrt(2 / w.numel()) + 1e-3)
    assert abs(float(w.mean())) < 4 * math.sqrt(variance / w.numel())


@pytest.mark.parametrize("spec, bound", [("xavier_uniform", math.sqrt(6 / 800)), ("he_uniform", math.sqrt(6 / 300)),
                                         ("lecun_uniform", math.sqrt(3 / 300))])
def test_uniform_support(spec, bound):
    w = _layer(spec=spec).weight.detach()
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound


def test_orthogonal_rows():
    w = _layer(500, 300, {"name": "orthogonal", "gain": 1.5}).weight.detach()
    torch.testing.assert_close(w @ w.T, 2.25 * torch.eye(300, dtype=torch.float64))


@pytest.mark.parametrize("name", ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform", "lecun_normal",
                                  "lecun_uniform", "orthogonal"])
def test_bias_options(name):
    assert torch.all(_layer(spec=name).bias == 0)
    assert torch.all(_layer(spec={"name": name, "bias": 0.3}).bias == 0.3)
    b = _layer(fan_in=50, fan_out=2000, spec={"name": name, "bias": -1.0, "bias_std": 0.5}).bias.detach()
    assert float(b.mean()) == pytest.approx(-1.0, abs=4 * 0.5 / math.sqrt(2000))
    assert float(b.std()) == pytest.approx(0.5, rel=4 / math.sqrt(2 * 2000))
    with pytest.raises(ConfigError, match="bias_std"):
        validate_initializer({"name": name, "bias_std": -1.0})


def test_siren_bounds_and_w0():
    act = build_activation({"name": "sin", "w0": 10.0})
    layers = [nn.Linear(a, b, dtype=torch.float64) for a, b in [(2, 200), (200, 200), (200, 1)]]
    initialize(layers, act, torch.Generator().manual_seed(0), {"name": "siren", "w0": 99.0})  # param ignored for sin
    for i, layer in enumerate(layers):
        n = layer.in_features
        bound = 1 / n if i == 0 else math.sqrt(6 / n) / 10.0
        w = layer.weight.detach()
        assert float(w.abs().max()) <= bound and (layer.out_features == 1 or float(w.abs().max()) > 0.95 * bound)
        assert float(layer.bias.detach().abs().max()) <= 1 / math.sqrt(n)
    tanh_layers = [nn.Linear(200, 200, dtype=torch.float64) for _ in range(2)]
    initialize(tanh_layers, build_activation("tanh"), torch.Generator().manual_seed(0), {"name": "siren", "w0": 5.0})
    assert float(tanh_layers[1].weight.detach().abs().max()) == pytest.approx(math.sqrt(6 / 200) / 5, rel=0.01)


def test_unknown_parameter_is_named():
    with pytest.raises(ConfigError) as err:
        validate_initializer({"name": "proposed", "sigmaz": 0.3})
    assert "sigmaz" in str(err.value) and "sigma_z" in str(err.value)
