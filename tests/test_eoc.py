"""Edge-of-chaos solver and initializer (reference values and closed forms)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from torch import nn

from pinnit.core.errors import ConfigError
from pinnit.nn.activations import build_activation
from pinnit.nn.initializers import chi1, eoc_point, gaussian_moments, initialize, validate_initializer
from pinnit.nn.initializers.eoc import gaussian_nodes

SIGMA_B = [0.0, 0.05, 0.1, 0.2, 0.3]
#: σ_w [q*] per σ_b (reference values of the mean-field equations).
TABLE = {
    "tanh": ([1.000000, 1.122539, 1.193401, 1.304146, 1.395584], [0.0, 0.153692, 0.273301, 0.512079, 0.763475]),
    "scaled": ([10.000000, 11.225390, 11.934007, 13.041458, 13.955840], [0.0, 0.153692, 0.273301, 0.512079, 0.763475]),
    "erf": ([0.886227, 0.993686, 1.055595, 1.152795, 1.233673], [0.0, 0.145146, 0.253210, 0.465763, 0.688771]),
}
SPECS = {"tanh": "tanh", "scaled": {"name": "tanh", "a": 0.1}, "erf": "erf"}


@pytest.mark.parametrize("key", TABLE)
@pytest.mark.parametrize("column", range(len(SIGMA_B)))
def test_reference_table(key, column):
    point = eoc_point(build_activation(SPECS[key]), SIGMA_B[column])
    sigma_w, q_star = TABLE[key][0][column], TABLE[key][1][column]
    assert point.sigma_b == SIGMA_B[column]
    assert point.sigma_w == pytest.approx(sigma_w, abs=1e-5)
    assert point.q_star == pytest.approx(q_star, abs=1e-5)


def erf_second(q):
    return 2 / math.pi * math.asin(2 * q / (1 + 2 * q))


def erf_slope2(q):
    return 4 / math.pi / math.sqrt(1 + 4 * q)


@pytest.mark.parametrize("q", [1e-8, 1e-3, 0.1, 0.7, 1.9, 4.5, 30.0, 2e3])
def test_erf_closed_form_moments(q):
    second, slope2 = gaussian_moments(build_activation("erf"), q)
    assert second == pytest.approx(erf_second(q), rel=1e-12, abs=1e-15)
    assert slope2 == pytest.approx(erf_slope2(q), rel=1e-12)


@pytest.mark.parametrize("sigma_b", [0.05, 0.3, 1.0, 3.0])
def test_erf_eoc_against_closed_forms(sigma_b):
    q_star = brentq(lambda q: q - erf_second(q) / erf_slope2(q) - sigma_b**2, 1e-12, 1e3, xtol=1e-15)
    point = eoc_point(build_activation("erf"), sigma_b)
    assert point.q_star == pytest.approx(q_star, rel=1e-10)
    assert point.sigma_w == pytest.approx(1 / math.sqrt(erf_slope2(q_star)), rel=1e-10)
    assert chi1(build_activation("erf"), point.sigma_w, point.q_star) == pytest.approx(1.0, rel=1e-12)


def test_quadrature_is_a_probability_rule():
    for q in (0.3, 25.0):
        x, w = gaussian_nodes(q)
        assert w.sum() == pytest.approx(1.0, rel=1e-12)
        assert w @ x**2 == pytest.approx(q, rel=1e-12)
        assert w @ x**4 == pytest.approx(3 * q**2, rel=1e-10)


def test_special_cases():
    relu = eoc_point(build_activation("relu"), 0.0)
    assert (relu.sigma_w, relu.sigma_b) == (pytest.approx(math.sqrt(2), rel=1e-14), 0.0) and math.isnan(relu.q_star)
    leaky = eoc_point(build_activation({"name": "leaky_relu", "negative_slope": 0.2}), 0.0)
    assert leaky.sigma_w == pytest.approx(math.sqrt(2 / 1.04), rel=1e-13)
    for spec in ("gd", "softsign_2", {"name": "softsign_1", "a": 3.0}, {"name": "sin", "w0": 4.0}):
        act = build_activation(spec)
        assert eoc_point(act, 0.0) == (pytest.approx(abs(act.omega), rel=1e-14), 0.0, 0.0)
    with pytest.raises(ConfigError, match="no edge-of-chaos point"):
        eoc_point(build_activation("relu"), 0.1)
    with pytest.raises(ConfigError, match="element-wise"):
        eoc_point(build_activation("softmax"), 0.1)


@pytest.mark.parametrize("spec, sigma_b", [("sigmoid", 0.0), ("gelu", 0.2), ("arctan", 2.0), ("tanh", 10.0),
                                           ({"name": "mrepu", "p": 2}, 0.1), ({"name": "sum"}, 0.5)])
def test_any_activation_lands_on_chi1_equal_one(spec, sigma_b):
    act = build_activation(spec)
    point = eoc_point(act, sigma_b)
    assert chi1(act, point.sigma_w, point.q_star) == pytest.approx(1.0, rel=1e-10)
    second = gaussian_moments(act, point.q_star)[0]
    assert sigma_b**2 + point.sigma_w**2 * second == pytest.approx(point.q_star, rel=1e-9)  # fixed point


def _wide_tanh(sigma_w_factor: float, seed: int, width: int = 1000, depth: int = 4) -> list[float]:
    """Per-layer growth of a tangent perturbation ‖δh^{l}‖²/‖δh^{l−1}‖² in a random tanh net at the EOC."""
    act = build_activation("tanh")
    point = eoc_point(act, 0.1)
    layers = [nn.Linear(width, width, dtype=torch.float64) for _ in range(depth)]
    g = torch.Generator().manual_seed(seed)
    initialize(layers, act, g, {"name": "eoc", "sigma_b": 0.1})
    with torch.no_grad():
        for layer in layers:
            layer.weight *= sigma_w_factor
        h = math.sqrt(point.q_star) * torch.randn(16, width, generator=g, dtype=torch.float64)
        dh = torch.randn(16, width, generator=g, dtype=torch.float64)
        ratios = []
        for layer in layers:
            slope = 1 - torch.tanh(h) ** 2
            h, dh_next = layer(torch.tanh(h)), (slope * dh) @ layer.weight.T
            ratios.append(float(((dh_next**2).sum(1) / (dh**2).sum(1)).mean()))
            dh = dh_next
    return ratios


def test_monte_carlo_chi1_is_one_at_the_edge_of_chaos():
    ratios = _wide_tanh(1.0, seed=3)
    assert np.mean(ratios) == pytest.approx(1.0, rel=0.02)
    chaotic = _wide_tanh(1.15, seed=3)  # the same draw, σ_w 15 % larger: χ₁ ≈ 1.2 (the check can fail)
    assert np.mean(chaotic) > 1.1


def test_initializer_draws_the_eoc_variances():
    act = build_activation("tanh")
    layer = nn.Linear(400, 500, dtype=torch.float64)
    initialize([layer], act, torch.Generator().manual_seed(0), {"name": "eoc", "sigma_b": 0.2})
    sigma_w = eoc_point(act, 0.2).sigma_w
    n = layer.weight.numel()
    assert float(layer.weight.detach().std() * math.sqrt(400)) == pytest.approx(sigma_w, rel=4 / math.sqrt(2 * n))
    assert float(layer.bias.detach().std()) == pytest.approx(0.2, rel=4 / math.sqrt(2 * 500))
    with pytest.raises(ConfigError, match="sigma_b"):
        validate_initializer({"name": "eoc", "sigma_b": -0.1})
