"""Basis-function pretraining initializer (Hu et al. 2025): polynomials, pretraining accuracy, the on-disk cache
(reuse, corruption, concurrent writers), fit targets from problems, and the initial-condition projection."""
from __future__ import annotations

import math
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pinnit import assemble, load_config
from pinnit.config import RunConfig
from pinnit.core.errors import ConfigError
from pinnit.nn.activations import build_activation
from pinnit.nn.initializers import INITIALIZERS, basis_cache, initialize, validate_initializer
from pinnit.nn.initializers import basis_pretraining as bp
from pinnit.nn.initializers.polynomials import basis_size, basis_values, multi_indices, univariate
from pinnit.problems import build_problem
from pinnit.problems.targets import condition_targets

REPO = Path(__file__).resolve().parents[1]
TINY = bp.PretrainSettings(family="legendre", degree=3, steps=200, lbfgs=150, lr=3e-3, points=256, seed=0)
SHAPES_1D = [(1, 16, True), (16, 16, True)]


@pytest.fixture
def calls(monkeypatch):
    """Counts the degrees actually trained (not loaded from the cache)."""
    seen: list[int] = []
    original = bp.train_degree

    def counting(net, activation, x, target, *args):
        seen.append(target.shape[1])
        return original(net, activation, x, target, *args)

    monkeypatch.setattr(bp, "train_degree", counting)
    return seen


def test_families_match_numpy():
    x = torch.linspace(-1, 1, 41, dtype=torch.float64)
    for family, cls in [("legendre", np.polynomial.Legendre), ("chebyshev", np.polynomial.Chebyshev)]:
        got = univariate(x, 5, family).numpy()
        want = np.stack([cls.basis(k)(x.numpy()) for k in range(6)], axis=1)
        np.testing.assert_allclose(got, want, atol=1e-13)
    np.testing.assert_allclose(univariate(x, 3, "monomial").numpy(), np.vander(x.numpy(), 4, increasing=True))


def test_total_degree_tensor_basis():
    assert [basis_size(2, p) for p in range(4)] == [1, 3, 6, 10] and basis_size(3, 2) == 10
    assert multi_indices(2, 2) == [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    xy = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    p2 = lambda v: 1.5 * v**2 - 0.5  # noqa: E731
    want = [1, 0.3, -0.7, p2(0.3), 0.3 * -0.7, p2(-0.7)]
    torch.testing.assert_close(basis_values(xy, 2)[0], torch.tensor(want, dtype=torch.float64))


def test_pretrained_net_reproduces_its_polynomials(tmp_path, calls):
    """1-D, GELU, two hidden layers of 16, Legendre up to degree 3: max error ≤ 0.03, RMS ≤ 0.01 on a fine grid."""
    act = build_activation("gelu")
    net = bp.pretrained_basis(SHAPES_1D, 1, act, TINY, str(tmp_path))
    assert calls == [1, 2, 3, 4]  # progressive: degree 0, 1, 2, 3
    x = torch.linspace(-1, 1, 501, dtype=torch.float64)[:, None]
    with torch.no_grad():
        err = net(x, act) - basis_values(x, 3)
    assert float(err.abs().max()) <= 0.03 and float(err.pow(2).mean().sqrt()) <= 0.01
    assert net.rms_errors[0] < 1e-3 and all(e < 0.01 for e in net.rms_errors)


def test_two_dimensional_basis_with_tanh(tmp_path):
    """2-D tensor products (total degree 2, 6 functions), tanh, widths 24: RMS ≤ 0.02 on a 41×41 grid."""
    act = build_activation("tanh")
    settings = bp.PretrainSettings(degree=2, steps=200, lbfgs=150, points=512, seed=1)
    net = bp.pretrained_basis([(2, 24, True), (24, 24, True)], 2, act, settings, str(tmp_path))
    g = torch.linspace(-1, 1, 41, dtype=torch.float64)
    x = torch.cartesian_prod(g, g)
    with torch.no_grad():
        err = net(x, act) - basis_values(x, 2)
    assert float(err.pow(2).mean().sqrt()) <= 0.02


def test_cache_is_reused_and_extended(tmp_path, calls):
    act = build_activation("gelu")
    low = bp.PretrainSettings(degree=1, steps=30, lbfgs=5, points=64)
    first = bp.pretrained_basis(SHAPES_1D, 1, act, low, str(tmp_path))
    assert calls == [1, 2]
    again = bp.pretrained_basis(SHAPES_1D, 1, act, low, str(tmp_path))
    assert calls == [1, 2]  # nothing trained the second time
    for a, b in zip([*first.hidden, first.head], [*again.hidden, again.head]):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    higher = bp.PretrainSettings(degree=2, steps=30, lbfgs=5, points=64)
    bp.pretrained_basis(SHAPES_1D, 1, act, higher, str(tmp_path))
    assert calls == [1, 2, 3]  # resumed from the cached degree 1
    other = bp.PretrainSettings(degree=1, steps=30, lbfgs=5, points=64, seed=7)
    bp.pretrained_basis(SHAPES_1D, 1, act, other, str(tmp_path))
    assert calls == [1, 2, 3, 1, 2]  # another seed is another entry


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupted_entry_is_recomputed(tmp_path, calls, damage):
    act = build_activation("tanh")
    s = bp.PretrainSettings(degree=1, steps=20, lbfgs=5, points=64)
    first = bp.pretrained_basis(SHAPES_1D, 1, act, s, str(tmp_path))
    path = basis_cache.entry_path(tmp_path, bp.cache_key(SHAPES_1D, act, s, 1, torch.float64))
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        path.write_bytes(data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:])
    else:
        path.write_bytes(b"not a cache entry")
    calls.clear()
    again = bp.pretrained_basis(SHAPES_1D, 1, act, s, str(tmp_path))
    assert calls == [2]  # degree 1 retrained from the intact degree-0 entry
    assert basis_cache.load(tmp_path, bp.cache_key(SHAPES_1D, act, s, 1, torch.float64)) is not None
    torch.testing.assert_close(again.head.weight, first.head.weight)  # deterministic: same result again


def test_entry_of_another_key_is_not_trusted(tmp_path):
    key = {"a": 1}
    basis_cache.save(tmp_path, key, {"w0": torch.ones(2)})
    assert torch.equal(basis_cache.load(tmp_path, key)["w0"], torch.ones(2))
    path = basis_cache.entry_path(tmp_path, key)
    path.write_bytes(path.read_bytes().replace(b'{"a":1}', b'{"a":2}'))
    assert basis_cache.load(tmp_path, key) is None


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("PINNIT_CACHE_DIR", str(tmp_path / "c"))
    assert basis_cache.cache_root() == tmp_path / "c" / "basis"
    assert basis_cache.cache_root(str(tmp_path / "mine")) == tmp_path / "mine"
    monkeypatch.delenv("PINNIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert basis_cache.cache_root() == tmp_path / "xdg" / "pinnit" / "basis"


CONCURRENT = bp.PretrainSettings(degree=2, steps=40, lbfgs=10, points=64)


def _writer(root: str, out) -> None:
    net = bp.pretrained_basis([(1, 12, True)], 1, build_activation("gelu"), CONCURRENT, root)
    out.put(net.head.weight.sum().item())


def test_concurrent_writers_leave_a_valid_cache(tmp_path):
    """Two processes pretrain the same entries into one folder at once: both finish, agree, and every entry
    loads (forked workers: no second torch import on a busy machine)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs) and results[0] == results[1]
    act = build_activation("gelu")
    for k in range(3):
        assert basis_cache.load(tmp_path, bp.cache_key([(1, 12, True)], act, CONCURRENT, k, torch.float64)) is not None
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_fit_targets_from_problem_residuals():
    burgers = build_problem({"name": "burgers"})
    x = torch.tensor([[0.5, 0.0], [-0.25, 0.0]], dtype=torch.float64)
    (t,) = condition_targets(burgers, {"initial": x}, kinds=("initial",))
    torch.testing.assert_close(t.slope, torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(t.offset, torch.sin(math.pi * x[:, 0]))  # r = u + sin(πx): target −sin(πx)
    hard = build_problem({"name": "burgers", "hard_constraints": True})
    assert condition_targets(hard, {"initial": x}) == []  # the transform already satisfies it
    bs = build_problem({"name": "black_scholes", "hard_constraints": True})
    s = torch.tensor([[0.0, 0.0], [0.25, 0.0], [0.75, 0.0], [1.0, 0.0]], dtype=torch.float64)
    (t,) = condition_targets(bs, {"initial": s})
    torch.testing.assert_close(t.points[:, 0], s[1:3, 0])  # V fixed at S = 0 and S_max: slope 0, skipped
    torch.testing.assert_close(t.slope, s[1:3, 0] * (1 - s[1:3, 0]))  # V = B + S(S_max − S)·y
    wave = build_problem({"name": "declared", "file": str(REPO / "problems" / "wave.yaml")})
    pts = {"initial": torch.tensor([[0.5, 0.0]]), "velocity": torch.tensor([[0.5, 0.0]])}
    assert [t.name for t in condition_targets(wave, pts)] == ["initial"]  # u_t = 0 is not a value condition


def _burgers_basis(tmp_path, **init) -> RunConfig:
    spec = {"name": "basis_pretrained", "degree": 3, "steps": 150, "lbfgs": 60, "points": 512,
            "cache_dir": str(tmp_path / "cache"), **init}
    return RunConfig.model_validate({
        "problem": {"name": "burgers"},
        "network": {"width": 24, "depth": 2, "activation": "gelu", "initializer": spec},
        "sampling": {"points": {"pde": 256, "initial": 200, "boundary": 64}},
        "training": {"dtype": "float64", "seed": 0, "threads": 1},
        "output": {"dir": str(tmp_path / "out")},
    })


def test_projection_reproduces_the_initial_condition(tmp_path):
    """Burgers u(x,0) = −sin(πx) at initialization: RMS within 0.02 of the best degree-3 polynomial fit
    (≈ 0.07) and max error ≤ 0.25, against ≈ 0.7 RMS for Xavier."""
    a = assemble(_burgers_basis(tmp_path))
    x = a.loss.points["initial"]
    g = -torch.sin(math.pi * x[:, :1])
    with torch.no_grad():
        err = a.model(x) - g
    xs = x[:, :1].double()
    best = torch.linalg.lstsq(univariate(xs[:, 0], 3), g[:, 0].double()[:, None]).solution
    poly_rms = float((univariate(xs[:, 0], 3) @ best - g.double()).pow(2).mean().sqrt())
    rms = float(err.pow(2).mean().sqrt())
    assert 0.03 < poly_rms < 0.1 and rms <= poly_rms + 0.02 and float(err.abs().max()) <= 0.25
    xavier = assemble(RunConfig.model_validate({**_burgers_basis(tmp_path).model_dump(),
                                                "network": {"width": 24, "depth": 2, "activation": "gelu"}}))
    with torch.no_grad():
        assert float((xavier.model(x) - g).pow(2).mean().sqrt()) > 5 * rms


def test_without_targets_head_options(tmp_path):
    """A DeepONet-like stack (no targets): head 'basis' makes output j the j-th basis function."""
    act = build_activation("gelu")
    layers = [nn.Linear(a, b, dtype=torch.float64) for a, b in [(1, 16), (16, 16), (16, 3)]]
    initialize(layers, act, torch.Generator().manual_seed(0),
               {"name": "basis_pretrained", "degree": 3, "steps": 200, "lbfgs": 150, "points": 256,
                "head": "basis", "cache_dir": str(tmp_path)})
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)[:, None]
    with torch.no_grad():
        y = layers[2](act(layers[1](act(layers[0](x)))))
    torch.testing.assert_close(y, basis_values(x, 3)[:, :3], atol=0.03, rtol=0)


def test_registered_and_validated():
    assert "basis_pretrained" in INITIALIZERS and INITIALIZERS.describe()["basis_pretrained"]
    with pytest.raises(ConfigError, match=r"network\.initializer\.degree"):
        validate_initializer({"name": "basis_pretrained", "degree": -1})
    with pytest.raises(ConfigError, match=r"network\.initializer\.family"):
        validate_initializer({"name": "basis_pretrained", "family": "hermite"})
    with pytest.raises(ConfigError, match=r"network\.initializer\.targets"):
        validate_initializer({"name": "basis_pretrained", "targets": []})  # internal, never from YAML


@pytest.mark.parametrize("name", ["burgers_basis", "black_scholes_basis"])
def test_shipped_configs_use_it(name):
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.network.initializer["name"] == "basis_pretrained" and cfg.network.activation == "gelu"


def test_unwritable_cache_warns_and_still_initialises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    s = bp.PretrainSettings(degree=1, steps=10, lbfgs=2, points=32)
    with pytest.warns(UserWarning, match="basis cache"):
        net = bp.pretrained_basis(SHAPES_1D, 1, build_activation("gelu"), s, str(blocker / "cache"))
    assert net.head.out_features == 2


@pytest.mark.parametrize("name", ["burgers_basis", "black_scholes_basis"])
def test_shipped_config_trains_from_yaml(tmp_path, name):
    """The shipped YAML, shrunk to a few steps, runs end to end (pretraining, projection, training, outputs)."""
    from pinnit.runs.pipeline import run

    cfg = load_config(REPO / "configs" / f"{name}.yaml", [
        "training.stages.adam.iterations=5", "training.stages.lbfgs.iterations=0", "training.threads=1",
        "network.initializer.steps=10", "network.initializer.lbfgs=2", f"network.initializer.cache_dir={tmp_path}/c",
        "sampling.points={pde: 64, initial: 32, boundary: 16}", "evaluation.resolution=[16, 8]",
        f"output.dir={tmp_path}/out", "output.plots=false", "output.progress=false"])
    metrics = run(cfg).metrics
    rel = [v for k, v in metrics.items() if k.startswith("rel_l2") and not k.endswith("final_t")]
    assert metrics["status"] == "completed" and rel and all(0 < v < 10 for v in rel)
    assert len(list((tmp_path / "c").glob("*.pt"))) == (4 if name == "burgers_basis" else 5)  # degrees 0..p


def test_global_rng_is_untouched(tmp_path):
    layers = [nn.Linear(a, b, dtype=torch.float64) for a, b in [(2, 8), (8, 8), (8, 1)]]  # built before seeding
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    initialize(layers, build_activation("gelu"), torch.Generator().manual_seed(0),
               {"name": "basis_pretrained", "degree": 1, "steps": 5, "lbfgs": 2, "points": 32,
                "cache_dir": str(tmp_path)})
    torch.testing.assert_close(torch.rand(3), expected)
