"""Second-order jets of an MLP: value, gradient and Hessian in the inputs, carried forward layer by layer.

For h⁰ = (x − shift)·scale: ∂h⁰/∂x_j = scale_j e_j, ∂²h⁰ = 0. A linear layer maps every channel by Wᵀ
(the bias only enters the value); an elementwise activation φ maps (z, ∂_j z, ∂_jk z) to
(φ(z), φ'(z) ∂_j z, φ''(z) ∂_j z ∂_k z + φ'(z) ∂_jk z). A jet is the triple (value N × w, gradient
N × d × w, Hessian N × d × d × w), kept as three tensors (no slicing of a stacked one, whose backward
would zero-fill the whole stack for every slice).
The derivatives of an MLP's output in its inputs thus cost one forward pass of K channels instead of nested
backward passes.
"""
from __future__ import annotations

import torch

from .jets import activation_derivatives  # closed forms for odd sigmoids, sine; else autograd
from ..nn.mlp import MLP


Jet = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]  # value, gradient, Hessian (None: zero)


def linear_jet(layer: torch.nn.Linear, jet: Jet) -> Jet:
    v, g, h = jet
    w = layer.weight.T
    v = v @ w + layer.bias if layer.bias is not None else v @ w
    return v, g @ w, None if h is None else h @ w


def activation_jet(act: torch.nn.Module, jet: Jet) -> Jet:
    v, g, h = jet
    f0, f1, f2 = activation_derivatives(act, v)
    hess = f2[:, None, None] * (g[:, :, None] * g[:, None, :])
    if h is not None:
        hess = hess + f1[:, None, None] * h
    return f0, f1[:, None] * g, hess


def mlp_jet(net: MLP, x: torch.Tensor, final: torch.nn.Module | None = None) -> Jet:
    """Jet of ``net`` at points ``x`` (N × d): value N × out, gradient N × d × out, Hessian N × d × d × out;
    ``final``: an activation applied after the output layer."""
    n, d = x.shape
    jet: Jet = ((x - net.shift) * net.scale, torch.diag_embed(net.scale.to(x.dtype)).expand(n, d, d), None)
    for layer, act in zip(net.layers[:-1], net.activations):
        jet = activation_jet(act, linear_jet(layer, jet))
    jet = linear_jet(net.layers[-1], jet)
    if jet[2] is None:  # a network without hidden layers is linear in x
        jet = (jet[0], jet[1], jet[1].new_zeros(n, d, *jet[1].shape[1:]))
    return activation_jet(final, jet) if final is not None else jet
