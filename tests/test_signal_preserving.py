"""Signal-preserving W = D + Z (Lee 2026, 'proposed') and the authors' earlier tanh initialization."""
from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import norm
from torch import nn

from pinnit.core.errors import ConfigError
from pinnit.nn.activations import build_activation
from pinnit.nn.initializers import initialize, proposed_sigma_z, target_rate

#: σ_z/ω for ω = 1 (the closed form): L → (ρ(L), p, σ_z).
TABLE = {5: (0.4, 0.1376, 0.9165), 10: (0.4, 0.0743, 0.6924), 15: (0.2788, 0.0265, 0.5167),
         20: (0.1434, 8.4e-3, 0.4181), 30: (0.0379, 1.3e-3, 0.3324), 50: (0.00265, 5.3e-5, 0.2580)}


@pytest.mark.parametrize("L", TABLE)
def test_sigma_z_table(L):
    rho, p, sigma_z = TABLE[L]
    assert target_rate(L) == pytest.approx(rho, rel=2e-3)
    assert proposed_sigma_z(1.0, L) == pytest.approx(sigma_z, abs=1e-4)
    assert norm.cdf(-1 / proposed_sigma_z(1.0, L)) == pytest.approx(p, rel=1e-2)
    assert proposed_sigma_z(0.1, L) == pytest.approx(0.1 * proposed_sigma_z(1.0, L), rel=1e-14)


def test_target_rate_is_continuous_and_overridable():
    assert target_rate(11) == 0.4 and target_rate(13) < 0.4  # no upward jump at L = 11
    assert proposed_sigma_z(1.0, 7, rho=0.2) == pytest.approx(-1 / norm.ppf((1 - 0.6 ** (1 / 7)) / 2), rel=1e-12)
    with pytest.raises(ValueError):
        proposed_sigma_z(1.0, 7, rho=0.5)


def _stack(sizes, act, spec, seed=0):
    layers = [nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes[:-1], sizes[1:])]
    initialize(layers, act, torch.Generator().manual_seed(seed), spec)
    return layers


@pytest.mark.parametrize("fan_in, fan_out", [(6, 4), (4, 10), (5, 5)])
def test_diagonal_pattern_and_zero_bias(fan_in, fan_out):
    act = build_activation({"name": "tanh", "a": 0.25})  # ω = 4
    (layer,) = _stack([fan_in, fan_out], act, {"name": "proposed", "sigma_z": 1e-12})
    expected = torch.zeros(fan_out, fan_in, dtype=torch.float64)
    for i in range(fan_out):
        expected[i, i % fan_in] = 4.0
    torch.testing.assert_close(layer.weight.detach(), expected, atol=1e-10, rtol=0)
    assert torch.all(layer.bias == 0)


def _gains(layers, seed):
    """Effective gains a_i = (W x)_i / x_i for sign inputs x (then Var(a_i) = σ_z², Lee 2026, Lemma 1)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for layer in layers:
        x = torch.randint(0, 2, (layer.in_features,), generator=g, dtype=torch.float64) * 2 - 1
        out.append((layer.weight.detach() @ x) / x)
    return torch.stack(out)  # (L, N): row l holds the gains of layer l along the paths i → i


@pytest.mark.parametrize("L, width, seeds", [(10, 400, 3), (20, 300, 4)])
def test_negative_gain_and_sign_flip_rates(L, width, seeds):
    act = build_activation("tanh")
    gains = torch.cat([_gains(_stack([width] * (L + 1), act, "proposed", seed=s), seed=100 + s)
                       for s in range(seeds)], dim=1)
    sigma_z = proposed_sigma_z(1.0, L)
    assert float(gains.std()) == pytest.approx(sigma_z, rel=0.03)
    p = norm.cdf(-1 / sigma_z)
    negative = float((gains < 0).double().mean())
    assert abs(negative - p) <= 4 * math.sqrt(p * (1 - p) / gains.numel())
    rho, flips = target_rate(L), float((gains.prod(0) < 0).double().mean())
    assert abs(flips - rho) <= 4 * math.sqrt(rho * (1 - rho) / gains.shape[1])


def test_proposed_uses_omega_of_the_activation_and_linear_count():
    act = build_activation({"name": "erf", "a": 3.0})
    layers = _stack([2, 300, 300, 1], act, "proposed")
    omega = act.omega
    sigma_z = proposed_sigma_z(omega, 3)  # L = 3 Linear layers
    w = layers[1].weight.detach()
    torch.testing.assert_close(w.diagonal().mean(), torch.tensor(omega, dtype=torch.float64), atol=4 * sigma_z / 300,
                               rtol=0)
    off = w - torch.diag(w.diagonal())
    assert float(off.std() * math.sqrt(300)) == pytest.approx(sigma_z, rel=0.02)


def test_proposed_rejects_activations_without_slope():
    with pytest.raises(ConfigError, match="f'\\(0\\)"):
        _stack([2, 4, 1], build_activation("relu"), "proposed")


def test_tanh_init_ones_and_small_noise():
    layers = _stack([2, 500, 500, 1], build_activation("tanh"), "tanh_init")
    w = layers[1].weight.detach()
    torch.testing.assert_close(w.diagonal().mean(), torch.tensor(1.0, dtype=torch.float64), atol=1e-3, rtol=0)
    off = w - torch.diag(w.diagonal())
    assert float(off.std() * math.sqrt(500)) == pytest.approx(0.085, rel=0.02)
    assert float(layers[0].weight.detach()[3, 1] - 1.0) == pytest.approx(0.0, abs=4 * 0.085 / math.sqrt(2))
    assert all(torch.all(layer.bias == 0) for layer in layers)


@pytest.mark.parametrize("L, expected", [(251, 0.1193), (501, 0.0853), (5600, 0.0259), (10001, 0.0194)])
def test_sigma_z_stays_exact_at_huge_depth(L, expected):
    """Where 1 − 2ρ rounds to 1 (L ≥ 251) and ρ underflows (L ≳ 5600) the log-space form keeps σ_z > 0."""
    assert proposed_sigma_z(1.0, L) == pytest.approx(expected, abs=1e-4)
    assert proposed_sigma_z(1.0, L) < proposed_sigma_z(1.0, L - 1)


@pytest.mark.parametrize("spec, omega, sigma_z", [({"name": "proposed", "sigma_z": 0.5}, 2.0, 0.5),
                                                  ("tanh_init", 1.0, 0.085)])
def test_noise_is_added_on_the_diagonal_too(spec, omega, sigma_z):
    """W − ωD ~ N(0, σ_z²/fan_in) on AND off the identity pattern (Lee 2026: W = ωD + Z, Z i.i.d.).

    Sample variances of n normal draws have relative standard deviation √(2/(n−1)); the bounds are 5 of those
    (n = 6 × 300 pattern entries, and far more off it), and the pattern mean within 5 standard errors.
    """
    act = build_activation({"name": "tanh", "a": 1.0 / omega})  # ω = 1/f'(0)
    layers = _stack([100] + [300] * 6, act, spec, seed=3)  # 100 → 300: stacked identities; then square layers
    on, off = [], []
    for layer in layers:
        w = layer.weight.detach() * math.sqrt(layer.in_features) / sigma_z  # unit-variance noise when correct
        rows = torch.arange(layer.out_features)
        pattern = torch.zeros_like(w, dtype=torch.bool)
        pattern[rows, rows % layer.in_features] = True
        on.append(w[pattern] - omega * math.sqrt(layer.in_features) / sigma_z)
        off.append(w[~pattern])
    on, off = torch.cat(on), torch.cat(off)
    for z in (on, off):
        n = z.numel()
        assert abs(float(z.var()) - 1) <= 5 * math.sqrt(2 / (n - 1)), (n, float(z.var()))
        assert abs(float(z.mean())) <= 5 / math.sqrt(n)
