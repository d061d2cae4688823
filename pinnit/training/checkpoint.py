"""Checkpoints: the full training state in one file, replaced atomically (never half-written), and read
without running code.

A run directory may come from someone else, and a pickle can run any command while it loads. So
``checkpoint.pt`` (resume, predict) and ``model.pt`` (predict) are read by :func:`load_tensors`:
``weights_only=True`` (torch's restricted unpickler: tensors, plain containers, numbers, strings) plus an
allow-list of exactly what pinnit's own checkpoints held before they were written in that form — numpy
arrays of float32/float64/int64 (sampled points, the operator batch order). Anything else, e.g. a reduce to
``os.system``, is refused in one line before it runs. (The basis cache loads with ``weights_only=True`` too
and treats a refused entry as missing.)

The snapshot is written in that form: numpy arrays become ``{"__ndarray__": tensor}`` and are turned back on
load; RNG states are plain dicts of ints already. Checkpoints written before (numpy arrays pickled as such)
still load, through the allow-list.
"""
from __future__ import annotations

import io
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import PinnitError
from ..core.atomic_files import write_bytes

#: the snapshot's top-level keys (a file without them is not a pinnit checkpoint)
REQUIRED = ("model", "optimizer", "train", "loss")
#: numpy arrays as pinnit's older checkpoints pickled them: the reconstructor, the array type, the dtypes written
LEGACY_NUMPY = [np.zeros(0).__reduce__()[0], np.ndarray, np.dtype,
                *(type(np.dtype(t)) for t in ("float32", "float64", "int64"))]
_ARRAY = "__ndarray__"


def _refused(exc: Exception) -> str:
    """What torch's restricted unpickler refused: the global it was asked for (``posix.system``), if named."""
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"got <class '([\w.]+)'>", text)
    return f"it asks for '{found.group(1)}'" if found else "not a weights-only torch file"


def load_tensors(path: Path, what: str) -> Any:
    """``torch.load(path)`` of a file pinnit wrote (``what``: "checkpoint", "weights file", ...), with
    ``weights_only=True`` and the legacy numpy allow-list; PinnitError in one line for a file holding anything
    else (nothing in it runs) or not loadable at all."""
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(LEGACY_NUMPY):
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the refusal below says it all
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise PinnitError(f"{path}: refused: not a {what} pinnit writes ({_refused(exc)}; pinnit loads only "
                          "tensors and plain data, so nothing in it ran)") from None
    except Exception as exc:  # noqa: BLE001 (truncated, not a zip, a directory, unreadable: all one line)
        raise PinnitError(f"{path}: unreadable {what} ({type(exc).__name__})") from None


def reason(exc: BaseException) -> str:
    """``Type: message`` in one line of at most 200 characters; a heading line ending in ':' (as
    ``load_state_dict``'s "Error(s) in loading state_dict for MLP:") keeps the line after it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "")
    return f"{type(exc).__name__}: {text[:200]}"


def encode(obj: Any) -> Any:
    """``obj`` with every numpy array as ``{"__ndarray__": tensor}`` and numpy scalars as Python numbers."""
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("a checkpoint holds no object arrays")
        return {_ARRAY: torch.from_numpy(np.array(obj, copy=True))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(encode(v) for v in obj)
    return obj


def decode(obj: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(obj, dict):
        if len(obj) == 1 and _ARRAY in obj and isinstance(obj[_ARRAY], torch.Tensor):
            return obj[_ARRAY].numpy()
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(decode(v) for v in obj)
    return obj


class Checkpointer:
    """Saves and loads ``path`` (a ``torch.save`` of the trainer's snapshot, loadable with
    ``weights_only=True``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, snapshot: dict[str, Any]) -> None:
        buf = io.BytesIO()
        torch.save(encode(snapshot), buf)
        write_bytes(self.path, buf.getvalue())

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            raise PinnitError(f"{self.path}: no checkpoint to resume from")
        snap = load_tensors(self.path, "checkpoint")
        missing = [k for k in REQUIRED if not isinstance(snap, dict) or not isinstance(snap.get(k), dict)]
        if missing:
            raise PinnitError(f"{self.path}: not a pinnit checkpoint (no '{missing[0]}' section; a checkpoint "
                              f"holds {', '.join(REQUIRED)})")
        return decode(snap)
