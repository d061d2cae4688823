"""Multilayer perceptron with a pluggable activation and initializer.

x ∈ box [lo, hi]^d is mapped to [−1, 1]^d (explicit input normalisation), then
h^l = W^l x^{l−1} + b^l, x^l = φ(h^l) for the hidden layers, and a linear output layer.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .activations import Activation, build_activation
from .initializers import initialize


class MLP(nn.Module):
    """``in_dim → widths… → out_dim``; ``activation`` is copied per hidden layer (own trainable scales)."""

    def __init__(self, in_dim: int, out_dim: int, widths: Sequence[int], activation: Activation,
                 lower: Sequence[float] | None = None, upper: Sequence[float] | None = None):
        super().__init__()
        sizes = [in_dim, *widths, out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activations = nn.ModuleList(copy.deepcopy(activation) for _ in widths)
        lo = torch.as_tensor(lower if lower is not None else [-1.0] * in_dim, dtype=torch.float64)
        hi = torch.as_tensor(upper if upper is not None else [1.0] * in_dim, dtype=torch.float64)
        self.register_buffer("shift", (hi + lo) / 2)
        self.register_buffer("scale", 2 / (hi - lo))

    @property
    def activation(self) -> Activation:
        return self.activations[0]

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Post-activations of every hidden layer (for diagnostics)."""
        out, h = [], (x - self.shift) * self.scale
        for layer, act in zip(self.layers[:-1], self.activations):
            h = act(layer(h))
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = (x - self.shift) * self.scale
        for layer, act in zip(self.layers[:-1], self.activations):
            h = act(layer(h))
        return self.layers[-1](h)


def build_mlp(in_dim: int, out_dim: int, widths: Sequence[int], activation: Any, initializer: Any,
              generator: torch.Generator, lower=None, upper=None, path: str = "network",
              sample: torch.Tensor | None = None, targets: Any = None, dry_run: bool = False) -> MLP:
    """Build and initialise an MLP from registry specs (names or ``{name, **params}`` mappings).

    ``sample`` (raw inputs) is normalised and handed to data-driven initializers; so are the points of
    ``targets`` (FitTargets, or a zero-argument callable giving them) for output-layer projections.
    ``dry_run``: a config check; initializers may skip expensive work (pretraining).
    """
    act = build_activation(activation, f"{path}.activation")
    net = MLP(in_dim, out_dim, widths, act, lower, upper)
    normed = None if sample is None else (sample.to(torch.float64) - net.shift) * net.scale

    def mapped_targets():
        found = targets() if callable(targets) else targets
        return None if found is None else [t.mapped(net.shift, net.scale) for t in found]

    initialize(net.layers, act, generator, initializer, f"{path}.initializer", sample=normed,
               targets=mapped_targets, dry_run=dry_run)
    return net
