"""``sampling.refine`` boxes with bounds relative to the problem's parameters.

A bound is a number or an expression of the problem's numeric parameters (numbers, ``+ - * / **``,
parentheses, parameter names, ``pi``), e.g. ``S: ["K - 0.15", "K + 0.15"]`` for Black–Scholes, so a box
around the strike follows ``--set problem.K=0.4``. Expressions are parsed by the safe parser of
:mod:`pinnit.expressions.parse` (an AST whitelist, nothing is executed) with only parameters allowed.
"""
from __future__ import annotations

import inspect
import keyword
import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import TYPE_CHECKING

from ..core.errors import ConfigError, did_you_mean
from ..geometry.regions import Box

if TYPE_CHECKING:  # the problem layer sits above sampling
    from ..problems.base import Problem


def problem_parameters(problem: Problem) -> dict[str, float]:
    """The problem's numeric parameters by name: a declared problem's ``parameters``, else the numeric
    keyword arguments of a built-in problem's constructor (as the instance holds them)."""
    ns = getattr(problem, "ns", None)
    if ns is not None and hasattr(ns, "parameters"):
        return {k: float(v) for k, v in ns.parameters.items()}
    names = [p.name for p in inspect.signature(type(problem).__init__).parameters.values()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    values = {n: getattr(problem, n, None) for n in names}
    return {n: float(v) for n, v in values.items() if isinstance(v, Real) and not isinstance(v, bool)}


def evaluate_bound(value: float | str, parameters: Mapping[str, float], path: str) -> float:
    """A bound's number: ``value`` itself, or its expression evaluated with ``parameters``."""
    if not isinstance(value, str):
        return float(value)
    from ..expressions.parse import RESERVED, Namespace, parse  # sympy: only when an expression is used

    usable = {k: v for k, v in parameters.items()
              if k.isidentifier() and not keyword.iskeyword(k) and not k.startswith("_") and k not in RESERVED}
    ns = Namespace((), (), usable, path)
    expr = parse(value, ns, path, "constant")
    try:
        number = float(expr.xreplace({ns.symbols[k]: v for k, v in usable.items()}))
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ConfigError(path, f"'{value}' does not evaluate to a finite number with parameters "
                                f"{', '.join(f'{k}={v:g}' for k, v in usable.items()) or '(none)'}")
    return number


def refine_regions(regions: Sequence, problem: Problem, path: str = "sampling.refine") -> list[tuple[Box, float]]:
    """``[(box, fraction)]`` with numeric bounds, checked against the problem's inputs and domain."""
    parameters = problem_parameters(problem)
    out = []
    for i, region in enumerate(regions):
        box: Box = {}
        for key, bounds in region.box.items():
            where = f"{path}[{i}].box.{key}"
            if key not in problem.inputs:
                raise ConfigError(where, f"not an input{did_you_mean(key, problem.inputs)}; "
                                         f"inputs: {', '.join(problem.inputs)}")
            lo, hi = (evaluate_bound(b, parameters, f"{where}[{j}]") for j, b in enumerate(bounds))
            if not lo < hi:
                raise ConfigError(where, f"empty interval [{lo:g}, {hi:g}]; need lower < upper")
            d_lo, d_hi = problem.domain[key]
            if not max(lo, d_lo) < min(hi, d_hi):
                raise ConfigError(where, f"[{lo:g}, {hi:g}] does not overlap the domain [{d_lo:g}, {d_hi:g}]")
            box[key] = (lo, hi)
        out.append((box, region.fraction))
    if sum(f for _, f in out) >= 1:
        raise ConfigError(path, "the fractions add up to 1 or more; the rest of the domain needs points")
    return out
