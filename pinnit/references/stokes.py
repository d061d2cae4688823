"""Finite-difference reference solver for lid-driven Stokes flow with any lid.

Problem (the PI-DeepONet Stokes example of DeepXDE / ZCS / the KGI preprint)::

    mu Lap u - p_x = 0,   mu Lap v - p_y = 0,   u_x + v_y = 0   on (0, 1)^2,   mu = 0.01,
    u = v = 0 on the bottom and the sides,   u(x, 1) = (1 + f(x)/10) x (1 - x),   v(x, 1) = 0.

**Velocity.**  With the stream function psi (u = psi_y, v = -psi_x) the system is the clamped
biharmonic problem Lap^2 psi = 0, psi = 0 on the boundary, psi_y(x, 1) = U(x) on the lid and
d psi/dn = 0 on the other walls.  It is discretised on the N x N node grid by the classical 13-point
stencil, the normal-derivative conditions entering through the second-order ghost values
psi_{-1} = psi_1 (walls) and psi_{N+1} = psi_{N-1} + 2h U (lid); u, v are central differences of psi.

**Pressure.**  For a solenoidal field mu Lap u = -mu omega_y and mu Lap v = mu omega_x with the vorticity
omega = v_x - u_y = -Lap psi (boundary values from the same ghosts: Thom's formula), so p and mu omega
are harmonic conjugates.  p is recovered from that gradient by least-squares integration on the grid
edges (a Neumann graph Laplacian, solved by a cosine transform), then the gauge constant is fixed.

**Accuracy** (``tests/test_stokes_reference.py``; f = 0): the plain scheme converges at second order
in u, v and in p away from the two lid corners (rel. L2 vs N = 800: u 1.4e-3 / 3.7e-4 / 8e-5 at
N = 100 / 200 / 400).  By default the solve is done at N = refine (n - 1) and at 2N
and Richardson-extrapolated, (4 fine - coarse)/3, at the output nodes: u, v within 5e-5 / 8e-5 of the
N = 800 solution for n = 101 (first call ~1.2 s on an idle core, mostly the N = 200 factorisation; each
further lid ~0.06 s).  Pressure near the lid corners is not improved: there the lid moves as U ~ a r along
one side (a = |U'| at the corner) and the wall is still, the corner flow psi = r^2 F(theta) has a vorticity
linear in theta, and p ~ +-2 mu a ln r is singular.  The value at the two corner nodes is therefore no value of
the solution: it moves by 2 mu a ln 2 with each halving of the step (-0.083 / -0.097 / -0.111 at N = 100 / 200 /
400 for f = 0), and on the 101 x 101 grid the two nodes hold about 4 % of ||p||^2.
Against FreeFEM's ``stokes.npz`` (f = 0): u 2.1e-3, v 4.5e-3 rel. L2 -- the file's own error level (our
N = 800 solve differs from it by 2.05e-3 / 4.53e-3); p 5.9e-2 overall, 1.3e-2 outside radius 0.05 of the
lid corners (mostly the file's p(x, 0) = 0, see below), median pointwise difference 2.7e-6.

**Gauge** (the solution fixes p only up to a constant): ``"bottom_mean"`` (default) makes the mean of
p(x, 0) over the bottom wall zero; ``"corner"`` sets p(0, 0) = 0; ``"mean"`` zeroes the domain mean.
The operator problem (``problems/stokes.yaml``) uses ``"corner"``, the same point its network is pinned at
(p − p(0, 0)), and its metric compares p up to a constant. The FreeFEM reference has p(x, 0) = 0 on the
whole bottom wall, which no true solution has (p varies by ~1.3e-3 along it); among constant shifts, the
bottom-mean gauge is the one closest to that file (for f = 0 it is within 4e-7 of the L2-optimal shift
against it, while ``"corner"`` is 1e-1 off in rel. L2), hence the default.

**Lid data.**  f is given at m equispaced sensors on [0, 1] (m = 101 in the problem); between sensors it
is interpolated by ``scipy.interpolate.CubicSpline`` (not-a-knot), which reproduces f at the sensors.
"""
from __future__ import annotations

import sys
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.fft import dctn, idctn
from scipy.interpolate import CubicSpline

__all__ = ["GAUGES", "SOLVER_VERSION", "lid_velocity", "solve_stokes", "solve_stokes_batch"]

SOLVER_VERSION = "fd-biharmonic-1"  # bump whenever results change (keys the on-disk cache)
GAUGES = ("bottom_mean", "corner", "mean")
MU = 0.01


def lid_velocity(F: np.ndarray, x: np.ndarray) -> np.ndarray:
    """U(x) = (1 + f(x)/10) x (1 - x) for each row of F (B, m) (f at m equispaced sensors) -> (B, len(x))."""
    F = np.atleast_2d(np.asarray(F, dtype=float))
    f = CubicSpline(np.linspace(0.0, 1.0, F.shape[1]), F, axis=1)(x)
    return (1.0 + f / 10.0) * x * (1.0 - x)


def _second_difference(m: int) -> sp.csr_matrix:
    return sp.diags([np.ones(m - 1), -2.0 * np.ones(m), np.ones(m - 1)], [-1, 0, 1], format="csr")


@lru_cache(maxsize=4)  # the LU for N = 200 holds ~6.5e6 entries (~80 MB)
def _biharmonic_lu(N: int):
    """LU of the clamped 13-point biharmonic h^4 Lap_h^2 on the (N-1)^2 interior nodes, 'ij' order.

    D2 D2 (Dirichlet second differences squared) is the simply supported plate (ghost psi_{-1} = -psi_1);
    the clamped ghost psi_{-1} = +psi_1 adds 2 to the first and last diagonal entries.
    """
    m = N - 1
    D2 = _second_difference(m)
    D4 = (D2 @ D2).tolil()
    D4[0, 0] += 2.0
    D4[m - 1, m - 1] += 2.0
    eye = sp.identity(m, format="csr")
    A = sp.kron(D4, eye) + sp.kron(eye, D4) + 2.0 * sp.kron(D2, D2)
    return spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})


def _integrate_gradient(gx: np.ndarray, gy: np.ndarray, h: float) -> np.ndarray:
    """Least-squares p with forward differences (p_{i+1,j} - p_ij)/h ~ gx (B, N, N+1), likewise gy (B, N+1, N).

    The normal equations G^T G p = G^T g are the Neumann graph Laplacian of the grid, diagonalised by the
    orthonormal DCT-II (eigenvalues (2 - 2 cos(pi k / n)) / h^2 per direction): one fast transform each
    way; the constant mode (the gauge) is set to zero here and fixed by the caller.
    """
    n = gx.shape[2]
    div = np.zeros((gx.shape[0], n, n))
    div[:, :-1, :] -= gx / h
    div[:, 1:, :] += gx / h
    div[:, :, :-1] -= gy / h
    div[:, :, 1:] += gy / h
    lam = (2.0 - 2.0 * np.cos(np.pi * np.arange(n) / n)) / h ** 2
    denom = lam[:, None] + lam[None, :]
    denom[0, 0] = np.inf
    return idctn(dctn(div, type=2, axes=(1, 2), norm="ortho") / denom, type=2, axes=(1, 2), norm="ortho")


def _ghosted(psi: np.ndarray, U: np.ndarray, h: float) -> np.ndarray:
    """psi (B, N+1, N+1) padded with the ghost layer given by the normal-derivative conditions."""
    P = np.pad(psi, ((0, 0), (1, 1), (1, 1)))
    P[:, 1:-1, 0] = psi[:, :, 1]                      # bottom: psi_y = 0
    P[:, 1:-1, -1] = psi[:, :, -2] + 2.0 * h * U      # lid: psi_y = U
    P[:, 0, 1:-1] = psi[:, 1, :]                      # left: psi_x = 0
    P[:, -1, 1:-1] = psi[:, -2, :]                    # right: psi_x = 0
    return P


def _derivative(w: np.ndarray, h: float, axis: int) -> np.ndarray:
    """Second-order first derivative along ``axis``: central inside, one-sided 3-point at the ends."""
    w = np.moveaxis(w, axis, -1)
    d = np.empty_like(w)
    d[..., 1:-1] = (w[..., 2:] - w[..., :-2]) / (2.0 * h)
    d[..., 0] = (-3.0 * w[..., 0] + 4.0 * w[..., 1] - w[..., 2]) / (2.0 * h)
    d[..., -1] = (3.0 * w[..., -1] - 4.0 * w[..., -2] + w[..., -3]) / (2.0 * h)
    return np.moveaxis(d, -1, axis)


def _solve_level(U: np.ndarray, N: int, mu: float, source: np.ndarray | None = None) -> dict:
    """Stream function, velocity and (un-gauged) pressure on the (N+1)^2 grid for lids U (B, N+1).

    ``source`` (B, N-1, N-1), optional: right-hand side q of Lap^2 psi = q at the interior nodes
    (manufactured-solution tests only; the Stokes problem has q = 0).
    """
    B, h, m = U.shape[0], 1.0 / N, N - 1
    rhs = np.zeros((B, m, m)) if source is None else source * h ** 4
    rhs[:, :, -1] -= 2.0 * h * U[:, 1:-1]             # lid ghost psi_{N+1} = psi_{N-1} + 2h U
    sol = _biharmonic_lu(N).solve(np.ascontiguousarray(rhs.reshape(B, m * m).T))
    psi = np.zeros((B, N + 1, N + 1))
    psi[:, 1:-1, 1:-1] = sol.T.reshape(B, m, m)
    u = np.zeros_like(psi)
    v = np.zeros_like(psi)
    u[:, 1:-1, 1:-1] = (psi[:, 1:-1, 2:] - psi[:, 1:-1, :-2]) / (2.0 * h)
    v[:, 1:-1, 1:-1] = -(psi[:, 2:, 1:-1] - psi[:, :-2, 1:-1]) / (2.0 * h)
    u[:, :, -1] = U
    P = _ghosted(psi, U, h)
    omega = -(P[:, 2:, 1:-1] + P[:, :-2, 1:-1] + P[:, 1:-1, 2:] + P[:, 1:-1, :-2] - 4.0 * psi) / h ** 2
    px = -mu * _derivative(omega, h, 2)               # p_x = mu Lap u = -mu omega_y
    py = mu * _derivative(omega, h, 1)                # p_y = mu Lap v = mu omega_x
    p = _integrate_gradient(0.5 * (px[:, 1:] + px[:, :-1]), 0.5 * (py[:, :, 1:] + py[:, :, :-1]), h)
    return {"psi": psi, "u": u, "v": v, "p": p}


def _apply_gauge(p: np.ndarray, gauge: str) -> np.ndarray:
    if gauge == "bottom_mean":
        c = np.trapezoid(p[:, :, 0], dx=1.0 / (p.shape[1] - 1), axis=1)
    elif gauge == "corner":
        c = p[:, 0, 0]
    else:
        c = p.mean(axis=(1, 2))
    return p - c[:, None, None]


def solve_stokes_batch(
    F: np.ndarray,
    n: int = 101,
    mu: float = MU,
    gauge: str = "bottom_mean",
    refine: int = 1,
    richardson: bool = True,
    chunk: int = 64,
) -> dict:
    """Stokes solutions for B lids at once: F (B, m) holds f at m >= 4 equispaced sensors on [0, 1].

    Solves at N = refine (n - 1) (and at 2N when ``richardson``, combining (4 fine - coarse)/3 at the
    output nodes); the sparse factorisations depend only on N and are cached, so every lid costs only
    triangular solves.  Returns {"x": (n,), "y": (n,), "u", "v", "p": (B, n, n)} with index [b, i, j]
    at (x_i, y_j); wall and lid velocities are the boundary data exactly.
    """
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or F.shape[1] < 4 or not np.all(np.isfinite(F)):
        raise ValueError(f"F must be a finite (B, m) array with m >= 4 sensors, got shape {F.shape}")
    if int(n) != n or n < 5 or int(refine) != refine or refine < 1:
        raise ValueError(f"n must be an integer >= 5 and refine an integer >= 1, got n={n}, refine={refine}")
    if not mu > 0:
        raise ValueError(f"mu must be positive, got {mu}")
    if gauge not in GAUGES:
        raise ValueError(f"gauge must be one of {GAUGES}, got {gauge!r}")
    n, refine, chunk = int(n), int(refine), max(1, int(chunk))
    levels = [refine * (n - 1)] + ([2 * refine * (n - 1)] if richardson else [])
    x = np.linspace(0.0, 1.0, n)
    print(f"pinnit: solving the Stokes reference for {F.shape[0]} lid(s) (finite differences, N = "
          f"{' and '.join(map(str, levels))}) …", file=sys.stderr, flush=True)
    out = {k: np.empty((F.shape[0], n, n)) for k in "uvp"}
    for a in range(0, F.shape[0], chunk):
        fields = []
        for N in levels:
            U = lid_velocity(F[a:a + chunk], np.linspace(0.0, 1.0, N + 1))
            sol = _solve_level(U, N, mu)
            s = N // (n - 1)
            fields.append({k: sol[k][:, ::s, ::s] for k in "uvp"})
        for k in "uvp":
            out[k][a:a + chunk] = fields[0][k] if len(fields) == 1 else (4.0 * fields[1][k] - fields[0][k]) / 3.0
    out["p"] = _apply_gauge(out["p"], gauge)
    for k in "uv":                                    # boundary data exactly (Richardson rounding aside)
        out[k][:, [0, -1], :] = 0.0
        out[k][:, :, 0] = 0.0
        out[k][:, :, -1] = 0.0
    out["u"][:, :, -1] = lid_velocity(F, x)
    return {"x": x, "y": x.copy(), **out}


def solve_stokes(f_sensors: np.ndarray | None = None, n: int = 101, mu: float = MU,
                 gauge: str = "bottom_mean", refine: int = 1, richardson: bool = True) -> dict:
    """One lid: f at equispaced sensors on [0, 1] (``None``: f = 0, the FreeFEM reference case).

    Returns {"x": (n,), "y": (n,), "u", "v", "p": (n, n)} on the 'ij' grid; see :func:`solve_stokes_batch`.
    """
    f = np.zeros(101) if f_sensors is None else np.asarray(f_sensors, dtype=float)
    if f.ndim != 1:
        raise ValueError(f"f_sensors must be 1-D, got shape {f.shape}")
    sol = solve_stokes_batch(f[None, :], n=n, mu=mu, gauge=gauge, refine=refine, richardson=richardson)
    return {k: (v[0] if k in "uvp" else v) for k, v in sol.items()}
