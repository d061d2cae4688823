"""Samplers: points stay in their region, faces are respected, draws are reproducible per seed."""
from __future__ import annotations

import numpy as np
import pytest

from pinnit.geometry.regions import Region
from pinnit.sampling import sample_region

BOX = {"x": (-1.0, 1.0), "t": (0.0, 2.0)}


@pytest.mark.parametrize("sampler", ["uniform", "sobol", "lhs"])
def test_interior_points_in_box_and_reproducible(sampler):
    a = sample_region(Region(BOX), ("x", "t"), 1000, sampler, np.random.default_rng(3))
    b = sample_region(Region(BOX), ("x", "t"), 1000, sampler, np.random.default_rng(3))
    assert a.shape == (1000, 2)
    np.testing.assert_array_equal(a, b)
    assert a[:, 0].min() >= -1 and a[:, 0].max() <= 1 and a[:, 1].min() >= 0 and a[:, 1].max() <= 2
    # roughly uniform: the mean of x is near 0 and of t near 1
    assert abs(a[:, 0].mean()) < 0.1 and abs(a[:, 1].mean() - 1) < 0.1


def test_faces_split_by_measure():
    box = {"x": (-1.0, 1.0), "t": (0.0, 4.0)}  # walls x = ±1 have length 4, the bottom t = 0 length 2
    region = Region(box, ({"x": -1.0}, {"x": 1.0}, {"t": 0.0}))
    pts = sample_region(region, ("x", "t"), 400, "sobol", np.random.default_rng(0))
    assert len(pts) == 400
    left, right, bottom = (pts[:, 0] == -1).sum(), (pts[:, 0] == 1).sum(), (pts[:, 1] == 0).sum()
    assert (left, right, bottom) == (160, 160, 80)


def test_refine_adds_points_in_the_sub_box():
    pts = sample_region(Region(BOX), ("x", "t"), 1000, "uniform", np.random.default_rng(0),
                        refine=[({"x": (0.4, 0.6)}, 0.3)])
    inside = ((pts[:, 0] >= 0.4) & (pts[:, 0] <= 0.6)).mean()
    assert 0.33 < inside < 0.41  # 30 % refined + 10 % of the uniform 70 % = 0.37 expected


@pytest.mark.parametrize("sampler", ["uniform", "sobol", "lhs"])
def test_the_generator_state_alone_determines_the_next_draw(sampler):
    """What a checkpoint saves (``bit_generator.state``) reproduces the next draw for every sampler; scipy's
    QMC engines seeded with the Generator itself would spawn from its SeedSequence, which that state misses."""
    rng = np.random.default_rng(7)
    sample_region(Region(BOX), ("x", "t"), 64, sampler, rng)  # a first draw, as before a resample
    saved = rng.bit_generator.state
    expected = sample_region(Region(BOX), ("x", "t"), 64, sampler, rng)
    restored = np.random.default_rng(12345)  # a fresh process: different SeedSequence history
    restored.bit_generator.state = saved
    np.testing.assert_array_equal(sample_region(Region(BOX), ("x", "t"), 64, sampler, restored), expected)
    assert not np.array_equal(sample_region(Region(BOX), ("x", "t"), 64, sampler, rng), expected)  # fresh points
