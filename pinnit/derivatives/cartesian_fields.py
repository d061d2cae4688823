"""The derivative engine for a Cartesian batch: B functions × N shared points (operator learning).

Same interface as :class:`~pinnit.derivatives.fields.Fields` (``f["u_xx"]``, ``f.d("u", "x", "x")``, ``f.value``,
``f.coord``, ``f.at``) plus ``f.function("f")`` for function inputs; values and derivatives are (B × N)
tensors, coordinates (N,) broadcast against them. ``evaluate(X)`` maps points — (N × d) shared, or
(B × N × d) one copy per function — to outputs (B × N × fields). Three modes, equal to rounding (``auto`` is zcs):

- ``zcs`` — zero-coordinate shift (Leng et al. 2023, "Zero coordinate shift: whetted automatic
  differentiation for physics-informed operator learning"): evaluate at X + z with one scalar shift z_j
  per input (z = 0) and a dummy a = 1 (B × N); ω = Σ_{b,n} a_{bn} u_b(x_n + z). Then
  ∂^k ω/∂z_{j₁}…∂z_{j_k} is a scalar (one small backward per order), and its gradient in a is
  ∂^k u/∂x_{j₁}…∂x_{j_k} at every (b, n): the whole batch's derivative for two scalar-graph passes.
- ``autograd`` — the points expanded to every function, a (B·N × d) leaf, and per-point gradients
  by :class:`~pinnit.derivatives.fields.Fields` (memory and time grow with B·N·network).
- ``jets`` — (DeepONets, up to second order) value, gradient and Hessian of the trunk carried forward layer
  by layer (:func:`pinnit.derivatives.jets.mlp_hessian_jets`), contracted with the branch; the output
  transform's derivatives by sympy's chain rule. One forward pass, no nested backward passes: the fewest operations on a CPU.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..core.errors import PinnitError
from .fields import Fields

Evaluate = Callable[[torch.Tensor], torch.Tensor]
FunctionValues = Callable[[str, torch.Tensor], torch.Tensor]  # (name, points N × d) → B × N
#: ``training.derivatives`` of an operator run; ``auto`` is ``zcs``
MODES = ("auto", "autograd", "jets", "zcs")


class CartesianFields:
    """Outputs of a functions × points batch with cached partial derivatives (see the module docstring)."""

    parse = Fields.parse
    __getitem__ = Fields.__getitem__  # inputs, fields and derivatives by name, e.g. f["u_xx"]

    def __init__(self, x: torch.Tensor, inputs: Sequence[str], outputs: Sequence[str], evaluate: Evaluate,
                 functions: FunctionValues | None = None):
        self.x = x.detach()
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)
        self._evaluate, self._functions = evaluate, functions
        self._function_cache: dict[str, torch.Tensor] = {}

    @staticmethod
    def create(mode: str, x: torch.Tensor, inputs: Sequence[str], outputs: Sequence[str], evaluate: Evaluate,
               functions: FunctionValues | None = None, batch: int | None = None) -> "CartesianFields":
        if mode in ("zcs", "auto"):
            return ZcsFields(x, inputs, outputs, evaluate, functions)
        if mode == "autograd":
            return AutogradFields(x, inputs, outputs, evaluate, functions, batch=batch)
        if mode == "jets":  # here ``evaluate`` is the jet: X → d(field, key)
            return CartesianJetFields(x, inputs, outputs, evaluate, functions)
        raise PinnitError(f"unknown derivative mode '{mode}'; valid: {', '.join(MODES)}")

    # --- shared --------------------------------------------------------------------------------------
    def coord(self, name: str) -> torch.Tensor:
        return self.x[:, self.inputs.index(name)]

    def function(self, name: str) -> torch.Tensor:
        """A function input at every point of every function in the batch (B × N)."""
        if self._functions is None:
            raise PinnitError(f"function input '{name}' is not available here (no function batch)")
        if name not in self._function_cache:
            self._function_cache[name] = self._functions(name, self.x)
        return self._function_cache[name]

    def _check(self, field: str, wrt: Sequence[str]) -> None:
        if field not in self.outputs:
            raise PinnitError(f"unknown field '{field}'; fields: {', '.join(self.outputs)}")
        for v in wrt:
            if v not in self.inputs:
                raise PinnitError(f"cannot differentiate '{field}' by '{v}'; inputs: {', '.join(self.inputs)}")

    def at(self, **coords: float) -> "CartesianFields":
        """The same points with some inputs replaced by constants (e.g. ``f.at(x=1.0)``)."""
        x = self.x.clone()
        for name, value in coords.items():
            x[:, self.inputs.index(name)] = value
        return self._like(x)

    # --- per mode ------------------------------------------------------------------------------------
    def _like(self, x: torch.Tensor) -> "CartesianFields":
        raise NotImplementedError

    def value(self, field: str) -> torch.Tensor:
        raise NotImplementedError

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        raise NotImplementedError


class ZcsFields(CartesianFields):
    """Zero-coordinate-shift derivatives: scalar shifts z (d,), dummy weights a (B × N)."""

    def __init__(self, x, inputs, outputs, evaluate, functions=None):
        super().__init__(x, inputs, outputs, evaluate, functions)
        self.z = torch.zeros(self.x.shape[1], dtype=self.x.dtype, device=self.x.device, requires_grad=True)
        self.y = evaluate(self.x + self.z)
        self.a = torch.ones(self.y.shape[:2], dtype=self.y.dtype, device=self.y.device, requires_grad=True)
        self._omega: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {}
        self._cache: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {}

    def _like(self, x):
        return ZcsFields(x, self.inputs, self.outputs, self._evaluate, self._functions)

    def value(self, field: str) -> torch.Tensor:
        self._check(field, ())
        return self.y[..., self.outputs.index(field)]

    def _scalar(self, field: str, key: tuple[int, ...]) -> torch.Tensor:
        """∂^k ω_field / ∂z_key (a scalar); one backward gives all d components of the next order."""
        if (field, key) not in self._omega:
            if not key:
                self._omega[(field, key)] = (self.a * self.value(field)).sum()
            else:
                base = self._scalar(field, key[:-1])
                if base.requires_grad:
                    (grad,) = torch.autograd.grad(base, self.z, create_graph=True, materialize_grads=True)
                else:
                    grad = torch.zeros_like(self.z)
                for j in range(len(self.inputs)):
                    self._omega.setdefault((field, tuple(sorted((*key[:-1], j)))), grad[j])
        return self._omega[(field, key)]

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        """∂^k field / ∂wrt… at every (function, point) = ∂/∂a of ∂^k ω/∂z_wrt (mixed partials commute)."""
        self._check(field, wrt)
        if not wrt:
            return self.value(field)
        key = (field, tuple(sorted(self.inputs.index(v) for v in wrt)))
        if key not in self._cache:
            s = self._scalar(*key)
            if s.requires_grad:
                (out,) = torch.autograd.grad(s, self.a, create_graph=True, materialize_grads=True)
            else:
                out = torch.zeros_like(self.a)
            self._cache[key] = out
        return self._cache[key]


class AutogradFields(CartesianFields):
    """Plain autograd: every function gets its own copy of the points (a B·N × d leaf)."""

    def __init__(self, x, inputs, outputs, evaluate, functions=None, *, batch: int | None = None):
        super().__init__(x, inputs, outputs, evaluate, functions)
        if batch is None:
            raise PinnitError("autograd derivatives need the number of functions in the batch")
        self.batch = batch
        n, dim = self.x.shape
        flat = self.x.expand(batch, n, dim).reshape(batch * n, dim).clone().requires_grad_(True)
        self._flat = Fields(flat, self.inputs, self.outputs,
                            lambda xf: evaluate(xf.view(batch, n, dim)).reshape(batch * n, -1))
        self.y = self._flat.y.view(batch, n, -1)

    def _like(self, x):
        return AutogradFields(x, self.inputs, self.outputs, self._evaluate, self._functions, batch=self.batch)

    def value(self, field: str) -> torch.Tensor:
        self._check(field, ())
        return self.y[..., self.outputs.index(field)]

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        self._check(field, wrt)
        return self._flat.d(field, *wrt).view(self.batch, -1)


class CartesianJetFields(CartesianFields):
    """Forward jets (``jets`` mode): ``jet(X)`` returns ``d(field, key)`` for sorted input indices ``key``
    of length ≤ 2, all derivatives of the batch from one forward pass of the trunk's jet
    (:func:`pinnit.derivatives.jets.mlp_hessian_jets`); exact like the other modes, the cheapest in operations."""

    def __init__(self, x, inputs, outputs, jet: Callable[[torch.Tensor], Callable[[str, tuple], torch.Tensor]],
                 functions=None):
        super().__init__(x, inputs, outputs, jet, functions)
        self._d = jet(self.x)

    def _like(self, x):
        return CartesianJetFields(x, self.inputs, self.outputs, self._evaluate, self._functions)

    def value(self, field: str) -> torch.Tensor:
        self._check(field, ())
        return self._d(field, ())

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        self._check(field, wrt)
        if len(wrt) > 2:
            raise PinnitError(f"{field}_{''.join(wrt)}: jet derivatives go to second order; "
                              f"use training.derivatives: zcs or autograd")
        return self._d(field, tuple(sorted(self.inputs.index(v) for v in wrt)))
