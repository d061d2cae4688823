"""Apply a trained operator to a new function: read it at the sensors from a file, predict on the grid.

Used by ``pinnit predict RUN_DIR --lid FILE``; FILE holds the function's values at the problem's sensors
(``.npy``, or ``.csv`` / ``.txt`` with one value per line).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import parse_structure, read_run_config
from ..core.errors import PinnitError
from ..nn.deeponet import build_deeponet
from ..problems import build_problem
from ..outputs.rundir import CHECKPOINT_FILE, CONFIG_FILE
from ..core.atomic_files import write_bytes
from ..training.checkpoint import Checkpointer, load_tensors, reason
from ..outputs.evaluation import scored_nodes
from .evaluation import field_errors, up_to_constant
from .loss import OperatorModel, the_function
from ..references.solvers import solve


def read_function_file(path: str | Path, count: int) -> np.ndarray:
    """``count`` finite values from ``.npy`` / ``.csv`` / ``.txt`` (one per line); one-line errors otherwise."""
    p = Path(path)
    if not p.is_file():
        raise PinnitError(f"{p}: {'a directory' if p.is_dir() else 'no such file'}; expected a .npy, .csv or .txt "
                          f"file of {count} values")
    if p.suffix == ".npy":
        try:
            values = np.load(p, allow_pickle=False)  # never unpickles: object arrays are refused
        except (OSError, ValueError, EOFError, MemoryError) as exc:
            why = "it holds pickled Python objects, never loaded" if "pickle" in str(exc) else exc
            raise PinnitError(f"{p}: not a readable .npy array ({why})") from None
        if not isinstance(values, np.ndarray):  # e.g. an .npz archive renamed .npy
            values.close()
            raise PinnitError(f"{p}: not a .npy array (an archive of several?); expected {count} numbers")
        if values.dtype.kind not in "iuf":  # not bool, complex, dates, strings, records or objects
            raise PinnitError(f"{p}: holds {values.dtype} values; expected {count} numbers (real, finite)")
        values = np.asarray(values, dtype=float)
        if values.ndim != 1 and not (values.ndim == 2 and 1 in values.shape):
            raise PinnitError(f"{p}: an array of shape {values.shape}; expected {count} values (one per sensor)")
        values = values.ravel()
    elif p.suffix in (".csv", ".txt"):
        try:
            lines = [s.strip() for s in p.read_text(encoding="utf-8-sig").splitlines()]  # -sig: a BOM is no value
        except (OSError, UnicodeDecodeError) as exc:
            raise PinnitError(f"{p}: cannot read as text ({exc})") from None
        lines = [s.rstrip(",") for s in lines if s]
        values = np.empty(len(lines))
        for i, s in enumerate(lines):
            try:
                values[i] = float(s)
            except ValueError:
                raise PinnitError(f"{p}, line {i + 1}: '{s[:40]}' is not a number; expected one value per line"
                                  ) from None
    else:
        raise PinnitError(f"{p}: expected a .npy, .csv or .txt file (one value per sensor)")
    if len(values) != count:
        raise PinnitError(f"{p}: {len(values)} values; the operator reads the function at {count} sensors")
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise PinnitError(f"{p}: value {bad[0] + 1} is {values[bad[0]]}; all {count} values must be finite")
    return values


def load_operator(run_dir: str | Path) -> tuple[Any, Any, OperatorModel]:
    """(config, problem, trained model) of an operator run directory (model.pt, else the checkpoint)."""
    path = Path(run_dir)
    if not (path / CONFIG_FILE).is_file():
        raise PinnitError(f"{path}: not a run directory (no {CONFIG_FILE})")
    cfg = parse_structure(read_run_config(path / CONFIG_FILE))  # checked when it was trained
    problem = build_problem(cfg.problem.model_dump(), "problem")
    if not problem.functions:
        raise PinnitError(f"{path}: this run learnt no operator (its problem has no function inputs); "
                          "predict applies DeepONet runs")
    fn = the_function(problem)
    box = problem.domain
    lower = [box[k][0] for k in problem.inputs] if cfg.network.normalize_inputs else None
    upper = [box[k][1] for k in problem.inputs] if cfg.network.normalize_inputs else None
    net = build_deeponet(cfg.network, fn.count, len(problem.inputs), len(problem.outputs),
                         torch.Generator().manual_seed(0), lower, upper)
    if (path / "model.pt").is_file():
        source, state = path / "model.pt", load_tensors(path / "model.pt", "weights file")
    elif (path / CHECKPOINT_FILE).is_file():
        source, full = path / CHECKPOINT_FILE, Checkpointer(path / CHECKPOINT_FILE).load()["model"]
        state = {k[len("net."):]: v for k, v in full.items() if k.startswith("net.")}
    else:
        raise PinnitError(f"{path}: no model.pt or {CHECKPOINT_FILE} (has the run started?)")
    floats = [v.dtype for v in (state.values() if isinstance(state, dict) else ())
              if isinstance(v, torch.Tensor) and v.is_floating_point()]
    dtype = floats[0] if floats else torch.float32  # the saved weights' (a float64 last stage's, say)
    net = net.to(dtype)
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:  # another network's weights, or not weights at all
        raise PinnitError(f"{source}: not this run's network weights ({reason(exc)})") from None
    return cfg, problem, OperatorModel(net.eval(), problem)


def predict(run_dir: str | Path, function_file: str | Path, out: str | Path | None = None,
            reference: bool = False) -> tuple[Path, dict[str, float]]:
    """Write the fields for the function in ``function_file``; returns (output path, errors if ``reference``)."""
    cfg, problem, model = load_operator(run_dir)
    fn = the_function(problem)
    values = read_function_file(function_file, fn.count)
    axes = problem.evaluation_axes(cfg.evaluation.resolution)
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    dtype = next(model.parameters()).dtype
    x = torch.as_tensor(np.stack([m.ravel() for m in mesh], axis=-1), dtype=dtype)
    with torch.no_grad():
        y = model(torch.as_tensor(values[None], dtype=dtype), x)[0].double().numpy()
    arrays = {**axes, fn.name: values, "sensors": fn.sensors}
    arrays.update({k: y[:, j].reshape(mesh[0].shape) for j, k in enumerate(problem.outputs)})
    errors: dict[str, float] = {}
    if reference:
        if getattr(problem, "solver", None) is None:
            raise PinnitError("--reference: the problem declares no solver (problem.solver)")
        ref = solve(problem.solver, values[None], fn, axes)
        for k, r in ref.items():
            arrays[f"{k}_ref"] = r[0]
            arrays[f"{k}_abs_error"] = np.abs(arrays[k] - r[0])
        errors = field_errors(arrays, {k: r[0] for k, r in ref.items()}, up_to_constant(problem),
                              scored_nodes(problem, axes))
        arrays.update({k: np.asarray(v) for k, v in errors.items()})
    target = Path(out) if out else Path(run_dir) / "predictions" / f"{Path(function_file).stem}.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(target, buf.getvalue())
    return target, errors
