"""Knot-gathering initialization (KGI preprint: 'Enhancing Performance of Multilayer Perceptrons by KGI')."""
from __future__ import annotations


import pytest
import torch

from pinnit.diagnostics import knots_along_lines
from torch import nn

from pinnit.core.errors import ConfigError
from pinnit.nn.activations import build_activation
from pinnit.nn.initializers import initialize, validate_initializer
from pinnit.nn.initializers.kgi import INPUT_BOUNDS, knot_bias, knot_weight
from pinnit.nn.mlp import MLP

RANDOM_BIAS_XAVIER = {"name": "xavier_normal", "bias_std": 1.0}


def _net(act="tanh", widths=(8, 16, 32), spec="kgi", seed=0, sample=None):
    """A 2 → widths → 1 MLP; growing widths make every hidden W tall, so a common knot is a real constraint."""
    activation = build_activation(act)
    net = MLP(2, 1, list(widths), activation)
    initialize(net.layers, activation, torch.Generator().manual_seed(seed), spec, sample=sample)
    return net


def _common_knot(layer: nn.Linear) -> torch.Tensor:
    """The point x̂ with W x̂ + b = 0 for every row (least squares; exact when all hyperplanes share it)."""
    w, b = layer.weight.detach(), layer.bias.detach()
    knot = torch.linalg.lstsq(w, -b[:, None]).solution[:, 0]
    assert float((w @ knot + b).abs().max()) < 1e-6, "the hyperplanes do not share a point"
    return knot


def test_helpers_place_every_hyperplane_through_the_knot():
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(7, 5, generator=g, dtype=torch.float64)
    b0 = torch.randn(7, generator=g, dtype=torch.float64)
    knot = torch.rand(5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(w0 @ knot + knot_bias(w0, b0, knot, 0.0), torch.zeros(7, dtype=torch.float64))
    w = knot_weight(w0, b0, knot, 0.0, lam=1.0)
    torch.testing.assert_close(w @ knot, -b0)  # weight mode: W x̂ = −b₀
    torch.testing.assert_close(knot_weight(w0, b0, knot, 0.0, lam=0.0) @ knot, -b0)
    # α interpolates linearly back to the pre-initialisation
    torch.testing.assert_close(knot_bias(w0, b0, knot, 1.0), b0)
    torch.testing.assert_close(knot_weight(w0, b0, knot, 0.3, 1.0), 0.3 * w0 + 0.7 * w)


@pytest.mark.parametrize("mode", ["bias", "weight"])
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_alpha_zero_hyperplanes_share_a_knot_inside_the_bounds(act, mode):
    pre = _net(act, spec=RANDOM_BIAS_XAVIER, seed=4)
    net = _net(act, spec={"name": "kgi", "alpha": 0.0, "mode": mode, "pre": RANDOM_BIAS_XAVIER}, seed=4)
    bounds = [INPUT_BOUNDS] + [build_activation(act).default_bounds()] * 2
    for layer, before, (a, b) in zip(net.layers[:-1], pre.layers[:-1], bounds):
        kept, changed = ("weight", "bias") if mode == "bias" else ("bias", "weight")
        torch.testing.assert_close(getattr(layer, kept), getattr(before, kept))  # the other one is W₀ or b₀
        assert not torch.allclose(getattr(layer, changed), getattr(before, changed))
        knot = _common_knot(layer)  # weight mode: W_KGI x̂ = −b₀ for the one knot x̂
        assert float(knot.min()) >= a - 1e-9 and float(knot.max()) <= b + 1e-9
    for name in ("weight", "bias"):  # the output layer is left to the pre-initializer by default
        torch.testing.assert_close(getattr(net.layers[-1], name), getattr(pre.layers[-1], name))


def test_alpha_keeps_a_fraction_and_apply_to_all():
    pre = _net(spec=RANDOM_BIAS_XAVIER, seed=5)
    net = _net(spec={"name": "kgi", "alpha": 0.2, "apply_to": "all", "pre": RANDOM_BIAS_XAVIER}, seed=5)
    for layer, before in zip(net.layers, pre.layers):
        assert not torch.allclose(layer.bias, before.bias)
    for layer in net.layers[:-1]:
        with pytest.raises(AssertionError):  # α > 0 spreads the knots: no common point any more
            _common_knot(layer)


@pytest.mark.parametrize("bounds, path", [([0.8, 0.2], "network.initializer.bounds"),
                                          ([[-0.5, 0.5], [0.9, 0.1], [0, 1]], "network.initializer.bounds[1]"),
                                          ([[-0.5, 0.5]], "network.initializer.bounds")])
def test_bad_bounds_are_config_errors(bounds, path):
    with pytest.raises(ConfigError) as err:
        _net(spec={"name": "kgi", "bounds": bounds})
    assert err.value.path == path


def test_explicit_per_layer_bounds():
    bounds = [[0.1, 0.1], [-0.3, -0.3], [0.5, 0.5]]  # degenerate intervals pin the knots
    net = _net(spec={"name": "kgi", "alpha": 0.0, "bounds": bounds, "pre": RANDOM_BIAS_XAVIER})
    for layer, (a, _) in zip(net.layers[:-1], bounds):
        torch.testing.assert_close(_common_knot(layer), torch.full((layer.in_features,), a, dtype=torch.float64))


def test_data_bounds_follow_the_propagated_sample():
    g = torch.Generator().manual_seed(9)
    sample = torch.rand(256, 2, generator=g, dtype=torch.float64) * 0.4 + 0.5  # inputs in [0.5, 0.9]²
    spec = {"name": "kgi", "alpha": 0.0, "data_bounds": True, "beta": 0.1, "pre": RANDOM_BIAS_XAVIER}
    net = _net(spec=spec, sample=sample)
    h = sample
    for layer, act in zip(net.layers[:-1], net.activations):
        lo, hi = float(h.min()), float(h.max())
        knot = _common_knot(layer)
        assert float(knot.min()) >= lo + 0.1 * (hi - lo) - 1e-9 and float(knot.max()) <= hi - 0.1 * (hi - lo) + 1e-9
        h = act(layer(h)).detach()
    with pytest.raises(ConfigError, match="sample"):
        _net(spec={"name": "kgi", "data_bounds": True})


def _knots_along_lines(net: MLP, seed: int) -> float:
    """Mean knots of a ReLU MLP per random chord of [−1, 1]² (pinnit.diagnostics.knots_along_lines)."""
    return sum(knots_along_lines(net, seed=seed))


def test_kgi_gathers_relu_knots_into_the_domain():
    """KGI preprint, Fig. 3: ≈ 3× the in-domain knot density of the pre-initialised net. The baseline is Xavier
    normal (the preprint's Stokes pre-init) with N(0, 1) biases, so its knots are not pinned at the centre of the
    normalised domain as with zero biases."""
    base = [_knots_along_lines(_net("relu", (32, 32, 32), RANDOM_BIAS_XAVIER, seed=s), 100 + s) for s in range(6)]
    kgi = [_knots_along_lines(_net("relu", (32, 32, 32), {"name": "kgi", "pre": RANDOM_BIAS_XAVIER}, seed=s), 100 + s)
           for s in range(6)]
    assert sum(kgi) >= 2 * sum(base)


def test_validation_of_parameters():
    validate_initializer({"name": "kgi", "pre": {"name": "he_uniform", "bias_std": 0.5}, "bounds": [[0, 1], [0, 1]]})
    for bad in ({"mode": "rows"}, {"alpha": 1.5}, {"beta": 0.5}, {"apply_to": "output"}, {"bounds": "wide"}):
        with pytest.raises(ConfigError):
            validate_initializer({"name": "kgi", **bad})
    with pytest.raises(ConfigError, match="pre.name"):
        _net(spec={"name": "kgi", "pre": "xavier_nromal"})


# ---------------------------------------------------------------- the shipped defaults (spec "kgi" alone)
def _distances_from_common_point(layer: nn.Linear) -> torch.Tensor:
    """Distances |W_i p + b_i| / ‖W_i‖ of each hyperplane from their least-squares common point p (all 0 when the
    hyperplanes share a point; meaningful for tall W, i.e. more neurons than inputs)."""
    w, b = layer.weight.detach(), layer.bias.detach()
    p = torch.linalg.lstsq(w, -b[:, None]).solution[:, 0]
    return (w @ p + b).abs() / w.norm(dim=1)


def test_default_kgi_redraws_zero_biases_as_the_authors_code():
    """The default pre-initializer (Xavier normal) has zero biases; KGI first draws b₀ ~ U(±√(3/fan_in))."""
    activation = build_activation("tanh")
    net = MLP(2, 1, [64, 64], activation)
    initialize(net.layers, activation, torch.Generator().manual_seed(0), {"name": "kgi", "alpha": 1.0})  # b* = b₀
    for layer in net.layers[:-1]:
        bound = (3 / layer.in_features) ** 0.5
        b = layer.bias.detach()
        assert float(b.abs().max()) <= bound and float(b.abs().max()) > 0.8 * bound
        assert abs(float(b.var()) - bound**2 / 3) < 0.35 * bound**2 / 3  # Var U(±c) = c²/3 (64 draws)
    assert torch.all(net.layers[-1].bias == 0)  # the output layer is not a KGI layer: left to the pre-init


def test_default_kgi_spreads_first_layer_knots_over_the_domain():
    """Under the defaults (bias mode, α = 0.2, Xavier-normal pre-init) the first-layer hyperplanes of a 2 → 64
    layer do not share one point (they would, at (1−α)·x̂, with zero b₀): the median distance from their
    least-squares common point is ≥ 0.2 in the normalised domain [−1, 1]² (measured ≥ 0.47 over these seeds),
    while most hyperplanes still cross the domain (≥ 60 %, measured ≥ 76 %): gathered, not collapsed."""
    for seed in range(10):
        layer = _net("tanh", (64, 64, 64), "kgi", seed=seed).layers[0]
        assert float(_distances_from_common_point(layer).median()) >= 0.2, seed
        w, b = layer.weight.detach(), layer.bias.detach()
        crosses = b.abs() <= w.abs().sum(1)  # max over [−1, 1]² of |W_i x| is ‖W_i‖₁
        assert float(crosses.double().mean()) >= 0.6, seed
    keep = _net("tanh", (64, 64, 64), {"name": "kgi", "zero_bias": "keep"}, seed=0).layers[0]
    assert float(_distances_from_common_point(keep).max()) < 1e-9  # the failure the redraw avoids


def test_default_kgi_spreads_hidden_layer_knots():
    """Tall hidden layers (8 → 16 → 32) under the defaults: no common point in any layer (measured median
    distance ≥ 0.018 over 20 seeds; exactly 0 with zero biases kept)."""
    for seed in range(10):
        for layer in _net("tanh", spec="kgi", seed=seed).layers[:-1]:
            assert float(_distances_from_common_point(layer).median()) > 5e-3, seed


def test_default_kgi_gathers_relu_knots():
    """KGI preprint, Fig. 3 (≈ 3× the in-domain knots of the pre-initialised ReLU net): under the defaults KGI doubles
    the knots per chord of [−1, 1]² relative to α = 1 (the same pre-init and b₀ redraw, no gathering) —
    measured 2.05× over 20 seeds; the bound is 1.6× over 12. With zero b₀ kept it halves them instead (0.52×)."""
    kgi = [_knots_along_lines(_net("relu", (32, 32, 32), "kgi", seed=s), 100 + s) for s in range(12)]
    base = [_knots_along_lines(_net("relu", (32, 32, 32), {"name": "kgi", "alpha": 1.0}, seed=s), 100 + s)
            for s in range(12)]
    assert sum(kgi) >= 1.6 * sum(base)
