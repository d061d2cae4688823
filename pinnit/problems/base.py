"""The Problem interface and its registry.

A problem declares its inputs (e.g. ``x, t``), output fields (``u``), a box domain, loss terms (PDE
residuals and conditions, each a function of :class:`~pinnit.derivatives.fields.Fields`), optionally an output
transform that satisfies some conditions exactly (hard constraints; written as expressions, so that its
derivatives are symbolic: :mod:`.transform_expressions`), and a reference solution on an evaluation grid.
Its constructor's annotated keyword arguments are its YAML parameters.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ..core.errors import ConfigError
from ..derivatives.fields import Fields
from ..core.params import bind_params
from ..core.registry import Registry
from ..geometry import Box, Region

if TYPE_CHECKING:
    from ..expressions.parse import Compiled
    from ..sampling.functions import FunctionInput
    from .transform_expressions import SymbolicTransform

KINDS = ("physics", "boundary", "initial", "data")


@dataclass(frozen=True)
class Term:
    """One loss term: mean of residual² over its points, weighted by λ of its name or kind."""

    name: str
    kind: str
    region: Region
    residual: Callable[[Fields], torch.Tensor | tuple[torch.Tensor, ...]]
    points: int = 1000

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"term kind must be one of {KINDS}")


class Problem:
    """Base class of every problem (built-in or declared)."""

    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    #: names of terms an output transform satisfies exactly (dropped from the loss when hard).
    hard_terms: ClassVar[tuple[str, ...]] = ()
    hard_constraints: bool = False
    #: the time-like input, if any (final-time error metric and profile plots use it).
    time_input: ClassVar[str | None] = None
    #: function inputs by name (operator learning: a PI-DeepONet reads each at its sensors); none by default
    functions: Mapping[str, FunctionInput] = MappingProxyType({})
    #: points (one value per input) where the solution has no value, e.g. a lid corner's log pressure; the
    #: evaluation grid's nodes there are left out of the errors (:func:`pinnit.outputs.evaluation.scored_nodes`)
    singular: tuple[tuple[float, ...], ...] = ()

    @property
    def is_operator(self) -> bool:
        """Whether the problem has function inputs, i.e. its runs learn an operator (pinnit/operators)."""
        return bool(self.functions)

    # --- to implement -------------------------------------------------------------------------
    @property
    def domain(self) -> Box:
        raise NotImplementedError

    def terms(self) -> list[Term]:
        raise NotImplementedError

    def transform_expressions(self) -> Mapping[str, str] | None:
        """Hard constraints: the output transform g(x, y) as one expression per field in the inputs, the
        :meth:`transform_parameters` and the raw outputs (a field's name is its raw output), e.g. Burgers'
        ``{"u": "-sin(pi*x) + t*(1 - x^2)*u"}``; None: no transform (:mod:`.transform_expressions`)."""
        return None

    def transform_parameters(self) -> Mapping[str, float]:
        """The constants :meth:`transform_expressions` names (e.g. ``{"K": 0.5}``)."""
        return {}

    def symbolic_transform(self) -> SymbolicTransform | None:
        """The parsed output transform (built once, on first use), or None without transform expressions."""
        if "_symbolic_transform" not in self.__dict__:
            exprs = self.transform_expressions()
            if exprs is None:
                self._symbolic_transform = None
            else:
                from .transform_expressions import SymbolicTransform

                self._symbolic_transform = SymbolicTransform.parse(self.inputs, self.outputs, exprs,
                                                                   self.transform_parameters())
        return self._symbolic_transform

    def output_transform(self, x: torch.Tensor, y: torch.Tensor, at=None) -> torch.Tensor:
        """Hard constraints: map raw network output to the field (only called when enabled); ``at`` gives a
        function input at a fixed point per function, for a transform that reads one (operator runs)."""
        g = self.symbolic_transform()
        return y if g is None else g(x, y, at)

    def transform_derivative(self, field: str, wrt: tuple[str, ...] = ()) -> Compiled | None:
        """∂^wrt of the output transform of ``field``, compiled over the raw network's values and derivatives
        (the chain rule by sympy, :mod:`.transform_expressions`); None for a transform without expressions."""
        g = self.symbolic_transform()
        return None if g is None else g.derivative(field, wrt)

    def default_resolution(self) -> list[int]:
        return [101] * len(self.inputs)

    def reference(self, axes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """Reference fields on the 'ij' mesh of ``axes`` (shape len(axis_0) × …), or None if unknown."""
        return None

    # --- shared -------------------------------------------------------------------------------
    def evaluation_axes(self, resolution: list[int] | None = None) -> dict[str, np.ndarray]:
        res = resolution or self.default_resolution()
        if len(res) != len(self.inputs):
            raise ConfigError("evaluation.resolution", f"needs {len(self.inputs)} entries ({', '.join(self.inputs)}), got {res}")
        box = self.evaluation_box()
        return {k: np.linspace(*box[k], n) for k, n in zip(self.inputs, res)}

    def evaluation_box(self) -> Box:
        return self.domain

    def loss_terms(self) -> list[Term]:
        """The terms that enter the loss (hard-constrained ones removed)."""
        drop = set(self.hard_terms) if self.hard_constraints else set()
        return [t for t in self.terms() if t.name not in drop]

    def fingerprint(self) -> str:
        """What defines the problem beyond its config keys (e.g. a declaration file's contents); hashed into
        the run id and checked on resume."""
        return ""

    def describe(self) -> str:
        return (type(self).__doc__ or "").strip().splitlines()[0]


PROBLEMS: Registry[Callable[..., Problem]] = Registry("problem")


def register_problem(name: str):
    """Class decorator: ``@register_problem("burgers")``."""
    return PROBLEMS.register(name)


def build_problem(spec: Mapping[str, Any], path: str = "problem") -> Problem:
    """Build from ``{name: ..., hard_constraints: bool, **params}``."""
    params = dict(spec)
    name = params.pop("name")
    hard = bool(params.pop("hard_constraints", False))
    cls = PROBLEMS.get(name, f"{path}.name")
    kwargs = bind_params(cls.__init__ if isinstance(cls, type) else cls, params, path, skip=1 if isinstance(cls, type) else 0)
    problem = cls(**kwargs)
    if hard and not problem.hard_terms:
        raise ConfigError(f"{path}.hard_constraints", f"problem '{name}' declares no output transform; set it to false")
    problem.hard_constraints = hard
    return problem
