"""What kind of pinnit YAML file a mapping is, so a file given to the wrong command is named for what it is.

Three kinds are told apart by their top-level keys:

- a **run config** (``pinnit run``) has ``problem``;
- a **study file** (``pinnit study``) has ``base`` (and no ``problem``);
- a **PDE declaration** (a run config's ``problem: {name: declared, file: ...}``) has ``equations``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import PinnitError

RUN, STUDY, DECLARATION = "run config", "study file", "PDE declaration"


def file_kind(data: Any) -> str | None:
    """``RUN``, ``STUDY``, ``DECLARATION``, or None when the mapping looks like none of them."""
    if not isinstance(data, dict):
        return None
    if "problem" in data:
        return RUN
    if "base" in data:
        return STUDY
    if "equations" in data:
        return DECLARATION
    return None


def how_to_use(kind: str, path: str | Path) -> str:
    """The command that takes a file of ``kind``."""
    if kind == RUN:
        return f"run it with `pinnit run {path}`"
    if kind == STUDY:
        return f"run it with `pinnit study {path}`"
    from ..core.shipped import run_declaration_command  # the shipped config of the same name, if any

    command = run_declaration_command(path)
    return (f"a run config reads it with problem: {{name: declared, file: {path}}}"
            + (f"; e.g. `{command}`" if command else ""))


def require_kind(data: Any, path: str | Path, expected: str) -> None:
    """Raise a one-line PinnitError when ``data`` (read from ``path``) is recognisably another kind of file."""
    kind = file_kind(data)
    if kind is not None and kind != expected:
        raise PinnitError(f"{path} is a {kind}, not a {expected}; {how_to_use(kind, path)}")
