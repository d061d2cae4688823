"""The neutral YAML reader, and the one-way dependency config → problems (no import loop between them)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from pinnit.errors import PinnitError
from pinnit.yaml_io import read_yaml

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
