"""Fields from forward jets: the derivatives a residual asks for, carried through the MLP in one pass.

Same interface as :class:`~pinnit.derivatives.fields.Fields`, but ``keys`` — the (field, input indices) derivatives the
residual will ask for, found on a first call by :class:`~pinnit.derivatives.engine.LossEngine` — are computed
up front by :func:`pinnit.derivatives.mlp_jets` (value, ∇y and exactly the second derivatives needed, stacked
into one matmul per layer), so the loss needs one ordinary backward and can be ``torch.compile``d.

An output transform ŷ = g(x, y) (hard constraints) is applied in one of two ways:

- ``chain`` given (every transform written as expressions: pinnit/problems/transform_expressions.py): for each key
  α the compiled expression of ∂^α g — sympy's chain rule, e.g. ∂_jk ŷ = g_jk + g_jy·y_k + g_ky·y_j + g_yy·y_j·y_k
  + g_y·y_jk — is evaluated on the raw jets (x, y, ∂y, ∂²y). Element-wise arithmetic only, no autograd: the
  whole loss keeps a first-order backward and compiles (``compiled``, and the fused Adam step).
- otherwise (a transform in Python only) g is differentiated through the second-order Taylor polynomial of the
  network at the points x₀ (x₀ detached, δ = x − x₀ zero-valued but carrying the graph):

      ŷ(x) = y + Σ_j ∂_j y δ_j + ½ Σ_j ∂_jj y δ_j² + Σ_{j<k} ∂_jk y δ_j δ_k,

  which has the network's value, gradient and the needed second derivatives at x₀ (chain rule of order 2 only
  uses those), so nested autograd of g(x, ŷ(x)) gives the exact derivatives. That needs a double backward, which
  compiled graphs do not have: there only the MLP jets are compiled.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import torch

from .jets import mlp_jets, mlp_values
from ..core.errors import PinnitError
from .fields import Fields
from ..nn.mlp import MLP

Key = tuple[str, tuple[int, ...]]  # (field, sorted input indices): ("u", (0, 0)) is u_xx for inputs (x, t)
Transform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: (field, input indices) → ∂^indices of the transformed field, a function of a :class:`RawJets` environment
Chain = Mapping[Key, Callable[["RawJets"], torch.Tensor]]


class MissingDerivative(PinnitError):
    """A residual asked a JetFields for a derivative that was not discovered (the engine rediscovers)."""


def second_order_streams(keys: Iterable[Key]) -> tuple[list[int], list[tuple[int, int]], int]:
    """(pure indices j of ∂_jj, mixed pairs (j, k), highest order) asked for by ``keys``."""
    pure, mixed, order = set(), set(), 0
    for _, idx in keys:
        order = max(order, len(idx))
        if len(idx) == 2:
            (pure.add(idx[0]) if idx[0] == idx[1] else mixed.add(idx))
    return sorted(pure), sorted(mixed), order


def transform_chain(derivative: Callable[[str, tuple[str, ...]], Callable | None], inputs: Sequence[str],
                    outputs: Sequence[str], keys: Iterable[Key]) -> Chain | None:
    """The :data:`Chain` of an output transform for ``keys`` and every field's value: ``derivative(field, wrt)``
    (e.g. :meth:`~pinnit.problems.base.Problem.transform_derivative`) for each; None when it has none for one
    (or fails to build it): the transform is then differentiated through the Taylor polynomial."""
    chain = {}
    for field, idx in sorted({*keys, *((u, ()) for u in outputs)}):
        try:
            d = derivative(field, tuple(inputs[i] for i in idx))
        except Exception:  # noqa: BLE001 (e.g. a derivative sympy gives that compile_expr cannot evaluate)
            return None
        if d is None:
            return None
        chain[(field, idx)] = d
    return chain


class RawJets:
    """The raw network's jets at ``x`` as an expression environment (``coord``, ``value``, ``d``) for a
    :data:`Chain` (the compiled derivatives of the output transform)."""

    def __init__(self, x: torch.Tensor, inputs: Sequence[str], outputs: Sequence[str], y: torch.Tensor,
                 derivatives: Mapping[Key, torch.Tensor]):
        self.x, self.inputs, self.outputs, self.y, self._d = x, tuple(inputs), tuple(outputs), y, derivatives

    def coord(self, name: str) -> torch.Tensor:
        return self.x[:, self.inputs.index(name)]

    def value(self, field: str) -> torch.Tensor:
        return self.y[:, self.outputs.index(field)]

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        if not wrt:
            return self.value(field)
        key = (field, tuple(sorted(self.inputs.index(v) for v in wrt)))
        if key not in self._d:
            raise MissingDerivative(f"raw derivative {key} was not prepared")
        return self._d[key]


class JetFields(Fields):
    """Outputs of ``net`` (then ``transform``, if any) at ``x`` with the derivatives ``keys`` by forward jets;
    ``chain``: the transform's derivatives for every key and every field's value (``(field, ())``), see above."""

    def __init__(self, x: torch.Tensor, inputs: Sequence[str], outputs: Sequence[str], net: MLP,
                 transform: Transform | None, keys: Iterable[Key], jets: Callable = mlp_jets,
                 chain: Chain | None = None):
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)
        # a fixed order (not a set's, which follows Python's per-process string hashing): the fields are built, and
        # their gradients accumulated by backward, in this order, so runs repeat bit for bit across processes
        self.net, self.transform, self.keys, self._jets = net, transform, tuple(sorted(set(keys))), jets
        self.chain = chain if transform is not None else None
        pure, mixed, order = second_order_streams(self.keys)
        if order > 2:
            raise PinnitError("forward jets give derivatives up to order 2")
        self._cache: dict[Key, torch.Tensor] = {}
        if transform is None:
            self.x = x
            self._evaluate = lambda p: net(p)
            self.y = self._raw(x, pure, mixed, order, self._cache)
        elif self.chain is not None:
            self._chained(x, pure, mixed, order)
        else:
            self._transformed(x, pure, mixed, order)

    def _raw(self, x: torch.Tensor, pure: list[int], mixed: list[tuple[int, int]], order: int,
             cache: dict[Key, torch.Tensor]) -> torch.Tensor:
        """The network's outputs at ``x``; its derivatives (every first one, the asked second ones) into ``cache``."""
        if order == 0:
            return mlp_values(self.net, x)
        y, dy, d2y, m = self._jets(self.net, x, order=max(order, 1), mixed=mixed, pure=pure)
        for o, name in enumerate(self.outputs):
            for j in range(len(self.inputs)):
                cache[(name, (j,))] = dy[:, o, j]
            for q, j in enumerate(pure):
                cache[(name, (j, j))] = d2y[:, o, q]
            for p, v in m.items():
                cache[(name, p)] = v[:, o]
        return y

    def _chained(self, x: torch.Tensor, pure: list[int], mixed: list[tuple[int, int]], order: int) -> None:
        self.x = x
        self._evaluate = lambda p: self.transform(p, self.net(p))
        raw: dict[Key, torch.Tensor] = {}
        env = RawJets(x, self.inputs, self.outputs, self._raw(x, pure, mixed, order, raw), raw)
        self.y = torch.stack([self.chain[(u, ())](env) for u in self.outputs], dim=-1)
        for key in self.keys:
            self._cache[key] = self.chain[key](env)

    def _transformed(self, x: torch.Tensor, pure: list[int], mixed: list[tuple[int, int]], order: int) -> None:
        x0 = x.detach()  # the jets' points: no path from self.x into the jets
        self.x = x.detach().requires_grad_(True)
        self._evaluate = lambda p: self.transform(p, self.net(p))
        if order == 0:
            self.y = self.transform(self.x, self.net(self.x))
            return
        y, dy, d2y, m = self._jets(self.net, x0, order=max(order, 1), mixed=mixed, pure=pure)
        delta = (self.x - x0)[:, None, :]  # N × 1 × d, zero, carries ∂/∂x
        taylor = y + (dy * delta).sum(-1)
        if order == 2:
            taylor = taylor + 0.5 * (d2y * delta[..., pure] ** 2).sum(-1)
            for (j, k), v in m.items():
                taylor = taylor + v * delta[..., j] * delta[..., k]
        self.y = self.transform(self.x, taylor)

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        if (self.transform is not None and self.chain is None) or not wrt:
            return super().d(field, *wrt)
        for v in wrt:
            if v not in self.inputs:
                raise PinnitError(f"cannot differentiate '{field}' by '{v}'; inputs: {', '.join(self.inputs)}")
        key = (field, tuple(sorted(self.inputs.index(v) for v in wrt)))
        if key not in self._cache:
            if field not in self.outputs:
                raise PinnitError(f"unknown field '{field}'; fields: {', '.join(self.outputs)}")
            raise MissingDerivative(f"derivative {key} was not prepared")
        return self._cache[key]

    def at(self, **coords: float) -> "JetFields":
        x = self.x.detach().clone()
        for name, value in coords.items():
            x[:, self.inputs.index(name)] = value
        return JetFields(x, self.inputs, self.outputs, self.net, self.transform, self.keys, self._jets, self.chain)


class RecordingFields(Fields):
    """Autograd :class:`Fields` that records every derivative key asked for (also on ``at`` copies)."""

    def __init__(self, *args, record: set[Key] | None = None, **kwargs):
        self.record = set() if record is None else record
        super().__init__(*args, **kwargs)

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        if wrt and all(v in self.inputs for v in wrt):
            self.record.add((field, tuple(sorted(self.inputs.index(v) for v in wrt))))
        return super().d(field, *wrt)

    def at(self, **coords: float) -> "RecordingFields":
        x = self.x.detach().clone()
        for name, value in coords.items():
            x[:, self.inputs.index(name)] = value
        return RecordingFields(x, self.inputs, self.outputs, self._evaluate, record=self.record)
