"""Values derived from other keys once a config is valid (recorded in the resolved config.yaml).

``training.adam.lr_per_omega`` (or a stage's ``lr_per_omega``): seed 000 ties Adam's learning rate to the activation's critical scale,
η ∈ [1e−5·ω, 1e−3·ω] with ω = 1/f'(0) (methods.md §2.3 'Learning-rate band'). When it is set, the
learning rate is ``lr = lr_per_omega·ω`` of the configured activation (at its initial scales) and replaces
any ``lr`` given: one rule, and a resolved config (which holds both) reloads to the same value.
"""
from __future__ import annotations

import math

from ..errors import ConfigError
from .schema import RunConfig


def resolve_derived(cfg: RunConfig) -> None:
    """Fill the derived keys of a validated config in place."""
    adam = cfg.training.adam
    if adam.lr_per_omega is not None:
        adam.lr = adam.lr_per_omega * _omega(cfg, "training.adam")
    for name, stage in (cfg.training.stages or {}).items():  # a stage's lr_per_omega → its lr option
        if stage.lr_per_omega is not None:
            setattr(stage, "lr", stage.lr_per_omega * _omega(cfg, f"training.stages.{name}"))


def _omega(cfg: RunConfig, path: str) -> float:
    """ω = 1/f'(0) of the configured activation; a one-line error where it is not finite."""
    from ..nn.activations import build_activation

    activation = build_activation(cfg.network.activation, "network.activation")
    omega = activation.omega
    if not (math.isfinite(omega) and omega > 0):
        name = cfg.network.activation if isinstance(cfg.network.activation, str) else cfg.network.activation["name"]
        raise ConfigError(f"{path}.lr_per_omega",
                          f"activation '{name}' has no finite critical scale ω = 1/f'(0) (f'(0) = "
                          f"{activation.slope_at_zero():g}); set {path}.lr instead")
    return omega
