"""Polynomial families on the reference domain [−1, 1]^d for basis pretraining (Hu et al. 2025).

One-dimensional families by their three-term recurrences (P₀ = 1, P₁ = x):

- ``legendre``  (k+1)P_{k+1} = (2k+1)x·P_k − k·P_{k−1}   (orthogonal on [−1, 1]; P_k(1) = 1, |P_k| ≤ 1)
- ``chebyshev`` T_{k+1} = 2x·T_k − T_{k−1}               (|T_k| ≤ 1)
- ``monomial``  x^{k+1} = x·x^k

In d dimensions the basis is the tensor products φ_α(x) = Π_i p_{α_i}(x_i) of **total degree**
|α| = Σ α_i ≤ p (the space P_p, C(p+d, d) functions; a documented choice — Hu et al. name tensor products
in 2-D but not the index set; total degree keeps the count, and so the width the basis net needs, low).
Functions are ordered by total degree, then lexicographically (degree-0 constant first).
"""
from __future__ import annotations

import itertools
import math
from typing import Literal

import torch

Family = Literal["legendre", "chebyshev", "monomial"]


def univariate(x: torch.Tensor, degree: int, family: Family = "legendre") -> torch.Tensor:
    """Values p_0(x) … p_degree(x) of a 1-D family at x (shape n) as an n × (degree+1) tensor."""
    values = [torch.ones_like(x), x]
    for k in range(1, degree):
        prev, cur = values[k - 1], values[k]
        if family == "legendre":
            nxt = ((2 * k + 1) * x * cur - k * prev) / (k + 1)
        elif family == "chebyshev":
            nxt = 2 * x * cur - prev
        elif family == "monomial":
            nxt = x * cur
        else:
            raise ValueError(f"unknown polynomial family {family!r}")
        values.append(nxt)
    return torch.stack(values[: degree + 1], dim=1)


def multi_indices(dim: int, degree: int) -> list[tuple[int, ...]]:
    """Exponents α ∈ N^dim with |α| ≤ degree, ordered by |α| then lexicographically (descending)."""
    out = []
    for total in range(degree + 1):
        out.extend(sorted((a for a in itertools.product(range(total + 1), repeat=dim) if sum(a) == total),
                          reverse=True))
    return out


def basis_size(dim: int, degree: int) -> int:
    """Number of total-degree ≤ p basis functions in ``dim`` dimensions: C(p + d, d)."""
    return math.comb(degree + dim, dim)


def basis_values(x: torch.Tensor, degree: int, family: Family = "legendre") -> torch.Tensor:
    """φ_α(x) for every |α| ≤ degree at points x (n × d), as an n × C(degree+d, d) tensor."""
    per_dim = [univariate(x[:, i], degree, family) for i in range(x.shape[1])]
    cols = []
    for alpha in multi_indices(x.shape[1], degree):
        col = torch.ones_like(x[:, 0])
        for i, a in enumerate(alpha):
            if a:
                col = col * per_dim[i][:, a]
        cols.append(col)
    return torch.stack(cols, dim=1)


def total_degrees(dim: int, degree: int) -> torch.Tensor:
    """|α| of each basis function, in basis order."""
    return torch.tensor([sum(a) for a in multi_indices(dim, degree)], dtype=torch.float64)


def largest_degree(dim: int, features: int, cap: int) -> int:
    """The largest p ≤ cap whose basis fits in ``features`` (C(p+d, d) ≤ features), at least 0."""
    p = 0
    while p < cap and basis_size(dim, p + 1) <= features:
        p += 1
    return p
