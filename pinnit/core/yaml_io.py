"""Reading YAML files as mappings, with one-line user errors (shared by run configs and problem declarations).

A neutral module: :mod:`pinnit.config` and :mod:`pinnit.problems` both read YAML, and neither imports the
other for it (config → problems is the only direction, for registry validation).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import PinnitError

#: Largest YAML file read (bytes), and most values its YAML may expand to (aliases counted each time they are
#: used: ten nested aliases of ten would otherwise expand to 10¹⁰ values).
MAX_FILE_BYTES = 10_000_000
MAX_VALUES = 200_000


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; missing, unreadable, empty or malformed files are user errors, and so are files that
    are not regular (a FIFO or /dev/zero would hang the read), too large, nested deeper than the parser
    recurses, or whose aliases nest into themselves or expand past :data:`MAX_VALUES` values."""
    p = Path(path)
    if not p.exists():
        raise PinnitError(f"{p}: no such file")
    if p.is_dir():
        raise PinnitError(f"{p}: is a directory, expected a YAML config file")
    if not p.is_file():
        raise PinnitError(f"{p}: not a regular file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise PinnitError(f"{p}: {p.stat().st_size} bytes; a YAML file of at most {MAX_FILE_BYTES} is read")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PinnitError(f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise PinnitError(f"{p}: malformed YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PinnitError(f"{p}:{where}: malformed YAML: {problem}") from None
    if data is None:
        raise PinnitError(f"{p}: empty config; expected a mapping with at least 'problem: {{name: ...}}'")
    if not isinstance(data, dict):
        raise PinnitError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
    check_size(data, str(p))
    return data


def check_size(data: Any, label: str) -> None:
    """Refuse YAML whose aliases nest into itself or expand to more than MAX_VALUES values."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise PinnitError(f"{label}: a YAML alias refers to a mapping or list that contains it")
        active.add(key)
        items = node.values() if isinstance(node, dict) else node
        total = 1
        for item in items:
            total += size(item)
            if total > MAX_VALUES:
                raise PinnitError(f"{label}: more than {MAX_VALUES} values once its YAML aliases are expanded")
        active.discard(key)
        sizes[key] = total
        return total

    try:
        size(data)
    except RecursionError:
        raise PinnitError(f"{label}: nested too deeply") from None
