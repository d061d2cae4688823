"""Read a study directory's ``plan.json`` back, checking every field before anything uses it.

A study directory may have been copied from someone else, edited by hand or cut short by a full disk, so
``plan.json`` is input like any other: a malformed one is a one-line :class:`PinnitError`, and the paths it
names stay inside the study directory (a run id ``../../home`` would otherwise send a redone run's
``rmtree`` anywhere).
"""
from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.errors import PinnitError

PLAN_FILE = "plan.json"
#: Run ids as :mod:`pinnit.studies.expand` makes them: one path component of label characters.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
MAX_PLAN_BYTES = 200_000_000


def read_plan_file(study_dir: Path) -> dict[str, Any] | None:
    """The checked plan (``name``, ``axes``, ``runs`` with ``id, method, axes, seed, run_dir, config``), or
    None when the directory has no plan.json; raises a one-line PinnitError for a malformed one."""
    path = Path(study_dir) / PLAN_FILE
    if not path.exists():
        return None
    try:
        if not path.is_file() or path.stat().st_size > MAX_PLAN_BYTES:
            raise PinnitError(f"{path}: not a regular file of at most {MAX_PLAN_BYTES} bytes")
        plan = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PinnitError(f"{path}: unreadable plan ({type(exc).__name__}: {str(exc)[:200]})") from None
    return check_plan(plan, path)


def check_plan(plan: Any, path: Path) -> dict[str, Any]:
    """``plan`` checked and normalised (see :func:`read_plan_file`)."""
    if not isinstance(plan, dict) or not isinstance(plan.get("runs"), list):
        raise PinnitError(f"{path}: expected an object with a 'runs' list")
    name = plan.get("name")
    if name is not None and not isinstance(name, str):
        raise PinnitError(f"{path}: name: expected a string, got {type(name).__name__}")
    axes = plan.get("axes")
    if axes is not None and not (isinstance(axes, list) and all(isinstance(a, str) for a in axes)):
        raise PinnitError(f"{path}: axes: expected a list of dotted keys")
    runs, seen = [], set()
    for i, entry in enumerate(plan["runs"]):
        runs.append(_check_run(entry, f"{path}: runs[{i}]"))
        if runs[-1]["id"] in seen:
            raise PinnitError(f"{path}: runs[{i}]: id {runs[-1]['id']!r} appears twice")
        seen.add(runs[-1]["id"])
    return {**plan, "name": name, "axes": axes, "runs": runs}


def _check_run(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise PinnitError(f"{where}: expected an object, got {type(entry).__name__}")
    run_id = entry.get("id")
    if not isinstance(run_id, str):
        raise PinnitError(f"{where} has no string 'id'")
    if not RUN_ID.match(run_id):
        raise PinnitError(f"{where}: id {run_id[:80]!r}: expected letters, digits, '.', '_', '+' and '-' "
                          "(one path component)")
    method, axes, seed, config = (entry.get(k) for k in ("method", "axes", "seed", "config"))
    if method is not None and not isinstance(method, str):
        raise PinnitError(f"{where}: method: expected a string or null")
    if axes is None:
        axes = {}
    if not isinstance(axes, dict):
        raise PinnitError(f"{where}: axes: expected a mapping of dotted keys to values")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise PinnitError(f"{where}: seed: expected an integer")
    if config is not None and not isinstance(config, dict):
        raise PinnitError(f"{where}: config: expected a mapping")
    run_dir = entry.get("run_dir", f"runs/{run_id}")
    parts = PurePosixPath(run_dir).parts if isinstance(run_dir, str) else ()
    if not parts or PurePosixPath(run_dir).is_absolute() or "\\" in run_dir or any(p in ("..", ".") for p in parts):
        raise PinnitError(f"{where}: run_dir {str(run_dir)[:80]!r}: expected a path inside the study directory, "
                          f"e.g. runs/{run_id}")
    return {**entry, "id": run_id, "method": method, "axes": axes, "seed": seed, "run_dir": run_dir,
            "config": config}
