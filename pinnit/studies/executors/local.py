"""``local`` (default): a pool of worker slots on this machine, one fresh interpreter per run.

workers × threads ≤ cores (CPU affinity); with GPUs one slot per GPU, or per GPU fraction
(``--gpus-per-run 0.5`` puts two runs on each GPU), through CUDA_VISIBLE_DEVICES. Each run is
``python -m pinnit.studies`` (the worker) with OMP_NUM_THREADS and CUDA_VISIBLE_DEVICES set in its environment
before torch is imported (a reused pool process could not change them), output to ``logs/<id>.log``.
Workers run in their own session, so a terminal's Ctrl-C reaches them once, forwarded by the study. Each
worker holds the study lock's descriptor while it runs and gets SIGTERM when the study dies (kill -9): it
checkpoints and exits, and until then a new ``pinnit study`` on the directory waits instead of training the
same run twice.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any


from ..state import run_state, status_record, write_failure
from .base import Done, Executor, StudyStop, plan_layout, register_executor
from ...core.shipped import package_parent

POLL_S = 0.2


@register_executor("local")
class LocalExecutor(Executor):
    """A process pool sized to the machine's cores or GPU slots."""

    def describe(self, n_tasks: int) -> str:
        lay = plan_layout(self.options, n_tasks)
        gpus = f", GPU slots {lay.slots}" if any(lay.slots) else ""
        return f"local: {lay.workers} worker(s) × {lay.threads} thread(s){gpus}"

    def _env(self, threads: int, slot: str | None) -> dict[str, str]:
        env = dict(os.environ)
        root = str(package_parent())  # this copy of pinnit, whatever the cwd
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
        if slot is not None:
            env["CUDA_VISIBLE_DEVICES"] = slot
        return env

    def execute(self, tasks: list[dict[str, Any]], stop: StudyStop, done: Done) -> None:
        lay = plan_layout(self.options, len(tasks))
        log_dir = Path(self.options.log_dir or ".")
        log_dir.mkdir(parents=True, exist_ok=True)
        pending = deque(tasks)
        free = list(range(lay.workers))
        running: dict[subprocess.Popen, tuple[dict[str, Any], int, Any]] = {}
        forwarded = 0
        while pending or running:
            while pending and free and not stop.requested:
                task, slot = pending.popleft(), free.pop(0)
                log = open(log_dir / f"{task['id']}.log", "ab")
                lock = () if self.options.lock_fd is None else (self.options.lock_fd,)
                proc = subprocess.Popen([sys.executable, "-m", "pinnit.studies"], stdin=subprocess.PIPE,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        env=self._env(lay.threads, lay.slots[slot]), pass_fds=lock)
                proc.stdin.write(json.dumps({**task, "threads": lay.threads, "parent": os.getpid()}).encode())
                proc.stdin.close()
                running[proc] = (task, slot, log)
            if stop.count > forwarded:
                pending.clear()  # launch nothing more; ask the running ones to checkpoint and stop
                for proc in running:
                    proc.send_signal(stop.signum)
                forwarded = stop.count
            for proc in [p for p in running if p.poll() is not None]:
                task, slot, log = running.pop(proc)
                log.close()
                free.append(slot)
                done(self._record(task, proc.returncode, log_dir, stop.requested))
            if running:
                time.sleep(POLL_S)

    @staticmethod
    def _record(task: dict[str, Any], code: int, log_dir: Path, stopping: bool) -> dict[str, Any]:
        run_dir = Path(task["run_dir"])
        state = run_state(run_dir)
        if state in ("finished", "failed"):
            return status_record(run_dir, task["id"])
        if code in (0, 130) or stopping:
            return {"id": task["id"], "status": "interrupted"}
        # killed from outside (out of memory, SIGKILL) or crashed before it could record anything
        write_failure(run_dir, task["id"], f"worker exited with code {code}; see {log_dir / (task['id'] + '.log')}")
        return status_record(run_dir, task["id"])
