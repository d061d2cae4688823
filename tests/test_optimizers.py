"""The optimizer registry, the dense self-scaled quasi-Newton optimizer, its line search and loss forms."""
from __future__ import annotations

import copy
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnit.core.errors import ConfigError, PinnitError
from pinnit.training.optimizers import OPTIMIZERS, Curvature, DenseQuasiNewton, build_optimizer, curvature, loss_form, strong_wolfe, update_inverse_hessian
from pinnit.training.optimizers.line_search import cubic_minimizer
from pinnit.training.optimizers.scaling import COEFFICIENTS, bfgs_coefficients, ssbfgs_coefficients, ssbroyden_coefficients, ssbroyden_theta

DENSE = ("bfgs", "ssbfgs", "ssbroyden")


def extended_rosenbrock(x):
    """Moré, Garbow & Hillstrom (1981) problem 21; minimiser (1, …, 1), standard start (−1.2, 1, −1.2, 1, …)."""
    return (100 * (x[1::2] - x[::2] ** 2) ** 2 + (1 - x[::2]) ** 2).sum()


def chained_rosenbrock(x):
    """scipy.optimize.rosen."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def minimise(fun, x0, name, **options):
    x = torch.nn.Parameter(torch.as_tensor(np.asarray(x0), dtype=torch.float64).clone())
    opt = build_optimizer({"name": name, **options}, [x])

    def closure():
        opt.zero_grad()
        loss = fun(x)
        loss.backward()
        return loss

    opt.step(closure)
    return x.detach().numpy(), opt.state[x]


def quadratic(n: int, seed: int = 0):
    """f(x) = ½ (x − x*)ᵀA(x − x*), A symmetric positive definite: written around x* so that f, and the
    line search's comparisons of f, keep full relative precision down to the minimiser."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, n))
    a = q @ q.T + 0.1 * n * np.eye(n)
    xstar = rng.standard_normal(n)
    at, xt = torch.tensor(a), torch.tensor(xstar)
    return (lambda x: 0.5 * (x - xt) @ at @ (x - xt)), a, xstar


# --- registry ---------------------------------------------------------------------------------------
def test_registry_lists_the_optimizers_with_descriptions():
    assert list(OPTIMIZERS) == ["adam", "bfgs", "lbfgs", "levenberg_marquardt", "lstsq_last", "sgd", "ssbfgs",
                                "ssbroyden"]
    assert all(OPTIMIZERS.describe().values())


def test_build_validates_options_with_the_key_path():
    p = [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))]
    with pytest.raises(ConfigError, match=r"^stages\[1\]\.lrr: unknown parameter \(did you mean 'lr'\?\)"):
        build_optimizer({"name": "adam", "lrr": 1e-3}, p, "stages[1]")
    with pytest.raises(ConfigError, match=r"stages\[0\]\.name: unknown optimizer 'ssbroydn' \(did you mean"):
        build_optimizer("ssbroydn", p, "stages[0]")
    with pytest.raises(ConfigError, match=r"stages\[0\]\.c2"):
        build_optimizer({"name": "bfgs", "c2": 1.5}, p, "stages[0]")
    with pytest.raises(ConfigError, match="0 < c1 < c2 < 1"):
        build_optimizer({"name": "bfgs", "c1": 0.5, "c2": 0.4}, p, "stages[0]")
    assert isinstance(build_optimizer({"name": "adam", "lr": 0.01}, p), torch.optim.Adam)
    assert isinstance(build_optimizer("lbfgs", p), torch.optim.LBFGS)
    opt = build_optimizer({"name": "ssbroyden", "max_iter": 7}, p)
    assert isinstance(opt, DenseQuasiNewton) and opt.param_groups[0]["update"] == "ssbroyden"
    assert opt.param_groups[0]["max_iter"] == 7


def test_size_cap_refuses_a_dense_hessian_too_large():
    p = [torch.nn.Parameter(torch.zeros(150, 100, dtype=torch.float64))]  # n = 15 000
    with pytest.raises(ConfigError, match=r"^train\.stages\[2\]: bfgs keeps a dense 15000×15000 inverse Hessian "
                                          r"\(1\.7 GiB in float64\), above max_params=10000; use lbfgs"):
        build_optimizer({"name": "bfgs", "max_params": 10_000}, p, "train.stages[2]")
    with pytest.raises(PinnitError, match="max_params=20000"):
        DenseQuasiNewton([torch.nn.Parameter(torch.zeros(20_001, dtype=torch.float64))])
    DenseQuasiNewton([torch.nn.Parameter(torch.zeros(20_000, dtype=torch.float64))])  # at the cap: allowed


# --- update formulas ----------------------------------------------------------------------------------
def test_ssbfgs_tau_is_al_baali_min_one_over_b():
    assert ssbfgs_coefficients(Curvature(b=2.0, h=1.0), 3) == (0.5, 1.0)
    assert ssbfgs_coefficients(Curvature(b=0.5, h=4.0), 3) == (1.0, 1.0)
    assert bfgs_coefficients(Curvature(b=2.0, h=1.0), 3) == (1.0, 1.0)


REFERENCE = json.loads((Path(__file__).parent / "data" / "ssbroyden_reference_trace.json").read_text())


def reference_steps(name):
    """(H_k, s_k, y_k, g_k, t_k, H_{k+1}) of each iteration of the authors' run of ``name``; g from autograd."""
    trace = REFERENCE["methods"][name]
    xs = [torch.tensor(x, dtype=torch.float64) for x in trace["x"]]
    Hs = [torch.tensor(h, dtype=torch.float64) for h in trace["hess_inv"]]

    def grad(x):
        x = x.clone().requires_grad_(True)
        chained_rosenbrock(x).backward()
        return x.grad

    for k in range(len(xs) - 1):
        g, s = grad(xs[k]), xs[k + 1] - xs[k]
        p = -(Hs[k] @ g)
        yield Hs[k], s, grad(xs[k + 1]) - g, g, float(s @ p / (p @ p)), Hs[k + 1]


@pytest.mark.parametrize("name", DENSE)
def test_update_reproduces_the_authors_reference_trace(name):
    """H_k → H_{k+1} from the authors' own code (tests/data/ssbroyden_reference_trace.json: Urbán, Stefanou &
    Pons' modified scipy ``_minimize_bfgs``, 8 iterations on Rosenbrock n = 4). Their line search is scipy's,
    not ours, so what is pinned is the update given (H_k, s_k, y_k, g_k, t_k); the SSBroyden steps cover
    θ_k = 1, θ_k < 0 and 0 < θ_k < 1. Measured: a wrong τ or φ misses H_{k+1} by 10–100 % of max|H| (ρ̃ = 1/b
    unclamped 100 %, σ^{1/n} for σ^{1/(1−n)} 10 %, φ = 1 39 %; SSBFGS with τ = 1/b 100 %)."""
    thetas = []
    for H, s, y, g, t, H_next in reference_steps(name):
        c = curvature(H, s, y, g, t)
        thetas.append(ssbroyden_theta(c))
        tau, phi = COEFFICIENTS[name](c, len(s))
        H1 = H.clone()
        update_inverse_hessian(H1, s, y, H @ y, tau, phi)
        assert torch.allclose(H1, H_next, rtol=1e-9, atol=1e-12 * float(H_next.abs().max()))
    if name == "ssbroyden":
        assert min(thetas) < 0 and max(thetas) == pytest.approx(1.0) and any(0 < v < 0.9 for v in thetas)


@pytest.mark.parametrize("name", DENSE)
def test_first_iteration_matches_the_authors_reference(name):
    """From H_0 = I both line searches accept the same first step, so the whole first iteration (x_1 and H_1)
    of our optimizer matches the authors' run."""
    trace = REFERENCE["methods"][name]
    x, state = minimise(chained_rosenbrock, trace["x"][0], name, max_iter=1)
    np.testing.assert_allclose(x, trace["x"][1], rtol=1e-13)
    np.testing.assert_allclose(state["H"].numpy(), trace["hess_inv"][1], rtol=1e-11, atol=1e-14)


def test_ssbroyden_guard_takes_the_theta_zero_limit_when_a_vanishes():
    # a = 0 (y ∥ B s), where the authors' formulas divide by zero: the limit θ = 0 → τ = ρ̃ = min(1, 1/b), φ = 1
    assert ssbroyden_theta(Curvature(b=4.0, h=0.25)) == 0.0
    assert ssbroyden_coefficients(Curvature(b=4.0, h=0.25), 5) == (0.25, 1.0)


def test_curvature_scalars_and_the_update_satisfy_the_secant_equation():
    rng = np.random.default_rng(1)
    n = 6
    m = rng.standard_normal((n, n))
    H = torch.tensor(m @ m.T + n * np.eye(n))
    g = torch.tensor(rng.standard_normal(n))
    t = 0.7
    s = -t * (H @ g)
    y = torch.tensor(rng.standard_normal(n))
    y = y if float(s @ y) > 0 else -y
    B = torch.linalg.inv(H)
    c = curvature(H, s, y, g, t)
    assert c.b == pytest.approx(float(s @ B @ s / (s @ y)), rel=1e-12)
    assert c.h == pytest.approx(float(y @ H @ y / (s @ y)), rel=1e-12)
    for coefficients in (bfgs_coefficients, ssbfgs_coefficients, ssbroyden_coefficients):
        tau, phi = coefficients(c, n)
        H1 = H.clone()
        update_inverse_hessian(H1, s, y, H @ y, tau, phi)
        assert torch.allclose(H1 @ y, s, rtol=1e-12, atol=1e-12)  # H_{k+1} y = s
        assert torch.linalg.eigvalsh(0.5 * (H1 + H1.T)).min() > 0  # stays positive definite
    # φ = 1, τ = 1 is the textbook BFGS inverse update (Nocedal & Wright eq. 6.17)
    rho = 1 / float(s @ y)
    eye = torch.eye(n, dtype=torch.float64)
    bfgs = (eye - rho * torch.outer(s, y)) @ H @ (eye - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
    H1 = H.clone()
    update_inverse_hessian(H1, s, y, H @ y, 1.0, 1.0)
    assert torch.allclose(H1, bfgs, rtol=1e-12, atol=1e-12)


# --- line search ------------------------------------------------------------------------------------------
def test_cubic_minimizer_is_exact_on_a_quadratic():
    f = lambda t: (t - 0.3) ** 2 + 1  # noqa: E731
    df = lambda t: 2 * (t - 0.3)  # noqa: E731
    assert cubic_minimizer(0.0, f(0.0), df(0.0), 1.0, f(1.0), df(1.0), 0.0, 1.0) == pytest.approx(0.3, abs=1e-15)
    assert cubic_minimizer(0.0, 1.0, float("nan"), 1.0, 2.0, 1.0, 0.0, 1.0) == 0.5  # bad data: bisect


@pytest.mark.parametrize("t0", [1e-3, 1.0, 50.0])
def test_strong_wolfe_returns_a_point_satisfying_both_conditions(t0):
    # φ(t) = f(x + t d) for f(x) = x⁴/4 − x, x = 0, d = 1: φ'(0) = −1, minimiser t = 1
    def phi(t):
        return t ** 4 / 4 - t, torch.tensor([t ** 3 - 1.0]), t ** 3 - 1.0

    c1, c2 = 1e-4, 0.1
    res = strong_wolfe(phi, 0.0, torch.tensor([-1.0]), -1.0, t0, c1=c1, c2=c2)
    assert res.success
    assert res.f <= c1 * res.t * -1.0
    assert abs(res.gtd) <= c2
    assert res.evals <= 10


def test_strong_wolfe_bisects_through_non_finite_values():
    def phi(t):  # f = −t on [0, 2), inf beyond: the search must back off from t = 5 and still decrease
        if t >= 2:
            return math.inf, torch.tensor([math.nan]), math.nan
        return (t - 1.5) ** 2, torch.tensor([2 * (t - 1.5)]), 2 * (t - 1.5)

    res = strong_wolfe(phi, 2.25, torch.tensor([-3.0]), -3.0, 5.0, c2=0.5)
    assert res.success and 0 < res.t < 2 and abs(res.gtd) <= 1.5


# --- convergence -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DENSE)
@pytest.mark.parametrize("n", [2, 10])
def test_rosenbrock_minimised_from_the_standard_start(name, n):
    x, state = minimise(extended_rosenbrock, np.tile([-1.2, 1.0], n // 2), name, max_iter=300)
    assert np.abs(x - 1).max() < 1e-8
    assert state["n_iter"] < 150 and state["line_search_failures"] == 0


@pytest.mark.parametrize("name", DENSE)
def test_quadratic_reached_in_n_iterations_with_an_exact_line_search(name):
    n = 20
    fun, a, exact = quadratic(n)
    # c₂ ≈ 0: the search's cubic interpolation is exact on a quadratic, i.e. an exact line search, and
    # quasi-Newton methods of the Broyden class then terminate in n steps (Nocedal & Wright Thm. 6.4)
    x, state = minimise(fun, np.zeros(n), name, max_iter=n, c1=1e-10, c2=1e-8)
    assert state["n_iter"] == n and state["line_search_failures"] == 0
    assert np.abs(x - exact).max() < 1e-12
    if name == "bfgs":  # BFGS with exact line searches on a quadratic also ends with H_n = A⁻¹
        assert np.abs(state["H"].numpy() - np.linalg.inv(a)).max() < 1e-9
    x, state = minimise(fun, np.zeros(n), name, max_iter=n - 3, c1=1e-10, c2=1e-8)
    assert np.abs(x - exact).max() > 1e-6  # and not much sooner
    # an inexact (c₂ = 0.9) Wolfe search: near n, not exactly n
    for iters in range(n, 2 * n + 1):
        x, state = minimise(fun, np.zeros(n), name, max_iter=iters)
        if np.abs(x - exact).max() < 1e-9:
            break
    assert iters <= 2 * n


def test_agrees_with_scipy_bfgs():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2, 0.9, 1.1, 0.6, 1.4, 1.0])
    ref = scipy_optimize.minimize(scipy_optimize.rosen, x0, jac=scipy_optimize.rosen_der, method="BFGS",
                                  options={"gtol": 1e-10})
    assert ref.success
    x, state = minimise(chained_rosenbrock, x0, "bfgs", max_iter=500, tolerance_grad=1e-10)
    assert np.abs(x - ref.x).max() < 1e-8
    assert 0.5 * ref.nit <= state["n_iter"] <= 2 * ref.nit
    assert 0.5 * ref.nfev <= state["func_evals"] <= 2 * ref.nfev
    xt = torch.tensor(x, requires_grad=True)
    chained_rosenbrock(xt).backward()
    assert float(xt.grad.abs().max()) <= 1e-10 and np.abs(ref.jac).max() <= 1e-10
    fun, a, xstar = quadratic(15, seed=3)  # and on a quadratic
    ref = scipy_optimize.minimize(lambda v: 0.5 * (v - xstar) @ a @ (v - xstar), np.zeros(15),
                                  jac=lambda v: a @ (v - xstar), method="BFGS", options={"gtol": 1e-9})
    x, state = minimise(fun, np.zeros(15), "bfgs", max_iter=200, tolerance_grad=1e-9)
    assert np.abs(x - ref.x).max() < 1e-8 and abs(state["n_iter"] - ref.nit) <= 5


# --- checkpoints --------------------------------------------------------------------------------------------------
def _net_and_closure(seed=0):
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.linspace(-1, 1, 64, dtype=torch.float64)[:, None]
    target = torch.sin(3 * x)

    def make_closure(opt):
        def closure():
            opt.zero_grad()
            loss = torch.mean((net(x) - target) ** 2)
            loss.backward()
            return loss
        return closure

    return net, make_closure


@pytest.mark.parametrize("name", [*DENSE, "adam", "lbfgs"])
def test_checkpoint_resume_is_bit_identical(name):
    spec = {"name": name, "max_iter": 5} if name != "adam" else {"name": "adam", "lr": 0.01}
    net, make_closure = _net_and_closure()
    opt = build_optimizer(spec, net.parameters())
    for _ in range(6):
        opt.step(make_closure(opt))
    buf = io.BytesIO()
    torch.save({"model": net.state_dict(), "opt": opt.state_dict()}, buf)
    for _ in range(6):
        opt.step(make_closure(opt))
    straight = [p.detach().clone() for p in net.parameters()]
    straight_state = copy.deepcopy(opt.state_dict())

    buf.seek(0)
    saved = torch.load(buf, weights_only=False)
    net2, make_closure2 = _net_and_closure(seed=1)  # other weights: everything must come from the checkpoint
    net2.load_state_dict(saved["model"])
    opt2 = build_optimizer(spec, net2.parameters())
    opt2.load_state_dict(saved["opt"])
    for _ in range(6):
        opt2.step(make_closure2(opt2))
    for a, b in zip(straight, net2.parameters()):
        assert torch.equal(a, b.detach())
    if name in DENSE:
        s1, s2 = straight_state["state"][0], opt2.state_dict()["state"][0]
        assert torch.equal(s1["H"], s2["H"])
        assert {k: v for k, v in s1.items() if k != "H"} == {k: v for k, v in s2.items() if k != "H"}
        assert s1["n_iter"] == 60


def test_line_search_failure_resets_H_and_is_counted():
    # a loss whose gradient lies: the direction it gives is uphill, so no step satisfies the Wolfe conditions
    x = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = DenseQuasiNewton([x], max_iter=10)

    def closure():
        opt.zero_grad()
        loss = (x ** 2).sum()
        x.grad = -2 * x.detach()  # the wrong sign
        return loss

    before = x.detach().clone()
    opt.step(closure)
    state = opt.state[x]
    assert state["line_search_failures"] == 2 and state["resets"] == 2
    assert state["stop_reason"].startswith("line search failed twice")
    assert torch.equal(x.detach(), before)  # no step that increases the loss was kept
    assert torch.equal(state["H"], torch.eye(2, dtype=torch.float64))


# --- loss forms ---------------------------------------------------------------------------------------------------
def test_loss_forms_and_their_gradients():
    v = torch.tensor(0.04, dtype=torch.float64, requires_grad=True)
    for name, value, slope in [("mse", 0.04, 1.0), ("sqrt", 0.2, 1 / (2 * 0.2)), ("log", math.log(0.04), 25.0)]:
        out = loss_form(name)(v)
        (grad,) = torch.autograd.grad(out, v)
        assert float(out.detach()) == pytest.approx(value, rel=1e-15) and float(grad) == pytest.approx(slope, rel=1e-14)
    with pytest.raises(ConfigError, match=r"stages\[1\]\.loss: unknown loss form 'sqr' \(did you mean 'sqrt'\?\)"):
        loss_form("sqr", "stages[1].loss")


def test_lbfgs_stops_at_the_last_good_point_when_its_line_search_meets_a_nan():
    """torch's strong-Wolfe search raises IndexError on a NaN trial loss whose gradient is zero (what the trainer
    leaves for a non-finite loss); the registered lbfgs ends the step there instead, at the last accepted point."""
    target = torch.tensor([10.0, 10.0], dtype=torch.float64)

    def problem(opt, x, points):
        def closure():
            opt.zero_grad(set_to_none=True)
            if float(x.detach().norm()) > 5:  # outside the ball: a NaN loss and no gradient, as the trainer does
                return torch.tensor(math.nan, dtype=torch.float64)
            loss = ((x - target) ** 2).sum()
            loss.backward()
            points.append(x.detach().clone())
            return loss
        return closure

    y = torch.nn.Parameter(torch.tensor([3.0, -2.0], dtype=torch.float64))
    plain = torch.optim.LBFGS([y], max_iter=20, line_search_fn="strong_wolfe")
    with pytest.raises(IndexError):  # the bug, in torch's own class
        plain.step(problem(plain, y, []))
    x = torch.nn.Parameter(torch.tensor([3.0, -2.0], dtype=torch.float64))
    opt = build_optimizer({"name": "lbfgs", "max_iter": 20}, [x])
    points = []
    loss = opt.step(problem(opt, x, points))
    state = opt.state[x]
    assert state["stop_reason"] == "the line search met a non-finite loss"
    assert math.isfinite(float(loss.detach())) and float(x.detach().norm()) <= 5
    assert torch.equal(points[-1], x.detach())  # the last evaluation is of the point x is left at
