"""Classical initializers (Glorot & Bengio 2010; He et al. 2015; LeCun et al. 1998; Saxe et al. 2014).

Weights come from ``torch.nn.init`` with the run's generator (never the global RNG). Every entry takes the
same bias options: ``bias`` (a constant, default 0) plus ``bias_std`` (σ_b > 0 adds N(0, σ_b²) noise),
(Glorot & Bengio 2010; He et al. 2015; LeCun et al. 1998; Saxe et al. 2014).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from pydantic import NonNegativeFloat, PositiveFloat
from torch import nn

from ..activations.base import Activation
from .base import register_initializer

Nonlinearity = Literal["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
FanMode = Literal["fan_in", "fan_out"]


def normal(shape: torch.Size, std: float, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """N(0, std²) samples of ``shape`` with ``like``'s dtype and device, drawn from ``generator`` (on CPU)."""
    z = torch.randn(shape, generator=generator, dtype=like.dtype, device=generator.device)
    return (z * std).to(like.device)


def init_bias(layer: nn.Linear, generator: torch.Generator, bias: float = 0.0, bias_std: float = 0.0) -> None:
    """b = ``bias`` + N(0, ``bias_std``²) (no draw when ``bias_std`` = 0); nothing for a bias-free layer."""
    if layer.bias is None:
        return
    layer.bias.fill_(bias)
    if bias_std > 0:
        layer.bias.add_(normal(layer.bias.shape, bias_std, generator, layer.bias))


def init_gaussian(layers: list[nn.Linear], generator: torch.Generator, sigma_w: float, sigma_b: float) -> None:
    """Mean-field Gaussian: W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) (the EOC and Roberts–Yaida convention)."""
    for layer in layers:
        layer.weight.copy_(normal(layer.weight.shape, sigma_w / math.sqrt(layer.in_features), generator, layer.weight))
        init_bias(layer, generator, 0.0, sigma_b)


def _each(layers: list[nn.Linear], generator: torch.Generator, bias: float, bias_std: float,
          weight_fn: Callable[..., torch.Tensor], **kwargs) -> None:
    """Apply ``weight_fn(weight, generator=…, **kwargs)`` (a ``torch.nn.init`` function) and the bias option."""
    for layer in layers:
        weight_fn(layer.weight, generator=generator, **kwargs)
        init_bias(layer, generator, bias, bias_std)


@register_initializer("xavier_normal")
def xavier_normal(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
                  gain: float = 1.0, bias: float = 0.0, bias_std: NonNegativeFloat = 0.0) -> None:
    """Glorot normal: W ~ N(0, gain²·2/(fan_in + fan_out)) (Glorot & Bengio 2010, Eq. 16 variant)."""
    _each(layers, generator, bias, bias_std, nn.init.xavier_normal_, gain=gain)


@register_initializer("xavier_uniform")
def xavier_uniform(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
                   gain: float = 1.0, bias: float = 0.0, bias_std: NonNegativeFloat = 0.0) -> None:
    """Glorot uniform: W ~ U(±gain·√(6/(fan_in + fan_out))) (Glorot & Bengio 2010, Eq. 16)."""
    _each(layers, generator, bias, bias_std, nn.init.xavier_uniform_, gain=gain)


@register_initializer("he_normal")
def he_normal(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
              nonlinearity: Nonlinearity = "relu", negative_slope: float = 0.01, mode: FanMode = "fan_in",
              bias: float = 0.0, bias_std: NonNegativeFloat = 0.0) -> None:
    """He/Kaiming normal: W ~ N(0, gain²/fan), gain = √2 for ReLU (He et al. 2015).

    ``negative_slope`` is used only with ``nonlinearity: leaky_relu`` (gain √(2/(1+slope²))).
    """
    _each(layers, generator, bias, bias_std, nn.init.kaiming_normal_, a=negative_slope, mode=mode,
          nonlinearity=nonlinearity)


@register_initializer("he_uniform")
def he_uniform(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
               nonlinearity: Nonlinearity = "relu", negative_slope: float = 0.01, mode: FanMode = "fan_in",
               bias: float = 0.0, bias_std: NonNegativeFloat = 0.0) -> None:
    """He/Kaiming uniform: W ~ U(±gain·√(3/fan)), gain = √2 for ReLU (He et al. 2015)."""
    _each(layers, generator, bias, bias_std, nn.init.kaiming_uniform_, a=negative_slope, mode=mode,
          nonlinearity=nonlinearity)


@register_initializer("lecun_normal")
def lecun_normal(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
                 bias: float = 0.0, bias_std: NonNegativeFloat = 0.0) -> None:
    """LeCun normal: W ~ N(0, 1/fan_in) (LeCun et al. 1998; untruncated)."""
    _each(layers, generator, bias, bias_std, nn.init.kaiming_normal_, nonlinearity="linear")


@register_initializer("lecun_uniform")
def lecun_uniform(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
                  bias: float = 0.0, bias_std: NonNegativeFloat = 0.0) -> None:
    """LeCun uniform: W ~ U(±√(3/fan_in)), variance 1/fan_in (LeCun et al. 1998)."""
    _each(layers, generator, bias, bias_std, nn.init.kaiming_uniform_, nonlinearity="linear")


@register_initializer("orthogonal")
def orthogonal(layers: list[nn.Linear], activation: Activation, generator: torch.Generator, *,
               gain: PositiveFloat = 1.0, bias: float = 0.0, bias_std: NonNegativeFloat = 0.0) -> None:
    """(Semi-)orthogonal W scaled by ``gain``, from the QR of a Gaussian matrix (Saxe et al. 2014)."""
    _each(layers, generator, bias, bias_std, nn.init.orthogonal_, gain=gain)
