"""Reference solutions used to score runs: Cole–Hopf Burgers, closed-form Black–Scholes, the Stokes solver."""
from pinnit.references.black_scholes import black_scholes_grid, black_scholes_price
from pinnit.references.burgers import burgers_exact, burgers_grid, burgers_nodes
from pinnit.references.stokes import solve_stokes, solve_stokes_batch
from pinnit.references.stokes_cache import cached_references

__all__ = [
    "black_scholes_grid",
    "black_scholes_price",
    "burgers_exact",
    "burgers_grid",
    "burgers_nodes",
    "cached_references",
    "solve_stokes",
    "solve_stokes_batch",
]
