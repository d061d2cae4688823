"""The configs and problem declarations shipped with pinnit, wherever it is installed.

A wheel carries the top-level ``configs/`` and ``problems/`` as ``pinnit/_data/`` (copied by setup.py at
build time); a source checkout or an editable install reads them in place. So ``pinnit run burgers.yaml``
works from any directory: a name that is not a local file is looked up among the shipped configs, and a
declared config's ``file: problems/heat.yaml`` among the shipped declarations.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from .errors import PinnitError

PACKAGE = Path(__file__).resolve().parents[1]  # the pinnit package


def package_parent() -> Path:
    """The folder holding this copy of the ``pinnit`` package: what a worker process puts on ``PYTHONPATH`` to
    import the same pinnit as its parent, whatever its working directory."""
    return PACKAGE.parent


def shipped_root() -> Path:
    """The folder holding ``configs/`` and ``problems/``: ``pinnit/_data`` when installed, else the checkout."""
    data = PACKAGE / "_data"
    return data if (data / "configs").is_dir() else PACKAGE.parent


def shipped(kind: str) -> list[Path]:
    """The shipped ``*.yaml`` files of ``kind`` (``configs`` or ``problems``), sorted by name."""
    folder = shipped_root() / kind
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def find_shipped(name: str, kind: str = "configs") -> Path | None:
    """``burgers``, ``burgers.yaml`` or ``configs/burgers.yaml`` → the shipped file, or None."""
    stem = Path(name)
    if stem.parent.name == kind and len(stem.parts) == 2:
        stem = Path(stem.name)
    if len(stem.parts) != 1:
        return None
    for candidate in (stem.name, f"{stem.name}.yaml"):
        path = shipped_root() / kind / candidate
        if path.is_file():
            return path
    return None


def resolve_config(name: str, quiet: bool = False) -> str:
    """A local file as given; else the shipped config of that name (saying which file is used)."""
    if Path(name).exists():
        return name
    path = find_shipped(name)
    if path is None:
        raise PinnitError(f"{name}: no such file (nor a shipped config of that name; `pinnit list configs` "
                          f"lists them)")
    if not quiet:
        print(f"pinnit: {name} is not a local file; using the shipped config {path}", file=sys.stderr)
    return str(path)


ABBREVIATIONS = ("rel", "e.g", "i.e", "cf", "vs", "approx", "al", "eq", "fig", "ref", "resp", "etc")


def first_sentence(text: str) -> str:
    """``text`` up to its first full stop: a period before a space at the top level (not inside brackets),
    not ending an abbreviation (``rel.``, ``e.g.``) or a number (``3.5``)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "." and depth <= 0 and (i + 1 == len(text) or text[i + 1] == " "):
            word = re.split(r"[\s(\[{]", text[:i])[-1].lower()
            if word not in ABBREVIATIONS:
                return text[: i + 1]
    return text


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters at a word boundary, with "…" when cut."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:(—-") + "…"


def describe(path: Path, width: int = 110) -> str:
    """The first sentence of a shipped file's leading comment (its one-line description), cut at a word."""
    words = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        words += line.lstrip("#").split()
    return shorten(first_sentence(" ".join(words)), width)


def config_for_declaration(stem: str) -> Path | None:
    """The shipped config that reads the declaration ``problems/<stem>.yaml``: the one named ``stem``, else a
    CPU-sized one, else the shortest name."""
    order = lambda p: (p.stem != stem, "_cpu" not in p.stem, len(p.stem), p.stem)  # noqa: E731
    for path in sorted(shipped("configs"), key=order):
        problem = (yaml.safe_load(path.read_text()) or {}).get("problem")
        if isinstance(problem, dict) and Path(str(problem.get("file", ""))).name == f"{stem}.yaml":
            return path
    return None


def run_declaration_command(path: str | Path) -> str | None:
    """A command that trains the declaration at ``path`` with the shipped config of the same name, or None."""
    config = config_for_declaration(Path(path).stem)
    if config is None:
        return None
    return f"pinnit run configs/{config.name} --set problem.file={path}"


def require_shipped(name: str) -> tuple[Path, str]:
    """``name`` → (shipped file, kind); a config by default, ``problems/<name>`` for a declaration."""
    kind = "problems" if Path(name).parent.name == "problems" else "configs"
    path = find_shipped(name, kind)
    if path is None:
        names = ", ".join(p.stem for p in shipped("configs"))
        raise PinnitError(f"init: no shipped config '{name}'; shipped: {names} (or problems/<name> for a "
                          f"declaration; `pinnit list configs`)")
    return path, kind
