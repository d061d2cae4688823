"""The layer contracts in pyproject.toml (import-linter) hold, and cover every package of pinnit.

A module may import only from its own package or from packages below it; nothing imports the package root.
The contracts are checked with import-linter's own entry point, in a fresh interpreter whose ``pinnit`` is the tree
checked (grimp locates the package through the import system), on this tree and on a copy of it with one upward
import added (so the check is shown to fail where it should)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytest.importorskip("importlinter.cli", reason="import-linter is not installed")
tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")


def contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def lint(root: Path) -> tuple[int, str]:
    """Run lint-imports on ``root`` (its pyproject.toml and pinnit/) in a fresh interpreter."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120)
    return out.returncode, out.stdout + out.stderr


def test_every_package_and_entry_point_is_a_layer():
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    listed = [name.strip() for layer in layers for name in layer.split("|")]
    present = {f"pinnit.{p.name}" for p in (REPO / "pinnit").iterdir()
               if p.is_dir() and any(p.rglob("*.py"))}
    present |= {f"pinnit.{p.stem}" for p in (REPO / "pinnit").glob("*.py") if p.stem != "__init__"}
    assert sorted(present - set(listed)) == [], "packages outside the layer contract"
    assert len(listed) == len(set(listed)) and set(listed) <= present
    assert listed[-1] == "pinnit.core" and listed[:2] == ["pinnit.__main__", "pinnit.cli"]


def test_the_contracts_hold():
    code, out = lint(REPO)
    assert code == 0, out
    assert "Contracts: 2 kept, 0 broken." in out


@pytest.mark.parametrize("importer, line, broken", [
    ("config/loading.py", "from ..runs import configs", "pinnit.config is not allowed to import pinnit.runs"),
    ("core/errors.py", "from pinnit import __version__", "pinnit.core.errors is not allowed to import pinnit"),
])
def test_an_upward_import_breaks_the_contracts(tmp_path, importer, line, broken):
    shutil.copytree(REPO / "pinnit", tmp_path / "pinnit", ignore=shutil.ignore_patterns("__pycache__", "_data"))
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "pinnit" / importer, "a") as f:
        f.write(f"\n{line}\n")
    code, out = lint(tmp_path)
    assert code == 1 and broken in out, out
