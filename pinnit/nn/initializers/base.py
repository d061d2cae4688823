"""Initializer registry.

An initializer is a function ``init(layers, activation, generator, **params)`` that overwrites the weights
and biases of a list of ``nn.Linear`` layers in place (any stack: an MLP, a DeepONet's branch or trunk).
Its keyword parameters are validated from YAML by :func:`pinnit.core.params.bind_params`.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ...core.errors import ConfigError
from ...core.params import bind_params, split_spec
from ...core.registry import Registry
from ..activations.base import Activation

InitFn = Callable[..., None]
#: keyword arguments pinnit supplies itself (never from YAML).
INTERNAL = ("sample", "targets", "dry_run")
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
    targets: Any = None,
    dry_run: bool = False,
) -> None:
    """Apply the initializer named in ``spec`` (a name or ``{name: ..., **params}``) to ``layers``.

    ``sample`` (a batch of inputs to the first layer, already normalised) is passed to initializers that
    declare a ``sample`` keyword (data-driven ones such as KGI with data bounds). ``targets`` (FitTargets in
    normalised coordinates, or a zero-argument callable returning them, called only when needed) is passed to
    those that declare ``targets`` (output-layer projections such as ``basis_pretrained``). ``dry_run`` (the
    config check at load time) lets initializers that declare it skip expensive work after validating.
    """
    name, params = split_spec(spec, path)
    fn = INITIALIZERS.get(name, f"{path}.name")
    kwargs = bind_params(fn, params, path, skip=3, internal=INTERNAL)
    declared = inspect.signature(fn).parameters
    if "sample" in declared:
        kwargs["sample"] = sample
    if "targets" in declared:
        kwargs["targets"] = targets() if callable(targets) else targets
    if "dry_run" in declared:
        kwargs["dry_run"] = dry_run
    try:
        with torch.no_grad():
            fn(list(layers), activation, generator, **kwargs)
    except ConfigError as err:
        raise err.within(path, "initializer") from None


def validate_initializer(spec: Any, path: str = "network.initializer") -> None:
    """Check name and parameters without touching any layer (config validation)."""
    name, params = split_spec(spec, path)
    bind_params(INITIALIZERS.get(name, f"{path}.name"), params, path, skip=3, internal=INTERNAL)
