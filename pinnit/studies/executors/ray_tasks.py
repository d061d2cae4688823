"""``ray`` (optional extra ``pinnit[ray]``): each run a Ray task with ``num_cpus``/``num_gpus`` per run.

``--address`` connects to an existing cluster (``ray start --head`` …); otherwise a local Ray is started with
this machine's cores and GPUs and shut down at the end. Ray places tasks and sets CUDA_VISIBLE_DEVICES for
fractional GPUs itself. A stop (SIGINT/SIGTERM) cancels the tasks not started and interrupts the running
ones; what they checkpointed is resumed by the next ``pinnit study``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


from ...core.errors import PinnitError
from ..state import run_state, status_record, write_failure
from ..worker import run_task
from .base import Done, Executor, StudyStop, available_cores, plan_layout, register_executor, visible_gpus
from ...core.shipped import package_parent

WAIT_S = 0.5


@register_executor("ray")
class RayExecutor(Executor):
    """Ray tasks, on a local Ray or a cluster (--address)."""

    def _resources(self, n_tasks: int) -> tuple[int, float]:
        if self.options.address:  # the cluster's machines, not this one, decide
            return self.options.threads or 1, self.options.gpus_per_run or 0.0
        lay = plan_layout(self.options, n_tasks)
        gpus = self.options.gpus_per_run if self.options.gpus_per_run is not None else (1.0 if visible_gpus() else 0.0)
        return lay.threads, gpus

    def describe(self, n_tasks: int) -> str:
        cpus, gpus = self._resources(n_tasks)
        where = f"cluster {self.options.address}" if self.options.address else f"local Ray ({available_cores()} CPUs)"
        return f"ray: {where}, {cpus} CPU(s){f' and {gpus:g} GPU(s)' if gpus else ''} per run"

    def _init(self, ray) -> bool:
        if ray.is_initialized():
            return False
        common = {"include_dashboard": False, "log_to_driver": False}
        if self.options.address:
            ray.init(address=self.options.address, **common)
        else:
            root = str(package_parent())
            path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
            ray.init(num_cpus=available_cores(), num_gpus=len(visible_gpus()),
                     runtime_env={"env_vars": {"PYTHONPATH": path}}, **common)
        return True

    def execute(self, tasks: list[dict[str, Any]], stop: StudyStop, done: Done) -> None:
        try:
            import ray
        except ImportError:
            raise PinnitError("--executor ray needs Ray: pip install 'pinnit[ray]'") from None
        cpus, gpus = self._resources(len(tasks))
        started = self._init(ray)
        try:
            remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(run_task)
            refs = {remote.remote({**task, "threads": cpus}): task for task in tasks}
            cancelled = False
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=WAIT_S)
                for ref in ready:
                    done(self._record(ray, ref, refs.pop(ref), stop.requested))
                if stop.requested and not cancelled:
                    for ref in refs:
                        ray.cancel(ref)
                    cancelled = True
        finally:
            if started:
                ray.shutdown()

    @staticmethod
    def _record(ray, ref, task: dict[str, Any], stopping: bool) -> dict[str, Any]:
        try:
            return ray.get(ref)
        except Exception as exc:  # noqa: BLE001 (a cancelled task, or a worker that died)
            run_dir = Path(task["run_dir"])
            if stopping:
                return {"id": task["id"], "status": "interrupted"}
            # a worker that died (killed, out of memory, its node gone) is a failed run, as with the local
            # executor: recorded, redone by the next `pinnit study`; a finished run is never touched here
            if run_state(run_dir) != "finished":
                write_failure(run_dir, task["id"], exc)
            return status_record(run_dir, task["id"])
