"""Initializer registry.

An initializer is a function ``init(layers, activation, generator, **params)`` that overwrites the weights
and biases of a list of ``nn.Linear`` layers in place (any stack: an MLP, a DeepONet's branch or trunk).
Its keyword parameters are validated from YAML by :func:`pinnit.params.bind_params`.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ...errors import ConfigError
from ...params import bind_params, split_spec
from ...registry import Registry
from ..activations.base import Activation

InitFn = Callable[..., None]
INITIALIZERS: Registry[InitFn] = Registry("initializer")


def register_initializer(name: str):
    """Function decorator: ``@register_initializer("xavier_normal")``."""
    return INITIALIZERS.register(name)


def initialize(
    layers: Sequence[nn.Linear],
    activation: Activation,
    generator: torch.Generator,
    spec: Any,
    path: str = "network.initializer",
    sample: torch.Tensor | None = None,
) -> None:
    """Apply the initializer named in ``spec`` (a name or ``{name: ..., **params}``) to ``layers``.

    ``sample`` (a batch of inputs to the first layer, already normalised) is passed to initializers that
    declare a ``sample`` keyword (data-driven ones such as KGI with data bounds).
    """
    name, params = split_spec(spec, path)
    fn = INITIALIZERS.get(name, f"{path}.name")
    kwargs = bind_params(fn, params, path, skip=3, internal=("sample",))
    if "sample" in inspect.signature(fn).parameters:
        kwargs["sample"] = sample
    try:
        with torch.no_grad():
            fn(list(layers), activation, generator, **kwargs)
    except ConfigError as err:
        raise err.within(path, "initializer") from None


def validate_initializer(spec: Any, path: str = "network.initializer") -> None:
    """Check name and parameters without touching any layer (config validation)."""
    name, params = split_spec(spec, path)
    bind_params(INITIALIZERS.get(name, f"{path}.name"), params, path, skip=3, internal=("sample",))
