"""Problems declared in YAML: equal to the built-ins, conditions and data, errors, end-to-end training."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnit import assemble, parse_config
from pinnit.runs import run
from pinnit.core.errors import ConfigError
from pinnit.derivatives.fields import Fields
from pinnit.problems import build_problem

REPO = Path(__file__).resolve().parents[1]
BS_FILE = "problems/black_scholes.yaml"
PAIRS = {"burgers": ({"name": "burgers"}, {"name": "declared", "file": "problems/burgers.yaml"}),
         "black_scholes": ({"name": "black_scholes"}, {"name": "declared", "file": BS_FILE}),
         # the payoff built into the transform too: the file's transform and satisfies, overridden inline
         "black_scholes_hard_initial": (
             {"name": "black_scholes", "hard_initial": True},
             {"name": "declared", "file": BS_FILE, "satisfies": ["initial", "boundary"],
              "output_transform": "Max(S - K, 0) + S/S_max*(K - K*exp(-r*tau)) + tau*S*(S_max - S)*V"})}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small problems on a shared 2-core machine: one intra-op thread avoids OpenMP spin contention."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _cfg(problem: dict, tmp_path: Path, points: dict, hard: bool = False, adam: int = 50, **extra) -> dict:
    return {"problem": {**problem, "hard_constraints": hard},
            "network": {"width": 16, "depth": 3, "activation": "tanh", "initializer": "xavier_normal"},
            "sampling": {"sampler": "sobol", "points": points},
            "training": {"dtype": "float64", "seed": 3, "adam": {"iterations": adam, "lr": 3e-3},
                         "lbfgs": {"iterations": 0}, "checkpoint_every": 0},
            "evaluation": {"every": 0, "resolution": [24, 12]},
            "output": {"dir": str(tmp_path / "outputs"), "plots": False, "progress": False}, **extra}


def _declared(**decl) -> object:
    return build_problem({"name": "declared", **decl})


def _rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


# --- the shipped Burgers and Black–Scholes declarations equal the built-in problems --------------------

@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("name", ["burgers", "black_scholes", "black_scholes_hard_initial"])
def test_declared_residuals_equal_the_builtin(tmp_path, name, hard):
    built, decl = PAIRS[name]
    points = {"pde": 300, "initial": 60, "boundary": 40}
    a = assemble(parse_config(_cfg(built, tmp_path, points, hard)))
    b = assemble(parse_config(_cfg(decl, tmp_path, points, hard)))
    assert [t.name for t in a.loss.terms] == [t.name for t in b.loss.terms]
    assert [t.kind for t in a.problem.terms()] == [t.kind for t in b.problem.terms()]
    assert a.problem.domain == b.problem.domain and a.problem.evaluation_box() == b.problem.evaluation_box()
    assert a.problem.time_input == b.problem.time_input
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):  # same network
        assert torch.equal(pa, pb)
    for ta, tb in zip(a.loss.terms, b.loss.terms):
        x = a.loss.points[ta.name]
        assert torch.equal(x, b.loss.points[tb.name])  # same points
        ra = ta.residual(Fields(x, a.problem.inputs, a.problem.outputs, a.model))
        rb = tb.residual(Fields(x, b.problem.inputs, b.problem.outputs, b.model))
        assert ra.abs().max() > 1e-2  # a real residual, not a trivially zero one
        torch.testing.assert_close(rb, ra, rtol=0, atol=1e-10)
    assert b.problem.hard_terms == a.problem.hard_terms
    x = a.loss.points["pde"]
    raw = a.model.net(x)
    torch.testing.assert_close(b.problem.output_transform(x, raw), a.problem.output_transform(x, raw), rtol=0,
                               atol=1e-10)


@pytest.mark.parametrize("name, hard", [("burgers", False), ("black_scholes", True)])
def test_declared_training_equals_the_builtin(tmp_path, name, hard):
    built, decl = PAIRS[name]
    points = {"pde": 256, "initial": 48, "boundary": 32}
    a = run(parse_config(_cfg(built, tmp_path, points, hard)), run_dir=tmp_path / "a").metrics
    b = run(parse_config(_cfg(decl, tmp_path, points, hard)), run_dir=tmp_path / "b").metrics
    assert a["iterations"]["adam"] == b["iterations"]["adam"] == 50
    for key, value in a["final_loss"].items():
        assert b["final_loss"][key] == pytest.approx(value, rel=1e-10, abs=1e-12), key
    ha, hb = _rows(tmp_path / "a" / "history.csv"), _rows(tmp_path / "b" / "history.csv")
    assert len(ha) == len(hb) == 5
    for ra, rb in zip(ha, hb):
        assert float(rb["loss_total"]) == pytest.approx(float(ra["loss_total"]), rel=1e-10)
    assert float(ha[-1]["loss_total"]) < 0.9 * float(ha[0]["loss_total"])  # it did train


def test_black_scholes_exact_expression_matches_the_closed_form():
    built, decl = (build_problem(p) for p in PAIRS["black_scholes"])
    axes = built.evaluation_axes()
    np.testing.assert_allclose(decl.reference(axes)["V"], built.reference(axes)["V"], rtol=0, atol=1e-12)


def test_exact_file_grid_reproduces_the_burgers_reference(shared_reference):
    npz = shared_reference("Burgers.npz")
    decl = _declared(file="problems/burgers.yaml", exact_file={"path": str(npz), "names": {"usol": "u"}})
    built = build_problem({"name": "burgers"})
    axes = built.evaluation_axes()
    assert [len(a) for a in axes.values()] == [256, 100]
    np.testing.assert_allclose(decl.reference(axes)["u"], built.reference(axes)["u"], rtol=0, atol=1e-8)


def test_set_overrides_one_parameter_of_a_declaration_file(tmp_path):
    cfg = parse_config(_cfg(PAIRS["burgers"][1], tmp_path, {"pde": 64}), ["problem.parameters.nu=0.1"])
    p = assemble(cfg).problem
    assert p.ns.parameters == {"nu": 0.1, "t_end": 1.0}
    ref = build_problem({"name": "burgers", "nu": 0.1})
    x = torch.rand(32, 2, dtype=torch.float64) * 2 - 1
    model = lambda z: torch.sin(3 * z[:, :1]) * z[:, 1:] + z[:, :1] ** 2  # noqa: E731
    pde = next(t for t in p.terms() if t.name == "pde")
    torch.testing.assert_close(pde.residual(Fields(x, ("x", "t"), ("u",), model)),
                               ref.terms()[0].residual(Fields(x, ("x", "t"), ("u",), model)), rtol=0, atol=1e-12)


# --- conditions, data and exact solutions ---------------------------------------------------------------

BASE = {"inputs": {"x": [0, 1], "t": [0, 1]}, "fields": ["u"], "equations": ["u_t - u_xx"]}
SIN1, COS1 = float(np.sin(1.0)), float(np.cos(1.0))


def _residual(problem, name, model, x=None, n=50):
    from pinnit.sampling import sample_region

    term = next(t for t in problem.terms() if t.name == name)
    pts = x if x is not None else sample_region(term.region, problem.inputs, n, "uniform", np.random.default_rng(0))
    r = term.residual(Fields(torch.as_tensor(pts, dtype=torch.float64), problem.inputs, problem.outputs, model))
    return torch.stack(r) if isinstance(r, tuple) else r, pts


def test_neumann_uses_the_outward_normal_and_values_per_face():
    p = _declared(**BASE, conditions=[{"name": "flux", "kind": "neumann", "at": "x", "value": ["-1", "3*t"]}])
    # u = x + x²t: u_x = 1 + 2xt, so −u_x(0) = −1 and u_x(1) = 1 + 2t
    model = lambda z: z[:, :1] + z[:, :1] ** 2 * z[:, 1:2]  # noqa: E731
    r, pts = _residual(p, "flux", model)
    t = torch.as_tensor(pts[:, 1])
    want = torch.where(torch.as_tensor(pts[:, 0]) == 0, torch.zeros_like(t), 1 + 2 * t - 3 * t)
    assert set(pts[:, 0]) == {0.0, 1.0}
    torch.testing.assert_close(r, want, rtol=0, atol=1e-14)


def test_default_faces_and_names():
    p = _declared(**{**BASE, "inputs": {"x": [0, 1], "y": [0, 2], "t": [0, 1]}},
                  conditions=[{"kind": "initial", "value": 0}, {"kind": "dirichlet", "value": 0},
                              {"kind": "neumann", "at": {"y": 2}, "value": 0}])
    terms = {t.name: t for t in p.terms()}
    assert list(terms) == ["pde", "initial", "boundary", "boundary_2"]
    assert terms["initial"].region.faces == ({"t": 0.0},)  # initial: the lower face of t
    assert terms["boundary"].region.faces == ({"x": 0.0}, {"x": 1.0}, {"y": 0.0}, {"y": 2.0})  # all but t
    assert [t.kind for t in terms.values()] == ["physics", "initial", "boundary", "boundary"]
    q = _declared(**{**BASE, "inputs": {"x": [0, 1], "s": [2, 3]}, "time": "s", "equations": "u_s - u_xx"},
                  conditions=[{"kind": "initial", "value": 0}, {"kind": "dirichlet", "value": 0}])
    assert q.time_input == "s" and [t.region.faces for t in q.terms()[1:]] == [({"s": 2.0},), ({"x": 0.0}, {"x": 1.0})]
    assert _declared(**{**BASE, "inputs": {"x": [0, 1], "y": [0, 1]}, "equations": "u_xx + u_yy"}).time_input is None


def test_initial_derivative_and_residual_equation_conditions():
    p = _declared(**BASE, conditions=[
        {"name": "velocity", "kind": "initial", "field": "u_t", "value": "sin(x)"},
        {"name": "robin", "kind": "dirichlet", "at": {"x": 1}, "equation": "u_x + 2*u = t"}])
    model = lambda z: torch.sin(z[:, :1]) * z[:, 1:2] + z[:, :1] * z[:, 1:2] ** 2  # noqa: E731
    r, _ = _residual(p, "velocity", model)  # u_t(x, 0) = sin x
    assert r.abs().max() < 1e-14
    r, pts = _residual(p, "robin", model)  # u_x + 2u − t at x = 1
    t = torch.as_tensor(pts[:, 1])
    torch.testing.assert_close(r, COS1 * t + t**2 + 2 * (SIN1 * t + t**2) - t, rtol=0, atol=1e-14)


def test_periodic_condition_compares_opposite_faces():
    p = _declared(**{**BASE, "inputs": {"x": [0, "2*pi"], "t": [0, 1]}},
                  conditions=[{"kind": "periodic", "at": "x", "derivatives": 1}])
    periodic = lambda z: torch.sin(z[:, :1] - z[:, 1:2])  # noqa: E731
    r, _ = _residual(p, "periodic", periodic)
    assert r.shape[0] == 2 and r.abs().max() < 1e-12  # u and u_x match
    r, pts = _residual(p, "periodic", lambda z: z[:, :1] * z[:, 1:2])
    torch.testing.assert_close(r[0], -2 * np.pi * torch.as_tensor(pts[:, 1]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("fmt", ["csv", "npz", "inline"])
def test_data_condition_fits_pointwise_values(tmp_path, fmt):
    rng = np.random.default_rng(0)
    x, t = rng.random(30), rng.random(30)
    u = np.exp(-t) * np.sin(x)
    if fmt == "csv":
        rows = [f"{a:.17g},{b:.17g},{c:.17g}" for a, b, c in zip(x, t, u)]
        (tmp_path / "d.csv").write_text("x,t,u\n" + "\n".join(rows))
        spec = {"file": str(tmp_path / "d.csv")}
    elif fmt == "npz":
        np.savez(tmp_path / "d.npz", x=x, t=t, u=u, other=np.arange(3))
        spec = {"file": str(tmp_path / "d.npz")}
    else:
        spec = {"data": {"x": x.tolist(), "t": t.tolist(), "u": u.tolist()}}
    p = _declared(**BASE, conditions=[{"name": "obs", "kind": "data", **spec}])
    term = p.terms()[1]
    assert term.kind == "data" and term.points == 30
    np.testing.assert_array_equal(term.region.points, np.stack([x, t], 1))
    r, _ = _residual(p, "obs", lambda z: torch.exp(-z[:, 1:2]) * torch.sin(z[:, :1]), x=np.stack([x, t], 1))
    assert r.abs().max() < 1e-14
    r, _ = _residual(p, "obs", lambda z: torch.zeros_like(z[:, :1]), x=np.stack([x, t], 1))
    np.testing.assert_allclose(r[0].numpy(), -u, atol=1e-15)


def test_exact_file_scattered_points_are_interpolated(tmp_path):
    g = np.linspace(0, 1, 41)
    X, T = (m.ravel() for m in np.meshgrid(g, g, indexing="ij"))
    (tmp_path / "u.csv").write_text("t,x,u\n" + "\n".join(f"{b:.17g},{a:.17g},{np.exp(-b) * np.sin(a):.17g}"
                                                          for a, b in zip(X, T)))
    p = _declared(**BASE, exact_file=str(tmp_path / "u.csv"))
    q = _declared(**BASE, exact="exp(-t)*sin(x)")
    axes = p.evaluation_axes([11, 7])
    np.testing.assert_allclose(p.reference(axes)["u"], q.reference(axes)["u"], atol=2e-4)  # linear interpolation


@pytest.mark.parametrize("arrays, key, fragment", [
    ({"x": np.arange(10.0), "t": np.arange(5.0), "u": np.zeros((5, 10))}, "exact_file",
     "field 'u' has shape (5, 10); the grid of x, t needs (10, 5) ('ij' order)"),
    ({"x": np.arange(10.0), "t": np.arange(5.0), "u": np.zeros(10)}, "exact_file", "column 't' has 5 values"),
    ({"x": np.arange(4.0), "u": np.zeros(4)}, "exact_file", "no column 't'"),
    ({"x": np.arange(4.0), "t": np.arange(4.0), "w": np.zeros(4)}, "exact_file", "no field column (u)"),
    ({"x": np.arange(4.0), "t": np.arange(4.0), "u": np.zeros(3)}, "conditions[0].file", "column 'u' has 3 values"),
])
def test_data_file_shape_errors(tmp_path, arrays, key, fragment):
    np.savez(tmp_path / "d.npz", **arrays)
    where = {"exact_file": str(tmp_path / "d.npz")} if key == "exact_file" else \
        {"conditions": [{"kind": "data", "file": str(tmp_path / "d.npz")}]}
    with pytest.raises(ConfigError) as err:
        _declared(**BASE, **where)
    assert err.value.path == f"problem.{key}" and fragment in str(err.value), str(err.value)


def test_system_with_two_fields_trains_towards_the_exact_solution(tmp_path):
    # u' = v, v' = −u, u(0) = 1, v(0) = 0 on t ∈ [0, 2]: u = cos t, v = −sin t
    problem = {"name": "declared", "inputs": {"t": [0, 2]}, "fields": ["u", "v"],
               "equations": {"du": "u_t = v", "dv": "v_t = -u"},
               "output_transform": {"u": "1 + t*u", "v": "t*v"}, "satisfies": ["u0", "v0"],
               "conditions": [{"name": "u0", "kind": "initial", "field": "u", "value": 1},
                              {"name": "v0", "kind": "initial", "field": "v", "value": 0}],
               "exact": {"u": "cos(t)", "v": "-sin(t)"}}
    cfg = _cfg(problem, tmp_path, {"du": 64, "dv": 64}, hard=True, adam=500)
    cfg["training"]["adam"]["lr"] = 1e-2
    cfg["evaluation"] = {"every": 0}
    m = run(parse_config(cfg), run_dir=tmp_path / "r").metrics
    assert set(m["final_loss"]) == {"du", "dv", "total"}  # both initial conditions are hard
    assert m["rel_l2_u"] < 0.02 and m["rel_l2_v"] < 0.05, m


# --- errors: one line naming the key path, the expression and the culprit ------------------------------

@pytest.mark.parametrize("override, path, fragments", [
    ("problem.equations=['u_t + u*u_x - nuu*u_xx']", "problem.equations[0]",
     ["in 'u_t + u*u_x - nuu*u_xx'", "unknown symbol 'nuu' (did you mean 'nu'?)"]),
    ("problem.parameters.nuu=0.1", "problem.parameters.nuu", ["used in no expression (did you mean 'nu'?)"]),
    ("problem.equation=['u_t']", "problem.equation", ["unknown key 'equation' (did you mean 'equations'?)"]),
    ("problem.conditions=[{kind: dirichet}]", "problem.conditions[0].kind", ["did you mean 'dirichlet'?"]),
    ("problem.conditions=[{kind: dirichlet, on: x, value: 0}]", "problem.conditions[0]", ["write 'at:'"]),
    ("problem.conditions=[{kind: dirichlet, at: {y: 0}, value: 0}]", "problem.conditions[0].at.y",
     ["not an input"]),
    ("problem.conditions=[{kind: dirichlet, at: {x: 2}, value: 0}]", "problem.conditions[0].at.x",
     ["outside the domain [-1.0, 1.0]"]),
    ("problem.conditions=[{kind: dirichlet, at: x, value: [0, 1, 2]}]", "problem.conditions[0].value",
     ["gives 3 entries for 2 faces"]),
    ("problem.conditions=[{kind: dirichlet, at: x, value: u_x}]", "problem.conditions[0].value",
     ["'u_x' is a derivative, not allowed here"]),
    ("problem.conditions=[{kind: neumann, at: {x: 0.5}, value: 0}]", "problem.conditions[0].at",
     ["Neumann faces must fix one input at a bound"]),
    ("problem.conditions=[{kind: periodic, at: z}]", "problem.conditions[0].at", ["periodic needs one input"]),
    ("problem.conditions=[{kind: data, file: nowhere.csv}]", "problem.conditions[0].file", ["no such file"]),
    ("problem.output_transform=sin(pi*x) + t*u", "problem.satisfies[0]",
     ["does not satisfy condition 'initial'"]),
    ("problem.satisfies=[initail]", "problem.satisfies[0]", ["did you mean 'initial'?"]),
    ("problem.exact=u*x", "problem.exact", ["'u' is a field, not allowed here"]),
    ("problem.exact={w: x}", "problem.exact.w", ["not a field"]),
    ("problem.inputs.x=[1, -1]", "problem.inputs.x", ["empty interval"]),
    ("problem.evaluation.resolution=[10]", "problem.evaluation.resolution", ["needs 2 entries"]),
    ("problem.evaluation.singular=[{x: 0}]", "problem.evaluation.singular[0]",
     ["give one point: a value for every input (missing t)"]),
    ("problem.evaluation.singular=[{x: 3, t: 0}]", "problem.evaluation.singular[0].x", ["outside the domain"]),
    ("problem.file=problems/burgerz.yaml", "problem.file", ["no such file"]),
    ("problem.fields=[u, v]", "problem.conditions[0].field", ["required with several fields"]),
    ("problem.time=tt", "problem.time", ["not an input (did you mean 't'?)"]),
    ("problem.conditions=[{kind: periodic, at: x, value: 0}]", "problem.conditions[0].value",
     ["not used by a periodic condition"]),
    ("problem.conditions=[{name: wall, kind: dirichlet, value: 0}, {name: wall, kind: initial, value: 0}]",
     "problem.conditions[1].name", ["term name 'wall' is used twice"]),
])
def test_errors_name_the_key_path(tmp_path, override, path, fragments):
    cfg = _cfg(PAIRS["burgers"][1], tmp_path, {"pde": 64})
    with pytest.raises(ConfigError) as err:
        parse_config(cfg, [override])
    msg = str(err.value)
    assert err.value.path == path, msg
    assert all(f in msg for f in fragments), msg
    assert "\n" not in msg


def test_errors_in_a_declaration_file_name_the_file(tmp_path):
    text = (REPO / "problems" / "heat.yaml").read_text().replace("u_t = alpha*u_xx", "u_t = alpha*u_xy")
    (tmp_path / "heat.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        _declared(file=str(tmp_path / "heat.yaml"))
    assert err.value.path == "problem.equations[0]"
    assert "unknown symbol 'u_xy'" in str(err.value) and f"(declared in {tmp_path / 'heat.yaml'})" in str(err.value)


def test_hard_constraints_need_an_output_transform():
    with pytest.raises(ConfigError, match="problem.hard_constraints: .*declares no output transform"):
        build_problem({"name": "declared", "file": "problems/advection.yaml", "hard_constraints": True})


# --- the shipped declarations and configs ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["heat", "poisson", "wave", "advection"])
def test_shipped_declarations_hold_for_their_exact_solutions(name):
    """Each exact solution satisfies its own equations and conditions (residuals ≈ 0 by autograd)."""
    p = _declared(file=f"problems/{name}.yaml")
    exact = p._exact[p.outputs[0]]
    from pinnit.expressions.parse import Columns

    model = lambda z: exact(Columns(z, p.inputs))[:, None]  # noqa: E731
    for term in p.terms():
        r, _ = _residual(p, term.name, model, n=64)
        assert r.abs().max() < 1e-9, term.name


@pytest.mark.parametrize("name", ["burgers_declared", "black_scholes_declared", "heat", "poisson", "wave",
                                  "advection"])
def test_shipped_configs_validate(name):
    from pinnit import load_config

    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.problem.name == "declared"


def test_cli_trains_a_declared_problem_and_the_error_falls(tmp_path):
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "pinnit", "run", str(REPO / "configs" / "heat.yaml"), "--quiet",
         "--set", "training.stages.adam.iterations=250", "--set", "training.stages.lbfgs.iterations=0",
         "--set", "sampling.points={pde: 400, insulated: 50}", "--set", "network.width=20",
         "--set", "evaluation.every=25", "--set", "output.plots=false", "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "errors: " in proc.stdout
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    errs = [float(r["rel_l2_u"]) for r in _rows(tmp_path / "run" / "history.csv") if r.get("rel_l2_u")]
    assert m["status"] == "completed" and len(errs) == 10
    assert m["rel_l2_u"] < 0.05 and errs[-1] < 0.5 * errs[0], (errs, time.time() - t0)


# --- accuracy of the shipped declarations (slow: minutes on 2 CPU cores) ----------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name, bound", [("heat", 1e-3), ("poisson", 1e-3), ("wave", 1e-3), ("advection", 5e-3)])
def test_shipped_configs_reach_their_exact_solutions(tmp_path, name, bound):
    """Measured (float32, 1 thread): heat 4.9e-5 (18 s), poisson 2.0e-5 (59 s), wave 4.0e-5 (54 s),
    advection 4.2e-4 (15 s)."""
    from pinnit import load_config

    cfg = load_config(REPO / "configs" / f"{name}.yaml", ["output.plots=false", "output.progress=false",
                                                           f"output.dir={tmp_path}"])
    m = run(cfg, run_dir=tmp_path / name).metrics
    assert m["status"] == "completed" and m["rel_l2_u"] < bound, m
