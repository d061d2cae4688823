"""Gaussian random fields on an interval and cubic interpolation from sensors.

The law of DeepXDE's ``dde.data.GRF`` (used by the Stokes PI-DeepONet of the KGI preprint and the ZCS examples):
on a grid of ``grid`` equispaced points x_i of [a, b], K_ij = σ²·exp(−(x_i − x_j)²/(2ℓ²)) (RBF kernel),
L = chol(K + 1e−13·I), a sample is L·ξ with ξ ~ N(0, I); its values elsewhere (the sensors) come from a
cubic interpolating spline through the grid values (scipy's not-a-knot spline, what ``interp1d(kind=
"cubic")`` builds). Written from the formula with numpy/scipy; deepxde is not needed.
"""
from __future__ import annotations

import numpy as np

JITTER = 1e-13


def rbf_kernel(x: np.ndarray, y: np.ndarray, length_scale: float, variance: float = 1.0) -> np.ndarray:
    """σ²·exp(−(x − y)²/(2ℓ²)) for every pair of points of the 1-D arrays ``x`` and ``y``."""
    d = np.subtract.outer(np.asarray(x, float), np.asarray(y, float))
    return variance * np.exp(-0.5 * (d / length_scale) ** 2)


def spline_matrix(nodes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """M (len(at) × len(nodes)) with M·v = the cubic not-a-knot spline through (nodes, v) evaluated at ``at``.

    Interpolation is linear in the values, so the spline of the identity gives the matrix; points outside
    [nodes₀, nodes₋₁] are clipped to the interval (no extrapolation).
    """
    from scipy.interpolate import make_interp_spline

    nodes = np.asarray(nodes, float)
    at = np.clip(np.asarray(at, float), nodes[0], nodes[-1])
    k = min(3, len(nodes) - 1)
    return make_interp_spline(nodes, np.eye(len(nodes)), k=k, axis=0)(at)


class GRF:
    """Sampler of a zero-mean Gaussian random field on [a, b], read at ``sensors`` (DeepXDE's GRF law)."""

    def __init__(self, interval: tuple[float, float] = (0.0, 1.0), length_scale: float = 0.2,
                 variance: float = 1.0, grid: int = 1000):
        self.grid = np.linspace(interval[0], interval[1], grid)
        self.length_scale, self.variance = float(length_scale), float(variance)
        k = rbf_kernel(self.grid, self.grid, length_scale, variance)
        self.chol = np.linalg.cholesky(k + JITTER * np.eye(grid))

    def sample_grid(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` fields on the grid (count × grid)."""
        return (self.chol @ rng.standard_normal((len(self.grid), count))).T

    def sample(self, count: int, sensors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``count`` fields read at ``sensors`` (count × len(sensors)), by cubic interpolation from the grid."""
        return self.sample_grid(count, rng) @ spline_matrix(self.grid, sensors).T
