"""Output transforms written as expressions: one concept for the hard constraints of every problem.

A hard constraint builds a condition into the fields through an output transform ŷ = g(x, y) of the raw network
output y (trial solutions of Lagaris, Likas & Fotiadis, *Artificial neural networks for solving ordinary and partial
differential equations*, IEEE Trans. Neural Networks 1998), e.g. Burgers' u = −sin(πx) + t(1 − x²)·N. Built-in
problems give g by :meth:`~pinnit.problems.base.Problem.transform_expressions` and declared ones by
``output_transform`` in YAML; both are one expression per field in the inputs, the parameters and the raw outputs
(in a transform a field's name stands for the raw output), parsed by :mod:`pinnit.expressions.parse`.

:class:`SymbolicTransform` evaluates g and its partial derivatives. For a multi-index α (here |α| ≤ 2) sympy's chain
rule writes ∂^α g(x, y(x)) as an expression in x, y and the raw derivatives ∂^β y, β ≤ α (the multivariate chain
rule of order 2, the first terms of Faà di Bruno's formula):

    ∂_j ŷ = g_j + g_y·y_j,    ∂_jk ŷ = g_jk + g_jy·y_k + g_ky·y_j + g_yy·y_j·y_k + g_y·y_jk,

e.g. ∂_x [t(1 − x²)·u] = −2xt·u + t(1 − x²)·u_x. Compiled to torch it is element-wise arithmetic on the forward
jets of the raw network — no autograd — which is how :class:`~pinnit.derivatives.jet_fields.JetFields` and the
operator loss differentiate hard-constrained fields. Where g is not smooth (a payoff max(S − K, 0)) sympy's
derivatives hold Heaviside steps and Dirac deltas; a delta is set to 0, as autograd sees it (torch.maximum'' = 0).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch

from ..core.errors import ConfigError

if TYPE_CHECKING:
    from ..expressions.parse import Compiled, Namespace


def _ex():
    """The expression module, imported on first use (sympy is not loaded with pinnit)."""
    from ..expressions import parse as expressions

    return expressions


class SymbolicTransform:
    """g(x, y) of one compiled expression per output field over namespace ``ns``; ``derivative`` gives ∂^wrt g."""

    def __init__(self, ns: Namespace, compiled: Sequence[Compiled], path: str = "problem.output_transform"):
        self.ns, self.compiled, self.path = ns, list(compiled), path
        self.inputs, self.outputs = ns.inputs, ns.fields
        self._derivatives: dict[tuple[str, tuple[str, ...]], Compiled] = {}

    @classmethod
    def parse(cls, inputs: Sequence[str], outputs: Sequence[str], expressions: Mapping[str, str],
              parameters: Mapping[str, float] | None = None, path: str = "problem.output_transform"
              ) -> SymbolicTransform:
        """From text: ``expressions`` maps every output field to g's expression for it; ``parameters`` name
        constants (ConfigErrors at ``path.<field>``)."""
        ex = _ex()
        ns = ex.Namespace(inputs, outputs, dict(parameters or {}), path)
        if set(expressions) != set(ns.fields):
            raise ConfigError(path, f"give one expression per field ({', '.join(ns.fields)}), got "
                                    f"{', '.join(expressions) or 'none'}")
        compiled = []
        for u in ns.fields:
            text = expressions[u]
            compiled.append(ex.compile_expr(ex.parse(text, ns, f"{path}.{u}", "transform"), ns, f"{path}.{u}", text))
        return cls(ns, compiled, path)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, at=None) -> torch.Tensor:
        """The transformed fields (N | B × N) × fields of raw outputs ``y`` at points ``x`` (N × inputs); ``at``:
        (function input, point) → its value for each function (B × 1), for a transform that reads ``f(0)``."""
        env = _ex().Columns(x, self.inputs, y, self.outputs, at)
        return torch.stack(torch.broadcast_tensors(*(c(env) for c in self.compiled)), dim=-1)

    def derivative(self, field: str, wrt: Sequence[str] = ()) -> Compiled:
        """∂^wrt g_field compiled over an environment with ``coord``, ``value`` (raw outputs) and ``d`` (raw
        derivatives); ``wrt`` empty: g_field itself. Cached per (field, sorted wrt)."""
        key = (field, tuple(sorted(wrt, key=self.inputs.index)))
        if key not in self._derivatives:
            compiled = self.compiled[self.outputs.index(field)]
            if not key[1]:
                self._derivatives[key] = compiled
            else:
                import sympy as sp

                expr = sp.diff(compiled.expr, *(self.ns.symbols[v] for v in key[1]))
                expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
                self._derivatives[key] = _ex().compile_expr(expr, self.ns, f"{self.path}.{field}")
        return self._derivatives[key]
