"""Checkpoints: the full training state in one file, replaced atomically (never half-written)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ..errors import PinnitError
from ..rundir import write_bytes


class Checkpointer:
    """Saves and loads ``path`` (a ``torch.save`` of the trainer's snapshot)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, snapshot: dict[str, Any]) -> None:
        buf = io.BytesIO()
        torch.save(snapshot, buf)
        write_bytes(self.path, buf.getvalue())

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            raise PinnitError(f"{self.path}: no checkpoint to resume from")
        try:
            return torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # corrupt or foreign file
            raise PinnitError(f"{self.path}: unreadable checkpoint ({exc.__class__.__name__})") from None
