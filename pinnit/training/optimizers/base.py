"""The optimizer registry and its builder.

An optimizer entry is a function ``entry(params, **options) -> torch.optim.Optimizer`` registered by name;
its keyword arguments are its config options (validated by :func:`pinnit.core.params.bind_params`). The
optimizer it returns owns its whole state, so ``state_dict()`` / ``load_state_dict()`` round-trip exactly
(checkpoints and resumed runs continue bit for bit).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ...core.errors import ConfigError, PinnitError
from ...core.params import bind_params, split_spec
from ...core.registry import Registry

OptimizerFactory = Callable[..., torch.optim.Optimizer]

OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")


def register_optimizer(name: str) -> Callable[[OptimizerFactory], OptimizerFactory]:
    """Function decorator: ``@register_optimizer("bfgs")``."""
    return OPTIMIZERS.register(name)


def build_optimizer(spec: Any, params: Iterable[torch.nn.Parameter],
                    path: str = "training.optimizer") -> torch.optim.Optimizer:
    """Build from a name or a mapping ``{name: ..., **options}``; bad options raise a one-line ConfigError."""
    name, options = split_spec(spec, path)
    factory = OPTIMIZERS.get(name, f"{path}.name")
    kwargs = bind_params(factory, options, path, skip=1)
    try:
        return factory(list(params), **kwargs)
    except ConfigError as err:
        raise err.within(path, name) from None
    except PinnitError as err:
        raise ConfigError(path, str(err)) from None


#: how logs, progress bars and plots name each registered optimizer (other names are shown as they are)
LABELS = {"adam": "Adam", "lbfgs": "L-BFGS", "bfgs": "BFGS", "ssbfgs": "SSBFGS", "ssbroyden": "SSBroyden",
          "levenberg_marquardt": "Levenberg–Marquardt", "lstsq_last": "last-layer least squares"}


def optimizer_label(name: str) -> str:
    """The display name of optimizer (or stage) ``name``."""
    return LABELS.get(name, name)
