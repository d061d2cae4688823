"""Exact reference solutions used to score PINN runs (see shared/notes/problems.md)."""
from pinnit.references.black_scholes import black_scholes_grid, black_scholes_price
from pinnit.references.burgers import burgers_exact, burgers_grid, burgers_nodes

__all__ = [
    "black_scholes_grid",
    "black_scholes_price",
    "burgers_exact",
    "burgers_grid",
    "burgers_nodes",
]
