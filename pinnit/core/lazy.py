"""Lazy re-exports for a package's ``__init__`` (PEP 562, module ``__getattr__``).

A package lists its public names and the submodule each lives in; a name is imported on first use, so importing
the package is cheap (``import pinnit`` does not load torch, and the CLI sets the OpenMP wait policy first)."""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], public: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``name`` → ``getattr(import_module(package + "." + public[name]), name)``,
    cached in the package's ``namespace`` (its ``globals()``) so the lookup runs once per name."""
    def __getattr__(name: str) -> Any:
        if name in public:
            value = getattr(importlib.import_module(f".{public[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
