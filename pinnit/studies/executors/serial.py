"""``serial``: the runs one after the other in this process (simplest; debuggers and profilers work)."""
from __future__ import annotations

from typing import Any

from ..worker import run_task
from .base import Done, Executor, StudyStop, available_cores, register_executor


@register_executor("serial")
class SerialExecutor(Executor):
    """In-process, one run after the other."""

    def threads(self) -> int:
        return self.options.threads or available_cores()

    def describe(self, n_tasks: int) -> str:
        return f"serial: {n_tasks} run(s) one after the other, {self.threads()} thread(s)"

    def execute(self, tasks: list[dict[str, Any]], stop: StudyStop, done: Done) -> None:
        for task in tasks:
            if stop.requested:
                break
            record = run_task({**task, "threads": self.threads()})
            done(record)
            if str(record.get("status", "")).startswith("interrupted"):
                stop.request()  # the trainer caught the signal meant for the study
