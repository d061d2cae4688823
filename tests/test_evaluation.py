"""Scoring on the evaluation grid: the nodes at a problem's singular points are left out of every error."""
from __future__ import annotations

import numpy as np

from pinnit.operators.evaluation import field_error, field_errors
from pinnit.outputs.evaluation import scored_nodes
from pinnit.problems.base import Problem


class _Square(Problem):
    inputs = ("x", "y")
    outputs = ("p",)


def _problem(*points):
    p = _Square()
    p.singular = tuple(points)
    return p


def test_the_node_at_each_singular_point_is_left_out():
    axes = {"x": np.linspace(0, 1, 101), "y": np.linspace(0, 1, 101)}
    assert scored_nodes(_problem(), axes) is None
    keep = scored_nodes(_problem((0.0, 1.0), (1.0, 1.0)), axes)
    assert keep.shape == (101, 101) and (~keep).sum() == 2
    assert not keep[0, 100] and not keep[100, 100] and keep[0, 0] and keep[0, 99] and keep[1, 100]


def test_a_point_between_nodes_leaves_out_the_nearest():
    axes = {"x": np.linspace(0, 1, 11), "y": np.linspace(0, 1, 5)}
    keep = scored_nodes(_problem((0.33, 0.6)), axes)
    assert (~keep).sum() == 1 and not keep[3, 2]


def test_errors_use_only_the_scored_nodes():
    """A reference that is singular at one node (a log pressure) scores the rest, up to a constant or not."""
    axes = {"x": np.linspace(0, 1, 21), "y": np.linspace(0, 1, 21)}
    X, Y = np.meshgrid(axes["x"], axes["y"], indexing="ij")
    ref = np.log(np.maximum(np.hypot(X, 1 - Y), 1e-3))  # −6.9 at (0, 1), the grid's artefact
    pred = np.log(np.hypot(X, 1 - Y) + 1e-12) + 0.25  # the same function, shifted, −27.6 at (0, 1)
    keep = scored_nodes(_problem((0.0, 1.0)), axes)
    assert field_error(pred, ref, constant=True, keep=keep) < 1e-10
    assert field_error(pred, ref, constant=True) > 0.5  # the one node dominates when it is scored
    shifted = field_errors({"p": pred}, {"p": ref}, keep=keep)["rel_l2_p"]
    expected = np.linalg.norm(0.25 * np.ones(keep.sum())) / np.linalg.norm(ref[keep])
    assert abs(shifted - expected) < 1e-10
