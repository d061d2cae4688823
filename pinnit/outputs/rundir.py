"""Run directories: ``outputs/<run-name>/<id>/``, every file written atomically (:mod:`pinnit.core.atomic_files`).

The id is ``s<seed>-<hash>`` of the resolved config (output section excluded), so the same config and
seed always map to the same directory; an existing one is only replaced with ``overwrite``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.errors import PinnitError

CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "checkpoint.pt"


def config_hash(resolved: Mapping[str, Any]) -> str:
    body = {k: v for k, v in resolved.items() if k != "output"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:8]


def run_dir_for(resolved: Mapping[str, Any], root: str | Path, name: str, seed: int) -> Path:
    return Path(root) / name / f"s{seed}-{config_hash(resolved)}"


def prepare_run_dir(path: Path, overwrite: bool) -> Path:
    """Create an empty run directory; refuse to replace an existing one unless ``overwrite``."""
    if path.exists():
        if not path.is_dir():
            raise PinnitError(f"{path}: exists and is not a directory")
        entries = {p.name for p in path.iterdir()}
        if entries and not entries & {CONFIG_FILE, CHECKPOINT_FILE}:
            raise PinnitError(f"{path}: exists and is not a pinnit run directory; refusing to replace it")
        started = CHECKPOINT_FILE in entries  # without a checkpoint no training happened: safe to reuse
        if started and not overwrite:
            raise PinnitError(f"{path}: run directory exists; use --overwrite to replace it or --resume {path} to continue")
        shutil.rmtree(path)
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise PinnitError(f"{path}: cannot create run directory ({exc.strerror})") from None
    return path
