"""On-disk cache of Stokes reference solutions (held-out lids are solved once, then reused).

Location (first that is set): ``cache_dir`` argument; ``$PINNIT_CACHE_DIR/stokes``;
``$XDG_CACHE_HOME/pinnit/stokes``; ``~/.cache/pinnit/stokes``.

One ``stokes-<key>.npz`` per request, key = SHA-256 of (F as float64 bytes and shape, n, mu, gauge,
refine, richardson, :data:`SOLVER_VERSION`), so a solver change never serves stale data.  Files are
written atomically (temp file + rename, :func:`pinnit.core.atomic_files.write_bytes`); a file that cannot be read, has
the wrong key, shapes or non-finite values is recomputed and rewritten, never trusted (it is read with
``allow_pickle=False``: an entry holding pickled objects is refused unread, as unreadable); a cache that
cannot be written only warns (the computed arrays are returned).
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from pinnit.references import stokes
from pinnit.core.atomic_files import write_bytes

__all__ = ["cached_references", "default_cache_dir", "reference_key"]


def default_cache_dir() -> Path:
    """``$PINNIT_CACHE_DIR/stokes``, else ``$XDG_CACHE_HOME/pinnit/stokes``, else ``~/.cache/pinnit/stokes``."""
    if os.environ.get("PINNIT_CACHE_DIR"):
        return Path(os.environ["PINNIT_CACHE_DIR"]).expanduser() / "stokes"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "pinnit" / "stokes"


def reference_key(F: np.ndarray, n: int, mu: float, gauge: str, refine: int, richardson: bool) -> str:
    F = np.ascontiguousarray(F, dtype=np.float64)
    h = hashlib.sha256()
    h.update(repr((F.shape, int(n), float(mu), gauge, int(refine), bool(richardson),
                   stokes.SOLVER_VERSION)).encode())
    h.update(F.tobytes())
    return h.hexdigest()


def _load(path: Path, key: str, shape: tuple[int, int, int]) -> dict | None:
    """The cached arrays, or None if the file is missing, unreadable or inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            out = {k: np.array(data[k]) for k in ("x", "y", "u", "v", "p")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    n = shape[1]
    ok = out["x"].shape == out["y"].shape == (n,) and all(out[k].shape == shape for k in "uvp")
    return out if ok and all(np.all(np.isfinite(a)) for a in out.values()) else None


def cached_references(
    F: np.ndarray,
    cache_dir: str | Path | None = None,
    n: int = 101,
    mu: float = stokes.MU,
    gauge: str = "bottom_mean",
    refine: int = 1,
    richardson: bool = True,
) -> dict:
    """:func:`pinnit.references.stokes.solve_stokes_batch` for lids F (B, m), cached on disk.

    Returns {"x": (n,), "y": (n,), "u", "v", "p": (B, n, n)}; identical arrays on a cache hit.
    """
    F = np.ascontiguousarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise ValueError(f"F must be a (B, m) array of lid sensor values, got shape {F.shape}")
    key = reference_key(F, n, mu, gauge, refine, richardson)
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"stokes-{key[:32]}.npz"
    hit = _load(path, key, (F.shape[0], int(n), int(n)))
    if hit is not None:
        return hit
    sol = stokes.solve_stokes_batch(F, n=n, mu=mu, gauge=gauge, refine=refine, richardson=richardson)
    buf = io.BytesIO()
    np.savez(buf, key=np.array(key), **{k: sol[k] for k in ("x", "y", "u", "v", "p")})
    try:
        write_bytes(path, buf.getvalue())
    except OSError as exc:  # an unwritable cache must not lose the computed references
        warnings.warn(f"could not write the Stokes reference cache {path}: {exc}", stacklevel=2)
    return sol
