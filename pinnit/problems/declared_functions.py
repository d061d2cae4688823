"""Function inputs and the reference solver of a declared operator problem (``functions:``, ``solver:``).

See :mod:`pinnit.operators` for how they are used: a function input f(argument) is known at equispaced
sensors and drawn from a law (a Gaussian random field); the solver gives reference fields for any f.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import ConfigError, did_you_mean
from ..sampling.functions import FunctionInput, GRFLaw
from .declared_io import PATH

if TYPE_CHECKING:
    from .declared import DeclaredProblem


def function_inputs(problem: DeclaredProblem, specs: Mapping[str, Any]) -> dict[str, FunctionInput]:
    """Function inputs (operator learning): sensors on the argument's domain, the law, the counts."""
    out = {}
    for name, f in specs.items():
        path = f"{PATH}.functions.{name}"
        if f.argument not in problem.inputs:
            raise ConfigError(f"{path}.argument", f"'{f.argument}' is not an input"
                                                  f"{did_you_mean(f.argument, problem.inputs)}; "
                                                  f"inputs: {', '.join(problem.inputs)}")
        lo, hi = problem.domain[f.argument]
        if f.sensors.range is not None:
            lo, hi = (problem.constant(v, f"{path}.sensors.range[{j}]") for j, v in enumerate(f.sensors.range))
            if not lo < hi:
                raise ConfigError(f"{path}.sensors.range", f"empty interval [{lo}, {hi}]; need lower < upper")
        law = GRFLaw(f.law.length_scale, f.law.variance, f.law.grid)
        out[name] = FunctionInput(name, f.argument, np.linspace(lo, hi, f.sensors.count), law, f.train, f.test)
    return out


def solver_spec(problem: DeclaredProblem, spec: str | Mapping[str, Any] | None
                ) -> tuple[str, dict[str, Any]] | None:
    """The reference solver of an operator problem: its registered name and its parameters (constant
    expressions of the declared parameters, or words such as a gauge name), checked against its signature."""
    if spec is None:
        return None
    path = f"{PATH}.solver"
    if not problem.functions:
        raise ConfigError(path, "a solver gives references for function inputs; declare 'functions' first")
    params = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = params.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{path}.name", "required: the registered solver's name, e.g. stokes")
    values: dict[str, Any] = {}
    for k, v in params.items():
        word = isinstance(v, str) and v.isidentifier() and problem.ns.kind(v) is None and v not in ("pi", "E")
        values[k] = v if word else problem.constant(v, f"{path}.{k}")
    from ..references.solvers import SOLVERS
    from ..core.params import bind_params

    bind_params(SOLVERS.get(name, f"{path}.name"), values, path, skip=3, internal=("cache_dir",))
    return name, values
