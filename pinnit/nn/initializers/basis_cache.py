"""On-disk cache of pretrained basis networks (a study pays the pretraining once).

Location: the ``cache_dir`` parameter, else ``$PINNIT_CACHE_DIR/basis``, else ``$XDG_CACHE_HOME/pinnit/basis``,
else ``~/.cache/pinnit/basis``. One file per entry, named by the SHA-256 of its key (a JSON object of
everything the result depends on: layer shapes, activation, family, degree, seed, pretraining settings).

Safe under concurrent runs: a file is written to a temp file and renamed into place (atomic, so readers see
a whole old file or a whole new one; two writers of the same key write the same bytes). Each file starts
with a magic line, the SHA-256 of its payload and the key; a file that is truncated, altered, unreadable or
for another key is treated as missing (recomputed and rewritten), never trusted. The payload is loaded with
``torch.load(weights_only=True)``: a crafted entry, even one with a matching digest, cannot run code.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from ...core.atomic_files import write_bytes

MAGIC = b"PINNIT-BASIS-1\n"


def cache_root(cache_dir: str | None = None) -> Path:
    """The basis cache folder (see the module docstring for the order)."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("PINNIT_CACHE_DIR"):
        return Path(os.environ["PINNIT_CACHE_DIR"]).expanduser() / "basis"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "pinnit" / "basis"


def key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


def entry_path(root: Path, key: dict[str, Any]) -> Path:
    return root / f"{hashlib.sha256(key_text(key).encode()).hexdigest()[:32]}.pt"


def save(root: Path, key: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path:
    """Write ``tensors`` under ``key`` atomically (temp file + fsync + rename)."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in tensors.items()}, buf)
    payload = buf.getvalue()
    header = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + key_text(key).encode() + b"\n"
    path = entry_path(root, key)
    write_bytes(path, header + payload)
    return path


def load(root: Path, key: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    """The tensors stored under ``key``, or None when absent, corrupted or not this key's entry."""
    path = entry_path(root, key)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(MAGIC):
        return None
    parts = data[len(MAGIC):].split(b"\n", 2)
    if len(parts) != 3:
        return None
    digest, stored_key, payload = parts
    if digest.decode(errors="replace") != hashlib.sha256(payload).hexdigest() or \
            stored_key.decode(errors="replace") != key_text(key):
        return None
    try:
        tensors = torch.load(io.BytesIO(payload), weights_only=True)
    except Exception:  # a payload that hashes right but does not load is still not trusted
        return None
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) and torch.isfinite(v).all()
                                                for v in tensors.values()):
        return None
    return tensors
