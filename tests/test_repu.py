"""RePU/MRePU susceptibilities and their Gaussian initializer (the RePU paper, 'Why RePU Networks Fail')."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pinnit.nn.activations import build_activation
from pinnit.nn.initializers import initialize, repu_susceptibilities, susceptibilities
from pinnit.nn.initializers.eoc import gaussian_moments
from pinnit.nn.initializers.repu import double_factorial


@pytest.mark.parametrize("p", [1, 2, 3, 4])
@pytest.mark.parametrize("K", [0.01, 0.5, 2.0, 9.0])
def test_repu_closed_forms(p, K):
    act = build_activation({"name": "repu", "p": p})
    parallel, perpendicular = susceptibilities(act, K, c_w=1.7)
    closed = repu_susceptibilities(p, K, c_w=1.7)
    assert parallel == pytest.approx(closed[0], rel=1e-9)
    assert perpendicular == pytest.approx(closed[1], rel=1e-9)
    assert parallel / perpendicular == pytest.approx((2 * p - 1) / p, rel=1e-9)  # both 1 only for p = 1
    second = gaussian_moments(act, K)[0]
    assert second == pytest.approx(double_factorial(2 * p - 1) / 2 * K**p, rel=1e-9)  # E[σ²] = (2p−1)!!/2·K^p


def test_relu_is_critical_at_c_w_two():
    assert repu_susceptibilities(1, 0.3, c_w=2.0) == (1.0, 1.0)
    assert [double_factorial(n) for n in (-1, 0, 1, 5, 6)] == [1, 1, 1, 15, 48]


@pytest.mark.parametrize("K, ratio", [(1e-4, 1.0014), (0.01, 1.116), (0.1, 1.455), (1.0, 1.640)])
def test_mrepu_ratio_table(K, ratio):
    parallel, perpendicular = susceptibilities(build_activation({"name": "mrepu", "p": 2}), K)
    assert parallel / perpendicular == pytest.approx(ratio, abs=6e-4)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_mrepu_ratio_limits(p):
    act = build_activation({"name": "mrepu", "p": p})
    small = susceptibilities(act, 1e-7)
    assert small[0] / small[1] == pytest.approx(1.0, abs=1e-4)
    large = susceptibilities(act, 1e5)
    assert large[0] / large[1] == pytest.approx((2 * p + 1) / (p + 1), rel=2e-3)
    ks = [1e-4, 1e-2, 1e-1, 1.0, 10.0]
    ratios = [a / b for a, b in (susceptibilities(act, k) for k in ks)]
    assert ratios == sorted(ratios)  # monotone from 1 to (2p+1)/(p+1)


def test_repu_gaussian_variances():
    layer = nn.Linear(300, 400, dtype=torch.float64)
    initialize([layer], build_activation("mrepu"), torch.Generator().manual_seed(0),
               {"name": "repu_gaussian", "c_w": 0.45, "c_b": 0.04})
    n = layer.weight.numel()
    assert float(layer.weight.detach().var() * 300) == pytest.approx(0.45, rel=4 * math.sqrt(2 / n))
    assert float(layer.bias.detach().var()) == pytest.approx(0.04, rel=4 * math.sqrt(2 / 400))
    initialize([layer], build_activation("mrepu"), torch.Generator().manual_seed(0), "repu_gaussian")
    assert torch.all(layer.bias == 0)
