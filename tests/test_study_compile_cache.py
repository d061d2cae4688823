"""Every run of a study compiles into one cache (inductor's TORCHINDUCTOR_CACHE_DIR), whatever the executor:
STUDY_DIR/compile_cache unless the user chose a directory; set for the run only."""
from __future__ import annotations

import os

import pytest
import yaml

from conftest import small_burgers
from pinnit.runtime.torch_private import default_compile_cache
from pinnit.studies import ExecutorOptions, load_plan, run_study
from pinnit.studies import worker
from pinnit.studies.runner import compile_cache

VAR = "TORCHINDUCTOR_CACHE_DIR"


def _study(tmp_path, **training) -> dict:
    base = small_burgers(tmp_path)
    base["network"].update(width=8, depth=2)
    base["sampling"]["sampler"] = "uniform"
    base["sampling"]["points"] = {"pde": 64, "initial": 16, "boundary": 16}
    base["training"].update(adam={"iterations": 3, "lr": 1e-3}, lbfgs={"iterations": 0}, **training)
    base["evaluation"] = {"every": 0, "resolution": [16, 8]}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"name": "cache", "base": base, "seeds": [0, 1]}, sort_keys=False))
    return path


def test_the_study_cache_unless_the_user_chose_one(tmp_path, monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    assert compile_cache(tmp_path / "sd") == str((tmp_path / "sd").resolve() / "compile_cache")
    monkeypatch.setenv(VAR, default_compile_cache())  # what torch writes there itself the first time it compiles
    assert compile_cache(tmp_path / "sd") == str((tmp_path / "sd").resolve() / "compile_cache")
    monkeypatch.setenv(VAR, str(tmp_path / "mine"))
    assert compile_cache(tmp_path / "sd") == str(tmp_path / "mine")


def test_each_run_sees_the_study_cache_and_the_process_gets_its_own_back(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(worker, "_run", lambda task: seen.append(os.environ.get(VAR)) or {"id": task["id"],
                                                                                          "status": "completed"})
    monkeypatch.setenv(VAR, default_compile_cache())
    run_study(load_plan(_study(tmp_path), study_dir=tmp_path / "sd"), "serial", ExecutorOptions(threads=1))
    assert seen == [str((tmp_path / "sd").resolve() / "compile_cache")] * 2
    assert os.environ[VAR] == default_compile_cache()


def test_compiled_runs_fill_the_study_cache(tmp_path, monkeypatch):
    """Compiled runs write their graphs into STUDY_DIR/compile_cache (inductor's FX graph cache), not into the
    per-user default, and the study process's environment is left as it was."""
    monkeypatch.delenv(VAR, raising=False)
    plan = load_plan(_study(tmp_path, derivatives="compiled"), study_dir=tmp_path / "sd")
    run_study(plan, "serial", ExecutorOptions(threads=1), out=open(os.devnull, "w"))
    cache = tmp_path / "sd" / "compile_cache"
    graphs = sorted(p for p in cache.rglob("*") if p.is_file() and "fxgraph" in p.parts)
    if not graphs:
        pytest.skip("this torch wrote no FX graph cache entries")
    runs = sorted((tmp_path / "sd" / "runs").iterdir())
    assert len(runs) == 2 and all((r / "metrics.json").exists() for r in runs)
    assert os.environ.get(VAR) is None
