"""Run one planned run (fresh, or resumed from its checkpoint) and return a small status record.

Every executor calls :func:`run_task`, in-process (serial, Ray) or in a fresh interpreter started as
``python -m pinnit.studies`` with the task as JSON on stdin (local), so that OMP_NUM_THREADS and
CUDA_VISIBLE_DEVICES are in the environment before torch is imported. A run that raises is recorded in
``failure.json`` and reported, never propagated: one bad run does not stop the others.

A task is ``{"id", "run_dir", "config": resolved config dict, "resume": bool, "threads": int | None,
"compile_cache": str | None}``. ``compile_cache`` is the study's one compilation cache (inductor's
``TORCHINDUCTOR_CACHE_DIR``): every run of the study, in whatever process or on whatever node, reads and
fills the same cache, so a graph compiled once is loaded, not compiled, by every later run with the same
shapes. It is set for the run only and restored afterwards (a Ray worker runs many tasks).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


CACHE_VARIABLE = "TORCHINDUCTOR_CACHE_DIR"


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) the task's run into its directory, with the study's compilation cache; returns
    :func:`state.status_record`."""
    before = os.environ.get(CACHE_VARIABLE)
    if task.get("compile_cache"):
        os.environ[CACHE_VARIABLE] = str(task["compile_cache"])
    try:
        return _run(task)
    finally:
        if before is None:
            os.environ.pop(CACHE_VARIABLE, None)
        else:
            os.environ[CACHE_VARIABLE] = before


def _run(task: dict[str, Any]) -> dict[str, Any]:
    from ..runs import parse_config
    from ..core.errors import PinnitError
    from ..runs.pipeline import resume, run
    from .state import status_record, write_failure

    run_dir = Path(task["run_dir"])
    try:
        if task.get("resume"):
            resume(run_dir)
        else:
            if run_dir.exists():  # a failed or never-started attempt: start it afresh
                shutil.rmtree(run_dir)
            cfg = parse_config(task["config"])
            cfg.output.progress = bool(task.get("progress", False))
            if task.get("threads"):
                cfg.training.threads = int(task["threads"])
            run(cfg, run_dir=run_dir)
    except KeyboardInterrupt:
        return {"id": task["id"], "status": "interrupted (SIGINT)"}
    except (Exception, PinnitError) as exc:  # noqa: BLE001 (recorded, then the study goes on)
        write_failure(run_dir, task["id"], exc)
    return status_record(run_dir, task["id"])


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # outside training (the trainer installs its own handler while it trains)


def _stop_with_parent(parent: int | None) -> None:
    """SIGTERM this worker when the study that started it dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``),
    so that no orphan trains on while a re-run starts the same run."""
    if not sys.platform.startswith("linux") or parent is None:
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above
        raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        task = json.loads(sys.stdin.read())
        _stop_with_parent(task.get("parent"))
        record = run_task(task)
    except KeyboardInterrupt:
        return 130
    print(json.dumps(record), flush=True)
    return 130 if str(record.get("status", "")).startswith("interrupted") else 0

