"""The Gaussian-random-field law (DeepXDE's dde.data.GRF) and the cubic interpolation from sensors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pinnit.sampling.grf import GRF, rbf_kernel, spline_matrix


def test_sample_covariance_at_the_sensors_is_the_rbf_kernel():
    n = 4000
    sensors = np.linspace(0, 1, 101)
    values = GRF((0, 1), length_scale=0.2, variance=1.0).sample(n, sensors, np.random.default_rng(0))
    cov = values.T @ values / n  # zero-mean law
    kernel = rbf_kernel(sensors, sensors, 0.2)
    # entrywise standard error of a sample covariance: sqrt((1 + ρ²)/n) ≤ sqrt(2/n) ≈ 0.022
    assert np.abs(cov - kernel).max() < 5 * np.sqrt(2 / n)
    assert np.abs(cov - kernel).mean() < np.sqrt(2 / n)
    assert abs(values.mean()) < 5 / np.sqrt(n)


def test_variance_and_length_scale_enter_the_law():
    sensors = np.array([0.3, 0.35, 0.8])
    values = GRF((0, 1), length_scale=0.1, variance=4.0).sample(6000, sensors, np.random.default_rng(1))
    cov = np.cov(values.T)
    expected = rbf_kernel(sensors, sensors, 0.1, 4.0)  # 4·exp(−0.125) between the close pair, ≈ 0 far apart
    assert np.allclose(cov, expected, atol=5 * 4 * np.sqrt(2 / 6000))


def test_seeded_draws_are_reproducible_and_differ_between_seeds():
    grf, s = GRF(), np.linspace(0, 1, 11)
    a = grf.sample(3, s, np.random.default_rng(5))
    assert np.array_equal(a, grf.sample(3, s, np.random.default_rng(5)))
    assert not np.allclose(a, grf.sample(3, s, np.random.default_rng(6)))


def test_spline_matrix_is_exact_on_cubics_and_interpolates():
    nodes = np.linspace(0, 1, 11)
    at = np.linspace(-0.1, 1.1, 37)  # outside points are clipped to the interval
    cubic = lambda x: 1 - 2 * x + 3 * x**2 - 5 * x**3  # noqa: E731  (not-a-knot splines reproduce cubics)
    assert np.allclose(spline_matrix(nodes, at) @ cubic(nodes), cubic(np.clip(at, 0, 1)), atol=1e-12)
    assert np.allclose(spline_matrix(nodes, nodes), np.eye(11), atol=1e-12)


@pytest.mark.slow
def test_same_law_as_deepxde_grf():
    """DeepXDE's GRF (in a subprocess, pytorch backend): same kernel matrix, same cubic interpolation."""
    pytest.importorskip("deepxde")
    code = """
import json, numpy as np, deepxde as dde
g = dde.data.GRF(length_scale=0.2)
feats = np.random.default_rng(0).standard_normal((3, 1000))
s = np.linspace(0, 1, 101)[:, None]
print(json.dumps({"K": g.K[::97, ::89].tolist(), "v": g.eval_batch(feats, s).tolist()}))
"""
    env = {**os.environ, "DDE_BACKEND": "pytorch", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    grf = GRF((0, 1), 0.2, 1.0, 1000)
    ours_k = rbf_kernel(grf.grid, grf.grid, 0.2)[::97, ::89]
    assert np.allclose(ours_k, theirs["K"], atol=1e-12)
    feats = np.random.default_rng(0).standard_normal((3, 1000))
    ours_v = feats @ spline_matrix(grf.grid, np.linspace(0, 1, 101)).T
    assert np.allclose(ours_v, theirs["v"], atol=1e-9)
