"""Study executors (one file each): ``serial``, ``local`` (default), ``ray`` (optional extra)."""
from . import local, ray_tasks, serial  # noqa: F401  (registers entries)
from .base import EXECUTORS, Executor, ExecutorOptions, StudyStop, gpu_slots, plan_layout, register_executor

__all__ = ["EXECUTORS", "Executor", "ExecutorOptions", "StudyStop", "gpu_slots", "plan_layout", "register_executor"]
