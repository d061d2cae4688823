"""Running out of memory is bad input too: the points, the width and the derivative order ask for more than
the machine has. :func:`out_of_memory` turns torch's allocator failure (CPU or CUDA) into one line naming
the likely cause — the largest autograd tensors scale with points × width × (derivative order + 1) — while
the last checkpoint, written atomically before, stays on disk.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import ResourceError
from ..derivatives.jet_fields import RecordingFields

if TYPE_CHECKING:
    from .loss_interface import Loss

_MESSAGES = ("can't allocate memory", "out of memory", "DefaultCPUAllocator", "CUDA error: out of memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, torch.OutOfMemoryError (CUDA), or the CPU allocator's RuntimeError."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc) for m in _MESSAGES)


def derivative_order(loss) -> int | None:
    """The highest derivative the loss terms take, found by evaluating each term on two of its points."""
    order = 0
    try:
        for term in loss.terms:
            f = RecordingFields(loss.points[term.name][:2], loss.problem.inputs, loss.problem.outputs, loss.model)
            term.residual(f)
            order = max([order, *(len(wrt) for _, wrt in f.record)])
    except Exception:  # noqa: BLE001 — a best-effort hint; the error message stands without it
        return None
    return order


def out_of_memory(exc: BaseException, cfg, loss: Loss | None, step: int | None, run_dir: Path | None
                  ) -> ResourceError:
    """The one-line error for an allocation failure during a run (``loss`` None: before the loss existed)."""
    points = sum(v.shape[0] for v in loss.points.values()) if loss is not None and loss.points else None
    if points is None:
        points = sum(cfg.sampling.points.values()) or None
    width = max(cfg.network.hidden_widths())
    order = derivative_order(loss) if loss is not None and loss.points else None
    device = "CUDA" if type(exc).__name__ == "OutOfMemoryError" or "CUDA" in str(exc) else "CPU"
    cause = (f"{points if points is not None else '?'} points × width {width} × derivative order "
             f"{order if order is not None else '?'}")
    where = f" at step {step}" if step is not None else ""
    keep = (f"; the last checkpoint in {run_dir} is kept" if run_dir is not None and (run_dir / "checkpoint.pt").exists()
            else "")
    return ResourceError(f"out of {device} memory{where}: {cause} is likely too much for this machine; lower "
                         f"sampling.points, network.width or the derivative order{keep}")
