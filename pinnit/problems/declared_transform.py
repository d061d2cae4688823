"""The output transform of a declared problem (hard constraints): per-field expressions of the inputs and the raw
network outputs (a :class:`~pinnit.problems.transform_expressions.SymbolicTransform`, as every problem's), and the
numerical check that it satisfies the conditions it claims (``satisfies``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..core.errors import ConfigError, did_you_mean
from ..derivatives.fields import Fields
from ..sampling import sample_region
from .declared_io import PATH, Declaration, GaugeSpec
from .transform_expressions import SymbolicTransform

if TYPE_CHECKING:
    from .declared import DeclaredProblem


def _ex():
    """The expression module, imported on first use (sympy is not loaded with pinnit)."""
    from ..expressions import parse as expressions

    return expressions


def parse_output_transform(problem: DeclaredProblem, s: Declaration
                           ) -> tuple[SymbolicTransform | None, tuple[str, ...]]:
    """The compiled transform (one expression per field) and the conditions it satisfies; one-line ConfigErrors
    for a missing or malformed transform and for a listed condition it does not satisfy (checked numerically)."""
    path = f"{PATH}.output_transform"
    if s.output_transform is None:
        if s.satisfies:
            raise ConfigError(f"{PATH}.satisfies", "needs an output_transform that satisfies these conditions")
        return None, ()
    spec = s.output_transform
    if not isinstance(spec, dict):
        if len(problem.outputs) > 1:
            keys = ", ".join(f"{u}: ..." for u in problem.outputs)
            raise ConfigError(path, f"give one expression per field: {{{keys}}}")
        spec = {problem.outputs[0]: spec}
    if set(spec) != set(problem.outputs):
        bad = next(iter(set(spec) ^ set(problem.outputs)))
        raise ConfigError(f"{path}.{bad}", f"keys must be the fields {', '.join(problem.outputs)}"
                                           f"{did_you_mean(bad, problem.outputs)}")
    per_field = isinstance(s.output_transform, dict)
    transform = SymbolicTransform(problem.ns, [problem.parse(spec[u], f"{path}.{u}" if per_field else path,
                                                            "transform") for u in problem.outputs], path)
    for u, compiled in zip(problem.outputs, transform.compiled):  # f(0): a point where f is known
        for symbol in compiled.expr.free_symbols & problem.ns.at_points.keys():
            name, where = problem.ns.at_points[symbol]
            lo, hi = (float(v) for v in problem.functions[name].sensors[[0, -1]])
            if not lo <= where <= hi:
                raise ConfigError(f"{path}.{u}" if per_field else path,
                                  f"{name}({where:g}) is outside {name}'s sensors [{lo:g}, {hi:g}]")
    names = [t.name for t in problem.terms() if t.kind != "physics"]
    if not s.satisfies:
        raise ConfigError(f"{PATH}.satisfies", f"list the conditions the output transform satisfies exactly "
                                               f"(of: {', '.join(names)})")
    for j, name in enumerate(s.satisfies):
        if name not in names:
            raise ConfigError(f"{PATH}.satisfies[{j}]", f"no condition '{name}'{did_you_mean(name, names)}; "
                                                        f"conditions: {', '.join(names)}")
    hard_terms = tuple(s.satisfies)
    _check_transform(problem, transform, hard_terms)
    return transform, hard_terms


def parse_gauge(problem: DeclaredProblem, spec: GaugeSpec | None) -> tuple[str, tuple[float, ...]] | None:
    """``gauge: {field: p, at: {x: 0, y: 0}}`` → ("p", (0.0, 0.0)): the field, known only up to a constant (a
    pressure), is pinned by subtracting its value at that one point (operator runs: the network's output and
    the metric, which compares it up to a constant). One-line ConfigErrors for a bad field or point."""
    if spec is None:
        return None
    path = f"{PATH}.gauge"
    if not problem.functions:
        raise ConfigError(path, "a gauge is applied by operator runs (DeepONet); declare 'functions', or pin the "
                                "field with a condition")
    if spec.field not in problem.outputs:
        raise ConfigError(f"{path}.field", f"'{spec.field}' is not a field{did_you_mean(spec.field, problem.outputs)}"
                                           f"; fields: {', '.join(problem.outputs)}")
    return spec.field, problem.point(spec.at, f"{path}.at")


def _check_transform(problem: DeclaredProblem, transform: SymbolicTransform, hard_terms: tuple[str, ...]) -> None:
    """Each condition in ``satisfies`` must hold to rounding for *any* network: check with a random one."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(len(problem.inputs), 16, generator=g, dtype=torch.float64)
    b, v = torch.randn(16, generator=g, dtype=torch.float64), torch.randn(16, len(problem.outputs), generator=g,
                                                                           dtype=torch.float64)
    scale = torch.tensor([max(abs(lo), abs(hi), 1e-3) for lo, hi in problem.domain.values()], dtype=torch.float64)
    net = lambda x: torch.tanh((x / scale) @ w + b) @ v  # noqa: E731
    rng = np.random.default_rng(0)
    for term in (t for t in problem.terms() if t.name in hard_terms):
        pts = torch.as_tensor(sample_region(term.region, problem.inputs, 64, "uniform", rng), dtype=torch.float64)
        f = Fields(pts, problem.inputs, problem.outputs, lambda x: transform(x, net(x), _some_function_value))
        r = term.residual(f)
        worst = max(float(p.detach().abs().max()) for p in (r if isinstance(r, tuple) else (r,)))
        size = 1.0 + float(f.y.detach().abs().max())
        if not worst <= 1e-9 * size:
            raise ConfigError(f"{PATH}.satisfies[{list(hard_terms).index(term.name)}]",
                              f"the output_transform does not satisfy condition '{term.name}' "
                              f"(residual up to {worst:.3g} for a random network)")


def _some_function_value(name: str, where: float) -> torch.Tensor:
    """A function input's value at a point (a transform's ``f(0)``) for the check: any one will do."""
    return torch.tensor(0.3 + where / 7, dtype=torch.float64)
