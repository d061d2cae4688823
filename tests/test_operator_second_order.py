"""Least-squares training of operator (PI-DeepONet) runs: the residual vector on the held function batch
(‖r‖² = the loss, Jacobian products by double backward), Levenberg–Marquardt (dense and matrix-free) and the
last-layer least-squares stage ``lstsq_last`` (exact on a linear problem, alternating with Adam, refused on a
nonlinear problem or a PINN run), each resuming bit for bit."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import interrupt_after_chunks, small_burgers
from test_operator_optimizers import tiny

from pinnit import resume
from pinnit.cli import main
from pinnit.core.errors import ConfigError, PinnitError
from pinnit.operators.loss import OperatorLoss
from pinnit.runs import parse_config, run
from pinnit.runs.pipeline import assemble
from pinnit.training.optimizers import build_optimizer

REPO = Path(__file__).resolve().parents[1]


def _float64(tmp_path, stages=None, derivatives="jets"):
    data = tiny(tmp_path, stages or {"adam": {"iterations": 1}}, derivatives=derivatives)
    data["training"]["dtype"] = "float64"
    return data


def _held(tmp_path, derivatives="jets"):
    """A tiny float64 Stokes PI-DeepONet with its first function batch held (as a closure chunk holds it)."""
    a = assemble(parse_config(_float64(tmp_path, derivatives=derivatives)))
    a.loss.derivatives = derivatives
    a.loss.hold_batch(True)
    return a


# --- the residual vector ------------------------------------------------------------------------------
@pytest.mark.parametrize("derivatives", ["jets", "zcs", "autograd"])
def test_the_residual_vector_is_the_loss_on_the_held_batch_and_its_products_are_adjoint(tmp_path, derivatives):
    a = _held(tmp_path, derivatives)
    loss = a.loss
    res = loss.residuals()
    assert torch.equal(res.F, loss.train_tensor[torch.as_tensor(loss.held)])  # the held batch, not a new one
    theta = res.theta()
    r = res(theta)
    total = float(loss.total(loss.term_losses()).detach())
    assert r.numel() == 4 * (3 * 32 + 8)  # batch 4 × (three equations on 32 shared points + 8 lid points)
    assert float(r @ r) == pytest.approx(total, rel=1e-12)
    r0, Jv, JTu = res.linear(theta)
    assert torch.equal(r0, r)
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(theta.numel(), generator=gen, dtype=torch.float64)
    u = torch.randn(r.numel(), generator=gen, dtype=torch.float64)
    assert float(u @ Jv(v)) == pytest.approx(float(v @ JTu(u)), rel=1e-10)  # ⟨u, Jv⟩ = ⟨Jᵀu, v⟩
    h = 1e-6  # central difference: O(h²) ≈ 1e-12 relative
    fd = (res(theta + h * v) - res(theta - h * v)) / (2 * h)
    assert torch.allclose(Jv(v), fd, rtol=1e-6, atol=1e-7 * float(fd.abs().max()))


# --- lstsq_last: the exact minimiser ---------------------------------------------------------------------
def _least_squares_reference(res):
    """r(θ), the last-layer matrix A (columns r(θ + e_i) − r(θ): values only, exact for an affine r) and NumPy's
    SVD least-squares step δ* with the fitted residual r + Aδ*."""
    theta, S = res.theta(), res.linear_indices
    r0 = res(theta).numpy()
    A = np.empty((len(r0), len(S)))
    for j, i in enumerate(S.tolist()):
        e = theta.clone()
        e[i] += 1.0
        A[:, j] = res(e).numpy() - r0
    delta, *_ = np.linalg.lstsq(A, -r0, rcond=None)
    return theta, S, r0, A, delta, r0 + A @ delta


SOLVERS = [("shared", {}, "structured"), ("independent", {}, "structured"),
           ("shared", {"max_params": 10}, "structured cgls"), ("independent", {"max_params": 10}, "structured cgls"),
           ("shared", {"structured": False}, "dense"), ("independent", {"structured": False}, "dense"),
           ("independent", {"damping": 1e-6}, "structured"),
           ("independent", {"damping": 1e-6, "max_params": 10}, "structured cgls"),
           ("independent", {"damping": 1e-6, "structured": False}, "dense")]


@pytest.mark.parametrize("layout, options, solver", SOLVERS)
def test_lstsq_last_reaches_the_exact_least_squares_minimiser_of_the_last_layer(tmp_path, layout, options, solver):
    """Stokes and its transform are linear, so r is affine in the last layer: NumPy's least squares on the
    matrix of that affine map (with the ridge rows √ε·I when damped) gives the minimiser one lstsq_last step must
    reach, to 1e-8 in float64, whether solved by the Kronecker structure (reduced dense, or CGLS above max_params
    unknowns) or on the dense Jacobian; the other parameters do not move."""
    data = _float64(tmp_path)
    data["network"]["layout"] = layout
    a = assemble(parse_config(data))
    a.loss.hold_batch(True)
    res = a.loss.residuals()
    theta, S, r0, A, delta, fitted = _least_squares_reference(res)
    eps = options.get("damping", 0.0)
    if eps:
        ridge = np.vstack([A, eps ** 0.5 * np.eye(len(S))])
        delta, *_ = np.linalg.lstsq(ridge, -np.concatenate([r0, np.zeros(len(S))]), rcond=None)
        fitted = r0 + A @ delta
    sizes = {"shared": 24 * 8 + 24 + 3, "independent": 3 * (8 * 8 + 8) + 3}  # branch last Linear(s) and β
    assert len(S) == sizes[layout]
    best = float(fitted @ fitted)
    assert best < 0.05 * float(r0 @ r0)  # a real decrease to find
    opt = build_optimizer({"name": "lstsq_last", **options}, a.model.parameters())
    opt.residuals = res
    opt.step()
    after = torch.cat([p.detach().reshape(-1) for p in a.model.parameters()])
    others = torch.ones(theta.numel(), dtype=torch.bool)
    others[S] = False
    assert torch.equal(after[others], theta[others])
    assert float(a.loss.total(a.loss.term_losses()).detach()) == pytest.approx(best, rel=1e-8)
    assert np.abs(res(after).numpy() - fitted).max() <= 1e-8 * np.abs(fitted).max()  # the unique fitted residual
    assert np.abs((after - theta)[S].numpy() - delta).max() <= 1e-8 * np.abs(delta).max()  # min-norm step
    assert abs(float(a.model.net.bias[2].detach())) < 1e-12 and np.all(A[:, -1] == 0)  # β_p: cancelled by the gauge
    state = opt.state_dict()["state"][0]
    assert state["n_iter"] == 1 and state["affine_error"] < 1e-10
    assert (state["structured"], state["dense"], state["cg_iterations"] > 0) == {
        "structured": (1, 0, False), "structured cgls": (1, 0, True), "dense": (0, 1, False)}[solver]


@pytest.mark.parametrize("max_params", [2000, 10])
def test_lstsq_last_over_all_training_functions_is_their_exact_minimiser(tmp_path, max_params):
    """functions: all fits every training function (12 here), not only the held batch of 4: the step is the
    least-squares minimiser of the residual over all of them (reduced dense, or CGLS)."""
    from pinnit.operators.residuals import OperatorResiduals

    data = _float64(tmp_path)
    data["network"]["layout"] = "independent"
    a = assemble(parse_config(data))
    a.loss.hold_batch(True)
    everything = OperatorResiduals(a.loss, a.loss.train_tensor)
    theta, S, r0, A, delta, fitted = _least_squares_reference(everything)
    assert len(r0) == 12 * (3 * 32 + 8)
    opt = build_optimizer({"name": "lstsq_last", "functions": "all", "max_params": max_params},
                          a.model.parameters())
    batch = a.loss.residuals()
    *_, batch_fitted = _least_squares_reference(batch)  # the held batch's own minimiser
    opt.residuals = batch
    opt.step()
    after = torch.cat([p.detach().reshape(-1) for p in a.model.parameters()])
    assert np.abs(everything(after).numpy() - fitted).max() <= 1e-8 * np.abs(fitted).max()
    assert float(fitted @ fitted) < 1e-2 * float(r0 @ r0)
    on_batch = opt.state_dict()["state"][0]["loss"]  # ‖r‖² on the held batch after the step
    assert on_batch == pytest.approx(float(batch(after) @ batch(after)), rel=1e-12)
    assert on_batch > (1 + 1e-5) * float(batch_fitted @ batch_fitted)  # all 12 were fitted, not the batch's 4


def test_lstsq_last_by_conjugate_gradients_approaches_the_minimiser(tmp_path):
    """The matrix-free fallback (structured: false, above max_params): CG on the normal equations squares
    J's condition number (here about 6e5), so 2000 iterations land within 1 % of the minimum, not 1e-8."""
    a = _held(tmp_path)
    res = a.loss.residuals()
    *_, fitted = _least_squares_reference(res)
    r0 = res(res.theta())
    opt = build_optimizer({"name": "lstsq_last", "structured": False, "max_params": 10}, a.model.parameters())
    opt.residuals = res
    opt.step()
    state = opt.state_dict()["state"][0]
    best = float(fitted @ fitted)
    assert state["cg_iterations"] > 0 and state["dense"] == state["structured"] == 0
    assert best <= state["loss"] <= 1.01 * best < 1e-2 * float(r0 @ r0)


def test_lstsq_last_falls_back_when_the_functions_change_the_operator(tmp_path):
    """A coefficient that depends on the function (f·u in the x-momentum) gives each function its own matrix
    T_b: no Kronecker structure, so the dense solve runs, still exact."""
    problem = yaml.safe_load((REPO / "problems" / "stokes.yaml").read_text())
    problem["equations"]["momentum_x"] = "mu*(u_xx + u_yy) - p_x + f*u"
    path = tmp_path / "forced.yaml"
    path.write_text(yaml.safe_dump(problem))
    data = _float64(tmp_path)
    data["problem"]["file"] = str(path)
    a = assemble(parse_config(data))
    a.loss.hold_batch(True)
    res = a.loss.residuals()
    *_, fitted = _least_squares_reference(res)
    assert res.solve_last_layer(res.theta()) is None
    opt = build_optimizer("lstsq_last", a.model.parameters())
    opt.residuals = res
    opt.step()
    state = opt.state_dict()["state"][0]
    assert (state["structured"], state["dense"]) == (0, 1)
    assert state["loss"] == pytest.approx(float(fitted @ fitted), rel=1e-8)


# --- tiny runs: they train and resume bit for bit ---------------------------------------------------------
STAGES = {
    "lbfgs": {"adam": {"iterations": 4, "lr": 3e-3},
              "second": {"optimizer": "lbfgs", "iterations": 9, "chunk": 3, "dtype": "float64"}},
    "lm": {"adam": {"iterations": 4, "lr": 3e-3},
           "second": {"optimizer": "levenberg_marquardt", "iterations": 6, "chunk": 2, "dtype": "float64"}},
    "lm_matrix_free": {"adam": {"iterations": 4, "lr": 3e-3},
                       "second": {"optimizer": "levenberg_marquardt", "iterations": 6, "chunk": 2,
                                  "dtype": "float64", "max_params": 100}},
    "hybrid": {"adam": {"iterations": 4, "lr": 3e-3},
               "ls1": {"optimizer": "lstsq_last", "iterations": 1, "dtype": "float64"},
               "adam2": {"optimizer": "adam", "iterations": 4, "lr": 1e-3},
               "second": {"optimizer": "lstsq_last", "iterations": 3, "chunk": 1, "dtype": "float64"}},
}


def _history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return [row for row in csv.DictReader(f) if row.get("loss_total")]


@pytest.mark.parametrize("method", list(STAGES))
def test_each_second_order_method_trains_an_operator_and_resumes_bit_for_bit(tmp_path, monkeypatch, method):
    data = tiny(tmp_path, STAGES[method])
    reference = run(parse_config(data), run_dir=tmp_path / "straight").metrics
    planned = {k: v["iterations"] for k, v in STAGES[method].items()}
    assert reference["status"] == "completed" and reference["iterations"] == planned
    rows = _history(tmp_path / "straight")
    before = float([r for r in rows if r["stage"] != "second"][-1]["loss_total"])  # as the last stage begins
    after = float(rows[-1]["loss_total"])
    assert rows[-1]["stage"] == "second" and after < 0.5 * before  # the second-order stage lowers the loss
    if method == "hybrid":  # each exact solve lands far below the Adam steps before it
        ls1 = [r for r in rows if r["stage"] == "ls1"]
        adam = [r for r in rows if r["stage"] == "adam"]
        assert float(ls1[0]["loss_total"]) < 0.1 * float(adam[-1]["loss_total"])
    interrupt_after_chunks(monkeypatch, 2)
    stopped = run(parse_config(data), run_dir=tmp_path / "killed").metrics
    assert stopped["status"].startswith("interrupted") and stopped["iterations"] != planned
    monkeypatch.undo()
    resumed = resume(tmp_path / "killed").metrics
    assert resumed["iterations"] == reference["iterations"]
    for key in ("final_loss", "best_loss", "rel_l2_u", "rel_l2_v", "rel_l2_p", "rel_l2_mean"):
        assert resumed[key] == reference[key], key
    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_levenberg_marquardt_takes_its_residuals_on_the_batch_the_chunk_evaluates(tmp_path, monkeypatch):
    """The trainer holds the chunk's batch before it asks for r(θ), so LM's model and the recorded loss (the
    closure's) see the same functions."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    real_residuals, real_losses = OperatorLoss.residuals, OperatorLoss.term_losses

    def residuals(self):
        assert self.held is not None
        seen.append(("r", tuple(int(i) for i in self.held)))
        return real_residuals(self)

    def losses(self):
        if self.held is not None:
            seen.append(("L", tuple(int(i) for i in self.held)))
        return real_losses(self)

    monkeypatch.setattr(OperatorLoss, "residuals", residuals)
    monkeypatch.setattr(OperatorLoss, "term_losses", losses)
    run(parse_config(tiny(tmp_path, STAGES["lm"])), run_dir=tmp_path / "r")
    chunks = []
    for kind, batch in seen:
        if kind == "r":
            chunks.append((batch, set()))
        else:
            chunks[-1][1].add(batch)
    assert len(chunks) == 3 and all(losses == {batch} for batch, losses in chunks)
    assert len({batch for batch, _ in chunks}) == 3  # a new batch per chunk


# --- refusals --------------------------------------------------------------------------------------------
def test_levenberg_marquardt_is_accepted_for_a_deeponet_above_its_dense_limit():
    """The CPU recipe's 70,083-parameter DeepONet: LM is accepted (it goes matrix-free above its max_params of
    5,000), while a dense BFGS with the same kind of max_params is refused."""
    data = yaml.safe_load((REPO / "configs" / "stokes_deeponet_cpu.yaml").read_text())
    data["training"]["stages"] = {"adam": {"iterations": 5},
                                  "lm": {"optimizer": "levenberg_marquardt", "iterations": 5}}
    assert parse_config(data).training.stages["lm"].iterations == 5
    data["training"]["stages"]["lm"] = {"optimizer": "bfgs", "iterations": 5}
    with pytest.raises(ConfigError, match=r"^training.stages.lm.max_params: 'bfgs' keeps a dense 70,083 × 70,083"):
        parse_config(data)


def test_lstsq_last_with_several_iterations_per_chunk_is_one_line(tmp_path):
    stages = {"adam": {"iterations": 2}, "ls": {"optimizer": "lstsq_last", "iterations": 3}}
    with pytest.raises(ConfigError, match=r"^training.stages.ls.chunk: lstsq_last solves exactly once per function "
                                          r"batch, so each iteration is one chunk: set chunk: 1 \(got 50\) or "
                                          r"iterations: 1$"):
        parse_config(tiny(tmp_path, stages))


def test_lstsq_last_on_a_pinn_run_is_refused_in_one_line(tmp_path, capsys):
    data = small_burgers(tmp_path)
    for key in ("adam", "lbfgs"):
        data["training"].pop(key)
    data["training"]["stages"] = {"adam": {"iterations": 2}, "ls": {"optimizer": "lstsq_last", "iterations": 1}}
    message = (r"^training.stages.ls.optimizer: lstsq_last solves for a DeepONet's last layer; this run's loss "
               r"\(PinnLoss\) has none \(network.arch: deeponet only\): use levenberg_marquardt or lbfgs$")
    with pytest.raises(ConfigError, match=message):
        run(parse_config(data), run_dir=tmp_path / "r")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--set", f"output.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lstsq_last solves for a DeepONet's last layer" in err[0]


def test_lstsq_last_on_a_nonlinear_operator_problem_is_refused_in_one_line(tmp_path, capsys):
    """Stokes plus the convective term u·u_x (Navier–Stokes-like): r is no longer affine in the last layer;
    the one solve is refused (the weights unchanged) instead of taking a wrong step."""
    problem = yaml.safe_load((REPO / "problems" / "stokes.yaml").read_text())
    problem["equations"]["momentum_x"] = "u*u_x + v*u_y + mu*(u_xx + u_yy) - p_x"
    path = tmp_path / "navier.yaml"
    path.write_text(yaml.safe_dump(problem))
    data = _float64(tmp_path, {"adam": {"iterations": 2}, "ls": {"optimizer": "lstsq_last", "iterations": 1}})
    data["problem"]["file"] = str(path)
    with pytest.raises(PinnitError, match=r"^lstsq_last: the residual is not affine in the DeepONet's last layer "
                                          r"\(.*\): the PDE or the output transform is nonlinear; use lbfgs or "
                                          r"levenberg_marquardt$"):
        run(parse_config(data), run_dir=tmp_path / "r")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))
    assert main(["run", str(config), "--set", f"output.dir={tmp_path}", "--set", "output.name=cli"]) != 0
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "lstsq_last" in line]
    assert len(err) == 1 and "not affine" in err[0]
