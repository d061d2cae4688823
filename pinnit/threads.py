"""CPU thread policy for torch, one for every command.

Torch's default (one OpenMP thread per core, threads that spin while they wait) is a trap on a shared
machine: beside one busy single-threaded process on 2 cores, the README's Burgers run was ~40× slower,
because a spinning thread of the pool holds the core its siblings and the neighbour need. pinnit therefore

1. asks OpenMP to *sleep* instead of spin while waiting (``OMP_WAIT_POLICY=PASSIVE``; read once, when torch
   loads its OpenMP runtime, so :func:`configure_openmp` must run before ``import torch`` — the CLI does it
   first thing; library users who import torch themselves may set the variable in their environment), and
2. picks the intra-op thread count from the cores this process may use (``os.sched_getaffinity``) minus
   those other processes are busy on right now (``procs_running`` in ``/proc/stat``, a few samples),
   unless the user chose one (``training.threads``, ``--threads``, or ``OMP_NUM_THREADS``).

``benchmarks/shared_machine.py`` measures both choices against torch's default, idle and beside a busy
neighbour.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

WAIT_POLICY = "PASSIVE"


def configure_openmp() -> None:
    """Passive OpenMP waiting, unless the user set a policy; effective only before torch is imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _procs_running() -> int | None:
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def busy_cores(samples: int = 5, interval: float = 0.01) -> float:
    """Cores other processes keep busy now: the median count of runnable tasks, less this one, scaled to the
    share of the machine this process may use. Falls back to the 1-minute load average off Linux."""
    counts = []
    for i in range(samples):
        n = _procs_running()
        if n is None:
            break
        counts.append(n)
        if i + 1 < samples:
            time.sleep(interval)
    if counts:
        others = max(0.0, statistics.median(counts) - 1)  # this process is running while it reads
    else:
        try:
            others = os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    total = os.cpu_count() or available_cores()
    return others * available_cores() / total


def default_threads() -> tuple[int, str]:
    """The thread count pinnit uses when none is configured, and why (one line for logs)."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env), f"OMP_NUM_THREADS={env}"
    cores, busy = available_cores(), busy_cores()
    n = max(1, min(cores, cores - round(busy)))
    return n, f"{cores} cores available, {busy:.1f} busy"


def choose_threads(requested: int | None) -> tuple[int, str]:
    """``requested`` when given (a config or CLI setting), else :func:`default_threads`."""
    if requested:
        return int(requested), "configured"
    return default_threads()


@contextmanager
def torch_threads(requested: int | None) -> Iterator[int]:
    """Run a block with the chosen intra-op thread count, restoring the previous count afterwards."""
    import torch

    n, _ = choose_threads(requested)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
