"""Registries: one decorated class adds an entry usable from YAML, listed, with validated parameters."""
from __future__ import annotations

import pytest
import torch

from pinnit.runs import parse_config
from pinnit.core.errors import ConfigError
from pinnit.nn.activations import ACTIVATIONS
from pinnit.nn.activations.base import Activation, register_activation
from pinnit.core.registry import Registry


@register_activation("test_swish")
class _Swish(Activation):
    """Swish x·sigmoid(βx) — registered by this test module, as docs/guides/extending.md shows."""

    def __init__(self, *, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


def test_a_decorated_class_is_usable_by_name(burgers_cfg):
    assert "test_swish" in ACTIVATIONS
    assert ACTIVATIONS.describe()["test_swish"].startswith("Swish x·sigmoid")
    cfg = parse_config(burgers_cfg, ["network.activation={name: test_swish, beta: 2}"])
    assert cfg.network.activation == {"name": "test_swish", "beta": 2}
    with pytest.raises(ConfigError, match="network.activation.beta: got 'x'"):
        parse_config(burgers_cfg, ["network.activation={name: test_swish, beta: x}"])
    # ω = 1/f'(0) is computed from the object: swish'(0) = 1/2
    assert _Swish(beta=2.0).omega == pytest.approx(2.0)


def test_registry_rejects_duplicates_and_suggests_names():
    reg: Registry[int] = Registry("thing")
    reg.register("alpha", "first")(1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("alpha")(2)
    with pytest.raises(ConfigError, match="did you mean 'alpha'"):
        reg.get("alpah", "x.name")
    assert list(reg) == ["alpha"] and len(reg) == 1 and reg.describe() == {"alpha": "first"}
