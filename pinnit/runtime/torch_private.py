"""The private torch APIs pinnit uses, in one place and guarded: a torch without them (renamed, removed, or
dynamo unavailable on this platform) gives the documented fallback, never an ImportError or AttributeError.

- :func:`has_trace_autograd_ops` / :func:`trace_autograd_ops`: dynamo's ``config.trace_autograd_ops`` flag,
  which lets ``torch.compile`` trace nested ``torch.autograd.grad`` calls (``training.derivatives:
  compiled_autograd``, pinnit/derivatives/engine.py; the ``autograd_compiled`` bench engine). Without it the
  engine falls back to autograd with one line saying so.
- :func:`compiled_graph_count`: dynamo's ``utils.counters["stats"]["unique_graphs"]``, the graphs compiled in
  this process (``pinnit bench`` reports it; tests check that fresh points of the same shape do not recompile).
  None where the counter is unavailable.
- :func:`default_compile_cache`: inductor's per-user default cache directory (``cache_dir_utils``), which torch
  writes into ``TORCHINDUCTOR_CACHE_DIR`` the first time it compiles; a study tells it apart from a directory
  the user chose (pinnit/studies/runner.py). None where unavailable.

Nothing else in pinnit imports ``torch._*`` (tests/test_torch_private.py checks it).
"""
from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from types import ModuleType

DYNAMO_CONFIG = "torch._dynamo.config"
DYNAMO_UTILS = "torch._dynamo.utils"
CACHE_DIR_UTILS = "torch._inductor.runtime.cache_dir_utils"
TRACE_FLAG = "trace_autograd_ops"


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 (private and optional: any failure to import means "not available")
        return None


def has_trace_autograd_ops() -> bool:
    """Whether this torch's dynamo has the ``trace_autograd_ops`` flag."""
    config = _module(DYNAMO_CONFIG)
    return config is not None and hasattr(config, TRACE_FLAG)


def trace_autograd_ops() -> AbstractContextManager:
    """A context in which ``torch.compile`` traces nested autograd (dynamo's flag set, then restored).
    RuntimeError where this torch has no such flag (callers fall back to eager autograd)."""
    config = _module(DYNAMO_CONFIG)
    if config is None or not hasattr(config, TRACE_FLAG):
        raise RuntimeError(f"this torch has no dynamo {TRACE_FLAG}")
    return config.patch(**{TRACE_FLAG: True})


def compiled_graph_count() -> int | None:
    """The graphs ``torch.compile`` has built in this process (dynamo's counter), or None when unavailable."""
    utils = _module(DYNAMO_UTILS)
    try:
        return int(utils.counters["stats"]["unique_graphs"])
    except Exception:  # noqa: BLE001 (absent module, renamed counter, another layout)
        return None


def default_compile_cache() -> str | None:
    """Inductor's default cache directory for this user, or None when this torch does not say."""
    utils = _module(CACHE_DIR_UTILS)
    try:
        return str(utils.default_cache_dir())
    except Exception:  # noqa: BLE001 (absent module, renamed function)
        return None
