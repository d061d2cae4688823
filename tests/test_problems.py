"""Built-in problems: residuals on known functions, conditions, hard-constraint transforms, references."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnit.derivatives.fields import Fields
from pinnit.problems import build_problem
from pinnit.references import black_scholes_price


def _terms(problem):
    return {t.name: t for t in problem.terms()}


def _torch_bs_call(x, K=0.5, sigma=0.2, r=0.05):
    """The closed-form call price as a differentiable torch function of (S, τ)."""
    S, tau = x[:, 0], x[:, 1]
    vol = sigma * torch.sqrt(tau)
    d1 = (torch.log(S / K) + (r + 0.5 * sigma**2) * tau) / vol
    phi = lambda z: 0.5 * (1 + torch.erf(z / math.sqrt(2)))  # noqa: E731
    return (S * phi(d1) - K * torch.exp(-r * tau) * phi(d1 - vol))[:, None]


def test_black_scholes_residual_vanishes_on_the_exact_price():
    p = build_problem({"name": "black_scholes"})
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(500, 2, dtype=torch.float64, generator=gen) * torch.tensor([0.9, 0.9]) + torch.tensor([0.05, 0.1])
    f = Fields(x, p.inputs, p.outputs, _torch_bs_call)
    r = _terms(p)["pde"].residual(f)
    assert r.abs().max() < 1e-10
    np.testing.assert_allclose(f["V"].detach().numpy(), black_scholes_price(x[:, 0].numpy(), x[:, 1].numpy()),
                               rtol=1e-9, atol=1e-14)


def test_black_scholes_conditions_and_reference_parameters():
    p = build_problem({"name": "black_scholes", "K": 0.6, "sigma": 0.3, "r": 0.02, "T": 0.5})
    axes = p.evaluation_axes()
    assert axes["tau"][-1] == 0.5 and len(axes["S"]) == 201
    ref = p.reference(axes)["V"]
    np.testing.assert_allclose(ref, black_scholes_price(axes["S"][:, None], axes["tau"][None, :], K=0.6, sigma=0.3,
                                                        r=0.02))
    np.testing.assert_allclose(ref[:, 0], np.maximum(axes["S"] - 0.6, 0))


@pytest.mark.parametrize("option", ["call", "put"])
def test_black_scholes_hard_transform_satisfies_boundaries(option):
    p = build_problem({"name": "black_scholes", "option": option, "hard_constraints": True})
    gen = torch.Generator().manual_seed(1)
    tau, S, y = (torch.rand(50, 1, dtype=torch.float64, generator=gen) for _ in range(3))
    at = lambda s, t: p.output_transform(torch.cat([s, t], 1), y)  # noqa: E731
    disc = 0.5 * torch.exp(-0.05 * tau)
    torch.testing.assert_close(at(torch.zeros_like(S), tau), torch.zeros_like(tau) if option == "call" else disc)
    torch.testing.assert_close(at(torch.ones_like(S), tau), 1 - disc if option == "call" else torch.zeros_like(tau))
    assert [t.name for t in p.loss_terms()] == ["pde", "initial"]


@pytest.mark.parametrize("option", ["call", "put"])
def test_black_scholes_hard_initial_transform_satisfies_payoff_and_boundaries(option):
    p = build_problem({"name": "black_scholes", "option": option, "hard_constraints": True, "hard_initial": True})
    gen = torch.Generator().manual_seed(1)
    tau = torch.rand(50, 1, dtype=torch.float64, generator=gen)
    S = torch.rand(50, 1, dtype=torch.float64, generator=gen)
    y = torch.randn(50, 1, dtype=torch.float64, generator=gen)
    at = lambda s, t: p.output_transform(torch.cat([s, t], 1), y)  # noqa: E731
    disc = 0.5 * torch.exp(-0.05 * tau)
    payoff = torch.relu(S - 0.5) if option == "call" else torch.relu(0.5 - S)
    torch.testing.assert_close(at(S, torch.zeros_like(tau)), payoff)
    torch.testing.assert_close(at(torch.zeros_like(S), tau), torch.zeros_like(tau) if option == "call" else disc)
    torch.testing.assert_close(at(torch.ones_like(S), tau), 1 - disc if option == "call" else torch.zeros_like(tau))
    assert p.loss_terms()[0].name == "pde" and len(p.loss_terms()) == 1


def test_burgers_residual_on_a_known_function():
    p = build_problem({"name": "burgers", "nu": 0.1})
    x = torch.rand(100, 2, dtype=torch.float64)
    f = Fields(x, p.inputs, p.outputs, lambda z: (torch.sin(z[:, 0]) * z[:, 1])[:, None])
    xs, t = x[:, 0], x[:, 1]
    expected = torch.sin(xs) + (torch.sin(xs) * t) * (torch.cos(xs) * t) + 0.1 * torch.sin(xs) * t
    torch.testing.assert_close(_terms(p)["pde"].residual(f), expected)


def test_burgers_grid_and_final_time():
    p = build_problem({"name": "burgers"})
    axes = p.evaluation_axes()
    assert axes["x"].shape == (256,) and axes["t"].shape == (100,) and axes["t"][-1] == pytest.approx(0.99)


# Hull, Options, Futures and Other Derivatives (the textbook example S = 42, K = 40, r = 10 %, σ = 20 %, T = 0.5 years)
HULL = {"K": 40.0, "sigma": 0.2, "r": 0.1, "S_max": 84.0, "T": 0.5}


@pytest.mark.parametrize("boundary", ["asymptotic", "exact"])
def test_black_scholes_put_reference_is_a_put(boundary):
    """The put problem's reference is the put: Hull's price, put–call parity against the call problem, payoff."""
    put = build_problem({"name": "black_scholes", "option": "put", "boundary": boundary, **HULL})
    call = build_problem({"name": "black_scholes", "option": "call", "boundary": boundary, **HULL})
    axes = put.evaluation_axes([3, 2])  # S ∈ {0, 42, 84}, τ ∈ {0, 0.5}
    P, C = put.reference(axes)["V"], call.reference(axes)["V"]
    assert abs(P[1, 1] - 0.8086) < 1e-4 and abs(C[1, 1] - 4.7594) < 1e-4  # 0.808599…, 4.759422…
    S, tau = axes["S"][:, None], axes["tau"][None, :]
    np.testing.assert_allclose(C - P, S - 40.0 * np.exp(-0.1 * tau), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(P[:, 0], np.maximum(40.0 - axes["S"], 0.0))


def test_black_scholes_put_exact_boundary_values():
    """``boundary: exact`` puts the exact put price on S = S_max (tiny, not the call's ≈ S_max − K e^{−rτ})."""
    put = build_problem({"name": "black_scholes", "option": "put", "boundary": "exact", **HULL})
    tau = torch.linspace(0, 0.5, 11, dtype=torch.float64)[:, None]
    g0, g1 = put.boundary_values(tau)
    exact_far = black_scholes_price(84.0, tau.numpy(), K=40.0, sigma=0.2, r=0.1, kind="put")
    np.testing.assert_allclose(g1.numpy(), exact_far, rtol=1e-12, atol=0)
    call_far = black_scholes_price(84.0, tau.numpy(), K=40.0, sigma=0.2, r=0.1, kind="call")
    np.testing.assert_allclose(call_far - g1.numpy(), 84.0 - 40.0 * np.exp(-0.1 * tau.numpy()), atol=1e-10)
    assert float(g1.max()) < 1e-6  # deep out of the money at S = 2.1 K
    torch.testing.assert_close(g0, 40.0 * torch.exp(-0.1 * tau))  # V(0, τ) = K e^{−rτ}
    # the boundary term's residual vanishes on the exact put price at both faces
    S = torch.tensor([[0.0], [84.0]], dtype=torch.float64).repeat(1, 11).reshape(-1, 1)
    t = tau.repeat(2, 1)
    x = torch.cat([S, t], 1)
    exact = lambda z: torch.as_tensor(black_scholes_price(z[:, 0].detach().numpy(), z[:, 1].detach().numpy(),  # noqa: E731
                                                          K=40.0, sigma=0.2, r=0.1, kind="put"))[:, None]
    f = Fields(x, put.inputs, put.outputs, exact)
    assert float(_terms(put)["boundary"].residual(f).detach().abs().max()) < 1e-12


@pytest.mark.parametrize("option", ["call", "put"])
def test_black_scholes_smoothed_payoff_builds_in_every_condition(option):
    """``hard_initial: smoothed``: V = P + lift + τ·S(S_max − S)·N with P the Bachelier price (volatility σK): the
    payoff at τ = 0 and both boundaries hold for any network output, only the PDE is a loss term, P solves the
    frozen heat equation P_τ = ½σ²K² P_SS, and the Black–Scholes residual of V at N = 0 stays bounded at the strike
    as τ → 0 while V_SS grows like 1/√τ."""
    par = {"K": 0.4, "sigma": 0.3, "r": 0.03}
    p = build_problem({"name": "black_scholes", "option": option, "hard_initial": "smoothed", "boundary": "exact",
                       "hard_constraints": True, **par})
    assert [t.name for t in p.loss_terms()] == ["pde"]
    gen = torch.Generator().manual_seed(0)
    S = torch.rand(300, dtype=torch.float64, generator=gen)
    y = torch.randn(300, 1, dtype=torch.float64, generator=gen)
    V0 = p.output_transform(torch.stack([S, torch.zeros_like(S)], 1), y)[:, 0]
    torch.testing.assert_close(V0, p.payoff(S), rtol=0, atol=5e-9)  # σK·√1e-14·φ(0) = 4.8e-9 at S = K
    tau = torch.rand(50, dtype=torch.float64, generator=gen)
    for edge in (0.0, p.S_max):
        x = torch.stack([torch.full_like(tau, edge), tau], 1)
        want = black_scholes_price(edge, tau.numpy(), kind=option, **par)
        torch.testing.assert_close(p.output_transform(x, y[:50])[:, 0], torch.as_tensor(want), rtol=0, atol=1e-12)
    zero = lambda q: p.output_transform(q, torch.zeros(len(q), 1, dtype=q.dtype))  # noqa: E731
    taus = torch.tensor([1e-8, 1e-6, 1e-4, 1e-2], dtype=torch.float64)
    x = torch.stack([torch.full_like(taus, par["K"]), taus], 1)
    pde = _terms(p)["pde"]
    f = Fields(x, p.inputs, p.outputs, zero)
    assert float(f.d("V", "S", "S").min()) > 30.0 and float(f.d("V", "S", "S").max()) > 3e4
    assert float(pde.residual(f).detach().abs().max()) < 0.02          # measured ≤ 1.2e-3
    heat = Fields(x, p.inputs, p.outputs, lambda q: _bachelier(q, option, **par))
    torch.testing.assert_close(heat.d("V", "tau"), 0.5 * (par["sigma"] * par["K"]) ** 2 * heat.d("V", "S", "S"),
                               rtol=1e-9, atol=1e-9)


def _bachelier(x, option, K, sigma, r):
    """The smoothed payoff on its own, through the problem's expression (r unused: P carries no discounting)."""
    from pinnit.problems.transform_expressions import SymbolicTransform

    p = build_problem({"name": "black_scholes", "option": option, "K": K, "sigma": sigma, "r": r})
    g = SymbolicTransform.parse(p.inputs, p.outputs, {"V": p.smoothed_payoff_expression()}, p.transform_parameters())
    return g(x, torch.zeros(len(x), 1, dtype=x.dtype))
