"""A plain (non-editable) install ships the configs and declarations: `pinnit run burgers.yaml` and a declared
config work from an empty directory, `pinnit list configs` lists them and `pinnit init` copies one out."""
from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from conftest import REPO

SOURCES = ("pinnit", "configs", "problems", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with pinnit installed from a copy of the sources, reusing the running environment's torch & co.

    The running interpreter may itself be a venv (the README's test command) or a plain interpreter (a system or
    pyenv Python). ``python -m venv`` run from inside a venv builds the new one on the *base* interpreter, whose
    site-packages may lack torch, numpy or a setuptools that can build wheels; ``--system-site-packages`` would
    show that base one, not the running one. So the new venv gets a .pth file listing the running interpreter's
    own site directories: it sees exactly what this test process sees, after its own site-packages (so its
    installed pinnit wins), and without the .pth hooks of the outer environment (so not its editable pinnit)."""
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "_data"))
        else:
            shutil.copy2(path, src / name)
    env_dir = base / "venv"
    # --without-pip: the venv's `python -m pip` is the running environment's pip, building with its setuptools
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, env=_env()).stdout.strip()
    Path(purelib, "_outer_environment.pth").write_text("".join(f"{d}\n" for d in outer_site_dirs()))
    out = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                          str(src)], capture_output=True, text=True, env=_env())
    assert out.returncode == 0, out.stderr[-3000:]
    shutil.rmtree(src)  # nothing may be read from the sources any more
    return env_dir


def outer_site_dirs() -> list[str]:
    """The running interpreter's site directories, in its sys.path order (a venv's own, then any it inherits)."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if os.path.isdir(d)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _pinnit(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "pinnit"), *args], cwd=cwd, capture_output=True, text=True,
                          env=_env(), timeout=600)


def test_installed_pinnit_runs_a_shipped_config_by_name_from_an_empty_directory(venv, tmp_path):
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import pinnit, sys; print(pinnit.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert where.stdout.strip().startswith(str(venv)), where  # the installed copy, not a checkout
    start = time.perf_counter()
    out = _pinnit(venv, tmp_path, "run", "burgers.yaml", "--set", "training.stages.adam.iterations=5",
                  "--set", "training.stages.ssbroyden.iterations=0", "--set", "sampling.points.pde=256",
                  "--set", "evaluation.resolution=[32, 10]", "--set", "training.threads=1", "--quiet")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "using the shipped config" in out.stderr and "pinnit/_data/configs/burgers.yaml" in out.stderr
    assert "status: completed" in out.stdout
    assert sorted(p.name for p in (tmp_path / "outputs" / "burgers").iterdir())  # the run directory is here
    assert time.perf_counter() - start < 300


def test_installed_declared_config_finds_its_shipped_declaration(venv, tmp_path):
    out = _pinnit(venv, tmp_path, "run", "heat", "--set", "training.stages.adam.iterations=3", "--set",
                  "training.stages.lbfgs.iterations=0", "--set", "evaluation.resolution=[11, 11]", "--quiet")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "rel_l2_u" in out.stdout


def test_installed_list_and_init(venv, tmp_path):
    out = _pinnit(venv, tmp_path, "list", "configs")
    assert out.returncode == 0 and "burgers " in out.stdout and "heat " in out.stdout, out
    out = _pinnit(venv, tmp_path, "init", "heat")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "heat.yaml").read_text().startswith("# Heat")
    assert (tmp_path / "problems" / "heat.yaml").is_file()
    again = _pinnit(venv, tmp_path, "init", "heat")
    assert again.returncode == 2 and "exists; use --force" in again.stderr


# The torch versions CI tests (the README's test command pins torch==2.13.0). Widening the declared range means
# testing its other end too; this pins that the declaration, the running torch and the docs agree.
TESTED_TORCH = ">=2.13,<2.14"


def declared_torch() -> SpecifierSet:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch_req,) = [Requirement(d) for d in deps if Requirement(d).name == "torch"]
    return torch_req.specifier


def test_declared_torch_range_is_the_tested_one_and_admits_the_running_torch():
    import torch

    declared = declared_torch()
    assert declared == SpecifierSet(TESTED_TORCH), f"pyproject.toml declares torch{declared}, CI tests {TESTED_TORCH}"
    running = Version(torch.__version__).public  # 2.13.0+cpu -> 2.13.0
    assert running in declared, f"running torch {torch.__version__} is outside the declared torch{declared}"
    assert "2.12.9" not in declared and "2.14.0" not in declared  # untested versions stay excluded


def test_docs_state_the_declared_torch_range():
    """A sentence such as 'torch 2.1 to 2.14' in the README or the docs names the declared range's ends."""
    declared = declared_torch()
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    claims = [(page.relative_to(REPO), m.group(0)) for page in pages if page.is_file()
              for m in re.finditer(r"torch (?:from )?(\d+\.\d+)(?:\.\d+)? (?:to|-|–) (\d+\.\d+)", page.read_text())]
    for page, claim in claims:
        low, high = re.findall(r"\d+\.\d+", claim)[:2]
        assert f"{low}.0" in declared and f"{high}.0" in declared, f"{page}: '{claim}' but pyproject has torch{declared}"
