"""DeepONet for the Cartesian product functions × points (Lu et al. 2021; the KGI preprint's Stokes experiment).

For sensor values F (B × m) and points X (N × d): branch features b = B(F) ∈ R^{B×p} (the branch's last
layer linear), trunk features t = φ(T(X)) ∈ R^{N×p} (the trunk's last layer activated, as in DeepXDE's
``DeepONetCartesianProd``), output G(F)(X)_{bn} = Σ_k b_{bk} t_{nk} + β (a trainable bias per output).
Layouts: ``independent`` (one branch, trunk and β per output field: the KGI preprint's three DeepONets) and
``shared`` (one trunk; one branch of p·n_out features split into n_out groups, DeepXDE's split_branch).
Branch and trunk are :class:`~pinnit.nn.mlp.MLP`s built by :func:`~pinnit.nn.mlp.build_mlp`, so every
registered activation and initializer applies to each, with per-net settings. Its derivatives in the points
by forward jets: :func:`pinnit.derivatives.deeponet_jets.deeponet_jets`.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .mlp import MLP, build_mlp


class DeepONet(nn.Module):
    """``forward(F, X)``: F (B × m) sensor values, X (N × d) shared points or (B × N × d) per-function
    points → (B × N × n_out)."""

    def __init__(self, branches: Sequence[MLP], trunks: Sequence[MLP], n_out: int, layout: str = "independent"):
        super().__init__()
        if layout == "independent" and not len(branches) == len(trunks) == n_out:
            raise ValueError("independent layout: one branch and one trunk per output")
        if layout == "shared" and not len(branches) == len(trunks) == 1:
            raise ValueError("shared layout: one branch and one trunk")
        self.layout, self.n_out = layout, n_out
        self.branches = nn.ModuleList(branches)
        self.trunks = nn.ModuleList(trunks)
        self.trunk_activations = nn.ModuleList(copy.deepcopy(t.activation) for t in trunks)
        self.bias = nn.Parameter(torch.zeros(n_out, dtype=torch.float64))

    def branch_features(self, F: torch.Tensor) -> list[torch.Tensor]:
        """Per output: B × p."""
        if self.layout == "shared":
            return list(self.branches[0](F).chunk(self.n_out, dim=-1))
        return [net(F) for net in self.branches]

    def trunk_features(self, X: torch.Tensor) -> list[torch.Tensor]:
        """Per output: (… × N) × p, activated."""
        feats = [act(net(X)) for net, act in zip(self.trunks, self.trunk_activations)]
        return feats * self.n_out if self.layout == "shared" else feats

    def forward(self, F: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        pattern = "bp,np->bn" if X.dim() == 2 else "bp,bnp->bn"
        outs = [torch.einsum(pattern, b, t) for b, t in zip(self.branch_features(F), self.trunk_features(X))]
        return torch.stack(outs, dim=-1) + self.bias


def _sub(cfg: Any, which: str) -> dict[str, Any]:
    """The branch/trunk settings with network-level defaults filled in."""
    sub = getattr(cfg, which)
    get = (lambda k: getattr(sub, k) if sub is not None and getattr(sub, k) is not None else getattr(cfg, k))
    widths = get("widths") if sub is not None and sub.widths else None
    if widths is None and (sub is None or (sub.width is None and sub.depth is None)) and cfg.widths:
        widths = list(cfg.widths)
    if widths is None:
        widths = [get("width")] * get("depth")
    return {"widths": list(widths), "activation": get("activation"), "initializer": get("initializer")}


def features(cfg: Any) -> int:
    return cfg.features or cfg.width


def deeponet_parameter_count(cfg: Any, n_sensors: int, n_in: int, n_out: int) -> int:
    p, k = features(cfg), 1 if cfg.layout == "shared" else n_out
    count = lambda sizes: sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))  # noqa: E731
    branch_out = p * n_out if cfg.layout == "shared" else p
    return k * (count([n_sensors, *_sub(cfg, "branch")["widths"], branch_out])
                + count([n_in, *_sub(cfg, "trunk")["widths"], p])) + n_out


def build_deeponet(cfg: Any, n_sensors: int, n_in: int, n_out: int, generator: torch.Generator,
                   lower: Sequence[float] | None = None, upper: Sequence[float] | None = None,
                   sample_functions: torch.Tensor | None = None, sample_points: torch.Tensor | None = None,
                   path: str = "network") -> DeepONet:
    """Branch(es) and trunk(s) from ``cfg`` (a :class:`~pinnit.config.schema.NetworkConfig`), initialised
    in the order branch₁, trunk₁, branch₂, … from ``generator``. Trunk inputs are normalised from the box
    [lower, upper]; branch inputs (function values) are used as they are."""
    p = features(cfg)
    b, t = _sub(cfg, "branch"), _sub(cfg, "trunk")
    nets = 1 if cfg.layout == "shared" else n_out
    branch_out = p * n_out if cfg.layout == "shared" else p
    branches, trunks = [], []
    for _ in range(nets):
        branches.append(build_mlp(n_sensors, branch_out, b["widths"], b["activation"], b["initializer"], generator,
                                  path=f"{path}.branch", sample=sample_functions))
        trunks.append(build_mlp(n_in, p, t["widths"], t["activation"], t["initializer"], generator, lower, upper,
                                path=f"{path}.trunk", sample=sample_points))
    return DeepONet(branches, trunks, n_out, cfg.layout)
