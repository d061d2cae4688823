"""pinnit: physics-informed neural networks with first-class initializers and activations.

The public names are imported lazily (PEP 562), so ``import pinnit`` does not load torch: the CLI sets the
OpenMP wait policy (:mod:`pinnit.runtime.threads`) before torch starts its thread pool.
"""
from __future__ import annotations

from .core.lazy import lazy_exports
from .core.version import __version__

_PUBLIC = {"RunConfig": "config", "ConfigError": "core.errors", "PinnitError": "core.errors",
           "load_config": "runs", "parse_config": "runs",
           "RunResult": "runs", "assemble": "runs", "resume": "runs", "run": "runs"}

__all__ = sorted([*_PUBLIC, "__version__"])
__getattr__ = lazy_exports(__name__, globals(), _PUBLIC)
