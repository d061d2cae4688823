"""Reading YAML files as mappings, with one-line user errors (shared by run configs and problem declarations).

A neutral module: :mod:`pinnit.config` and :mod:`pinnit.problems` both read YAML, and neither imports the
other for it (config → problems is the only direction, for registry validation).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import PinnitError


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; missing, unreadable, empty or malformed files are user errors."""
    p = Path(path)
    if not p.exists():
        raise PinnitError(f"{p}: no such file")
    if p.is_dir():
        raise PinnitError(f"{p}: is a directory, expected a YAML config file")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PinnitError(f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PinnitError(f"{p}:{where}: malformed YAML: {problem}") from None
    if data is None:
        raise PinnitError(f"{p}: empty config; expected a mapping with at least 'problem: {{name: ...}}'")
    if not isinstance(data, dict):
        raise PinnitError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    return data
