"""The executor interface and registry, and how a machine's cores and GPUs are shared among runs.

An executor maps :func:`pinnit.studies.worker.run_task` over a list of tasks, calls ``done(record)`` as each
run ends, and stops launching runs once ``stop.requested`` (SIGINT/SIGTERM to the study); runs in flight
are asked to stop too, and checkpoint their current step (the trainer's own signal handling).
"""
from __future__ import annotations

import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.errors import PinnitError
from ...core.registry import Registry
from ...runtime.signal_trap import SignalTrap

EXECUTORS: Registry[type["Executor"]] = Registry("executor")


def register_executor(name: str):
    return EXECUTORS.register(name)


@dataclass
class ExecutorOptions:
    workers: int | None = None        # runs at once (default: one per core, or per GPU slot)
    threads: int | None = None        # torch threads per run (default: cores // workers)
    gpus_per_run: float | None = None  # GPUs per run; a fraction shares one (default: 1 when GPUs exist)
    address: str | None = None        # Ray cluster address (ray executor)
    log_dir: str | None = None        # where the local executor writes each run's output
    lock_fd: int | None = None        # the study lock's descriptor: local workers hold it while they run


class StudyStop(SignalTrap):
    """SIGINT/SIGTERM to the study become a flag (counted, so a second Ctrl-C can be forwarded too)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.signal_name = ""
        self.signum = signal.SIGINT

    @property
    def requested(self) -> bool:
        return self.count > 0

    def request(self, signum: int = signal.SIGINT) -> None:
        self.count += 1
        self.signum = signum
        self.signal_name = signal.Signals(signum).name

    def _handle(self, signum, frame) -> None:
        self.request(signum)


Done = Callable[[dict[str, Any]], None]


class Executor(ABC):
    """Maps run_task over tasks; subclasses register with ``@register_executor(name)``."""

    def __init__(self, options: ExecutorOptions):
        self.options = options

    @abstractmethod
    def describe(self, n_tasks: int) -> str:
        """One line: how the runs will be spread (workers, threads, GPUs)."""

    @abstractmethod
    def execute(self, tasks: list[dict[str, Any]], stop: StudyStop, done: Done) -> None:
        """Run every task (until ``stop``), calling ``done(record)`` as each ends."""


def available_cores() -> int:
    """Cores this process may use (its CPU affinity, which containers and job schedulers set)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def visible_gpus() -> list[str]:
    """Ids of the GPUs this process may use (CUDA_VISIBLE_DEVICES when set, else every device torch sees)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def gpu_slots(gpus: list[str], per_run: float) -> list[str]:
    """CUDA_VISIBLE_DEVICES value of each concurrent slot: ``per_run`` ≤ 1 shares a GPU among ⌊1/per_run⌋
    runs (slots interleaved across GPUs); an integer ``per_run`` > 1 gives each run that many GPUs."""
    if per_run <= 0 or not gpus:
        return []
    if per_run <= 1:
        share = int(1 / per_run + 1e-9)
        return [g for _ in range(share) for g in gpus]
    if per_run != int(per_run):
        raise PinnitError(f"--gpus-per-run {per_run}: above 1 it must be a whole number of GPUs")
    k = int(per_run)
    if k > len(gpus):
        raise PinnitError(f"--gpus-per-run {k}: only {len(gpus)} GPU(s) visible")
    return [",".join(gpus[i * k:(i + 1) * k]) for i in range(len(gpus) // k)]


@dataclass
class Layout:
    """How runs share the machine: concurrent workers, torch threads each, and a GPU slot per worker."""

    workers: int
    threads: int
    slots: list[str | None]


def plan_layout(options: ExecutorOptions, n_tasks: int, cores: int | None = None,
                gpus: list[str] | None = None) -> Layout:
    """workers × threads ≤ cores; with GPUs (and gpus_per_run > 0) one worker per GPU slot."""
    cores = available_cores() if cores is None else cores
    gpus = visible_gpus() if gpus is None else gpus
    per_run = options.gpus_per_run if options.gpus_per_run is not None else (1.0 if gpus else 0.0)
    slots = gpu_slots(gpus, per_run)
    if per_run > 0 and not slots:
        raise PinnitError(f"--gpus-per-run {per_run}: no GPU visible")
    if slots:
        workers = min(options.workers or len(slots), len(slots))
    else:
        workers = options.workers or cores
    workers = max(1, min(workers, n_tasks))
    threads = options.threads or max(1, cores // workers)
    # a CPU run on a GPU machine gets CUDA_VISIBLE_DEVICES="" so that device 'auto' stays on the CPU
    assigned: list[str | None] = slots[:workers] if slots else ([""] * workers if gpus else [None] * workers)
    return Layout(workers, threads, assigned)
