"""One run, end to end: config → problem, network, context → training → validated outputs.

Run directory layout (every file atomic): ``config.yaml`` (resolved), ``started.json`` (resolved device and
dtype, sha256 of config.yaml), ``checkpoint.pt``, ``model.pt``, ``history.csv``, ``events.csv``,
``metrics.json``, ``prediction.npz``, ``problem.sha256``, ``plots/loss.png``, ``plots/<field>_fields.png``,
``plots/<field>_profiles.png``.
"""
from __future__ import annotations

import hashlib
import io
import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..core.version import __version__
from ..sampling.adaptive import AdaptiveSampling
from ..config import RunConfig, dump_config
from .configs import load_config
from ..runtime.context import RunContext
from ..core.errors import PinnitError
from ..outputs.evaluation import Evaluator
from ..outputs.history import write_history
from ..nn.mlp import build_mlp
from ..outputs.plots import plot_losses, plot_profiles
from ..problems import Problem, build_problem
from ..problems.targets import condition_targets
from ..sampling.refine import refine_regions
from ..runtime.threads import choose_threads
from ..outputs.rundir import CHECKPOINT_FILE, CONFIG_FILE, prepare_run_dir, run_dir_for
from ..core.atomic_files import write_bytes, write_json, write_text
from ..core.stamp import code_state, stamp, started_at
from ..training.memory import is_out_of_memory, out_of_memory
from ..training import Checkpointer, PinnLoss, PinnModel, Trainer, TrainState
from ..training.loss_interface import Loss
from ..training.loss import draw_term, term_counts_and_weights
from ..training.stages import Stage, resolve_stages, stage_summary
from ..derivatives.engine import resolve_engine

if TYPE_CHECKING:
    from ..operators.evaluation import OperatorEvaluator


FINGERPRINT_FILE = "problem.sha256"
STARTED_FILE = "started.json"


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
    model: torch.nn.Module  #: a PinnModel, or an OperatorModel for operator runs
    loss: Loss
    evaluator: Evaluator | OperatorEvaluator
    threads: str = ""  #: the torch thread count and why, e.g. "1 torch thread (configured)"


def assemble(cfg: RunConfig) -> Assembly:
    """Build context, problem, network (initialised from the seed) and loss (points sampled from the seed)."""
    t = cfg.training
    # a per-process setting, applied when a run starts (not at import): the configured count, else pinnit's
    # shared-machine policy (pinnit/runtime/threads.py)
    n, why = choose_threads(t.threads)
    torch.set_num_threads(n)
    threads = f"{n} torch thread{'s' if n > 1 else ''} ({why})"
    ctx = RunContext.create(t.device, t.dtype, t.seed)
    problem = build_problem(cfg.problem.model_dump(), "problem")
    if problem.is_operator:  # function inputs: a PI-DeepONet (pinnit/operators)
        from ..operators.assemble import build_operator

        return Assembly(cfg, ctx, problem, *build_operator(cfg, ctx, problem), threads=threads)
    box = problem.domain
    lower = [box[k][0] for k in problem.inputs] if cfg.network.normalize_inputs else None
    upper = [box[k][1] for k in problem.inputs] if cfg.network.normalize_inputs else None
    refine = refine_regions(cfg.sampling.refine, problem)  # bounds may be expressions of the parameters
    # points first (so data-driven initializers can see them), then the network, then the loss on both
    terms = problem.loss_terms()
    counts, weights = term_counts_and_weights(terms, cfg.sampling.points, t.weights)
    points = {term.name: draw_term(term, problem, ctx, counts[term.name], cfg.sampling.sampler, refine)
              for term in terms}
    sample = next(iter(points.values())).detach().cpu().double()
    targets = lambda: condition_targets(problem, points, weights)  # noqa: E731  (only if asked for)
    net = build_mlp(len(problem.inputs), len(problem.outputs), cfg.network.hidden_widths(), cfg.network.activation,
                    cfg.network.initializer, ctx.generator, lower, upper, sample=sample, targets=targets)
    model = PinnModel(net.to(device=ctx.device, dtype=ctx.dtype), problem)
    loss = PinnLoss(problem, model, ctx, sampler=cfg.sampling.sampler, points=cfg.sampling.points, weights=t.weights,
                    refine=refine, adaptive=AdaptiveSampling.from_config(cfg.sampling.adaptive), initial=points)
    evaluator = Evaluator(problem, ctx, cfg.evaluation.resolution)
    return Assembly(cfg, ctx, problem, model, loss, evaluator, threads=threads)


def _versions() -> dict[str, str]:
    import scipy

    return {"pinnit": __version__, "torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def _final_and_best(a: Assembly, best_weights: dict[str, torch.Tensor] | None) -> dict[str, Any]:
    """Evaluate the last step's weights and the lowest-loss weights; leave the model holding the ones to save
    (the best when ``training.restore_best`` and any were recorded, else the final)."""
    final_weights = {k: v.detach().clone() for k, v in a.model.state_dict().items()}
    pred_final = a.evaluator.predict(a.model)
    out = {"errors_final": a.evaluator.errors(pred_final), "restored_best": False, "pred": pred_final}
    if best_weights is None:
        out["errors_best"] = out["errors_final"]
        return out
    a.model.load_state_dict(best_weights)
    pred_best = a.evaluator.predict(a.model)
    out["errors_best"] = a.evaluator.errors(pred_best)
    if a.cfg.training.restore_best:
        out.update(restored_best=True, pred=pred_best)
    else:
        a.model.load_state_dict(final_weights)
    return out


def _engine_record(a: Assembly, trainer: Trainer) -> dict[str, Any] | None:
    """metrics.json's ``engine``: what training.derivatives resolved to, what ran last, and the fallback notes."""
    engine = a.loss.engine
    if engine is None:  # a loss without a choice of engine (operator runs: training.derivatives)
        return None
    return {"requested": a.cfg.training.derivatives, "resolved": a.loss.engine_name, "ran": trainer.engine,
            "notes": list(engine.notes)}


def _write_outputs(a: Assembly, state: TrainState, path: Path, stages: list[Stage],
                   best_weights: dict[str, torch.Tensor] | None = None,
                   engine: dict[str, Any] | None = None) -> dict[str, Any]:
    chosen = _final_and_best(a, best_weights)
    pred = chosen["pred"]
    errors = chosen["errors_best"] if chosen["restored_best"] else chosen["errors_final"]
    arrays = a.evaluator.arrays(pred)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(path / "prediction.npz", buf.getvalue())
    wbuf = io.BytesIO()
    torch.save(a.model.net.state_dict(), wbuf)
    write_bytes(path / "model.pt", wbuf.getvalue())
    write_history(path, state.history)
    t = a.cfg.training
    provenance = started_at(stamp(), _read_started(path))  # the commit the run started from
    metrics = {
        "status": state.status,
        **errors,
        "final_loss": state.last_losses,
        "best_loss": state.best_loss,
        "best_step": state.best_step,
        "restored_best": chosen["restored_best"],
        "errors_final": chosen["errors_final"],
        "errors_best": chosen["errors_best"],
        "iterations": state.iterations,
        "stop_reason": state.stop_reason,
        "restarts": sum(state.restarts.values()),
        "stages": stage_summary(stages, state),
        "diverged": state.diverged,
        "rollbacks": state.rollbacks,
        "engine": engine,
        "wall_time_s": round(state.elapsed, 3),
        "device": str(a.ctx.device),
        "threads": torch.get_num_threads(),
        "dtype": str(next(a.model.parameters()).dtype).replace("torch.", ""),
        "seed": t.seed,
        "parameters": sum(p.numel() for p in a.model.parameters()),
        "versions": _versions(),
        "git_commit": provenance["commit"],
        "stamp": provenance,  # date, machine, torch, commit: what the docs' results pages print
    }
    metrics.update(a.evaluator.summary(state.history))  # e.g. operator runs: convergence slowness, untrained errors
    write_json(path / "metrics.json", metrics)
    if a.cfg.output.plots:
        plot_losses(state.history, path / "plots" / "loss.png", best_step=state.best_step, best_loss=state.best_loss,
                    restored=chosen["restored_best"])
        a.evaluator.plot(pred, path / "plots")
        if a.problem.time_input:
            plot_profiles(arrays, a.problem.inputs, a.problem.outputs, a.problem.time_input, path / "plots")
    return metrics


def _say(a: Assembly, message: str) -> None:
    """One line on stderr about the phase that starts now (not with output.progress: false, i.e. --quiet)."""
    if a.cfg.output.progress:
        print(f"pinnit: {message}", file=sys.stderr, flush=True)


def _start_line(a: Assembly) -> str:
    """What training runs on: device, torch threads, and whether the first step compiles (silent otherwise)."""
    line = f"training on {a.ctx.device} with {a.threads}"
    engine = a.loss.engine_name
    if engine in ("compiled", "compiled_autograd"):
        via = f"{a.cfg.training.derivatives} → {engine}" if a.cfg.training.derivatives != engine else engine
        line += (f"; training.derivatives {via}: the loss is compiled before the first step (torch.compile runs a C++ "
                 "compiler: about a minute on a CPU, again when a stage changes the dtype)")
    return line


def _train(a: Assembly, path: Path, resume: bool) -> RunResult:
    cfg = a.cfg
    _say(a, _start_line(a))
    ckpt = Checkpointer(path / CHECKPOINT_FILE)

    def evaluate() -> dict[str, float]:
        return {k: v for k, v in a.evaluator.errors(a.evaluator.predict(a.model)).items() if k.startswith("rel_l2")}

    trainer = Trainer(a.loss, cfg.training, checkpointer=ckpt, evaluate=evaluate if a.evaluator.reference else None,
                      eval_every=cfg.evaluation.every, stages=resolve_stages(cfg), progress=cfg.output.progress)
    try:
        if resume:
            trainer.resume(ckpt.load(), str(ckpt.path))
            trainer.progress.start_at(trainer.state.step, trainer.state.stage, trainer.state.stage_step)
        state = trainer.train()
        _say(a, "scoring the trained network against the reference and writing the outputs …")
        metrics = _write_outputs(a, state, path, trainer.stages, trainer.best_weights, _engine_record(a, trainer))
    except (MemoryError, RuntimeError) as exc:  # torch.OutOfMemoryError is a RuntimeError
        if is_out_of_memory(exc):
            raise out_of_memory(exc, cfg, a.loss, trainer.state.step, path) from None
        raise
    return RunResult(path, metrics)


def assemble_for_training(cfg: RunConfig) -> Assembly:
    """``assemble`` for training (run, resume): the loss gets ``training.derivatives`` (one-off evaluations of an
    assembly, e.g. ``pinnit diagnose``, keep autograd: compiling would cost more than it saves)."""
    try:
        a = assemble(cfg)
        if a.loss.engine_name is not None:  # a loss with a choice of derivative engine
            t = cfg.training
            a.loss.engine_name = resolve_engine(t.derivatives, sum(s.iterations for s in resolve_stages(cfg)))
        return a
    except (MemoryError, RuntimeError) as exc:  # e.g. sampling.points beyond the machine's memory
        if is_out_of_memory(exc):
            raise out_of_memory(exc, cfg, None, None, None) from None
        raise


def run(cfg: RunConfig, *, overwrite: bool = False, run_dir: str | Path | None = None) -> RunResult:
    """Train ``cfg`` into a fresh run directory (default ``outputs/<run-name>/s<seed>-<hash>/``)."""
    a = assemble_for_training(cfg)
    fingerprint = _fingerprint(a.problem)
    resolved = {**cfg.model_dump(mode="json"), "problem_fingerprint": fingerprint}
    path = Path(run_dir) if run_dir else run_dir_for(resolved, cfg.output.dir, cfg.run_name, cfg.training.seed)
    prepare_run_dir(path, overwrite)
    write_text(path / CONFIG_FILE, dump_config(cfg))
    write_text(path / FINGERPRINT_FILE, fingerprint + "\n")
    write_json(path / STARTED_FILE, {"device": str(a.ctx.device), "dtype": cfg.training.dtype,
                                     "config_sha256": _file_sha256(path / CONFIG_FILE), **code_state()})
    return _train(a, path, resume=False)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_device(a: str, b: str) -> bool:
    """``cuda`` and ``cuda:0`` are the same device; ``cpu`` and ``cuda`` are not."""
    try:
        da, db = torch.device(a), torch.device(b)
    except RuntimeError:  # not a device name
        return a == b
    return da.type == db.type and (da.index or 0) == (db.index or 0)


def _read_started(path: Path) -> dict[str, Any] | None:
    """The run's start record, or None for run directories written before it existed."""
    file = path / STARTED_FILE
    if not file.exists():
        return None
    try:
        record = json.loads(file.read_text())
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict):
        raise PinnitError(f"{file}: unreadable start record; cannot check the run before resuming")
    return record


def _fingerprint(problem: Problem) -> str:
    return hashlib.sha256(problem.fingerprint().encode()).hexdigest()[:16]


def resume(run_dir: str | Path, *, progress: bool | None = None) -> RunResult:
    """Continue an interrupted run from its checkpoint (same config, same RNG and optimizer state);
    ``progress`` overrides the config's ``output.progress`` (``--quiet``)."""
    path = Path(run_dir)
    if not (path / CONFIG_FILE).exists():
        raise PinnitError(f"{path}: not a run directory (no {CONFIG_FILE})")
    started = _read_started(path)
    if started and started.get("config_sha256") != _file_sha256(path / CONFIG_FILE):
        raise PinnitError(f"{path / CONFIG_FILE}: edited after the run started (its sha256 differs from "
                          f"{STARTED_FILE}); resuming would mix two configs — undo the edit or start a new run")
    cfg = load_config(path / CONFIG_FILE)
    if progress is not None:  # display only: the numerics and the saved config are unchanged
        cfg.output.progress = progress
    a = assemble_for_training(cfg)
    if started and started.get("device") and not _same_device(str(started["device"]), str(a.ctx.device)):
        print(f"pinnit: warning: {path} started on {started['device']} and resumes on {a.ctx.device}; "
              "the continuation is not bit-identical to an uninterrupted run", file=sys.stderr)
    saved = path / FINGERPRINT_FILE
    if saved.exists() and saved.read_text().strip() != _fingerprint(a.problem):
        raise PinnitError(f"{path}: the problem's declaration changed since this run started; "
                          "resuming would mix two problems (start a new run instead)")
    return _train(a, path, resume=True)
