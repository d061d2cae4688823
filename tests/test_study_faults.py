"""Studies under hard faults: kill -9 of a local worker and of the study itself, a full disk, corrupted files in
the study directory, two studies on one directory, a Ray worker that dies. In each case no finished run is
lost and the study completes when it is run again.

Also the default executor, ``local``, on a real tiny study (the default suite's only multi-process study)."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, wait_for
from pinnit.cli import main
from pinnit.studies import ExecutorOptions, load_plan, run_study
from study_builder import tiny_study_file

ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
LONG = 1000  #: Adam steps of the run a test kills (it is killed at its first checkpoint, step 10)
ONE = ExecutorOptions(threads=1)


def _cmd(study: Path, sd: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pinnit", "study", str(study), "--dir", str(sd), "--workers", "1", "--threads", "1",
            "--no-report", *extra]


def _wait(predicate) -> bool:
    return wait_for(predicate, timeout=300.0)


def _run_dirs(sd: Path) -> list[Path]:
    assert _wait(lambda: (sd / "plan.json").exists())
    return [sd / r["run_dir"] for r in json.loads((sd / "plan.json").read_text())["runs"]]


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(c) for c in text.split()]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"  # a zombie has exited
    except OSError:
        return True


def test_the_default_local_executor_runs_a_study_with_the_serial_numbers(tmp_path, capsys):
    study = tiny_study_file(tmp_path, iterations=20, seeds=2)
    serial = run_study(load_plan(study, study_dir=tmp_path / "serial"), "serial", ONE)
    assert serial.count("completed") == 2
    assert main(["study", str(study), "--dir", str(tmp_path / "sd"), "--workers", "2", "--threads", "1",
                 "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "local: 2 worker(s) × 1 thread(s)" in out and "study tiny: 2 completed, 0 diverged, 0 failed" in out
    for local, reference in zip(_run_dirs(tmp_path / "sd"), _run_dirs(tmp_path / "serial")):
        assert local.name == reference.name
        got, expected = _metrics(local), _metrics(reference)
        assert got["status"] == "completed" and got["iterations"]["adam"] == 20
        assert (got["final_loss"], got["rel_l2_u"]) == (expected["final_loss"], expected["rel_l2_u"])
        assert (tmp_path / "sd" / "logs" / f"{local.name}.log").exists()


UNREADABLE = "failed): metrics.json unreadable"


@pytest.mark.parametrize("corrupt, shown", [
    (lambda text: text[: len(text) // 2], UNREADABLE),              # cut short
    (lambda text: "[]", UNREADABLE),                                # JSON, but not an object
    (lambda text: '{"status": ["completed"]}',                      # a status no run writes
     "interrupted): metrics.json: status \"['completed']\""),
    (lambda text: "\udcff\udcfe", UNREADABLE),                      # not UTF-8 (written with surrogateescape)
    (lambda text: "[" * 100_000 + "]" * 100_000, UNREADABLE),       # nested beyond the parser's recursion limit
], ids=["truncated", "list", "status-list", "binary", "deep"])
def test_a_corrupted_metrics_json_is_resumed_to_the_same_result_and_the_others_kept(tmp_path, capsys, corrupt,
                                                                                    shown):
    study = tiny_study_file(tmp_path, iterations=20, seeds=2)
    sd = tmp_path / "sd"
    assert run_study(load_plan(study, study_dir=sd), "serial", ONE).count("completed") == 2
    first, second = _run_dirs(sd)
    before, kept = _metrics(first), (second / "metrics.json").stat().st_mtime_ns
    (first / "metrics.json").write_text(corrupt((first / "metrics.json").read_text()), errors="surrogateescape")
    # the report reads it as a run that did not complete, named in a line of its own
    capsys.readouterr()
    assert main(["report", str(sd), "--no-figures"]) == 0
    assert capsys.readouterr().out.startswith("study tiny: 2 planned — 1 completed, ")
    assert f"- `{first.name}` ({shown}" in (sd / "report" / "summary.md").read_text()
    # a re-run resumes it from its final checkpoint: the same numbers, nothing retrained, the other run kept
    again = run_study(load_plan(study, study_dir=sd), "serial", ONE)
    assert again.skipped == 1 and [r["status"] for r in again.records] == ["completed"]
    after = _metrics(first)
    assert (after["final_loss"], after["rel_l2_u"], after["iterations"]) == \
        (before["final_loss"], before["rel_l2_u"], before["iterations"])
    assert (second / "metrics.json").stat().st_mtime_ns == kept


@pytest.mark.parametrize("name, text", [
    ("failure.json", "[1, 2]"),
    ("failure.json", '{"error": ["a", "list"]}'),
    ("config.yaml", "{unclosed: ["),
    ("config.yaml", "- a list"),
])
def test_other_corrupted_run_files_are_redone_or_kept_never_a_traceback(tmp_path, capsys, name, text):
    study = tiny_study_file(tmp_path, iterations=20, seeds=1)
    sd = tmp_path / "sd"
    run_study(load_plan(study, study_dir=sd), "serial", ONE)
    (run,) = _run_dirs(sd)
    (run / name).write_text(text)
    assert main(["report", str(sd), "--no-figures"]) == 0
    again = run_study(load_plan(study, study_dir=sd), "serial", ONE)
    capsys.readouterr()
    if name == "failure.json":  # a failure record, however mangled, means: redo the run
        assert [r["status"] for r in again.records] == ["completed"] and not (run / name).exists()
    else:  # the finished result stands; its config.yaml is not needed to keep it
        assert again.skipped == 1 and again.records == []
    assert _metrics(run)["status"] == "completed"


def test_a_stale_lock_of_a_killed_study_is_waited_for_then_taken(tmp_path, capsys):
    """The lock a killed study's last worker still holds: waited for (then taken), or refused in one line."""
    from pinnit.studies.state import study_lock

    sd = tmp_path / "sd"
    sd.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs: the study that wrote the lock file
    holder = ("import fcntl, sys, time\nf = open(sys.argv[1], 'a+')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
              "f.seek(0); f.truncate(); f.write(sys.argv[2]); f.flush(); print('held', flush=True)\n"
              "time.sleep(float(sys.argv[3]))\n")
    worker = subprocess.Popen([sys.executable, "-c", holder, str(sd / ".lock"), str(dead.pid), "30"],
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline() == "held\n"
    with pytest.raises(Exception, match=rf"in use by another pinnit study \(pid {dead.pid}, no longer running; "
                                        r"its workers are still finishing\); wait for it or stop it first"):
        with study_lock(sd, wait_s=0.3):
            pass
    worker.kill()
    worker.wait()
    with study_lock(sd, wait_s=0.3):  # the kernel dropped the lock with its last holder: no stale lock file
        assert (sd / ".lock").read_text() == str(os.getpid())
    worker = subprocess.Popen([sys.executable, "-c", holder, str(sd / ".lock"), str(dead.pid), "1.5"],
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline() == "held\n"
    start = time.monotonic()
    with study_lock(sd, wait_s=60):
        assert time.monotonic() - start > 0.5 and worker.poll() is not None
    assert "waiting for the workers of a stopped study" in capsys.readouterr().err
    worker.wait()


def _full_disk(limit: int):
    """RLIMIT_FSIZE for a child process: every write past ``limit`` bytes fails (EFBIG), as on a full disk."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _one_finished_run(tmp_path) -> tuple[Path, Path, int, Path]:
    """(study dir, its finished run, that run's metrics.json mtime, the same study file with two more seeds)."""
    sd = tmp_path / "sd"
    assert run_study(load_plan(tiny_study_file(tmp_path, seeds=1), study_dir=sd), "serial", ONE).count("completed") == 1
    (done,) = _run_dirs(sd)
    return sd, done, (done / "metrics.json").stat().st_mtime_ns, tiny_study_file(tmp_path, seeds=3)


def test_a_full_disk_fails_the_runs_it_hits_and_a_rerun_completes_them(tmp_path):
    """Room for plan.json (8 kB) and failure records, not for a run's 23 kB checkpoint."""
    sd, done, kept, bigger = _one_finished_run(tmp_path)
    proc = subprocess.run(_cmd(bigger, sd, "--executor", "serial"), capture_output=True, text=True, env=ENV,
                          timeout=600, preexec_fn=_full_disk(12_000))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "study tiny: 0 completed, 0 diverged, 2 failed, 0 interrupted; 1 kept from before" in proc.stdout
    failed = [d for d in _run_dirs(sd) if d != done]
    for run in failed:
        error = json.loads((run / "failure.json").read_text())["error"]
        assert error.startswith("OSError") and "File too large" in error, error
    assert (done / "metrics.json").stat().st_mtime_ns == kept
    again = run_study(load_plan(bigger, study_dir=sd), "serial", ONE)
    assert again.skipped == 1 and [r["status"] for r in again.records] == ["completed", "completed"]
    assert (done / "metrics.json").stat().st_mtime_ns == kept


@pytest.mark.slow
def test_a_disk_too_full_for_plan_json_stops_the_study_in_one_line(tmp_path):
    sd, done, kept, bigger = _one_finished_run(tmp_path)
    proc = subprocess.run(_cmd(bigger, sd, "--executor", "serial"), capture_output=True, text=True, env=ENV,
                          timeout=600, preexec_fn=_full_disk(3_000))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == (f"pinnit: error: {sd}: File too large; finished runs are kept (run the same command again "
                           "once there is room)\n")
    assert len(json.loads((sd / "plan.json").read_text())["runs"]) == 1  # the old plan, intact
    assert (done / "metrics.json").stat().st_mtime_ns == kept


@pytest.mark.slow
def test_kill9_of_a_local_worker_fails_its_run_only_and_a_second_study_is_refused(tmp_path, capsys):
    study = tiny_study_file(tmp_path, seeds=1, methods={"long": {"training.adam.iterations": LONG}, "short": {}})
    sd = tmp_path / "sd"
    proc = subprocess.Popen(_cmd(study, sd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    long_run, short_run = _run_dirs(sd)
    assert _wait(lambda: (long_run / "checkpoint.pt").exists())
    # a second study on the same directory: one line, exit 2, nothing touched
    assert main(["study", str(study), "--dir", str(sd), "--no-report"]) == 2
    assert capsys.readouterr().err == (f"pinnit: error: {sd}: in use by another pinnit study (pid {proc.pid}, "
                                       "running); wait for it or stop it first\n")
    (worker,) = _children(proc.pid)
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    assert json.loads((long_run / "failure.json").read_text())["error"].startswith("worker exited with code -9")
    assert _metrics(short_run)["status"] == "completed"
    kept = (short_run / "metrics.json").stat().st_mtime_ns
    again = subprocess.run(_cmd(study, sd), capture_output=True, text=True, env=ENV, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 finished (kept), 0 to resume, 1 to run" in again.stdout
    assert _metrics(long_run)["iterations"]["adam"] == LONG and not (long_run / "failure.json").exists()
    assert (short_run / "metrics.json").stat().st_mtime_ns == kept


@pytest.mark.slow
def test_kill9_of_the_study_stops_its_workers_at_a_checkpoint_and_a_rerun_resumes(tmp_path):
    study = tiny_study_file(tmp_path, seeds=1, methods={"a": {}, "b": {"training.adam.iterations": LONG},
                                                        "c": {"training.adam.lr": 2e-3}})
    sd = tmp_path / "sd"
    proc = subprocess.Popen(_cmd(study, sd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    first, second, third = _run_dirs(sd)
    assert _wait(lambda: (first / "metrics.json").exists() and (second / "checkpoint.pt").exists())
    kept = (first / "metrics.json").stat().st_mtime_ns
    (worker,) = _children(proc.pid)
    proc.kill()
    proc.communicate()
    # the orphaned worker got SIGTERM with its parent's death: it checkpoints and exits, training no further
    assert _wait(lambda: _gone(worker))
    interrupted = _metrics(second)
    assert interrupted["status"] == "interrupted (SIGTERM)" and interrupted["iterations"]["adam"] < LONG
    again = subprocess.run(_cmd(study, sd), capture_output=True, text=True, env=ENV, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 finished (kept), 1 to resume, 1 to run" in again.stdout
    assert (first / "metrics.json").stat().st_mtime_ns == kept
    assert all(_metrics(d)["status"] == "completed" for d in (first, second, third))
    steps = [int(line.split(",")[0]) for line in (second / "history.csv").read_text().splitlines()[1:]
             if line.split(",")[0].isdigit()]
    assert steps == sorted(steps) and steps[-1] == LONG  # resumed, not restarted


def _ray_workers() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(b"ray::run_task"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_a_ray_worker_that_dies_fails_its_run_only_and_a_rerun_completes(tmp_path):
    pytest.importorskip("ray")
    study = tiny_study_file(tmp_path, seeds=1, methods={"long": {"training.adam.iterations": LONG}, "short": {}})
    sd = tmp_path / "sd"
    cmd = _cmd(study, sd, "--executor", "ray")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    long_run, short_run = _run_dirs(sd)
    assert _wait(lambda: (long_run / "checkpoint.pt").exists() and (short_run / "metrics.json").exists())
    assert _wait(lambda: len(_ray_workers()) == 1)
    os.kill(_ray_workers()[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1 and "Traceback" not in out, out + err
    assert f"{long_run.name}: failed, " in out and "study tiny: 1 completed, 0 diverged, 1 failed" in out
    error = json.loads((long_run / "failure.json").read_text())["error"]
    assert error and "\n" not in error
    assert _metrics(short_run)["status"] == "completed"
    kept = (short_run / "metrics.json").stat().st_mtime_ns
    again = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 finished (kept), 0 to resume, 1 to run" in again.stdout and "study tiny: 1 completed" in again.stdout
    assert _metrics(long_run)["iterations"]["adam"] == LONG
    assert (short_run / "metrics.json").stat().st_mtime_ns == kept
