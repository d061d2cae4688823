"""A study directory on disk: plan.json, the state of each run directory, failure records.

Layout (a contract the report relies on)::

    STUDY_DIR/study.yaml          the study file as given; base.yaml beside it: the base run config it names
    STUDY_DIR/plan.json           {"name", "study_file", "axes": [varied keys], "runs": [PlannedRun.to_json()],
                                   "claims": [the study file's claims, validated]}
    STUDY_DIR/runs/<id>/          an ordinary pinnit run directory (+ failure.json for a failed run)
    STUDY_DIR/logs/<id>.log       the worker's output (local executor)
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import PinnitError
from ..outputs.rundir import CHECKPOINT_FILE, CONFIG_FILE
from ..core.atomic_files import write_json, write_text
from .results import number
from .expand import PlannedRun, config_digest
from .plan_file import PLAN_FILE, read_plan_file
from .spec import Study

STUDY_FILE = "study.yaml"
BASE_FILE = "base.yaml"
FAILURE_FILE = "failure.json"
METRICS_FILE = "metrics.json"
#: Statuses of a run that has its result (a diverged run is a finished result, not a failure).
FINISHED = ("completed", "diverged")
LOCK_FILE = ".lock"
MANAGED = (PLAN_FILE, STUDY_FILE, BASE_FILE, "runs", "logs", "report")
STALE_WAIT_S = 60.0


@contextlib.contextmanager
def study_lock(study_dir: Path, wait_s: float = STALE_WAIT_S, out=None):
    """Hold an exclusive lock on the study directory (two studies on one directory would train the same runs);
    yields the lock file, whose descriptor the local executor hands to its workers.

    The lock is an ``flock`` on ``STUDY_DIR/.lock``, which holds the holder's pid. The kernel drops it when the
    holder and the workers it handed the descriptor to have all exited, so a killed study leaves no stale
    lock; while the workers of a killed study are still checkpointing (they get SIGTERM when it dies), this
    waits up to ``wait_s`` seconds for them, then refuses in one line."""
    study_dir.mkdir(parents=True, exist_ok=True)
    with open(study_dir / LOCK_FILE, "a+") as fh:
        deadline, said = time.monotonic() + wait_s, False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                owner = _lock_owner(fh)
                if owner is None or _alive(owner) or time.monotonic() > deadline:
                    state = "no longer running; its workers are still finishing" if owner and not _alive(owner) \
                        else "running"
                    raise PinnitError(f"{study_dir}: in use by another pinnit study (pid {owner or '?'}, {state}); "
                                      "wait for it or stop it first") from None
                if not said:
                    print(f"study {study_dir}: waiting for the workers of a stopped study (pid {owner}) to "
                          "checkpoint", file=out or sys.stderr, flush=True)
                    said = True
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _lock_owner(fh) -> int | None:
    fh.seek(0)
    text = fh.read(32).strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**22 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def read_metrics(run_dir: Path) -> dict[str, Any] | None:
    """metrics.json as a mapping; None when absent, unreadable or not a mapping (the run is then not finished:
    resumed from its checkpoint, or redone)."""
    return _read_json(run_dir / METRICS_FILE)


def run_state(run_dir: Path) -> str:
    """``finished``, ``interrupted`` (resumable from its checkpoint), ``failed`` or ``missing``."""
    if (run_dir / FAILURE_FILE).exists():
        return "failed"
    metrics = read_metrics(run_dir)
    if metrics is not None and str(metrics.get("status")) in FINISHED:
        return "finished"
    if (run_dir / CHECKPOINT_FILE).exists() and (run_dir / CONFIG_FILE).exists():
        return "interrupted"
    return "missing"


def status_record(run_dir: Path, run_id: str) -> dict[str, Any]:
    """The small record an executor returns for one run, read back from its directory."""
    failure = _read_json(run_dir / FAILURE_FILE)
    if failure is not None:
        return {"id": run_id, "status": "failed", "error": str(failure.get("error"))[:300]}
    metrics = read_metrics(run_dir) or {}
    rel = {k: number(v) for k, v in metrics.items() if k.startswith("rel_l2")}
    return {"id": run_id, "status": str(metrics.get("status", "not run"))[:100],
            "wall_time_s": number(metrics.get("wall_time_s")), "best_loss": number(metrics.get("best_loss")), **rel}


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when absent, unreadable, malformed or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def write_failure(run_dir: Path, run_id: str, error: BaseException | str, tb: str | None = None) -> None:
    """Record a failed run: ``{"id", "error": one line, "traceback", "time"}``."""
    if isinstance(error, BaseException):
        line = f"{type(error).__name__}: {error}".splitlines()[0]
        tb = tb if tb is not None else "".join(traceback.format_exception(error))
    else:
        line = str(error).splitlines()[0]
    write_json(run_dir / FAILURE_FILE, {"id": run_id, "error": line, "traceback": tb or "",
                                        "time": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def plan_json(study: Study, runs: list[PlannedRun]) -> dict[str, Any]:
    return {"name": study.name, "study_file": str(study.source.resolve()) if study.source else None,
            "axes": study.varied_keys, "runs": [r.to_json() for r in runs],
            "claims": [c.model_dump(mode="json", exclude_none=True) for c in study.spec.claims]}


def read_plan(study_dir: Path) -> dict[str, Any] | None:
    """The checked plan.json (None when there is none; a malformed one is a one-line PinnitError)."""
    return read_plan_file(study_dir)


def check_consistent(study_dir: Path, runs: list[PlannedRun]) -> None:
    """Refuse when the existing study directory holds runs this plan does not describe."""
    new = {r.id: r for r in runs}
    try:
        old = read_plan(study_dir)
    except PinnitError:
        old = None  # unreadable (cut short, edited): rewritten from the study file below
    hint = "the study file (or its base config) changed; use --overwrite to start over or --dir for a new study"
    if old is not None:
        gone = [r["id"] for r in old.get("runs", []) if r.get("id") not in new]
        if gone:
            raise PinnitError(f"{study_dir}: {len(gone)} run(s) of the existing plan.json are not in this plan "
                              f"(e.g. {gone[0]}): {hint}")
    runs_dir = study_dir / "runs"
    for path in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        if (path / CONFIG_FILE).exists():
            if path.name not in new:
                raise PinnitError(f"{path}: not a run of this plan: {hint}")
            saved = _read_yaml(path / CONFIG_FILE)
            if saved is not None and config_digest(saved) != config_digest(new[path.name].config):
                raise PinnitError(f"{path}: its config.yaml differs from the plan's config for this id: {hint}")


def _read_yaml(path: Path) -> dict[str, Any] | None:
    """A run's config.yaml as a mapping; None when unreadable (the run is then redone or kept as it is)."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("training", {}), dict) else None


def prepare_study_dir(study_dir: Path, study: Study, runs: list[PlannedRun], overwrite: bool) -> None:
    """Create or reuse ``study_dir``: check it, then write study.yaml, base.yaml and plan.json (atomically)."""
    if study_dir.exists() and not study_dir.is_dir():
        raise PinnitError(f"{study_dir}: exists and is not a directory")
    if overwrite and study_dir.exists():
        for name in MANAGED:
            target = study_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    elif study_dir.exists() and {p.name for p in study_dir.iterdir()} - {LOCK_FILE} \
            and not (study_dir / PLAN_FILE).exists() and not (study_dir / "runs").exists():
        raise PinnitError(f"{study_dir}: exists and is not a study directory; choose another --dir")
    check_consistent(study_dir, runs)
    study_dir.mkdir(parents=True, exist_ok=True)
    if study.text:
        write_text(study_dir / STUDY_FILE, study.text)
    write_text(study_dir / BASE_FILE, yaml.safe_dump(study.base, sort_keys=False))
    write_json(study_dir / PLAN_FILE, plan_json(study, runs))
