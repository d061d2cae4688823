"""Reference solvers of operator problems: the exact (numerical) solution for any function input.

A declaration names one with ``solver: {name: stokes, mu: mu}``; an entry is
``solve(values, function, axes, *, cache_dir, **params) → {field: B × len(axis₀) × len(axis₁) …}`` for
sensor values ``values`` (B × sensors) of the :class:`~pinnit.sampling.functions.FunctionInput`
``function``, on the 'ij' grid of ``axes``. Adding one = one decorated function.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError
from ..core.registry import Registry
from ..sampling.functions import FunctionInput

Solver = Callable[..., dict[str, np.ndarray]]
SOLVERS: Registry[Solver] = Registry("reference solver")


def register_solver(name: str):
    """Function decorator: ``@register_solver("stokes")``."""
    return SOLVERS.register(name)


@register_solver("stokes")
def stokes(values: np.ndarray, function: FunctionInput, axes: Mapping[str, np.ndarray], *,
           cache_dir: Path | None = None, mu: float = 0.01, gauge: str | None = None) -> dict[str, np.ndarray]:
    """Lid-driven Stokes flow on the unit square, lid u(x, 1) = (1 + f(x)/10)·x(1−x)
    (:mod:`pinnit.references.stokes`, finite differences; cached on disk per set of lids). ``gauge``: the
    solver's pressure constant (default its ``bottom_mean``; ``problems/stokes.yaml`` sets ``corner``, the
    point where its network's p is pinned)."""
    from .stokes import solve_stokes_batch
    from .stokes_cache import cached_references

    grid = [np.asarray(a, float) for a in axes.values()]
    n = len(grid[0])
    if len(grid) != 2 or any(len(a) != n or not np.allclose(a, np.linspace(0, 1, n)) for a in grid):
        raise ConfigError("evaluation.resolution", "the Stokes solver gives fields on an n × n grid of the unit "
                                                   "square; use equal resolutions, e.g. [101, 101]")
    lid = function.evaluate(values, np.linspace(0.0, 1.0, 101))  # the solver reads f at 101 sensors
    kwargs = {} if gauge is None else {"gauge": gauge}
    if cache_dir is None:
        out = solve_stokes_batch(lid, n=n, mu=mu, **kwargs)
    else:
        out = cached_references(lid, cache_dir, n=n, mu=mu, **kwargs)
    return {k: np.asarray(out[k]) for k in ("u", "v", "p")}


def solve(spec: tuple[str, dict[str, float]], values: np.ndarray, function: FunctionInput,
          axes: Mapping[str, np.ndarray], cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Run the declared solver ``(name, params)`` on ``values`` (B × sensors)."""
    from ..core.params import bind_params

    name, params = spec
    fn = SOLVERS.get(name, "problem.solver.name")
    kwargs = bind_params(fn, params, "problem.solver", skip=3, internal=("cache_dir",))
    return fn(np.atleast_2d(values), function, axes, cache_dir=cache_dir, **kwargs)
