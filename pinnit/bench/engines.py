"""Derivative engines compared on one Adam step of the Burgers PDE term (pinnit only, no DeepXDE).

The step: residual r = u_t + u·u_x − ν·u_xx at N points, loss mean(r²), backward, Adam. Engines:

- ``autograd``: pinnit's Fields engine today (nested reverse mode: one backward for ∇u, one more for u_xx);
- ``jets``: :func:`pinnit.derivatives.mlp_jets` (value, gradient and u_xx carried forward layer by layer);
- ``jets_compiled``: the same loss under ``torch.compile`` (one ordinary backward, so AOTAutograd applies);
- ``func``: ``torch.func`` — ``vmap(jacfwd)`` and ``vmap(hessian)`` of the per-point network;
- ``autograd_compiled``: the nested-autograd loss under ``torch.compile(fullgraph=True)`` with the private
  dynamo flag ``trace_autograd_ops`` (compiling ``torch.autograd.grad`` inside a graph; without the flag
  it graph-breaks and double backward is unsupported).

Every engine's loss at the initial weights is checked equal to autograd's (relative 1e-10 in float64,
1e-4 in float32) before it is timed; an engine that fails (e.g. no C compiler for ``torch.compile``)
is recorded with its error instead of a time.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from ..derivatives import mlp_jets
from ..derivatives.fields import Fields
from ..nn.mlp import MLP, build_mlp
from ..runtime.torch_private import trace_autograd_ops

NU = 0.01 / math.pi
ENGINES = ("autograd", "jets", "jets_compiled", "func", "autograd_compiled")


def _net(depth: int, width: int, dtype: torch.dtype, seed: int = 0) -> MLP:
    net = build_mlp(2, 1, [width] * depth, "tanh", "xavier_normal", torch.Generator().manual_seed(seed),
                    lower=[-1.0, 0.0], upper=[1.0, 1.0])
    return net.to(dtype)


def residual_loss_fn(engine: str, net: MLP) -> Callable[[torch.Tensor], torch.Tensor]:
    """x ↦ mean((u_t + u·u_x − ν·u_xx)²) computed by ``engine``."""
    if engine in ("autograd", "autograd_compiled"):
        def loss(x):
            f = Fields(x, ("x", "t"), ("u",), net)
            return torch.mean((f["u_t"] + f["u"] * f["u_x"] - NU * f["u_xx"]) ** 2)
        if engine == "autograd":
            return loss
        compiled = torch.compile(loss, fullgraph=True, dynamic=False)

        def flagged(x):
            x = x if x.requires_grad else x.detach().requires_grad_(True)  # outside the graph: dynamo rejects it
            with trace_autograd_ops():
                return compiled(x)
        return flagged
    if engine in ("jets", "jets_compiled"):
        def loss(x):
            y, dy, d2y, _ = mlp_jets(net, x, order=2, pure=[0])
            return torch.mean((dy[:, 0, 1] + y[:, 0] * dy[:, 0, 0] - NU * d2y[:, 0, 0]) ** 2)
        return torch.compile(loss, dynamic=False) if engine == "jets_compiled" else loss
    if engine == "func":
        from torch.func import functional_call, hessian, jacfwd, vmap

        params = dict(net.named_parameters())
        buffers = dict(net.named_buffers())

        def u(p):
            return functional_call(net, (params, buffers), (p.unsqueeze(0),))[0, 0]

        def loss(x):
            val = vmap(u)(x)
            g = vmap(jacfwd(u))(x)
            h = vmap(hessian(u))(x)
            return torch.mean((g[:, 1] + val * g[:, 0] - NU * h[:, 0, 0]) ** 2)
        return loss
    raise ValueError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")


def time_engine(engine: str, depth: int, width: int, points: int, *, steps: int, repeats: int,
                dtype: torch.dtype = torch.float32, warmup: int = 2, seed: int = 0) -> dict[str, Any]:
    """Median ms per Adam step of ``engine``; ``rel_loss_diff`` is its initial loss against autograd's."""
    net = _net(depth, width, dtype, seed)
    x = (torch.rand(points, 2, dtype=dtype, generator=torch.Generator().manual_seed(seed + 1))
         * torch.tensor([2.0, 1.0], dtype=dtype) - torch.tensor([1.0, 0.0], dtype=dtype))
    out: dict[str, Any] = {"engine": engine, "depth": depth, "width": width, "points": points,
                           "dtype": str(dtype).removeprefix("torch.")}
    try:
        ref = float(residual_loss_fn("autograd", net)(x).detach())
        loss_fn = residual_loss_fn(engine, net)
        t0 = time.perf_counter()
        first = float(loss_fn(x).detach())
        out["first_call_s"] = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 (recorded: e.g. torch.compile without a working C compiler)
        out["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
        return out
    out["rel_loss_diff"] = abs(first - ref) / abs(ref)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(x).backward()
        opt.step()

    for _ in range(warmup):
        step()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append((time.perf_counter() - t0) / steps * 1000)
    out["ms_per_step"] = statistics.median(rates)
    out["repeats_ms"] = rates
    return out


def compare_engines(sizes=((3, 20), (50, 64)), points: int = 8192, *, steps: int = 10, repeats: int = 3,
                    engines=ENGINES, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every engine at every (depth, width); speed-up = autograd ms ÷ engine ms (same size)."""
    rows = []
    for depth, width in sizes:
        n = max(1, steps if depth * width <= 3 * 20 * 4 else steps // 3)
        base = None
        for engine in engines:
            r = time_engine(engine, depth, width, points, steps=n, repeats=repeats)
            if engine == "autograd":
                base = r.get("ms_per_step")
            r["speedup_vs_autograd"] = base / r["ms_per_step"] if base and "ms_per_step" in r else None
            rows.append(r)
            msg = r.get("error") or f"{r['ms_per_step']:.1f} ms/step, ×{r['speedup_vs_autograd']:.2f} vs autograd"
            log(f"  {engine} {depth}×{width}, {points} points: {msg}")
    return rows
