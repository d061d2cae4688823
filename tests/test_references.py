"""Tests for pinnit.references: Cole–Hopf Burgers and closed-form Black–Scholes."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.fft

from pinnit.references import black_scholes_grid, black_scholes_price, burgers_exact, burgers_grid, burgers_nodes

NU = 0.01 / np.pi
BURGERS_NPZ = Path(__file__).resolve().parents[2] / "shared" / "reference" / "Burgers.npz"


def rel_l2(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def standard_solution():
    x, t = burgers_grid()
    return x, t, burgers_exact(x, t)


# ---------------------------------------------------------------- Burgers
def test_burgers_grid_and_shape(standard_solution):
    x, t, u = standard_solution
    assert x.shape == (256,) and t.shape == (100,)
    assert x[0] == -1.0 and x[-1] == 1.0 and t[0] == 0.0 and t[-1] == pytest.approx(0.99)
    assert u.shape == (256, 100) and np.all(np.isfinite(u))
    assert burgers_nodes(NU, 0.99) == 200  # default rule: 200 nodes on the standard problem


def test_burgers_matches_reference_file(standard_solution):
    if not BURGERS_NPZ.exists():
        pytest.skip(f"{BURGERS_NPZ} not present")
    data = np.load(BURGERS_NPZ)
    x, t, usol = data["x"].ravel(), data["t"].ravel(), data["usol"]
    u = burgers_exact(x, t)
    assert u.shape == usol.shape
    err = rel_l2(u, usol)
    assert err <= 1e-8, err  # measured 2.92e-12 (the file's own precision)


def test_burgers_initial_condition_exact():
    x = np.linspace(-1, 1, 101)
    u = burgers_exact(x, np.array([0.0, 0.5, 0.0]))
    assert np.array_equal(u[:, 0], -np.sin(np.pi * x))
    assert np.array_equal(u[:, 2], -np.sin(np.pi * x))


def test_burgers_odd_symmetry_and_boundaries(standard_solution):
    x, t, u = standard_solution
    np.testing.assert_allclose(u[::-1], -u, rtol=0, atol=1e-12)  # x grid is symmetric
    assert np.max(np.abs(u[[0, -1], :])) <= 1e-12


@pytest.mark.parametrize("nu", [0.01 / np.pi, 0.02 / np.pi, 0.05 / np.pi, 0.1])
def test_burgers_node_convergence(nu):
    x, t = burgers_grid()
    u200 = burgers_exact(x, t, nu, n_nodes=200)
    u400 = burgers_exact(x, t, nu, n_nodes=400)
    assert rel_l2(u200, u400) <= 1e-10  # measured <= 6e-16 for all four nu
    # numpy's hermgauss NaNs beyond ~360 nodes; the log-weight rule must stay finite and converged
    assert rel_l2(burgers_exact(x, t[::9], nu, n_nodes=1600), u400[:, ::9]) <= 1e-12


def _heat_spectral(nu, t, n=512):
    """Independent check: FFT solve of phi_t = nu phi_xx with phi(., 0) = f, u = -2 nu phi_x / phi."""
    x = -1.0 + 2.0 * np.arange(n) / n
    f = np.exp(-(np.cos(np.pi * x) - 1.0) / (2 * np.pi * nu))  # shifted by a constant: u unchanged
    k = np.pi * scipy.fft.fftfreq(n, d=1.0 / n)  # wavenumbers of the 2-periodic grid
    fh = scipy.fft.fft(f)
    decay = np.exp(-nu * np.outer(k ** 2, t))
    phi = scipy.fft.ifft(fh[:, None] * decay, axis=0).real
    phix = scipy.fft.ifft((1j * k * fh)[:, None] * decay, axis=0).real
    return x, -2 * nu * phix / phi


# tolerance: for nu = 0.05/pi f spans e^{-20}, so the FFT reference itself loses ~7 digits at small t
@pytest.mark.parametrize("nu, tol", [(0.1, 1e-12), (0.05 / np.pi, 1e-7)])
def test_burgers_vs_spectral_heat_solve(nu, tol):
    t = np.linspace(0.01, 0.99, 50)  # nu = 0.1 covers both the Hermite and the series branch
    x, u_ref = _heat_spectral(nu, t)
    err = rel_l2(burgers_exact(x, t, nu), u_ref)
    assert err <= tol, err  # measured 1.1e-15 (nu = 0.1), 1.7e-9 (nu = 0.05/pi)


def test_burgers_series_branch_matches_hermite():
    x = np.linspace(-1, 1, 129)
    for nu, t in [(0.1, np.linspace(0.25, 0.99, 8)), (NU, np.array([8.0, 12.0]))]:
        auto = burgers_exact(x, t, nu)  # 4 nu t >= 0.1 -> Fourier series
        gh = burgers_exact(x, t, nu, n_nodes=1600)
        assert rel_l2(auto, gh) <= 1e-11  # measured 1.1e-15 and 7.6e-14


def test_burgers_pde_residual():
    """u_t + u u_x - nu u_xx ~ 0 by central differences (checks the Cole–Hopf formula itself)."""
    nu, h, k = 0.1, 1e-4, 1e-5
    x = np.linspace(-0.9, 0.9, 37)
    t = np.linspace(0.1, 0.9, 9)
    u = burgers_exact(x, t, nu)
    ut = (burgers_exact(x, t + k, nu) - burgers_exact(x, t - k, nu)) / (2 * k)
    up, um = burgers_exact(x + h, t, nu), burgers_exact(x - h, t, nu)
    res = ut + u * (up - um) / (2 * h) - nu * (up - 2 * u + um) / h ** 2
    assert np.max(np.abs(res)) <= 1e-6 * np.max(np.abs(ut))  # measured 6.9e-8 relative


def test_burgers_rejects_bad_input():
    with pytest.raises(ValueError):
        burgers_exact([0.0], [-0.1])
    with pytest.raises(ValueError):
        burgers_exact([0.0], [0.1], nu=0.0)


# ---------------------------------------------------------------- Black–Scholes
def test_black_scholes_hull_example():
    # Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, sigma=20%, T=0.5
    c = black_scholes_price(42.0, 0.5, K=40.0, sigma=0.2, r=0.1)
    p = black_scholes_price(42.0, 0.5, K=40.0, sigma=0.2, r=0.1, kind="put")
    assert abs(c - 4.76) < 1e-2 and abs(p - 0.81) < 1e-2
    assert abs(c - 4.7594) < 1e-4 and abs(p - 0.8086) < 1e-4  # 4.759422..., 0.808599...


def test_black_scholes_put_call_parity():
    S, tau = black_scholes_grid(101, 101)
    S, tau = S[:, None], tau[None, :]
    c = black_scholes_price(S, tau)
    p = black_scholes_price(S, tau, kind="put")
    assert c.shape == (101, 101)
    np.testing.assert_allclose(c - p, S - 0.5 * np.exp(-0.05 * tau), rtol=0, atol=1e-12)


def test_black_scholes_limits_without_warnings():
    S = np.linspace(0, 1, 11)
    tau = np.linspace(0, 1, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c0 = black_scholes_price(S, 0.0)
        p0 = black_scholes_price(S, 0.0, kind="put")
        cS0 = black_scholes_price(0.0, tau)
        pS0 = black_scholes_price(0.0, tau, kind="put")
        grid = black_scholes_price(S[:, None], tau[None, :])
    assert np.array_equal(c0, np.maximum(S - 0.5, 0.0))
    assert np.array_equal(p0, np.maximum(0.5 - S, 0.0))
    assert np.array_equal(cS0, np.zeros_like(tau))
    np.testing.assert_allclose(pS0, 0.5 * np.exp(-0.05 * tau), rtol=1e-15)
    assert np.all(np.isfinite(grid)) and np.all(grid >= 0)
    # continuity of the limits: small tau / small S approach them
    assert abs(black_scholes_price(0.7, 1e-12) - 0.2) < 1e-12
    assert black_scholes_price(1e-8, 1.0) < 1e-300
    assert np.ndim(black_scholes_price(0.3, 0.2)) == 0


@pytest.mark.parametrize("kind", ["call", "put"])
def test_black_scholes_pde_residual(kind):
    """V_tau = 1/2 sigma^2 S^2 V_SS + r S V_S - r V at interior points (tau >= 0.1), defaults."""
    sigma, r, h, k = 0.2, 0.05, 1e-4, 1e-5
    S = np.linspace(0.05, 0.95, 19)[:, None]
    tau = np.linspace(0.1, 1.0, 10)[None, :]

    def price(s, t):
        return black_scholes_price(s, t, kind=kind)

    V = price(S, tau)
    Vt = (price(S, tau + k) - price(S, tau - k)) / (2 * k)
    Vp, Vm = price(S + h, tau), price(S - h, tau)
    rhs = 0.5 * sigma ** 2 * S ** 2 * (Vp - 2 * V + Vm) / h ** 2 + r * S * (Vp - Vm) / (2 * h) - r * V
    assert np.max(np.abs(Vt - rhs)) <= 1e-6  # measured 5.3e-8 (FD truncation; |V_tau| <= 0.076)


def test_black_scholes_far_boundary():
    """V(S_max=1, tau) vs the Dirichlet condition S_max - K e^{-r tau}: off by P(1, tau) <= 3.4e-6."""
    tau = np.linspace(0, 1, 201)
    gap = black_scholes_price(1.0, tau) - (1.0 - 0.5 * np.exp(-0.05 * tau))
    assert np.all(gap >= -1e-15)  # the call always lies above the approximation
    assert np.max(gap) <= 3.4e-6  # measured 3.33e-6 at tau = 1
    assert np.max(gap[tau <= 0.5]) <= 1e-8  # measured 3.5e-9 at tau = 0.5: negligible early on
    np.testing.assert_allclose(gap, black_scholes_price(1.0, tau, kind="put"), rtol=0, atol=1e-14)
    # at K 0.4, sigma 0.3, r 0.03 the gap is 12x larger (4.06e-5 at tau = 1): above a 3e-6 goal (boundary: exact)
    wide = black_scholes_price(1.0, tau, K=0.4, sigma=0.3, r=0.03) - (1.0 - 0.4 * np.exp(-0.03 * tau))
    assert 4.0e-5 <= wide[-1] <= 4.1e-5


def test_black_scholes_rejects_bad_input():
    with pytest.raises(ValueError):
        black_scholes_price(0.5, 0.5, kind="digital")
    with pytest.raises(ValueError):
        black_scholes_price(-0.1, 0.5)
