"""pinnit: physics-informed neural networks with first-class initializers and activations.

The public names are imported lazily (PEP 562), so ``import pinnit`` does not load torch: the CLI sets the
OpenMP wait policy (:mod:`pinnit.runtime.threads`) before torch starts its thread pool.
"""
from __future__ import annotations

import importlib

from .core.version import __version__

_PUBLIC = {"RunConfig": "config", "ConfigError": "core.errors", "PinnitError": "core.errors",
           "load_config": "runs", "parse_config": "runs",
           "RunResult": "runs", "assemble": "runs", "resume": "runs", "run": "runs"}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pinnit' has no attribute {name!r}")
