"""Basis-function pretraining initializer ("Weights initialization of neural networks for function
approximation", Hu, Huang, Yi, Yin 2025 — details the publication summary leaves open are our choices
below are documented parameters).

1. **Domain map.** The basis lives on the reference domain [−1, 1]^d; pinnit's MLP already maps the problem's
   box there, x̂ = 2(x − a)/(b − a) − 1 (``network.normalize_inputs``, on by default), so a network's first
   layer always sees reference coordinates.
2. **Pretraining** (basis_pretraining.py): a basis net with the target's hidden layers and one output per
   basis function φ_α (Legendre by default, tensor products of total degree ≤ p) is trained progressively,
   degree by degree, and cached on disk (basis_cache.py).
3. **Initialising the target.** Hidden layers ← the basis net's. Output j ← a combination c of the basis
   outputs: W_j = cᵀW_B, b_j = cᵀb_B, so y_j(x) = Σ_α c_α N_α(x) ≈ Σ_α c_α φ_α(x̂). When the problem gives
   initial/data conditions (``targets``), c is their **least-squares projection** onto the pretrained basis:
   it minimises the terms' own loss Σ λ·mean(r²) (targets.py), with a ridge penalty ε·(1 + |α|)² growing
   with the degree, which picks the smoothest of equally good fits (points at t = 0 fix nothing in t).
   Measured on burgers_basis.yaml: ridge 1e−6 fits −sin(πx) to 0.017 (max) by exploiting where the net's
   outputs are not quite polynomials, but leaves |u| ≈ 7 on the walls (PDE loss 1.3e3 at init); the
   default 1e−3 gives 0.13 (the degree-3 polynomial limit) with PDE loss 1.9. Outputs without targets (no
   condition, or a DeepONet branch/trunk) come "from the basis net alone": ``head: random`` draws
   c ~ N(0, 1/M) (a random polynomial of O(1) size); ``head: basis`` makes output j the j-th basis function
   (a DeepONet trunk then starts as a polynomial basis).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import torch
from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from torch import nn

from ...core.errors import ConfigError
from ..activations.base import Activation
from .base import initialize, register_initializer
from .basis_pretraining import PretrainSettings, pretrained_basis
from .polynomials import basis_size, largest_degree, total_degrees
from .targets import FitTarget, least_squares_rows, ridge_solve

#: ``degree: null`` picks the largest total degree whose basis fits in half the last hidden width, at most
#: this.
AUTO_DEGREE_CAP = 6
FitKind = Literal["initial", "data", "boundary"]


def auto_degree(dim: int, last_width: int) -> int:
    """Largest p ≤ 6 with C(p+d, d) ≤ max(1, width/2): slack for the net to fit the basis well (measured:
    a basis that uses every feature, M = width + 1, trains to ~10 % RMS error, half of it to ~1 %)."""
    return largest_degree(dim, max(1, last_width // 2), AUTO_DEGREE_CAP)


def _project(targets: Sequence[FitTarget], output: int, basis, penalty: torch.Tensor,
             ridge: float) -> torch.Tensor | None:
    system = least_squares_rows(targets, output, basis)
    return None if system is None else ridge_solve(*system, ridge, penalty)


@register_initializer("basis_pretrained")
def basis_pretrained(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
                     family: Literal["legendre", "chebyshev", "monomial"] = "legendre",
                     degree: Annotated[int, Field(ge=0, le=30)] | None = None,
                     steps: NonNegativeInt = 300, lbfgs: NonNegativeInt = 100, lr: PositiveFloat = 3e-3,
                     points: PositiveInt = 1024, seed: int | None = None, pre: str | dict[str, Any] = "xavier_normal",
                     fit: list[FitKind] = ["initial", "data"], ridge: NonNegativeFloat = 1e-3,
                     head: Literal["random", "basis"] = "random", cache_dir: str | None = None,
                     targets: Sequence[FitTarget] | None = None, dry_run: bool = False) -> None:
    """Pretrained polynomial basis (Hu et al. 2025): hidden layers from a cached basis net, output by least squares.

    ``family``/``degree`` (total degree; default: auto from the last hidden width), ``steps`` Adam steps at
    ``lr`` then ``lbfgs`` L-BFGS iterations per degree on ``points`` random points of [−1, 1]^d, ``seed`` of
    the pretraining (default: the run's seed), ``pre`` the initializer of the degree-0 net, ``fit`` the term
    kinds projected onto, ``ridge`` the projection's penalty factor, ``head`` for outputs with no target,
    ``cache_dir`` (default $PINNIT_CACHE_DIR/basis, else ~/.cache/pinnit/basis). A ``dry_run`` (the config
    check at load time) only validates and applies ``pre``: no pretraining.
    """
    hidden, out = layers[:-1], layers[-1]
    dim = layers[0].in_features
    last = hidden[-1].out_features if hidden else dim
    p = auto_degree(dim, last) if degree is None else degree
    settings = PretrainSettings(family=family, degree=p, steps=steps, lbfgs=lbfgs, lr=lr, points=points,
                                seed=generator.initial_seed() if seed is None else seed, pre=pre)
    shapes = [(layer.in_features, layer.out_features, layer.bias is not None) for layer in hidden]
    if steps == 0 and lbfgs == 0:
        raise ConfigError("initializer.steps", "steps and lbfgs are both 0: the basis would not be trained")
    if dry_run:
        initialize(layers, activation, generator, pre, "initializer.pre")
        return
    dtype = out.weight.dtype
    net = pretrained_basis(shapes, dim, activation, settings, cache_dir, dtype)
    for mine, theirs in zip(hidden, net.hidden):
        mine.weight.copy_(theirs.weight)
        if mine.bias is not None:
            mine.bias.copy_(theirs.bias)
    size = basis_size(dim, p)
    penalty = (1 + total_degrees(dim, p)) ** 2

    def basis(x: torch.Tensor) -> torch.Tensor:
        return net(x.to(dtype), activation)

    chosen = [t for t in (targets or ()) if t.kind in fit]
    for j in range(out.out_features):
        c = _project(chosen, j, basis, penalty, ridge)
        if c is None and head == "basis":
            c = torch.zeros(size, dtype=dtype)
            c[j % size] = 1.0
        elif c is None:
            c = torch.randn(size, generator=generator, dtype=dtype) / size**0.5
        out.weight[j] = c.to(dtype) @ net.head.weight
        if out.bias is not None:
            out.bias[j] = c.to(dtype) @ net.head.bias
