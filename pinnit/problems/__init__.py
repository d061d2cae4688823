"""Problems: the interface, the registry and the built-in problems (importing registers them)."""
from . import black_scholes, burgers, declared  # noqa: F401  (registers entries)
from .base import PROBLEMS, Problem, Term, build_problem, register_problem
from ..geometry.regions import Region

__all__ = ["PROBLEMS", "Problem", "Region", "Term", "build_problem", "register_problem"]
