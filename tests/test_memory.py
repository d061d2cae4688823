"""Running out of memory during a run: one line naming points × width × derivative order, exit 1, the last
checkpoint kept. The allocation failure is real: a subprocess whose address space is capped (RLIMIT_AS)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml

from pinnit.training import Checkpointer
from pinnit.training.memory import derivative_order, is_out_of_memory

from conftest import REPO, small_burgers

resource = pytest.importorskip("resource")

SCRIPT = """
import resource, sys
import torch
from pinnit.cli import main
import pinnit.runs.pipeline, pinnit.problems, pinnit.training  # everything imported before the cap
vm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmSize')) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 700 * 2**20, resource.RLIM_INFINITY))
sys.exit(main(sys.argv[1:]))
"""


def test_out_of_memory_mid_run_is_one_line_exit_1_and_keeps_the_checkpoint(tmp_path):
    cfg = small_burgers(tmp_path)
    cfg["sampling"]["points"] = {"pde": 1_000_000, "initial": 64, "boundary": 64}  # 16 MB of points
    cfg["network"] = {"width": 128, "depth": 2}  # but 1e6 × 128 × 8 B ≈ 1 GB per activation and derivative
    config = tmp_path / "big.yaml"
    config.write_text(yaml.safe_dump(cfg))
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "run", str(config), "--run-dir", str(run_dir)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("pinnit: error: out of CPU memory at step 0: "), proc.stderr
    assert "1000128 points × width 128 × derivative order 2" in lines[0]
    assert f"the last checkpoint in {run_dir} is kept" in lines[0]
    state = Checkpointer(run_dir / "checkpoint.pt").load()
    assert state["train"]["step"] == 0 and state["loss"]["points"]["pde"].shape == (1_000_000, 2)


def test_recognises_allocator_failures():
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:116] . DefaultCPUAllocator: can't "
                                         "allocate memory: you tried to allocate 4096000000 bytes."))
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_derivative_order_of_burgers_is_two(burgers_cfg):
    from pinnit import assemble, parse_config

    assert derivative_order(assemble(parse_config(burgers_cfg)).loss) == 2
