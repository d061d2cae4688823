"""Activation base class and registry.

An activation is an ``nn.Module`` registered by name; its constructor's keyword arguments are its
parameters (validated from YAML by :func:`pinnit.core.params.bind_params`). Properties that initializers need
(f'(0), the critical scale ω = 1/f'(0) of Lee 2026, default KGI bounds of the KGI preprint) come from the object.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from ...core.errors import ConfigError
from ...core.params import bind_params, split_spec
from ...core.registry import Registry

ACTIVATIONS: Registry[type["Activation"]] = Registry("activation")


class Activation(nn.Module):
    """Base class: subclasses implement ``forward`` and may override the properties below."""

    #: 'odd_sigmoid', 'relu_like', 'smooth', 'periodic' or 'normalizing' (used for KGI default bounds).
    family: ClassVar[str] = "smooth"

    def slope_at_zero(self) -> float:
        """f'(0), by autograd in float64 (subclasses with a closed form may override)."""
        x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.forward(x).sum(), x)
        return float(g)

    @property
    def omega(self) -> float:
        """Critical scale ω = 1/f'(0) (Lee 2026); ``inf`` when f'(0) = 0."""
        s = self.slope_at_zero()
        return math.inf if s == 0 else 1.0 / s

    def default_bounds(self) -> tuple[float, float]:
        """KGI knot bounds [a, b] for the layer *after* this activation (the KGI preprint, Section 3)."""
        return {"odd_sigmoid": (-0.8, 0.8), "relu_like": (0.2, 0.8), "periodic": (-0.8, 0.8)}.get(
            self.family, (-0.8, 0.8)
        )


def register_activation(name: str):
    """Class decorator: ``@register_activation("tanh")``."""
    return ACTIVATIONS.register(name)


def build_activation(spec: Any, path: str = "network.activation") -> Activation:
    """Build from a name or a mapping ``{name: ..., **params}``."""
    name, params = split_spec(spec, path)
    cls = ACTIVATIONS.get(name, f"{path}.name")
    init = cls.__init__ if cls.__init__ is not nn.Module.__init__ else (lambda self: None)
    kwargs = bind_params(init, params, path, skip=1)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise err.within(path, "activation") from None
