"""Per-point residual Jacobians by one backward through the MLP's jets (pinnit/training/jet_jacobian.py) equal the
general per-point vmap(jacrev) Jacobians, on hard- and soft-constrained problems; the Gram matrix by SYRK
equals JᵀJ."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pinnit import assemble, parse_config
from pinnit.runs import load_config
from pinnit.training.jet_jacobian import jet_jacobian_applies
from pinnit.training.optimizers.levenberg_marquardt import gram
from conftest import small_burgers

REPO = Path(__file__).resolve().parents[1]


def _both(loss):
    """(r, J) by the jets and by vmap(jacrev) per point, at the model's parameters."""
    res = loss.residuals()
    assert res._jets is not None
    theta = res.theta()
    r_jets, J_jets = res.jacobian(theta)
    res._jets = None
    r_vmap, J_vmap = res.jacobian(theta)
    return r_jets, J_jets, r_vmap, J_vmap, theta


def _check(loss, tol=1e-12):
    r_jets, J_jets, r_vmap, J_vmap, theta = _both(loss)
    assert J_jets.shape == (r_vmap.numel(), theta.numel())
    assert float((r_jets - r_vmap).abs().max()) <= tol * float(r_vmap.abs().max())
    assert float((J_jets - J_vmap).abs().max()) <= tol * float(J_vmap.abs().max())
    # and Jᵀr is half the loss gradient
    loss.model.zero_grad()
    loss.total(loss.term_losses()).backward()
    grad = torch.cat([p.grad.reshape(-1) for p in loss.model.parameters()])
    assert torch.allclose(2 * J_jets.T @ r_jets, grad, rtol=1e-9, atol=1e-12)


def test_burgers_hard_constraints_jacobian_equals_the_per_point_vmap(tmp_path):
    cfg = small_burgers(tmp_path)
    cfg["problem"]["hard_constraints"] = True
    a = assemble(parse_config(cfg))
    assert set(a.loss.terms[i].name for i in range(len(a.loss.terms))) == {"pde"}
    _check(a.loss)


def test_soft_constraints_with_several_terms(tmp_path):
    a = assemble(parse_config(small_burgers(tmp_path)))  # pde + initial + boundary terms, weighted
    assert len(a.loss.terms) >= 3
    _check(a.loss)


def test_a_periodic_term_evaluated_at_the_opposite_face():
    cfg = load_config(REPO / "configs" / "advection.yaml",
                      ["training.dtype=float64", "sampling.points.pde=300", "sampling.points.initial=50",
                       "sampling.points.periodic=50"])
    _check(assemble(cfg).loss)


def test_trainable_activation_scales_are_left_to_the_general_route(tmp_path):
    cfg = small_burgers(tmp_path)
    cfg["network"]["activation"] = {"name": "tanh", "trainable": True}
    a = assemble(parse_config(cfg))
    assert not jet_jacobian_applies(a.model)
    assert a.loss.residuals()._jets is None
    cfg["network"]["activation"] = "tanh"
    assert jet_jacobian_applies(assemble(parse_config(cfg)).model)


@pytest.mark.parametrize("shape", [(500, 40), (30, 40), (1, 1)])
def test_gram_equals_jt_j(shape):
    J = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    A = gram(J)
    if shape[0] >= shape[1]:  # SYRK: one triangle, mirrored
        assert torch.equal(A, A.T)
    assert torch.allclose(A, J.T @ J, rtol=1e-12, atol=1e-12)
    assert torch.equal(gram(J.float()), J.float().T @ J.float())
