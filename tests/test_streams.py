"""Separate random streams for initialization and sampling (pinnit/runtime/context.py): for one seed, every
initializer trains on the same collocation points and, in an operator run, the same lids; other seeds draw
other points."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import small_burgers
from test_stokes_run import tiny as tiny_stokes

from pinnit.runs import parse_config
from pinnit.runs.pipeline import assemble
from pinnit.runtime.context import STREAMS, RunContext, stream_seeds

PINN_INITIALIZERS = {
    "xavier": "xavier_normal",
    "kgi": {"name": "kgi", "mode": "bias", "alpha": 0.2, "pre": "xavier_normal"},
    "proposed": "proposed",
    "eoc": {"name": "eoc", "sigma_b": 0.0},
    "basis": {"name": "basis_pretrained", "degree": 1, "steps": 3, "lbfgs": 0, "points": 64},
}


def pinn(tmp_path, initializer, seed: int = 0):
    cfg = small_burgers(tmp_path, seed=seed, threads=1)
    cfg["network"]["initializer"] = initializer
    cfg["sampling"]["points"] = {"pde": 64, "initial": 16, "boundary": 16}
    return assemble(parse_config(cfg))


def points_of(a) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in a.loss.points.items()}


def first_weight(a) -> torch.Tensor:
    """Every parameter of the network, flattened (KGI's bias mode keeps the weights and moves the biases)."""
    return torch.cat([p.detach().flatten() for p in a.model.parameters()])


def test_streams_are_spawned_children_of_the_seed():
    seqs = stream_seeds(7)
    assert list(seqs) == list(STREAMS)
    assert [s.spawn_key for s in seqs.values()] == [(i,) for i in range(len(STREAMS))]
    ctx = RunContext.create("cpu", "float64", 7)
    expected = np.random.default_rng(np.random.SeedSequence(7).spawn(len(STREAMS))[1]).random(3)
    np.testing.assert_array_equal(ctx.sampling_rng.random(3), expected)
    assert ctx.rng is ctx.sampling_rng and ctx.generator is ctx.init_generator
    # drawing from the init stream leaves the sampling stream where it was
    other = RunContext.create("cpu", "float64", 7)
    torch.rand(1000, generator=other.init_generator)
    np.testing.assert_array_equal(other.sampling_rng.random(3), expected)


def test_every_initializer_gets_the_same_points_for_one_seed(tmp_path):
    runs = {name: pinn(tmp_path, init) for name, init in PINN_INITIALIZERS.items()}
    reference = points_of(runs["xavier"])
    assert set(reference) == {"pde", "initial", "boundary"}
    for name, a in runs.items():
        for term, pts in points_of(a).items():
            np.testing.assert_array_equal(pts, reference[term], err_msg=f"{name}: {term}")
    # the networks do differ (else the test would not show the initializers left the sampling stream alone)
    assert not torch.equal(first_weight(runs["xavier"]), first_weight(runs["kgi"]))
    # and a resample after initialization draws the same next points too
    for a in runs.values():
        a.loss.resample()
    again = points_of(runs["xavier"])
    assert not np.array_equal(again["pde"], reference["pde"])
    for name in ("kgi", "proposed", "eoc", "basis"):
        np.testing.assert_array_equal(points_of(runs[name])["pde"], again["pde"], err_msg=name)


def test_other_seeds_draw_other_points_and_weights(tmp_path):
    a, b = pinn(tmp_path, "xavier_normal", 0), pinn(tmp_path, "xavier_normal", 1)
    assert not np.array_equal(points_of(a)["pde"], points_of(b)["pde"])
    assert not torch.equal(first_weight(a), first_weight(b))
    np.testing.assert_array_equal(points_of(a)["pde"], points_of(pinn(tmp_path, "xavier_normal", 0))["pde"])


@pytest.fixture(scope="module")
def stokes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("streams")
    kgi = {"name": "kgi", "pre": "xavier_normal", "mode": "bias", "alpha": 0.2, "apply_to": "all"}

    def build(initializer, seed=0):
        raw = tiny_stokes(tmp, seed=seed)
        raw["network"]["initializer"] = initializer
        return assemble(parse_config(raw))

    return {"xavier": build("xavier_normal"), "kgi": build(kgi), "eoc": build({"name": "eoc", "sigma_b": 0.0}),
            "seed1": build("xavier_normal", 1)}


def test_operator_runs_share_lids_points_and_batches_across_initializers(stokes):
    ref = stokes["xavier"].loss
    batches = [ref.next_batch().copy() for _ in range(3)]
    for name in ("kgi", "eoc"):
        loss = stokes[name].loss
        np.testing.assert_array_equal(loss.train_functions, ref.train_functions, err_msg=name)
        np.testing.assert_array_equal(loss.test_functions, ref.test_functions, err_msg=name)
        for term, pts in loss.points.items():
            np.testing.assert_array_equal(pts.numpy(), ref.points[term].numpy(), err_msg=f"{name}: {term}")
        np.testing.assert_array_equal([loss.next_batch().copy() for _ in range(3)], batches, err_msg=name)
    assert not torch.equal(first_weight(stokes["xavier"]), first_weight(stokes["kgi"]))


def test_operator_runs_of_other_seeds_draw_other_lids(stokes):
    a, b = stokes["xavier"].loss, stokes["seed1"].loss
    assert not np.array_equal(a.train_functions, b.train_functions)
    assert not np.array_equal(a.test_functions, b.test_functions)
