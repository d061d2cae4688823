"""Forward jets of a DeepONet: every derivative up to order 2 of its outputs in the points, from one jets pass
per trunk.

A DeepONet (Lu et al. 2021, "Learning nonlinear operators via DeepONet based on the universal approximation
theorem of operators"; pinnit/nn/deeponet.py) is G(F)(x)_j = Σ_k b_jk(F) t_jk(x) + β_j. Only the trunk t
depends on x, so for every multi-index α with |α| ≥ 1

    ∂^α G(F)(x)_j = Σ_k b_jk(F) ∂^α t_jk(x),

and the trunk's value, gradient and Hessian come from :func:`pinnit.derivatives.jets.mlp_hessian_jets` (its
activated output layer included). Used by the operator ``jets`` derivatives
(:class:`~pinnit.derivatives.cartesian_fields.CartesianJetFields`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from .jets import mlp_hessian_jets

if TYPE_CHECKING:
    from ..nn.deeponet import DeepONet

#: ``d(j, key)`` → ∂^key of output j (B × N); ``key`` sorted input indices, at most two
RawJet = Callable[[int, tuple[int, ...]], torch.Tensor]


def deeponet_jets(net: "DeepONet", F: torch.Tensor, X: torch.Tensor) -> RawJet:
    """``d(j, key)`` → ∂^key G(F)(X)_j (B × N) for sensor values ``F`` (B × m) and shared points ``X``
    (N × d), computed on demand and cached (see the module docstring)."""
    parts = [mlp_hessian_jets(trunk, X, act) for trunk, act in zip(net.trunks, net.trunk_activations)]
    branches = net.branch_features(F)
    shared = net.layout == "shared"
    cache: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

    def d(j: int, key: tuple[int, ...]) -> torch.Tensor:
        if (j, key) not in cache:
            y = branches[j] @ parts[0 if shared else j][key].T
            cache[(j, key)] = y + net.bias[j] if not key else y
        return cache[(j, key)]

    return d


__all__ = ["RawJet", "deeponet_jets"]
