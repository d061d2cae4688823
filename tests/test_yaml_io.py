"""The neutral YAML reader, and the one-way dependency config → problems (no import loop between them)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pinnit.core.errors import PinnitError
from pinnit.core.yaml_io import read_yaml

PACKAGE = Path(__file__).resolve().parents[1] / "pinnit"


def test_read_yaml_reads_a_mapping_and_rejects_the_rest(tmp_path):
    good = tmp_path / "a.yaml"
    good.write_text("problem: {name: burgers}\n")
    assert read_yaml(good) == {"problem": {"name": "burgers"}}
    for text, message in [("", "empty"), ("- 1\n", "mapping"), ("a: [1\n", "malformed YAML")]:
        bad = tmp_path / "b.yaml"
        bad.write_text(text)
        with pytest.raises(PinnitError, match=message):
            read_yaml(bad)


HOSTILE = [
    ("a: &a [*a]\n", "alias refers to a mapping or list that contains it"),
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)),
     "more than 200000 values"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
]


@pytest.mark.parametrize("text, message", HOSTILE, ids=["self-alias", "alias-bomb", "deep"])
def test_hostile_yaml_is_one_line_for_run_and_declarations(tmp_path, text, message):
    """Run configs and declarations go through the same reader as study files: an alias that contains itself, an
    alias bomb (10⁷ values from a few lines) and nesting past the parser's recursion are one-line errors."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(PinnitError, match=message):
        read_yaml(bad)
    out = subprocess.run([sys.executable, "-m", "pinnit", "run", str(bad)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr, out.stderr


def test_a_fifo_or_device_is_refused_before_it_is_read(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(PinnitError, match="not a regular file"):
            read_yaml(path)


@pytest.mark.parametrize("order", [("pinnit.config", "pinnit.problems"), ("pinnit.problems", "pinnit.config"),
                                   ("pinnit.problems.declared_io", "pinnit.config.loading")])
def test_config_and_problems_import_in_either_order(order):
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in order)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, timeout=120)
    assert out.returncode == 0, out.stderr


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the pinnit modules ``path`` imports, at any nesting level."""
    package = ["pinnit", *path.relative_to(PACKAGE).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names.add(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_problems_never_import_config():
    """config depends on problems (registry validation), never the reverse: no loop to break on refactors."""
    offenders = {p.name: m for p in (PACKAGE / "problems").glob("*.py") for m in _imported_modules(p)
                 if m == "pinnit.config" or m.startswith("pinnit.config.")}
    assert offenders == {}
