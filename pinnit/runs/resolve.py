"""Values derived from other keys once a config is valid (recorded in the resolved config.yaml).

A stage's ``lr_per_omega`` (``training.adam.lr_per_omega`` in the older form) ties a first-order stage's
learning rate to the activation's critical scale, in the band η ∈ [1e−5·ω, 1e−3·ω], ω = 1/f'(0) (Lee,
'Beyond Gaussian Initializations: Signal Preserving Weight Initialization for Odd-Sigmoid Activations', 2026).
When it is set, the stage's ``lr = lr_per_omega·ω`` of the configured activation (at its initial scales) replaces any
``lr`` given: one rule, and a resolved config (which holds both) reloads to the same value.
"""
from __future__ import annotations

import math

from ..core.errors import ConfigError
from ..config.schema import RunConfig


def resolve_derived(cfg: RunConfig) -> None:
    """Fill the derived keys of a validated config in place."""
    for name, stage in cfg.training.stages.items():
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
