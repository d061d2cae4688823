"""PinnLoss: Σ_terms λ_term · mean(residual²), λ by kind with a term's own name taking precedence (Lee 2026)."""
from __future__ import annotations

import pytest
import torch

from pinnit import assemble, parse_config


def _loss(burgers_cfg, weights):
    burgers_cfg["training"]["weights"] = weights
    return assemble(parse_config(burgers_cfg)).loss


@pytest.mark.parametrize("weights, expected", [
    ({}, {"pde": 1.0, "initial": 1.0, "boundary": 1.0}),
    ({"physics": 2.5, "boundary": 0.0}, {"pde": 2.5, "initial": 1.0, "boundary": 0.0}),      # by kind
    ({"physics": 0.5, "pde": 3.0, "initial": 7.0}, {"pde": 3.0, "initial": 7.0, "boundary": 1.0}),  # name beats kind
])
def test_total_weights_each_term_by_kind_and_by_name(burgers_cfg, weights, expected):
    loss = _loss(burgers_cfg, weights)
    assert loss.weights == expected
    terms = {k: v.detach() for k, v in loss.term_losses().items()}
    assert set(terms) == set(expected) and all(float(v) > 0 for v in terms.values())
    total = float(loss.total(terms))
    assert total == pytest.approx(sum(expected[k] * float(v) for k, v in terms.items()), rel=1e-14)


def test_a_weight_scales_the_gradient_of_its_term(burgers_cfg):
    """λ enters the optimised objective: weighting one term by 4 scales its gradient contribution by 4."""
    loss = _loss(burgers_cfg, {"initial": 4.0, "physics": 0.0, "boundary": 0.0})
    params = list(loss.model.parameters())
    grads = torch.autograd.grad(loss.total(loss.term_losses()), params)
    plain = torch.autograd.grad(loss.term_losses()["initial"], params)
    for g, p in zip(grads, plain):
        torch.testing.assert_close(g, 4.0 * p, rtol=1e-12, atol=1e-15)
