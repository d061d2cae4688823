"""RAD / RAR-D (pinnit/sampling/adaptive.py): drawn points follow p ∝ ε^k/E[ε^k] + c for a model whose residual
is known in closed form, RAR-D grows by exactly ``add``, draws are deterministic and resume exactly, bad keys
give one line."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from pinnit import load_config, parse_config
from pinnit.runs import run
from pinnit.sampling.adaptive import AdaptiveSampling, density, residual_magnitude
from pinnit.cli import main
from pinnit.runtime.context import RunContext
from pinnit.core.errors import ConfigError
from pinnit.problems.base import Problem, Term
from pinnit.geometry.regions import Region
from pinnit.training import Checkpointer, PinnLoss

from conftest import REPO, small_burgers

N, POOL = 2000, 40_000


class Cube(nn.Module):
    """u(x, y) = a·x³ with a = 1 a trainable parameter, so u_x / 3 = x²."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, x):
        return self.a * x[:, :1] ** 3


class Square(Problem):
    """On [0, 1]²: physics residual r = u_x / 3 (= x² for Cube), an initial term at y = 0."""

    inputs, outputs = ("x", "y"), ("u",)

    def __init__(self, split: bool = False):
        self.split = split

    @property
    def domain(self):
        return {"x": (0.0, 1.0), "y": (0.0, 1.0)}

    def terms(self):
        pde = (lambda f: (f["u_x"] / 3, f["y"] * 0 + 0.5)) if self.split else (lambda f: f["u_x"] / 3)
        return [Term("pde", "physics", Region(self.domain), pde, N),
                Term("initial", "initial", Region(self.domain, ({"y": 0.0},)), lambda f: f["u"], 100)]


def _loss(method="rad", seed=0, sampler="sobol", **kw) -> PinnLoss:
    ctx = RunContext.create("cpu", "float64", seed)
    spec = AdaptiveSampling(method, kw.pop("k", 1.0), kw.pop("c", 1.0), kw.pop("candidates", POOL), **kw)
    return PinnLoss(Square(), Cube(), ctx, sampler=sampler, adaptive=spec)


def _upper_half(loss: PinnLoss) -> float:
    return float((loss.points["pde"][:, 0] > 0.5).double().mean())


@pytest.mark.parametrize("k, c, expected", [
    (1.0, 1.0, 0.6875),   # p ∝ 3x² + 1: ∫_{1/2}^1 (3x² + 1)/2 dx
    (1.0, 0.0, 0.875),    # p ∝ 3x²: 1 − 1/8
    (2.0, 0.0, 0.96875),  # p ∝ 5x⁴: 1 − 1/32
    (0.0, 0.0, 0.5),      # k = 0: the plain (uniform) distribution
    (1.0, 1e6, 0.5),      # c ≫ 1: near uniform
])
def test_rad_points_follow_the_density(k, c, expected):
    loss = _loss(k=k, c=c)
    assert abs(_upper_half(loss) - 0.5) < 0.01  # the first draw is the plain Sobol sampler
    loss.resample()
    x = loss.points["pde"][:, 0].numpy()
    assert len(x) == N and len(np.unique(x)) == N  # drawn without replacement
    assert abs(_upper_half(loss) - expected) < 0.035  # ~3.4 σ of a binomial fraction of 2000 points
    if (k, c) == (1.0, 1.0):
        assert abs(x.mean() - 0.625) < 0.02  # E[x] = ∫ x (3x² + 1)/2 dx
    assert loss.points["initial"].shape == (100, 2) and (loss.points["initial"][:, 1] == 0).all()


def test_rar_d_keeps_the_points_and_adds_exactly_add_where_the_residual_is_large():
    loss = _loss("rar_d", k=2.0, c=0.0, candidates=100_000, add=1000, max_points=N + 1500)
    before = loss.points["pde"].clone()
    loss.resample()
    after = loss.points["pde"]
    assert after.shape == (N + 1000, 2)
    assert torch.equal(after[:N], before)
    # p ∝ x⁴ (1000 of 100 000 candidates drawn without replacement: a small pull towards uniform)
    assert abs(float((after[N:, 0] > 0.5).double().mean()) - 0.96875) < 0.02
    loss.resample()  # capped: only 500 more fit under max_points
    assert loss.points["pde"].shape == (N + 1500, 2)
    loss.resample()
    assert loss.points["pde"].shape == (N + 1500, 2)


def test_density_is_normalised_and_scale_free():
    eps = np.array([0.0, 1.0, 2.0, 3.0])
    p = density(eps, 1.0, 1.0)
    np.testing.assert_allclose(p, (eps / eps.mean() + 1) / (eps / eps.mean() + 1).sum())
    np.testing.assert_allclose(density(1e-30 * eps, 2.0, 0.0), density(eps, 2.0, 0.0))
    np.testing.assert_allclose(density(np.zeros(5), 1.0, 0.0), np.full(5, 0.2))


def test_residual_magnitude_uses_input_derivatives_in_chunks_and_leaves_no_graph():
    model, x = Cube(), torch.rand(103, 2, dtype=torch.float64)
    term = Square(split=True).terms()[0]
    eps = residual_magnitude(term, Square(split=True), model, x, chunk=10)
    np.testing.assert_allclose(eps, np.sqrt(x[:, 0].numpy() ** 4 + 0.25), rtol=1e-12)  # ε² = (x²)² + 0.5²
    assert model.a.requires_grad and model.a.grad is None


@pytest.mark.parametrize("method, kw", [("rad", {}), ("rar_d", {"k": 2.0, "c": 0.0, "add": 300})])
def test_draws_are_deterministic_and_resume_exactly(method, kw):
    a, b = _loss(method, seed=3, sampler="uniform", **kw), _loss(method, seed=3, sampler="uniform", **kw)
    for loss in (a, b):
        loss.resample()
        loss.resample()
    assert all(torch.equal(a.points[k], b.points[k]) for k in a.points)
    saved = a.state()
    a.resample()
    fresh = _loss(method, seed=99, sampler="uniform", **kw)  # another seed: only the loaded state matters
    fresh.load_state(saved)
    fresh.resample()
    assert all(torch.equal(a.points[k], fresh.points[k]) for k in a.points)


def test_from_config_defaults_per_method(tmp_path):
    cfg = small_burgers(tmp_path)
    rad = AdaptiveSampling.from_config(parse_config(cfg, ["sampling.adaptive.method=rad"]).sampling.adaptive)
    rar = AdaptiveSampling.from_config(parse_config(cfg, ["sampling.adaptive={method: rar_d, add: 64}"])
                                       .sampling.adaptive)
    assert (rad.method, rad.k, rad.c, rad.pool_size(512)) == ("rad", 1.0, 1.0, 5120)
    assert (rar.method, rar.k, rar.c, rar.add, rar.pool_size(512)) == ("rar_d", 2.0, 0.0, 64, 1000)
    assert AdaptiveSampling.from_config(parse_config(cfg).sampling.adaptive) is None


def test_rar_d_run_grows_the_checkpointed_points(tmp_path):
    """End to end: Adam resamples at steps 20 and 40 of 60, so the pde term ends with 512 + 2·64 points."""
    cfg = parse_config(small_burgers(tmp_path), ["sampling.adaptive={method: rar_d, add: 64, candidates: 2000}",
                                                 "sampling.resample_every=20", "training.lbfgs.iterations=0"])
    res = run(cfg, run_dir=tmp_path / "rar")
    assert np.isfinite(res.metrics["rel_l2_u"])
    points = Checkpointer(tmp_path / "rar" / "checkpoint.pt").load()["loss"]["points"]
    assert points["pde"].shape == (512 + 2 * 64, 2) and points["initial"].shape[0] == 64


@pytest.mark.parametrize("override, path", [
    ("sampling.adaptive.method=radd", "sampling.adaptive.method"),
    ("sampling.adaptive.k=1", "sampling.adaptive.k"),  # method none
    ("sampling.adaptive={method: rad, k: -1}", "sampling.adaptive.k"),
    ("sampling.adaptive={method: rad, add: 5}", "sampling.adaptive.add"),
    ("sampling.adaptive={method: rar_d}", "sampling.adaptive.add"),
    ("sampling.adaptive={method: rad, candidates: 100}", "sampling.adaptive.candidates"),
    ("sampling.adaptive={method: rar_d, add: 50, candidates: 10}", "sampling.adaptive.candidates"),
    ("sampling.adaptive={method: rad, chunk: 10}", "sampling.adaptive.chunk"),
])
def test_bad_adaptive_keys_are_one_line(tmp_path, capsys, override, path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(small_burgers(tmp_path)))
    assert main(["run", str(config), "--set", override]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pinnit: error: {path}"), lines


def test_operator_problems_refuse_adaptive_sampling():
    with pytest.raises(ConfigError, match=r"^sampling\.adaptive\.method: .*operator problems"):
        load_config(REPO / "configs" / "stokes_deeponet_cpu.yaml", ["sampling.adaptive.method=rad"])
