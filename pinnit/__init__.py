"""pinnit: physics-informed neural networks with first-class initializers and activations.

The public names are imported lazily (PEP 562), so ``import pinnit`` does not load torch: the CLI sets the
OpenMP wait policy (:mod:`pinnit.threads`) before torch starts its thread pool.
"""
from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

_PUBLIC = {"RunConfig": "config", "load_config": "config", "parse_config": "config",
           "ConfigError": "errors", "PinnitError": "errors",
           "RunResult": "run", "assemble": "run", "resume": "run"}

__all__ = sorted([*_PUBLIC, "run", "__version__"])


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pinnit' has no attribute {name!r}")


class _Package(types.ModuleType):
    """``pinnit.run`` is the function :func:`pinnit.run.run`, even after the submodule of the same name is
    imported (the import system binds submodules as attributes of their package; the function wins)."""

    @property
    def run(self):
        return importlib.import_module(".run", __name__).run

    @run.setter
    def run(self, value) -> None:
        pass


sys.modules[__name__].__class__ = _Package
