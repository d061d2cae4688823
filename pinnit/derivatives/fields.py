"""The derivative engine: network outputs and their partial derivatives, by name, on demand.

Problems ask for ``f["u"]``, ``f["u_xx"]``, ``f.d("V", "S", "S")``; the engine computes each derivative
once per batch with reverse-mode autograd (one backward pass yields the whole gradient, so u_x and u_t
come together) and caches it. This is the one seam where faster schemes (forward jets, ZCS for
DeepONets) plug in without touching problem code.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..core.errors import PinnitError


class Fields:
    """Outputs ``y = model(x)`` at points ``x`` (N × d), with cached partial derivatives.

    ``evaluate`` maps points to outputs; it lets a residual evaluate the model elsewhere (``at``),
    e.g. the opposite face for a periodic condition.
    """

    def __init__(self, x: torch.Tensor, inputs: Sequence[str], outputs: Sequence[str],
                 evaluate: Callable[[torch.Tensor], torch.Tensor]):
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        self.x = x
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self._evaluate = evaluate
        self.y = evaluate(x)
        self._cache: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {}

    def coord(self, name: str) -> torch.Tensor:
        return self.x[:, self.inputs.index(name)]

    def value(self, field: str) -> torch.Tensor:
        if field not in self.outputs:
            raise PinnitError(f"unknown field '{field}'; fields: {', '.join(self.outputs)}")
        return self.y[:, self.outputs.index(field)]

    def d(self, field: str, *wrt: str) -> torch.Tensor:
        """∂^k field / ∂wrt[0] … ∂wrt[k−1] at every point (mixed partials are taken to commute)."""
        for v in wrt:
            if v not in self.inputs:
                raise PinnitError(f"cannot differentiate '{field}' by '{v}'; inputs: {', '.join(self.inputs)}")
        if not wrt:
            return self.value(field)
        key = (field, tuple(sorted(self.inputs.index(v) for v in wrt)))
        if key not in self._cache:
            lower = key[1][:-1]
            base = self.d(field, *(self.inputs[i] for i in lower))
            if base.requires_grad:
                (grad,) = torch.autograd.grad(base.sum(), self.x, create_graph=True, materialize_grads=True)
            else:  # constant in x (e.g. a linear network's second derivative)
                grad = torch.zeros_like(self.x)
            for j in range(len(self.inputs)):
                self._cache.setdefault((field, tuple(sorted((*lower, j)))), grad[:, j])
        return self._cache[key]

    def parse(self, name: str) -> tuple[str, tuple[str, ...]]:
        """Split ``u_xt`` / ``V_SS`` / ``V_tau`` into (field, inputs); inputs matched longest-first."""
        if name in self.outputs:
            return name, ()
        field, sep, suffix = name.partition("_")
        if not sep or field not in self.outputs:
            raise KeyError(name)
        wrt: list[str] = []
        names = sorted(self.inputs, key=len, reverse=True)
        while suffix:
            match = next((n for n in names if suffix.startswith(n)), None)
            if match is None:
                raise KeyError(name)
            wrt.append(match)
            suffix = suffix[len(match):]
        return field, tuple(wrt)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name in self.inputs:
            return self.coord(name)
        try:
            field, wrt = self.parse(name)
        except KeyError:
            raise PinnitError(
                f"unknown quantity '{name}': use an input ({', '.join(self.inputs)}), a field "
                f"({', '.join(self.outputs)}) or a derivative like {self.outputs[0]}_{self.inputs[0]}"
            ) from None
        return self.d(field, *wrt)

    def at(self, **coords: float) -> "Fields":
        """The same points with some inputs replaced by constants (e.g. ``f.at(x=1.0)``)."""
        x = self.x.detach().clone()
        for name, value in coords.items():
            x[:, self.inputs.index(name)] = value
        return Fields(x, self.inputs, self.outputs, self._evaluate)
