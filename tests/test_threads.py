"""One thread policy for every command: passive OpenMP waits set before torch loads, and a thread count from
the cores available minus those busy (or the user's choice). benchmarks/shared_machine.py measures speed."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pinnit.runtime import threads
from conftest import REPO


def test_configured_count_wins():
    assert threads.choose_threads(3) == (3, "configured")


def test_omp_num_threads_is_honoured(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.default_threads() == (1, "OMP_NUM_THREADS=1")


@pytest.mark.parametrize("running, cores, expected", [
    ([1, 1, 1, 1, 1], 2, 2),  # only this process runs: every core
    ([2, 2, 3, 2, 2], 2, 1),  # one busy neighbour on 2 cores: 1 thread
    ([9, 8, 9, 9, 9], 2, 1),  # a crowded machine: never below 1
    ([3, 3, 3, 3, 3], 8, 6),
])
def test_threads_from_idle_cores(monkeypatch, running, cores, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    samples = iter(running)
    monkeypatch.setattr(threads, "procs_running", lambda: next(samples))
    monkeypatch.setattr(threads, "own_running", lambda: 1)
    monkeypatch.setattr(threads, "available_cores", lambda: cores)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    n, why = threads.default_threads()
    assert n == expected and f"{cores} cores available" in why


def test_busy_cores_are_scaled_to_this_process_share(monkeypatch):
    monkeypatch.setattr(threads, "procs_running", lambda: 33)  # 32 others busy on a 64-core host …
    monkeypatch.setattr(threads, "own_running", lambda: 1)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)  # … of which this process may use 4
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    assert threads.busy_cores() == pytest.approx(2.0)


def test_torch_threads_restores_the_previous_count():
    import torch

    before = torch.get_num_threads()
    with threads.torch_threads(2) as n:
        assert n == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def test_cli_sets_the_wait_policy_before_torch_loads():
    code = ("import os, sys\n"
            "os.environ.pop('OMP_WAIT_POLICY', None)\n"
            "import pinnit, pinnit.cli\n"
            "assert 'torch' not in sys.modules, 'import pinnit must not load torch'\n"
            "seen = {}\n"
            "import pinnit.commands.list_cmd as lc\n"
            "orig = lc.ListCommand.execute\n"
            "def execute(args):\n"
            "    seen['policy'] = os.environ.get('OMP_WAIT_POLICY'); seen['torch'] = 'torch' in sys.modules\n"
            "    return orig(args)\n"
            "lc.ListCommand.execute = staticmethod(execute)\n"
            "pinnit.cli.main(['list', 'configs'])\n"
            "print(seen)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "{'policy': 'PASSIVE', 'torch': False}"


def test_a_users_wait_policy_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    threads.configure_openmp()
    import os

    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_own_threads_are_not_counted_as_neighbours(monkeypatch):
    monkeypatch.setattr(threads, "procs_running", lambda: 3)  # two of ours spinning + one neighbour
    monkeypatch.setattr(threads, "own_running", lambda: 2)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    assert threads.busy_cores() == pytest.approx(1.0)
    assert threads.own_running() >= 1  # the real count: at least the thread reading it


@pytest.mark.parametrize("default, policy", [(2, None), (1, "PASSIVE")])
def test_wait_policy_spins_only_with_several_threads(monkeypatch, default, policy):
    import os

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(threads, "default_threads", lambda: (default, "test"))
    threads.configure_openmp()
    assert os.environ.get("OMP_WAIT_POLICY") == policy


def test_governor_lowers_threads_when_a_neighbour_appears(monkeypatch):
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "busy_cores", lambda: 1.0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        user = threads.ThreadGovernor(configured=True, interval=0.0)
        user.poll()
        assert torch.get_num_threads() == 2 and not user.lowered  # a configured count is the user's
        auto = threads.ThreadGovernor(configured=False, interval=0.0)
        auto.poll()
        assert torch.get_num_threads() == 1 and auto.lowered == [(2, 1)]
    finally:
        torch.set_num_threads(before)
