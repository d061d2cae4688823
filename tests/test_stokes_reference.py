"""Tests for the lid-driven Stokes reference solver and its cache (issue 10)."""
from __future__ import annotations

import numpy as np
import pytest

from pinnit.references import cached_references, solve_stokes, solve_stokes_batch
from pinnit.references import stokes, stokes_cache

MU = 0.01


def rel_l2(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def away_from_lid_corners(n: int, radius: float) -> np.ndarray:
    x = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    return (np.hypot(X, Y - 1.0) > radius) & (np.hypot(X - 1.0, Y - 1.0) > radius)


def smooth_lids(count: int, seed: int = 0, m: int = 101) -> np.ndarray:
    """GRF-like smooth lid perturbations: random low-order sine series with unit-ish amplitude."""
    rng = np.random.default_rng(seed)
    s = np.linspace(0.0, 1.0, m)
    k = np.arange(1, 7)
    coef = rng.standard_normal((count, k.size)) / k
    phase = rng.uniform(0.0, 2.0 * np.pi, (count, k.size))
    return np.einsum("bk,bks->bs", coef, np.sin(np.pi * k[None, :, None] * s[None, None, :] + phase[..., None]))


@pytest.fixture(scope="module")
def zero_lid():
    return solve_stokes()


# ---------------------------------------------------------------- against the FreeFEM file (f = 0)
def test_matches_freefem_reference(zero_lid, shared_reference):
    data = np.load(shared_reference("stokes.npz"))["arr_0"]
    ref = {k: data[:, c].reshape(101, 101) for c, k in enumerate("uvp")}
    sol = zero_lid
    assert sol["u"].shape == sol["v"].shape == sol["p"].shape == (101, 101)
    # measured: u 2.06e-3, v 4.52e-3 -- the FreeFEM data's own error level (our N = 800 solve: 2.05e-3, 4.53e-3)
    assert rel_l2(sol["u"], ref["u"]) < 3e-3
    assert rel_l2(sol["v"], ref["v"]) < 6e-3
    # pressure: lid-corner singularity dominates the full rel. L2 (measured 5.9e-2); the median is tiny (2.7e-6)
    assert rel_l2(sol["p"], ref["p"]) < 0.1
    assert np.median(np.abs(sol["p"] - ref["p"])) < 1e-5
    far = away_from_lid_corners(101, 0.05)
    # away from the corners (measured 1.31e-2) the rest is the file's p(x, 0) = 0: a true solution's
    # bottom-wall pressure varies by ~1.3e-3 (ours: max 1.32e-3); above y = 0.02 the difference is 2.3e-3
    assert rel_l2(sol["p"][far], ref["p"][far]) < 2e-2
    assert np.abs(sol["p"][:, 0]).max() < 2e-3
    above = far.copy()
    above[:, :3] = False
    assert rel_l2(sol["p"][above], ref["p"][above]) < 4e-3


def test_bottom_mean_gauge_is_the_best_constant_against_freefem(zero_lid, shared_reference):
    data = np.load(shared_reference("stokes.npz"))["arr_0"]
    p_ref = data[:, 2].reshape(101, 101)
    far = away_from_lid_corners(101, 0.05)
    best_shift = np.mean((p_ref - zero_lid["p"])[far])
    assert abs(best_shift) < 1e-5  # measured 3.7e-7, against pressures of order 1e-2
    corner = solve_stokes(gauge="corner")
    assert rel_l2(corner["p"][far], p_ref[far]) > 5 * rel_l2(zero_lid["p"][far], p_ref[far])


# ---------------------------------------------------------------- convergence
def _observed_order(ns, errors):
    return -np.polyfit(np.log(np.asarray(ns) - 1.0), np.log(errors), 1)[0]


def test_second_order_grid_refinement(zero_lid):
    """Plain (no Richardson) solves at n = 26, 51, 101 against the extrapolated n = 101 solve.

    Measured errors u 1.6e-2, 4.9e-3, 1.4e-3 (order 1.75, ratios 3.2 -> 3.5 approaching 4), v order 1.82,
    p away from the lid corners 2.6e-2, 5.8e-3, 1.5e-3 (order 2.05).
    """
    ns = [26, 51, 101]
    far = away_from_lid_corners(101, 0.05)
    err = {"u": [], "v": [], "p": []}
    for n in ns:
        sol = solve_stokes(n=n, richardson=False)
        s = 100 // (n - 1)
        for k in "uv":
            err[k].append(rel_l2(sol[k], zero_lid[k][::s, ::s]))
        m = far[::s, ::s]
        err["p"].append(rel_l2(sol["p"][m], zero_lid["p"][::s, ::s][m]))
    for k in "uvp":
        assert 1.6 < _observed_order(ns, err[k]) < 2.4, (k, err[k])
    assert err["u"][-1] < 2e-3 and err["v"][-1] < 3e-3


@pytest.mark.slow
def test_richardson_reaches_higher_accuracy():
    """n = 201 with Richardson (N = 200 and 400) as the reference: the plain series continues at order ~2
    and the default n = 101 Richardson solve is ~10x closer than the plain one."""
    fine = solve_stokes(n=201)
    ns = [26, 51, 101, 201]
    err = []
    for n in ns:
        s = 200 // (n - 1)
        err.append(rel_l2(solve_stokes(n=n, richardson=False)["u"], fine["u"][::s, ::s]))
    assert 1.7 < _observed_order(ns[1:], err[1:]) < 2.4, err  # measured 1.82 (local 1.79 -> 1.86)
    rich = solve_stokes(n=101)
    assert rel_l2(rich["u"], fine["u"][::2, ::2]) < 0.2 * err[2]


def test_manufactured_solution_second_order():
    """psi = x^2 (1-x)^2 (y^3 - y^2): clamped on three walls, psi_y(x, 1) = x^2 (1-x)^2, Lap^2 psi = q."""
    err_psi, err_u, ns = [], [], [21, 41, 81]
    for n in ns:
        x = np.linspace(0.0, 1.0, n)
        X, Y = np.meshgrid(x, x, indexing="ij")
        Xf = X ** 2 * (1 - X) ** 2
        q = 24.0 * (Y ** 3 - Y ** 2) + 2.0 * (2 - 12 * X + 12 * X ** 2) * (6 * Y - 2)
        sol = stokes._solve_level((x ** 2 * (1 - x) ** 2)[None], n - 1, MU, source=q[None, 1:-1, 1:-1])
        err_psi.append(rel_l2(sol["psi"][0], Xf * (Y ** 3 - Y ** 2)))
        err_u.append(rel_l2(sol["u"][0], Xf * (3 * Y ** 2 - 2 * Y)))
    # measured psi 1.1e-2, 2.8e-3, 6.9e-4; u 1.1e-2, 3.0e-3, 7.6e-4
    assert 1.9 < _observed_order(ns, err_psi) < 2.1, err_psi
    assert 1.8 < _observed_order(ns, err_u) < 2.1, err_u


# ---------------------------------------------------------------- physics and boundary data
def test_discrete_stokes_residuals_small(zero_lid):
    u, v, p, h = zero_lid["u"], zero_lid["v"], zero_lid["p"], 0.01

    def lap(a):
        return (a[2:, 1:-1] + a[:-2, 1:-1] + a[1:-1, 2:] + a[1:-1, :-2] - 4 * a[1:-1, 1:-1]) / h ** 2

    def dx(a):
        return (a[2:, 1:-1] - a[:-2, 1:-1]) / (2 * h)

    def dy(a):
        return (a[1:-1, 2:] - a[1:-1, :-2]) / (2 * h)

    m = away_from_lid_corners(101, 0.1)[1:-1, 1:-1]
    # measured 2.1e-3 (x), 2.1e-3 (y), 2.1e-3 (div vs |u_x|): O(h^2) truncation of this 101-grid check
    assert rel_l2(MU * lap(u)[m], dx(p)[m]) < 5e-3
    assert rel_l2(MU * lap(v)[m], dy(p)[m]) < 5e-3
    assert np.linalg.norm((dx(u) + dy(v))[m]) < 5e-3 * np.linalg.norm(dx(u)[m])
    assert np.median(np.abs(MU * lap(u) - dx(p))) < 1e-5 * np.abs(dx(p)).max()
    # the plain stream-function solve is discretely divergence-free to rounding
    plain = solve_stokes(richardson=False)
    assert np.abs(dx(plain["u"]) + dy(plain["v"])).max() < 1e-11


@pytest.mark.parametrize("n", [101, 51, 41])
def test_boundary_values_exact(n):
    f = smooth_lids(1, seed=3)[0] * 3.0
    sol = solve_stokes(f, n=n)
    x = sol["x"]
    lid = stokes.lid_velocity(f[None], x)[0]
    assert np.array_equal(sol["u"][:, -1], lid)
    if n == 101:  # the nodes are the sensors: the spline reproduces f there
        np.testing.assert_allclose(lid, (1 + f / 10) * x * (1 - x), rtol=0, atol=1e-15)
    for k in "uv":
        assert np.all(sol[k][0, :] == 0) and np.all(sol[k][-1, :] == 0) and np.all(sol[k][:, 0] == 0)
    assert np.all(sol["v"][:, -1] == 0)
    assert np.abs(lid - x * (1 - x)).max() > 1e-3  # the perturbation is really there


def test_symmetry_of_the_zero_lid(zero_lid):
    """f = 0: the flow is mirror-symmetric about x = 1/2 (u even, v odd) and p is odd in the bottom-mean gauge."""
    assert np.abs(zero_lid["u"] - zero_lid["u"][::-1]).max() < 1e-9
    assert np.abs(zero_lid["v"] + zero_lid["v"][::-1]).max() < 1e-9
    assert np.abs(zero_lid["p"] + zero_lid["p"][::-1]).max() < 1e-9


def test_gauges():
    f = smooth_lids(1, seed=5)[0]
    sols = {g: solve_stokes(f, n=51, gauge=g) for g in stokes.GAUGES}
    assert abs(np.trapezoid(sols["bottom_mean"]["p"][:, 0], dx=1 / 50)) < 1e-14
    assert sols["corner"]["p"][0, 0] == 0.0
    assert abs(sols["mean"]["p"].mean()) < 1e-14
    diff = sols["corner"]["p"] - sols["bottom_mean"]["p"]
    assert np.ptp(diff) < 1e-12 and abs(diff.mean()) > 1e-5  # a constant, and not zero
    with pytest.raises(ValueError, match="gauge"):
        solve_stokes(gauge="bottom")


# ---------------------------------------------------------------- linearity, batch
def test_linear_in_the_lid():
    f1, f2 = smooth_lids(2, seed=1)
    F = np.stack([np.zeros_like(f1), f1, f2, f1 + f2])
    sol = solve_stokes_batch(F, n=51)
    for k in "uvp":
        zero, a, b, ab = sol[k]
        assert np.abs(ab - zero - (a - zero) - (b - zero)).max() < 1e-12 * np.abs(a).max()
        assert np.abs(a - zero).max() > 1e-3 * np.abs(zero).max()  # the perturbation does something


def test_batch_equals_one_by_one():
    F = smooth_lids(3, seed=2)
    batch = solve_stokes_batch(F, n=51, chunk=2)
    for b in range(3):
        one = solve_stokes(F[b], n=51)
        for k in "uvp":  # a multi-right-hand-side sparse solve rounds differently: up to 4e-13 (scipy 1.17)
            np.testing.assert_allclose(batch[k][b], one[k], rtol=0, atol=1e-11 * np.abs(one[k]).max())


def test_bad_input():
    with pytest.raises(ValueError, match="F must be"):
        solve_stokes_batch(np.zeros(101))
    with pytest.raises(ValueError, match="F must be"):
        solve_stokes_batch(np.full((1, 101), np.nan))
    with pytest.raises(ValueError, match="n must be"):
        solve_stokes(n=4)


# ---------------------------------------------------------------- cache
@pytest.fixture
def counting_solver(monkeypatch):
    calls = []
    real = stokes.solve_stokes_batch

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(stokes, "solve_stokes_batch", counted)
    return calls


def test_cache_hit_returns_identical_arrays(tmp_path, counting_solver):
    F = smooth_lids(2, seed=4)
    first = cached_references(F, tmp_path, n=41)
    second = cached_references(F, tmp_path, n=41)
    assert len(counting_solver) == 1
    assert len(list(tmp_path.glob("stokes-*.npz"))) == 1
    for k in ("x", "y", "u", "v", "p"):
        assert np.array_equal(first[k], second[k])
    np.testing.assert_array_equal(first["u"], solve_stokes_batch(F, n=41)["u"])
    cached_references(F, tmp_path, n=41, gauge="corner")  # another key: another solve and file
    cached_references(F + 1e-9, tmp_path, n=41)
    assert len(counting_solver) == 3
    assert len(list(tmp_path.glob("stokes-*.npz"))) == 3
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_cache_file_is_recomputed(tmp_path, counting_solver, damage):
    F = smooth_lids(1, seed=6)
    good = cached_references(F, tmp_path, n=41)
    (path,) = tmp_path.glob("stokes-*.npz")
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not an npz" * 10, "empty": b""}[damage])
    again = cached_references(F, tmp_path, n=41)
    assert len(counting_solver) == 2
    assert np.array_equal(again["p"], good["p"])
    third = cached_references(F, tmp_path, n=41)  # the rewritten file is valid again
    assert len(counting_solver) == 2 and np.array_equal(third["u"], good["u"])


def test_unwritable_cache_warns_and_returns(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    F = np.zeros((1, 101))
    with pytest.warns(UserWarning, match="could not write"):
        sol = cached_references(F, blocker / "cache", n=21)
    assert np.array_equal(sol["u"][0], solve_stokes(n=21)["u"])


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("PINNIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert stokes_cache.default_cache_dir() == tmp_path / "xdg" / "pinnit" / "stokes"
    monkeypatch.setenv("PINNIT_CACHE_DIR", str(tmp_path / "mine"))
    assert stokes_cache.default_cache_dir() == tmp_path / "mine" / "stokes"
    F = np.zeros((1, 101))
    cached_references(F, n=21)
    assert len(list((tmp_path / "mine" / "stokes").glob("stokes-*.npz"))) == 1


def test_the_pressure_norm_sits_at_the_lid_corners(zero_lid):
    """The lid corners carry a stress singularity: about 40 % of ‖p‖² on the 101 × 101 evaluation grid (corner
    gauge, the operator problem's) lies within 0.1 of them, against 1 % of ‖u‖², and the largest |p| is over 10×
    its root mean square. A network that misses the corners therefore misses much of p's relative L2 norm."""
    sol = solve_stokes(gauge="corner")
    near = ~away_from_lid_corners(101, 0.1)
    share = {f: np.sum(sol[f][near] ** 2) / np.sum(sol[f] ** 2) for f in "uvp"}
    assert 0.3 < share["p"] < 0.5 and share["u"] < 0.02 and share["v"] < 0.02
    p = sol["p"] - sol["p"].mean()
    assert np.abs(p).max() > 10 * np.sqrt(np.mean(p ** 2))


def test_the_pressure_is_logarithmically_singular_at_the_lid_corners():
    """Near a lid corner the wall moves as U ≈ a·r along one side (a = |U'| there, 1 for f = 0) and is still on the
    other: the Stokes corner flow ψ = r²F(θ) has vorticity linear in θ, whose harmonic conjugate gives p ≈ ±2μa·ln r.
    So p has no value at the two corner nodes: the solver's value there moves by 2μa·ln 2 with each halving of
    the grid step (measured 0.0138627 against 0.0138629), while the next node and the interior converge."""
    coarse, fine = (solve_stokes(gauge="corner", refine=k, richardson=False) for k in (1, 2))
    step = 2 * stokes.MU * np.log(2)
    assert abs((coarse["p"][0, -1] - fine["p"][0, -1]) - step) < 1e-3 * step      # (0, 1): p → −∞
    assert abs((fine["p"][-1, -1] - coarse["p"][-1, -1]) - step) < 1e-3 * step    # (1, 1): p → +∞
    assert abs(fine["p"][1, -1] - coarse["p"][1, -1]) < 0.25 * step and abs(fine["p"][50, 50] - coarse["p"][50, 50]) < 1e-6
