"""Running a study: layout, skip/resume/redo on re-run, failures recorded, a changed study refused, and a real
`python -m pinnit study` stopped by SIGINT and continued to the same numbers as an uninterrupted study."""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import small_burgers, wait_for
from pinnit.core.errors import PinnitError
from pinnit.studies import ExecutorOptions, load_plan, run_study

REPO = Path(__file__).resolve().parents[1]
ONE = ExecutorOptions(threads=1)
STEPS = 250  # per run of the SIGINT test: long enough to be caught mid-training


def _tiny(tmp_path, iterations=40, **extra) -> dict:
    base = small_burgers(tmp_path)
    base["network"].update(width=8, depth=2)
    base["sampling"]["sampler"] = "uniform"
    base["sampling"]["points"] = {"pde": 128, "initial": 32, "boundary": 32}
    base["training"].update(adam={"iterations": iterations, "lr": 3e-3}, lbfgs={"iterations": 0},
                            checkpoint_every=10)
    base["evaluation"] = {"every": 0, "resolution": [32, 10]}
    return {"name": "tiny", "base": base, "methods": {"xavier": {}, "eoc": {"network.initializer": {"name": "eoc"}}},
            "axes": {"grid": [{"key": "network.activation.a", "values": [0.5, 1.0]}]}, **extra}


def _write(tmp_path, data, name="study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _metrics(study_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(study_dir.glob("runs/*/metrics.json"))}


def test_study_directory_layout_and_rerun_skips_finished_runs(tmp_path):
    study_file = _write(tmp_path, _tiny(tmp_path))
    plan = load_plan(study_file, study_dir=tmp_path / "sd")
    outcome = run_study(plan, "serial", ONE)
    assert outcome.exit_code == 0 and outcome.count("completed") == 4
    sd = tmp_path / "sd"
    assert (sd / "study.yaml").read_text() == study_file.read_text()
    assert yaml.safe_load((sd / "base.yaml").read_text())["network"]["width"] == 8
    saved = json.loads((sd / "plan.json").read_text())
    assert set(saved) == {"name", "study_file", "axes", "runs", "claims"}
    assert saved["name"] == "tiny" and saved["axes"] == ["network.activation.a"] and saved["claims"] == []
    run0 = saved["runs"][0]
    assert set(run0) == {"id", "method", "axes", "seed", "run_dir", "config"}
    assert run0["method"] == "xavier" and run0["axes"] == {"network.activation.a": 0.5} and run0["seed"] == 0
    assert run0["run_dir"] == f"runs/{run0['id']}" and run0["config"]["network"]["activation"]["a"] == 0.5
    for r in saved["runs"]:
        m = json.loads((sd / r["run_dir"] / "metrics.json").read_text())
        assert m["status"] == "completed" and m["iterations"]["adam"] == 40
        assert yaml.safe_load((sd / r["run_dir"] / "config.yaml").read_text())["network"]["activation"] == \
            r["config"]["network"]["activation"]
    mtimes = {p: p.stat().st_mtime_ns for p in sd.glob("runs/*/metrics.json")}
    again = run_study(load_plan(study_file, study_dir=sd), "serial", ONE)
    assert again.skipped == 4 and again.records == [] and again.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in sd.glob("runs/*/metrics.json")} == mtimes
    # continuing from the study directory alone uses its plan.json
    assert run_study(load_plan(sd), "serial", ONE).skipped == 4


def test_failed_and_diverged_runs_do_not_stop_the_others_and_failures_are_redone(tmp_path, monkeypatch):
    data = _tiny(tmp_path, seeds=2)
    del data["axes"]
    data["methods"]["huge"] = {"network.activation": "linear", "network.depth": 4, "training.dtype": "float32",
                               "training.adam.lr": 100}  # diverges: a finished result, not a failure
    plan = load_plan(_write(tmp_path, data), study_dir=tmp_path / "sd")
    run_module = importlib.import_module("pinnit.runs.pipeline")  # (pinnit.runs.pipeline the attribute is the function)
    original = run_module.run

    def flaky(cfg, **kw):
        if cfg.network.initializer == {"name": "eoc"} and cfg.training.seed == 0:
            raise RuntimeError("simulated crash\nsecond line")
        return original(cfg, **kw)

    monkeypatch.setattr(run_module, "run", flaky)
    outcome = run_study(plan, "serial", ExecutorOptions(threads=1))
    statuses = {r["id"].rsplit("-", 1)[0]: r["status"] for r in outcome.records}
    assert statuses == {"xavier-s0": "completed", "xavier-s1": "completed", "eoc-s0": "failed",
                        "eoc-s1": "completed", "huge-s0": "diverged", "huge-s1": "diverged"}
    assert outcome.exit_code == 1
    failed = next(tmp_path.glob("sd/runs/eoc-s0-*"))
    failure = json.loads((failed / "failure.json").read_text())
    assert set(failure) == {"id", "error", "traceback", "time"}
    assert failure["id"] == failed.name and failure["error"] == "RuntimeError: simulated crash"
    assert "Traceback" in failure["traceback"] and "second line" in failure["traceback"]
    # the re-run redoes only the failed run (the diverged ones are results)
    monkeypatch.setattr(run_module, "run", original)
    again = run_study(load_plan(tmp_path / "study.yaml", study_dir=tmp_path / "sd"), "serial",
                      ExecutorOptions(threads=1))
    assert again.skipped == 5 and [r["status"] for r in again.records] == ["completed"]
    assert not (failed / "failure.json").exists()


def test_a_changed_study_is_refused_unless_overwrite(tmp_path):
    data = _tiny(tmp_path)
    data["methods"] = {"xavier": {}}
    data["axes"]["grid"][0]["values"] = [1.0]
    study_file = _write(tmp_path, data)
    run_study(load_plan(study_file, study_dir=tmp_path / "sd"), "serial", ONE)
    data["base"]["training"]["adam"]["lr"] = 1e-3  # every run's config changes
    _write(tmp_path, data)
    with pytest.raises(PinnitError, match=r"1 run\(s\) of the existing plan.json are not in this plan "
                                          r"\(e.g. xavier-a1-s0-[0-9a-f]{8}\): the study file .* changed; "
                                          r"use --overwrite"):
        run_study(load_plan(study_file, study_dir=tmp_path / "sd"), "serial", ONE)
    outcome = run_study(load_plan(study_file, study_dir=tmp_path / "sd"), "serial", ONE, overwrite=True)
    assert outcome.count("completed") == 1
    assert len(list((tmp_path / "sd" / "runs").iterdir())) == 1
    # adding a seed extends the study: the finished run is kept
    data["seeds"] = [0, 1]
    _write(tmp_path, data)
    extended = run_study(load_plan(study_file, study_dir=tmp_path / "sd"), "serial", ONE)
    assert extended.skipped == 1 and extended.count("completed") == 1


def _wait_for(predicate):
    return wait_for(predicate, timeout=300.0)


@pytest.mark.parametrize("executor", ["serial", pytest.param("local", marks=pytest.mark.slow)])
def test_sigint_stops_the_study_and_a_rerun_resumes_to_the_uninterrupted_numbers(tmp_path, executor):
    data = _tiny(tmp_path, iterations=STEPS)
    study_file = _write(tmp_path, data)
    reference = run_study(load_plan(study_file, study_dir=tmp_path / "reference"), "serial", ONE)
    assert reference.count("completed") == 4

    sd = tmp_path / "sd"
    cmd = [sys.executable, "-m", "pinnit", "study", str(study_file), "--dir", str(sd), "--executor", executor,
           "--threads", "1", "--workers", "1", "--no-report"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    plan = json.loads(_wait_for(lambda: (sd / "plan.json").exists()) and (sd / "plan.json").read_text())
    first, second = (sd / plan["runs"][0]["run_dir"]), (sd / plan["runs"][1]["run_dir"])
    # the first run has finished and the second is training (past its first periodic checkpoint)
    assert _wait_for(lambda: (first / "metrics.json").exists() and (second / "checkpoint.pt").exists())
    ckpt = second / "checkpoint.pt"
    start = ckpt.stat().st_mtime_ns
    assert _wait_for(lambda: ckpt.stat().st_mtime_ns != start)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "continue with: pinnit study" in out
    interrupted = json.loads((second / "metrics.json").read_text())
    assert interrupted["status"] == "interrupted (SIGINT)"
    assert 0 < interrupted["iterations"]["adam"] < STEPS
    assert not (sd / plan["runs"][3]["run_dir"] / "metrics.json").exists()
    finished_mtime = (first / "metrics.json").stat().st_mtime_ns

    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 finished (kept), 1 to resume, 2 to run" in proc.stdout
    assert (first / "metrics.json").stat().st_mtime_ns == finished_mtime  # not re-trained
    history = (second / "history.csv").read_text().splitlines()
    steps = [int(line.split(",")[0]) for line in history[1:] if line.split(",")[0].isdigit()]
    assert steps == sorted(steps) and steps[-1] == STEPS  # resumed, not restarted: one history, in order
    expected = _metrics(tmp_path / "reference")
    got = _metrics(sd)
    assert list(got) == list(expected)
    for run_id, m in got.items():
        assert m["status"] == "completed"
        assert m["final_loss"] == expected[run_id]["final_loss"], run_id
        assert m["rel_l2_u"] == expected[run_id]["rel_l2_u"], run_id


def test_a_study_directory_is_used_by_one_study_at_a_time(tmp_path):
    from pinnit.studies.state import study_lock

    study_file = _write(tmp_path, _tiny(tmp_path))
    with study_lock(tmp_path / "sd"):
        with pytest.raises(PinnitError, match=r"sd: in use by another pinnit study \(pid \d+, running\)"):
            run_study(load_plan(study_file, study_dir=tmp_path / "sd"), "serial", ONE)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(PinnitError, match="other: exists and is not a study directory"):
        run_study(load_plan(study_file, study_dir=tmp_path / "other"), "serial", ONE)
