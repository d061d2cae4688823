"""Set-up (4): one Adam step of the Stokes PI-DeepONet (configs/stokes_deeponet_cpu.yaml) per derivative mode.

``training.derivatives``: ``zcs`` (zero-coordinate shift, Leng et al. 2023), ``autograd`` (every point of every
function) and ``jets`` (forward jets of the trunk), pinnit/derivatives/cartesian_fields.py. One step is
``Trainer.step`` of the assembled run (24 lids × 400 points, three DeepONets 64 wide); reported: ms per
step (median over repeats), the first step separately (setting up).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..core.errors import PinnitError

MODES = ("zcs", "autograd", "jets")
CONFIG = "stokes_deeponet_cpu.yaml"


def time_operator_step(*, steps: int = 5, repeats: int = 3, threads: int = 1, modes=MODES,
                       log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    from ..runs import load_config
    from ..runs.pipeline import assemble
    from ..core.shipped import find_shipped
    from ..training import Checkpointer, Trainer

    path = find_shipped(CONFIG)
    if path is None:
        raise PinnitError(f"bench set-up 4: the shipped config {CONFIG} was not found")
    rows = []
    for mode in modes:
        cfg = load_config(path, [f"training.derivatives={mode}", f"training.threads={threads}",
                                 "evaluation.every=0", "training.checkpoint_every=0"])
        a = assemble(cfg)
        torch.set_num_threads(threads)
        with tempfile.TemporaryDirectory(prefix="pinnit-bench-") as tmp:
            trainer = Trainer(a.loss, cfg.training, checkpointer=Checkpointer(Path(tmp) / "c.pt"), progress=False)
            t0 = time.perf_counter()
            trainer.step()
            first = time.perf_counter() - t0
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(steps):
                    trainer.step()
                times.append((time.perf_counter() - t0) / steps)
        ms = 1000 * statistics.median(times)
        rows.append({"derivatives": mode, "ms_per_step": ms, "first_step_s": first, "steps_per_repeat": steps,
                     "repeats_ms": [1000 * t for t in times]})
        log(f"  (4) Stokes DeepONet, derivatives {mode}: {ms:.0f} ms/step")
    base = next((r["ms_per_step"] for r in rows if r["derivatives"] == "autograd"), None)
    for r in rows:
        r["speedup_vs_autograd"] = base / r["ms_per_step"] if base else None
    return rows
