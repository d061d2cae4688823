"""Progressive pretraining of a basis network on a polynomial family (Hu et al. 2025, 'Weights initialization
of neural networks for function approximation').

The basis network has the target network's hidden layers (same shapes, same activation) and a linear head
with one output per basis function φ_α (polynomials.py: total degree ≤ p on [−1, 1]^d): it learns
N_B(x) ≈ (φ_α(x))_α, so its last hidden layer spans (approximately) the polynomial space P_p. This is the
reading of Hu et al. 2025 ("basis networks are pretrained to approximate families of
polynomials on a reference domain"); one shared hidden representation with M = C(p+d, d) outputs, rather than
one network per polynomial, is the documented choice that lets a single network of the configured
architecture carry the whole basis. The basis is exact only when M ≤ (last hidden width + 1).

Progressive training (Hu et al.'s keyword): the net for degree k starts from the net for degree k − 1 —
hidden layers and the head rows of the old basis functions are copied; the rows of the new degree-k
functions start from their least-squares fit on the current features — then all weights are trained with
Adam and then L-BFGS on the mean squared error over a fixed set of random points in [−1, 1]^d
(Chebyshev density; cosine-decayed Adam step size).
Degree 0 starts from the ``pre`` initializer. The activation's own parameters, if any, are not trained.
Every degree is cached on disk (basis_cache.py), so a later request for a higher degree resumes from the
highest cached one and a repeated request trains nothing.
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..activations.base import Activation
from . import basis_cache
from .polynomials import Family, basis_size, basis_values

FORMAT = 1


@dataclass(frozen=True)
class PretrainSettings:
    """Everything a pretrained basis depends on besides the layer shapes and the activation."""

    family: Family = "legendre"
    degree: int = 4
    steps: int = 300
    lbfgs: int = 100
    lr: float = 3e-3
    points: int = 1024
    seed: int = 0
    pre: Any = "xavier_normal"


@dataclass
class BasisNet:
    """Hidden layers plus the basis head (one output per basis function) and per-degree fit errors."""

    hidden: list[nn.Linear]
    head: nn.Linear | None  # None before degree 0 is fitted
    rms_errors: list[float]

    def features(self, x: torch.Tensor, activation: nn.Module) -> torch.Tensor:
        """Last hidden layer's outputs (x itself when there is no hidden layer)."""
        h = x
        for layer in self.hidden:
            h = activation(layer(h))
        return h

    def __call__(self, x: torch.Tensor, activation: nn.Module) -> torch.Tensor:
        return self.head(self.features(x, activation))


def activation_id(activation: Activation) -> str:
    """Class, constructor arguments and current parameter values: two activations with the same id compute
    the same function."""
    values = {k: v.detach().cpu().double().flatten().tolist() for k, v in activation.state_dict().items()}
    cls = type(activation)
    return f"{cls.__module__}.{cls.__qualname__}({activation.extra_repr()}){values}"


def cache_key(shapes: list[tuple[int, int, bool]], activation: Activation, settings: PretrainSettings,
              degree: int, dtype: torch.dtype) -> dict[str, Any]:
    return {"format": FORMAT, "shapes": [list(s) for s in shapes], "activation": activation_id(activation),
            "dtype": str(dtype), **asdict(settings), "degree": degree}


def _linear(fan_in: int, fan_out: int, bias: bool, dtype: torch.dtype) -> nn.Linear:
    """An uninitialised Linear layer (every value is set afterwards; the global RNG is never drawn from)."""
    return nn.utils.skip_init(nn.Linear, fan_in, fan_out, bias=bias, dtype=dtype)


def _init_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + 1) & 0x7FFF_FFFF_FFFF)


def _reference_points(dim: int, settings: PretrainSettings, dtype: torch.dtype) -> torch.Tensor:
    """Random points of [−1, 1]^d with the Chebyshev density per coordinate, x = −cos(πu), u ~ U(0, 1): denser
    near the faces, where polynomials change fastest (uniform points left ≈ 3.5× larger maximum errors, at
    x = ±1)."""
    gen = torch.Generator().manual_seed(settings.seed & 0x7FFF_FFFF_FFFF)
    return -torch.cos(math.pi * torch.rand(settings.points, dim, generator=gen, dtype=dtype))


def _to_tensors(net: BasisNet) -> dict[str, torch.Tensor]:
    out = {"rms_errors": torch.tensor(net.rms_errors, dtype=torch.float64)}
    for i, layer in enumerate([*net.hidden, net.head]):
        out[f"w{i}"] = layer.weight.detach().clone()
        if layer.bias is not None:
            out[f"b{i}"] = layer.bias.detach().clone()
    return out


def _from_tensors(tensors: dict[str, torch.Tensor], shapes: list[tuple[int, int, bool]], dim: int, size: int,
                  dtype: torch.dtype) -> BasisNet | None:
    layers = []
    for i, (fan_in, fan_out, bias) in enumerate([*shapes, (shapes[-1][1] if shapes else dim, size, True)]):
        w, b = tensors.get(f"w{i}"), tensors.get(f"b{i}")
        if w is None or w.shape != (fan_out, fan_in) or (bias and (b is None or b.shape != (fan_out,))):
            return None  # an entry whose shapes do not match is not trusted either
        layer = _linear(fan_in, fan_out, bias, dtype)
        with torch.no_grad():
            layer.weight.copy_(w)
            if bias:
                layer.bias.copy_(b)
        layers.append(layer)
    return BasisNet(layers[:-1], layers[-1], tensors["rms_errors"].tolist())


def train_degree(net: BasisNet, activation: nn.Module, x: torch.Tensor, target: torch.Tensor,
                 steps: int, lr: float, lbfgs_iterations: int) -> float:
    """Adam (``steps``, cosine-decayed step size lr → lr/100) then L-BFGS (strong Wolfe) on
    mean((N_B(x) − φ(x))²); returns the final RMS error."""
    params = [p for layer in [*net.hidden, net.head] for p in layer.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * s / steps)))
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = torch.mean((net(x, activation) - target) ** 2)
            loss.backward()
            opt.step()
            sched.step()
        lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=max(lbfgs_iterations, 1), history_size=50,
                                  line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-12, tolerance_change=1e-15)

        def closure():
            lbfgs.zero_grad(set_to_none=True)
            loss = torch.mean((net(x, activation) - target) ** 2)
            loss.backward()
            return loss

        if lbfgs_iterations:
            lbfgs.step(closure)
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((net(x, activation) - target) ** 2)))


#: Ridge factor of the least-squares start of a new degree's head rows: bounded coefficients on nearly
#: collinear features (an unregularised fit gave coefficients so large that training then diverged).
NEW_ROW_RIDGE = 1e-3


def _ridge(design: torch.Tensor, rhs: torch.Tensor, ridge: float) -> torch.Tensor:
    """argmin ‖design·c − rhs‖² + ε‖c‖², ε = ridge · mean squared column norm (bounded coefficients)."""
    gram = design.T @ design
    eps = ridge * torch.trace(gram) / gram.shape[0]
    return torch.linalg.solve(gram + eps * torch.eye(gram.shape[0], dtype=gram.dtype), design.T @ rhs)


def _extend_head(net: BasisNet, activation: nn.Module, x: torch.Tensor, target: torch.Tensor) -> None:
    """Grow the head to ``target``'s columns: old rows copied, new rows fitted by least squares on the features."""
    old = net.head
    with torch.no_grad():
        feats = net.features(x, activation)
        head = _linear(feats.shape[1], target.shape[1], True, feats.dtype)
        design = torch.cat([feats, torch.ones_like(feats[:, :1])], dim=1)
        n_old = 0 if old is None else old.out_features
        coef = _ridge(design, target[:, n_old:], NEW_ROW_RIDGE)  # (F+1) × new
        if old is not None:
            head.weight[:n_old] = old.weight
            head.bias[:n_old] = old.bias
        head.weight[n_old:] = coef[:-1].T
        head.bias[n_old:] = coef[-1]
    net.head = head


def _fresh(shapes: list[tuple[int, int, bool]], activation: Activation, settings: PretrainSettings,
           dim: int, dtype: torch.dtype) -> BasisNet:
    from .base import initialize

    layers = [_linear(i, o, b, dtype) for i, o, b in shapes]
    head = _linear(shapes[-1][1] if shapes else dim, 1, True, dtype)
    initialize([*layers, head], activation, _init_generator(settings.seed), settings.pre,
               "initializer.pre")
    return BasisNet(layers, None, [])  # the head is fitted per degree (_extend_head)


def pretrained_basis(shapes: list[tuple[int, int, bool]], dim: int, activation: Activation,
                     settings: PretrainSettings, cache_dir: str | None = None,
                     dtype: torch.dtype = torch.float64) -> BasisNet:
    """The basis net for ``settings.degree`` on ``dim`` inputs with hidden layers of ``shapes`` (in, out, bias):
    loaded from the cache, or trained progressively from the highest cached lower degree."""
    root = basis_cache.cache_root(cache_dir)
    act = copy.deepcopy(activation).requires_grad_(False)
    net, start = None, 0
    for k in range(settings.degree, -1, -1):
        stored = basis_cache.load(root, cache_key(shapes, activation, settings, k, dtype))
        net = None if stored is None else _from_tensors(stored, shapes, dim, basis_size(dim, k), dtype)
        if net is not None:
            start = k + 1
            break
    if start > settings.degree:
        return net
    x = _reference_points(dim, settings, dtype)
    phi = basis_values(x, settings.degree, settings.family)
    if net is None:
        net = _fresh(shapes, activation, settings, dim, dtype)
    for k in range(start, settings.degree + 1):
        target = phi[:, :basis_size(dim, k)]
        _extend_head(net, act, x, target)
        net.rms_errors = [*net.rms_errors, train_degree(net, act, x, target, settings.steps, settings.lr,
                                                             settings.lbfgs)]
        try:
            basis_cache.save(root, cache_key(shapes, activation, settings, k, dtype), _to_tensors(net))
        except OSError as exc:  # an unwritable cache costs a later run the pretraining, not this run its result
            warnings.warn(f"basis cache {root} not written ({exc.strerror or exc}); set PINNIT_CACHE_DIR or "
                          "the initializer's cache_dir to a writable folder", stacklevel=2)
    return net
