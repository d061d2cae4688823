"""Point samplers on boxes and box faces: uniform random, Sobol and Latin hypercube (scipy.stats.qmc).

All draws come from the run's ``numpy.random.Generator``, so sampled points are reproducible per seed, and
every draw advances only that generator's ``bit_generator.state`` — the one thing a checkpoint saves — so a
resumed run draws exactly the points an uninterrupted one would. (scipy's QMC engines given a Generator spawn
children from its ``SeedSequence`` instead, state that ``bit_generator.state`` does not capture; each QMC
draw is therefore seeded with an integer drawn from the run's generator.)
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.stats import qmc

from ..geometry.regions import Box, Region


def qmc_seed(rng: np.random.Generator) -> int:
    """An integer seed for one QMC engine, drawn from ``rng`` (advances its checkpointed state)."""
    return int(rng.integers(2**63 - 1))


def unit_samples(n: int, dim: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in [0, 1)^dim."""
    if dim == 0:
        return np.zeros((n, 0))
    if sampler == "uniform":
        return rng.random((n, dim))
    if sampler == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warning when n is not a power of 2
            return qmc.Sobol(dim, scramble=True, seed=qmc_seed(rng)).random(n)
    if sampler == "lhs":
        return qmc.LatinHypercube(dim, seed=qmc_seed(rng)).random(n)
    raise ValueError(f"unknown sampler '{sampler}'")


def sample_box(box: Box, inputs: Sequence[str], n: int, sampler: str, rng: np.random.Generator,
               fixed: dict[str, float] | None = None) -> np.ndarray:
    """``n`` points (n × len(inputs)) in ``box`` with the ``fixed`` inputs held constant."""
    fixed = fixed or {}
    free = [k for k in inputs if k not in fixed]
    u = unit_samples(n, len(free), sampler, rng)
    out = np.empty((n, len(inputs)))
    for j, k in enumerate(inputs):
        if k in fixed:
            out[:, j] = fixed[k]
        else:
            lo, hi = box[k]
            out[:, j] = lo + (hi - lo) * u[:, free.index(k)]
    return out


def _split(n: int, weights: np.ndarray) -> list[int]:
    """Split n into integer parts proportional to weights (largest remainder), each ≥ 1."""
    raw = n * weights / weights.sum()
    parts = np.maximum(np.floor(raw).astype(int), 1)
    for i in np.argsort(raw - np.floor(raw))[::-1][: max(n - parts.sum(), 0)]:
        parts[i] += 1
    return parts.tolist()


def sample_region(region: Region, inputs: Sequence[str], n: int, sampler: str, rng: np.random.Generator,
                  refine: Sequence[tuple[Box, float]] = ()) -> np.ndarray:
    """Points of a term's region: interior (with optional refined sub-boxes) or faces (by face measure)."""
    if region.points is not None:
        return np.asarray(region.points, dtype=float)
    if not region.faces:
        n_extra = [int(round(frac * n)) for _, frac in refine]
        parts = [sample_box(region.box, inputs, n - sum(n_extra), sampler, rng)]
        for (sub, _), m in zip(refine, n_extra):
            clipped = {k: (max(region.box[k][0], sub.get(k, region.box[k])[0]),
                           min(region.box[k][1], sub.get(k, region.box[k])[1])) for k in inputs}
            parts.append(sample_box(clipped, inputs, m, sampler, rng))
        return np.concatenate(parts)
    measure = np.array([np.prod([region.box[k][1] - region.box[k][0] for k in inputs if k not in f] or [1.0])
                        for f in region.faces])
    counts = _split(n, measure) if len(region.faces) > 1 else [n]
    return np.concatenate([sample_box(region.box, inputs, m, sampler, rng, f)
                           for f, m in zip(region.faces, counts)])
