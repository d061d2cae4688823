"""Per-layer statistics of an MLP at initialization: pure functions of a network and a batch of inputs.

Notation: x⁰ = (x − shift)·scale is the normalised input, h^l = W^l x^{l−1} + b^l,
x^l = φ(h^l) for the hidden layers l = 1…L, N_l the width. Statistics are over all (unit, sample) pairs of a
layer unless stated otherwise. One forward pass carries everything, so depth 10⁴ stays cheap.

- **activation range**: mean, std, min, max of x^l; ``sample_std`` = mean over units of the std over samples
  (how much a unit still depends on the input: a collapsed layer can have a large ``std`` across units and
  ``sample_std`` ≈ 0); ``pre_rms`` = √mean((h^l)²) ≈ √q^l of the mean-field length map (Poole et al. 2016).
- **saturated**: fraction of pairs with |φ'(h)| < 0.01·s, s = |φ'(0)| (or |φ'(1)| when φ'(0) = 0, as for
  ReLU/RePU under autograd). For bounded odd sigmoids this is the tail |h| > h₀ (tanh: h₀ = 2.99, where
  |tanh| > 0.995); for ReLU-likes it is the inactive side (φ' = 0), for MRePU_p h < −1 plus a narrow band
  around h = −1/(p+1), where φ' changes sign. ``dead_units`` = fraction of units saturated on every sample
  (dead ReLUs). Both are NaN for normalising activations.
- **neg_gain**: the empirical per-layer negative-gain rate of the diagonal-plus-noise init (Lee 2026, Lemma 1):
  output i copies input j = i mod N_{l−1}, its gain is a_i = h_i^l / x_j^{l−1}, and the rate
  is the fraction of pairs with x_j^{l−1}·h_i^l ≠ 0 where a_i < 0 (NaN if none, e.g. after underflow).
  ``neg_gain_pred`` is Lemma 1's expectation of it given x^{l−1} (:func:`lemma1_rate`); the surrogate
  Φ(−ω/σ_z) is exact only when all |x_j^{l−1}| are equal. **sign_flip**: the same along the whole diagonal
  path — the fraction of pairs where sign(h_i^l) differs from the sign of the input coordinate x⁰_c that the
  path i → i mod N_{l−1} → … reaches (Lee 2026's π_l = (1 − (1−2p)^l)/2). Pre-activation signs are used
  (equal to post-activation signs for odd φ; for ReLU/sigmoid the post-activation sign carries no information).
  For i.i.d. Gaussian inits both rates are ≈ 0.5.
- **chi1**: empirical χ₁ from an infinitesimal random input perturbation δx⁰ ~ N(0, I) pushed forward exactly
  (δh^l = W^l(φ'(h^{l−1}) ⊙ δh^{l−1}), δh¹ = W¹δx⁰): χ₁^l = mean over samples of
  (‖δh^l‖²/N_l)/(‖δh^{l−1}‖²/N_{l−1}), i.e. the squared ratio of per-unit perturbation norms (the ratio of norms
  is √χ₁; mean-field χ₁ is the growth of *squared* lengths, Schoenholz et al. 2017).
  ``chi1_mf`` = σ̂_w²·mean(φ'(h^l)²) with σ̂_w² = N_{l−1}·mean((W^l)²), the mean-field formula,
  meaningful for i.i.d. zero-mean weights only (it ignores the diagonal structure of D + Z).
- **knots** (ReLU-like nets): :func:`knots_along_lines`, kinks along random chords of the domain (KGI preprint).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

SATURATION = 0.01  #: |φ'(h)| below this fraction of the reference slope counts as saturated
COLUMNS = ("mean", "std", "min", "max", "sample_std", "pre_rms", "saturated", "dead_units", "neg_gain",
           "neg_gain_pred", "sign_flip", "chi1", "chi1_mf")


@dataclass
class ForwardStats:
    """``rows``: one dict per hidden layer (keys ``layer``, ``width`` and :data:`COLUMNS`); ``last``: the last
    hidden post-activations (samples × units); ``output``: the network's raw output (before any transform)."""

    rows: list[dict]
    last: torch.Tensor
    output: torch.Tensor


def reference_slope(activation: nn.Module) -> float:
    """s = |φ'(0)|, or |φ'(1)| when φ'(0) = 0 (ReLU, RePU): the scale of the saturation threshold."""
    _, slope = value_and_slope(activation, torch.tensor([0.0, 1.0], dtype=torch.float64))
    s0, s1 = abs(float(slope[0])), abs(float(slope[1]))
    return s0 if s0 > 0 else s1


def diagonal_split(weight: torch.Tensor) -> tuple[float, float]:
    """(d̄, σ̂_z) of W read as D + Z : d̄ = mean of the pattern entries W[i, i mod N_in],
    σ̂_z = √N_in · RMS of the other entries (NaN when there are none, N_in = 1)."""
    n_out, n_in = weight.shape
    rows = torch.arange(n_out, device=weight.device)
    mask = torch.zeros_like(weight, dtype=torch.bool)
    mask[rows, rows % n_in] = True
    off = weight[~mask]
    sigma = math.sqrt(n_in) * float(off.pow(2).mean().sqrt()) if off.numel() else math.nan
    return float(weight[mask].mean()), sigma


def lemma1_rate(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Expected negative-gain rate given the layer input x (Lee 2026, Lemma 1): conditionally on x, the gain
    a_i = h_i/x_j (j = i mod N) is N(d, σ_z²/N·‖x‖²/x_j²), so P(a_i < 0 | x) = Φ(−d·|x_j|·√N/(σ_z‖x‖)), averaged
    over pairs with x_j ≠ 0; d and σ_z from :func:`diagonal_split` (bias ignored: zero for D + Z inits).
    It equals the surrogate Φ(−ω/σ_z) only when all |x_j| are equal; otherwise small |x_j| raise it."""
    d, sigma = diagonal_split(weight)
    n_out, n_in = weight.shape
    if not math.isfinite(sigma) or sigma == 0:
        return torch.tensor(math.nan if not math.isfinite(sigma) else float(d < 0))
    src = x[:, torch.arange(n_out, device=x.device) % n_in]
    norm = x.pow(2).sum(1, keepdim=True).sqrt()
    valid = src != 0
    z = -d * src.abs() * math.sqrt(n_in) / (sigma * norm.clamp_min(1e-300))
    return (torch.special.ndtr(z) * valid).sum() / valid.sum().clamp_min(1)


def value_and_slope(activation: nn.Module, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """φ(h) and φ'(h) element-wise (one reverse-mode pass; several times faster than ``torch.func.jvp`` here)."""
    with torch.enable_grad():
        t = h.detach().requires_grad_(True)
        y = activation(t)
        (slope,) = torch.autograd.grad(y, t, torch.ones_like(y))
    return y.detach(), slope


def _rate(products: torch.Tensor) -> torch.Tensor:
    """Fraction of negative entries among the non-zero ones (NaN when all are zero, e.g. after underflow)."""
    valid = (products != 0).sum()
    return (products < 0).sum() / valid if int(valid) else torch.tensor(math.nan)


def _elementwise(activation: nn.Module) -> bool:
    return getattr(activation, "family", "smooth") != "normalizing"


def forward_statistics(net: nn.Module, x: torch.Tensor, generator: torch.Generator | None = None,
                       threshold: float = SATURATION) -> ForwardStats:
    """Push the raw inputs ``x`` through ``net`` (an :class:`~pinnit.nn.mlp.MLP`) once, forward only, and
    return the per-layer statistics defined in the module docstring. ``generator`` draws δx⁰."""
    n = x.shape[0]
    layers, acts = list(net.layers), list(net.activations)
    s_ref = reference_slope(acts[0]) if acts else 1.0
    nan = torch.tensor(math.nan)
    with torch.no_grad():
        x0 = (x - net.shift) * net.scale
        dx = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device="cpu").to(x0.device)
        dx = dx / dx.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-300)  # δh⁰ := δx⁰, unit mean square
        prev, coord = x0, torch.arange(x0.shape[1], device=x0.device)
        values: list[torch.Tensor] = []
        for layer, act in zip(layers[:-1], acts):
            w = layer.weight
            n_out, n_in = w.shape
            h = layer(prev)
            dh = dx @ w.T  # δh^l; δh^{l−1} was rescaled to unit mean square per sample
            ms = dh.pow(2).mean(1, keepdim=True)
            chi1 = ms.mean()
            dh = dh / ms.sqrt().clamp_min(1e-300)
            if _elementwise(act):
                y, slope = value_and_slope(act, h)
                dx = slope * dh
                small = slope.abs() < threshold * s_ref
                saturated, dead = small.float().mean(), small.all(0).float().mean()
                chi1_mf = n_in * w.pow(2).mean() * slope.pow(2).mean()
            else:
                y, dx = torch.func.jvp(act, (h,), (dh,))
                saturated = dead = chi1_mf = nan
            idx = torch.arange(n_out, device=x0.device) % n_in
            src = prev[:, idx]
            neg_gain = _rate(h * src)
            neg_gain_pred = lemma1_rate(w, prev)
            coord = coord[idx]
            ref = x0[:, coord]
            sign_flip = _rate(h * ref)
            spread = y.std(0).mean() if n > 1 else y.new_zeros(())
            values.append(torch.stack([torch.as_tensor(v, dtype=torch.float64, device=y.device) for v in (
                y.mean(), y.std() if y.numel() > 1 else 0.0, y.min(), y.max(), spread, h.pow(2).mean().sqrt(),
                saturated, dead, neg_gain, neg_gain_pred, sign_flip, chi1, chi1_mf)]))
            prev = y
        output = layers[-1](prev)
    table = torch.stack(values).cpu().tolist() if values else []
    rows = [{"layer": l, "width": int(layers[l - 1].out_features), **dict(zip(COLUMNS, r))}
            for l, r in enumerate(table, 1)]
    return ForwardStats(rows, prev.detach(), output.detach())


def knots_along_lines(net: nn.Module, lines: int = 32, points: int = 1000, seed: int = 0,
                      lower=None, upper=None) -> list[float]:
    """Mean number of knots per random chord of the box [lower, upper] (default [−1, 1]^d), per hidden layer.

    A knot is a sign change of a hidden pre-activation between neighbouring points of a chord — a kink of the
    piecewise-linear ReLU network there (KGI preprint, Sec. 2 and Fig. 3, which counts knots inside the input
    domain). Chords pass through a uniform random centre in the box with a uniform random
    direction (angle θ ~ U(0, π) in 2-D, a normalised Gaussian otherwise) and are clipped to the box; each is
    sampled at ``points`` equispaced points. The sum over layers is the in-domain knot count per chord.
    This is the definition of tests/test_kgi.py's ``_knots_along_lines`` (same draws in 2-D with the default
    box and an MLP without input normalisation), made public here so both can share it.
    """
    d = net.layers[0].in_features
    dtype, device = net.layers[0].weight.dtype, net.layers[0].weight.device
    lo = torch.as_tensor(lower if lower is not None else [-1.0] * d, dtype=torch.float64)
    hi = torch.as_tensor(upper if upper is not None else [1.0] * d, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    centre = lo + (hi - lo) * torch.rand(lines, d, generator=g, dtype=torch.float64)
    if d == 2:
        theta = torch.rand(lines, generator=g, dtype=torch.float64) * math.pi
        direction = torch.stack([torch.cos(theta), torch.sin(theta)], 1)
    else:
        direction = torch.randn(lines, d, generator=g, dtype=torch.float64)
        direction = direction / direction.norm(dim=1, keepdim=True)
    with torch.no_grad():
        safe = torch.where(direction == 0, torch.full_like(direction, 1e-300), direction)
        ends = torch.stack([(lo - centre) / safe, (hi - centre) / safe])  # where the line leaves each slab
        t0, t1 = ends.min(0).values.max(1).values, ends.max(0).values.min(1).values
        t = t0[:, None] + (t1 - t0)[:, None] * torch.linspace(0, 1, points, dtype=torch.float64)
        pts = centre[:, None, :] + t[..., None] * direction[:, None, :]
        h = ((pts.to(dtype=dtype, device=device) - net.shift) * net.scale)
        counts = []
        for layer, act in zip(net.layers[:-1], net.activations):
            z = layer(h)
            counts.append(float(((z[:, 1:] > 0) != (z[:, :-1] > 0)).sum()) / lines)
            h = act(z)
    return counts


def gradient_norms(net: nn.Module, loss_fn) -> list[float]:
    """‖∂L/∂W^l‖ (Frobenius) of every Linear layer for the scalar ``loss_fn()`` (one backward pass; Lee 2026,
    Fig. 11 plots layerwise gradient norms at initialization). Gradients are cleared before and after."""
    net.zero_grad(set_to_none=True)
    with torch.enable_grad():
        loss = loss_fn()
        loss.backward()
    norms = [float(layer.weight.grad.norm()) if layer.weight.grad is not None else 0.0 for layer in net.layers]
    net.zero_grad(set_to_none=True)
    return norms
