"""Problems: the interface, the registry and the built-in problems (importing registers them)."""
from . import black_scholes, burgers, declared  # noqa: F401  (registers entries)
from .base import PROBLEMS, Problem, Region, Term, build_problem, register_problem

__all__ = ["PROBLEMS", "Problem", "Region", "Term", "build_problem", "register_problem"]
