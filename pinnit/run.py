"""One run, end to end: config → problem, network, context → training → validated outputs.

Run directory layout (every file atomic): ``config.yaml`` (resolved), ``checkpoint.pt``, ``model.pt``,
``history.csv``, ``metrics.json``, ``prediction.npz``, ``plots/loss.png``, ``plots/<field>_fields.png``.
"""
from __future__ import annotations

import hashlib
import io
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .config import RunConfig, dump_config, load_config
from .context import RunContext
from .errors import PinnitError
from .evaluation import Evaluator
from .nn.mlp import build_mlp
from .plots import plot_fields, plot_losses, plot_profiles
from .problems import Problem, build_problem
from .rundir import (CHECKPOINT_FILE, CONFIG_FILE, prepare_run_dir, run_dir_for, write_bytes, write_csv,
                     write_json, write_text)
from .training import Checkpointer, PinnLoss, PinnModel, Trainer, TrainState


FINGERPRINT_FILE = "problem.sha256"


@dataclass
class RunResult:
    path: Path
    metrics: dict[str, Any]


@dataclass
class Assembly:
    """The built pieces of a run (exposed for diagnostics, studies and tests)."""

    cfg: RunConfig
    ctx: RunContext
    problem: Problem
    model: PinnModel
    loss: PinnLoss
    evaluator: Evaluator


def assemble(cfg: RunConfig) -> Assembly:
    """Build context, problem, network (initialised from the seed) and loss (points sampled from the seed)."""
    t = cfg.training
    if t.threads:
        torch.set_num_threads(t.threads)  # a per-process setting, applied when a run starts (not at import)
    ctx = RunContext.create(t.device, t.dtype, t.seed)
    problem = build_problem(cfg.problem.model_dump(), "problem")
    if getattr(problem, "functions", None):  # function inputs: a PI-DeepONet (pinnit/operators)
        from .operators.assemble import build_operator

        return Assembly(cfg, ctx, problem, *build_operator(cfg, ctx, problem))
    box = problem.domain
    lower = [box[k][0] for k in problem.inputs] if cfg.network.normalize_inputs else None
    upper = [box[k][1] for k in problem.inputs] if cfg.network.normalize_inputs else None
    refine = [(r.box, r.fraction) for r in cfg.sampling.refine]
    # points first (so data-driven initializers can see them), then the network
    loss = PinnLoss(problem, torch.nn.Identity(), ctx, sampler=cfg.sampling.sampler, points=cfg.sampling.points,
                    weights=t.weights, refine=refine)
    sample = next(iter(loss.points.values())).detach().cpu().double()
    net = build_mlp(len(problem.inputs), len(problem.outputs), cfg.network.hidden_widths(), cfg.network.activation,
                    cfg.network.initializer, ctx.generator, lower, upper, sample=sample)
    model = PinnModel(net.to(device=ctx.device, dtype=ctx.dtype), problem)
    loss.model = model
    evaluator = Evaluator(problem, ctx, cfg.evaluation.resolution)
    return Assembly(cfg, ctx, problem, model, loss, evaluator)


def _versions() -> dict[str, str]:
    import scipy

    return {"pinnit": __version__, "torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _write_outputs(a: Assembly, state: TrainState, path: Path) -> dict[str, Any]:
    pred = a.evaluator.predict(a.model)
    errors = a.evaluator.errors(pred)
    arrays = a.evaluator.arrays(pred)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(path / "prediction.npz", buf.getvalue())
    wbuf = io.BytesIO()
    torch.save(a.model.net.state_dict(), wbuf)
    write_bytes(path / "model.pt", wbuf.getvalue())
    write_csv(path / "history.csv", state.history)
    t = a.cfg.training
    metrics = {
        "status": state.status,
        **errors,
        "final_loss": state.last_losses,
        "best_loss": state.best_loss,
        "iterations": state.iterations,
        "lbfgs_stop_reason": state.lbfgs_stop,
        "lbfgs_restarts": state.lbfgs_restarts,
        "diverged": state.diverged,
        "rollbacks": state.rollbacks,
        "wall_time_s": round(state.elapsed, 3),
        "device": str(a.ctx.device),
        "dtype": t.dtype,
        "seed": t.seed,
        "parameters": sum(p.numel() for p in a.model.parameters()),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }
    if hasattr(a.evaluator, "summary"):  # operator runs: convergence slowness, untrained errors
        metrics.update(a.evaluator.summary(state.history))
    write_json(path / "metrics.json", metrics)
    if a.cfg.output.plots:
        plot_losses(state.history, path / "plots" / "loss.png")
        if hasattr(a.evaluator, "plot"):
            a.evaluator.plot(pred, path / "plots")
        else:
            plot_fields(arrays, a.problem.inputs, a.problem.outputs, path / "plots")
        if a.problem.time_input:
            plot_profiles(arrays, a.problem.inputs, a.problem.outputs, a.problem.time_input, path / "plots")
    return metrics


def _train(a: Assembly, path: Path, resume: bool) -> RunResult:
    cfg = a.cfg
    ckpt = Checkpointer(path / CHECKPOINT_FILE)

    def evaluate() -> dict[str, float]:
        return {k: v for k, v in a.evaluator.errors(a.evaluator.predict(a.model)).items() if k.startswith("rel_l2")}

    trainer = Trainer(a.loss, cfg.training, checkpointer=ckpt, evaluate=evaluate if a.evaluator.reference else None,
                      eval_every=cfg.evaluation.every, resample_every=cfg.sampling.resample_every,
                      progress=cfg.output.progress)
    if resume:
        trainer.restore(ckpt.load())
        trainer.progress.start_at(trainer.state.step)
    state = trainer.train()
    metrics = _write_outputs(a, state, path)
    return RunResult(path, metrics)


def run(cfg: RunConfig, *, overwrite: bool = False, run_dir: str | Path | None = None) -> RunResult:
    """Train ``cfg`` into a fresh run directory (default ``outputs/<run-name>/s<seed>-<hash>/``)."""
    a = assemble(cfg)
    fingerprint = _fingerprint(a.problem)
    resolved = {**cfg.model_dump(mode="json"), "problem_fingerprint": fingerprint}
    path = Path(run_dir) if run_dir else run_dir_for(resolved, cfg.output.dir, cfg.run_name, cfg.training.seed)
    prepare_run_dir(path, overwrite)
    write_text(path / CONFIG_FILE, dump_config(cfg))
    write_text(path / FINGERPRINT_FILE, fingerprint + "\n")
    return _train(a, path, resume=False)


def _fingerprint(problem: Problem) -> str:
    return hashlib.sha256(problem.fingerprint().encode()).hexdigest()[:16]


def resume(run_dir: str | Path) -> RunResult:
    """Continue an interrupted run from its checkpoint (same config, same RNG and optimizer state)."""
    path = Path(run_dir)
    if not (path / CONFIG_FILE).exists():
        raise PinnitError(f"{path}: not a run directory (no {CONFIG_FILE})")
    cfg = load_config(path / CONFIG_FILE)
    a = assemble(cfg)
    saved = path / FINGERPRINT_FILE
    if saved.exists() and saved.read_text().strip() != _fingerprint(a.problem):
        raise PinnitError(f"{path}: the problem's declaration changed since this run started; "
                          "resuming would mix two problems (start a new run instead)")
    return _train(a, path, resume=True)
