"""Operator loss: seeded function batches (epochs of a permutation), exact resume, shared points, modes."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from pinnit.runs import parse_config
from pinnit.runs.pipeline import assemble
from pinnit.training import Checkpointer, Trainer


def tiny(tmp_path, **training):
    return {
        "problem": {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
                    "functions": {"f": {"argument": "x", "train": 12, "test": 3}}, "solver": None},
        "network": {"arch": "deeponet", "width": 10, "depth": 1, "activation": "tanh"},
        "sampling": {"points": {"momentum_x": 48, "momentum_y": 48, "mass": 48, "lid": 16}, "function_batch": 5},
        "training": {"dtype": "float64", "threads": 1, "adam": {"iterations": 12, "lr": 3e-3},
                     "lbfgs": {"iterations": 0}, "checkpoint_every": 4, **training},
        "evaluation": {"every": 6, "resolution": [11, 11], "functions": 2},
        "output": {"dir": str(tmp_path / "outputs"), "plots": False, "progress": False},
    }


def test_batches_are_epochs_of_a_seeded_permutation(tmp_path):
    loss = assemble(parse_config(tiny(tmp_path))).loss
    seen = np.concatenate([loss.next_batch() for _ in range(12)])  # 60 draws = 5 epochs of 12
    for epoch in seen.reshape(5, 12):
        assert sorted(epoch) == list(range(12))
    again = assemble(parse_config(tiny(tmp_path))).loss
    assert np.array_equal(np.concatenate([again.next_batch() for _ in range(12)]), seen)
    other = assemble(parse_config(tiny(tmp_path, seed=1))).loss
    assert not np.array_equal(other.train_functions, loss.train_functions)  # GRF draws follow the run seed


def test_equations_share_points_terms_do_not(tmp_path):
    loss = assemble(parse_config(tiny(tmp_path))).loss
    assert loss.points["momentum_x"] is loss.points["mass"] is loss.points["momentum_y"]
    assert loss.points["lid"].shape == (16, 2) and torch.all(loss.points["lid"][:, 1] == 1)
    state = io.BytesIO()
    torch.save(loss.state(), state)
    state.seek(0)
    loss.load_state(torch.load(state, weights_only=False))
    assert loss.points["momentum_x"] is loss.points["mass"]  # still shared after a checkpoint round trip


def test_modes_give_the_same_loss(tmp_path):
    values = {}
    for mode in ("zcs", "autograd", "jets"):
        loss = assemble(parse_config(tiny(tmp_path, derivatives=mode))).loss
        values[mode] = {k: float(v.detach()) for k, v in loss.losses_for(loss.train_tensor[:4]).items()}
    for mode in ("autograd", "jets"):
        for k, v in values["zcs"].items():
            assert values[mode][k] == pytest.approx(v, rel=1e-10), (mode, k)


def test_resume_continues_the_function_batches_exactly(tmp_path):
    cfg = parse_config(tiny(tmp_path))
    straight = assemble(cfg)
    Trainer(straight.loss, cfg.training, checkpointer=Checkpointer(tmp_path / "a.pt"), progress=False).train()

    first = assemble(cfg)
    trainer = Trainer(first.loss, cfg.training, checkpointer=Checkpointer(tmp_path / "b.pt"), progress=False)
    batches = []
    for _ in range(5):
        trainer.step()
        batches.append(first.loss.batch.copy())
    assert len({tuple(b) for b in batches}) > 1
    buf = io.BytesIO()
    torch.save(trainer.snapshot(), buf)
    buf.seek(0)
    second = assemble(cfg)  # a fresh process: same seed, fresh generators
    resumed = Trainer(second.loss, cfg.training, checkpointer=Checkpointer(tmp_path / "b.pt"), progress=False)
    resumed.restore(torch.load(buf, weights_only=False))
    resumed.train()
    for p, q in zip(straight.model.parameters(), second.model.parameters()):
        assert torch.equal(p, q)
    assert np.array_equal(straight.loss.batch, second.loss.batch)
