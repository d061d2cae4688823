"""CPU thread policy for torch, one for every command.

Torch's default (one OpenMP thread per core, threads that spin while they wait) is a trap on a shared
machine: beside one busy single-threaded process on 2 cores, the Burgers run of configs/burgers.yaml was ~40× slower,
because a spinning thread of the pool holds the core its siblings and the neighbour need. Passive waits
fix that but cost idle speed: measured on this 2-core machine (Adam steps/s of configs/burgers.yaml),
2 spinning threads 43.6 idle / 5.1 beside a busy neighbour, 2 passive threads 18.6 / 17.0, 1 thread
29.2 / 28.4. pinnit therefore

1. picks the intra-op thread count from the cores this process may use (``os.sched_getaffinity``) minus
   those other processes are busy on right now (runnable tasks in ``/proc/stat`` less this process's own),
   unless the user chose one (``training.threads``, ``--threads``, or ``OMP_NUM_THREADS``);
2. keeps OpenMP's spinning waits when that count is ≥ 2 (idle speed), passive ones otherwise
   (``OMP_WAIT_POLICY``, read once when torch loads, so :func:`configure_openmp` runs before ``import
   torch`` — the CLI does it first thing; a policy the user set is kept);
3. while training, :class:`ThreadGovernor` re-counts the busy cores every few seconds and lowers the
   thread count when a neighbour appeared (a lowered count stops the spinning: idle pool threads sleep).

``benchmarks/shared_machine.py`` measures the policy against torch's default, idle and beside a busy
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
    """Passive OpenMP waits when pinnit will run one thread (a busy machine), spinning ones otherwise (idle
    speed); a policy the user set is kept. Effective only before torch is imported."""
    if "OMP_WAIT_POLICY" not in os.environ and default_threads()[0] <= 1:
        os.environ["OMP_WAIT_POLICY"] = WAIT_POLICY


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def procs_running() -> int | None:
    """Runnable threads on the whole machine now (``procs_running`` in /proc/stat); None off Linux."""
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def own_running() -> int:
    """Threads of this process that are runnable now (state R in /proc/self/task/*/stat); 1 off Linux."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    running = 0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                running += fh.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return max(1, running)


def busy_cores(samples: int = 5, interval: float = 0.01) -> float:
    """Cores other processes keep busy now: the median count of runnable tasks, less this one, scaled to the
    share of the machine this process may use. Falls back to the 1-minute load average off Linux."""
    counts = []
    for i in range(samples):
        n = procs_running()
        if n is None:
            break
        counts.append(n - own_running())  # this process's own threads are not neighbours
        if i + 1 < samples:
            time.sleep(interval)
    if counts:
        others = max(0.0, statistics.median(counts))
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


class ThreadGovernor:
    """Lowers torch's thread count during training when other processes start using the cores (checked every
    ``interval`` seconds; never raises it, and does nothing when the user configured the count)."""

    def __init__(self, configured: bool, interval: float = 5.0):
        self.configured = configured or os.environ.get("OMP_NUM_THREADS", "").strip().isdigit()
        self.interval = interval
        self._next = time.monotonic() + interval
        self.lowered: list[tuple[int, int]] = []  # (from, to) each time the count was lowered

    def poll(self) -> None:
        if self.configured or time.monotonic() < self._next:
            return
        import torch

        self._next = time.monotonic() + self.interval
        current = torch.get_num_threads()
        if current <= 1:
            return
        target = max(1, min(current, available_cores() - round(busy_cores())))
        if target < current:
            torch.set_num_threads(target)
            self.lowered.append((current, target))
