"""Progress bars: one per stage; an early L-BFGS stop closes at 100 % with its reason; resume counts new steps."""
from __future__ import annotations

import re
import time

from pinnit.training.progress import Progress


def test_one_bar_per_stage_and_early_stop_closes_at_100_percent(capsys):
    p = Progress({"adam": 20, "lbfgs": 100})
    for step in range(1, 21):
        p.update(step, {"total": 1.0 / step}, "adam")
    assert p.stage == "adam" and p.bar is None and p.closed["adam"] == (20, 20)  # closed at its last step
    for step in (50, 70, 75):  # L-BFGS chunks; the stage converges after 55 of its 100 iterations
        p.update(step, {"total": 1e-3}, "lbfgs")
    assert p.closed["adam"] == (20, 20)
    assert p.stage == "lbfgs" and p.bar.n == 55 and p.bar.total == 100
    p.finish("loss change below tolerance_change")
    assert p.closed["lbfgs"] == (55, 55)
    err = capsys.readouterr().err
    assert "L-BFGS" in err and "100%" in err and "stopped: loss change below tolerance_change" in err
    assert "55%" not in err.splitlines()[-1]


def test_interrupted_stage_is_not_shown_complete():
    p = Progress({"adam": 50, "lbfgs": 0})
    for step in range(1, 11):
        p.update(step, {"total": 1.0}, "adam")
    p.close()  # interrupted: no finish()
    assert p.closed["adam"] == (10, 50)


def test_resumed_bar_starts_at_the_checkpoint_and_rates_only_new_steps():
    p = Progress({"adam": 5000, "lbfgs": 5000})
    p.start_at(1500, "adam", 1500)
    assert p.bar.n == 1500 and p.bar.initial == 1500
    start = time.perf_counter()
    for step in range(1501, 1511):
        time.sleep(0.01)
        p.update(step, {"total": 1.0}, "adam")
    elapsed = time.perf_counter() - start
    assert p.bar.n == 1510
    d = p.bar.format_dict
    shown = p.bar.format_meter(**{**d, "rate": None})
    rate = float(re.search(r"([\d.]+)it/s", shown).group(1))
    assert rate <= 10 / elapsed * 1.5 + 1  # ~10 steps in ~0.1 s: ~100 it/s, not 1510 / 0.1 s
    p.close()


def test_resume_in_lbfgs_counts_from_the_stage_start():
    p = Progress({"adam": 100, "lbfgs": 200})
    p.start_at(150, "lbfgs", 50)
    p.update(170, {"total": 1.0}, "lbfgs")
    assert p.bar.n == 70 and p.bar.total == 200
    p.close()


def test_disabled_progress_tracks_nothing_visible(capsys):
    p = Progress({"adam": 5, "lbfgs": 5}, enabled=False)
    for step in range(1, 6):
        p.update(step, {"total": 1.0}, "adam")
    p.finish(None)
    assert p.bar is None and capsys.readouterr().err == ""


def test_resumed_bar_leaves_the_time_before_its_first_step_out_of_the_eta():
    """A resumed run compiles during its first step: that minute must not make the first ETA read hours."""
    p = Progress({"adam": 5000})
    p.start_at(1500, "adam", 1500)
    time.sleep(0.6)  # loading and compiling before the first step completes
    for step in range(1501, 1512):
        time.sleep(0.01)
        p.update(step, {"total": 1.0}, "adam")
    d = p.bar.format_dict
    assert d["elapsed"] < 0.45, d["elapsed"]  # ~0.1 s of steps, not the 0.6 s before the first one
    rate = (d["n"] - d["initial"]) / d["elapsed"]
    assert (d["total"] - d["n"]) / rate < 3489 * 0.45 / 10  # remaining steps at the steps' own pace
    p.close()


def test_a_finished_bar_closes_at_its_last_step_so_its_time_leaves_out_the_next_stage(capsys):
    """The next stage's first step may compile for minutes (float64): the finished Adam bar must not absorb it."""
    p = Progress({"adam": 5, "ssbroyden": 10})
    for step in range(1, 6):
        p.update(step, {"total": 1.0}, "adam")
    time.sleep(1.2)  # the quasi-Newton stage's first chunk compiles
    p.update(15, {"total": 0.5}, "ssbroyden")
    p.finish()
    adam = [line for line in re.split(r"[\r\n]", capsys.readouterr().err) if line.startswith("Adam")]
    assert "5/5 [00:00<00:00" in adam[-1], adam[-1]
