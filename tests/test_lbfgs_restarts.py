"""The L-BFGS restart branch: a chunk that stops early on tolerance_change but lowered the loss clears the
curvature memory and goes on, at most ``lbfgs.restarts`` times (float32 line searches stall spuriously)."""
from __future__ import annotations

import csv

from pinnit import parse_config
from pinnit.runs import run

# float32 with a coarse tolerance_change: chunks stop early although they still lower the loss (measured: the
# first chunks of this set-up improve the loss by ~1e-2 and stop after 10–30 of their 20-iteration budget)
STALLING = ["training.dtype=float32", "training.adam.iterations=30", "training.lbfgs.iterations=200",
            "training.lbfgs.chunk=20", "training.lbfgs.tolerance_change=1e-4"]


def _read(path, name):
    with open(path / name) as fh:
        return list(csv.DictReader(fh))


def test_improving_early_stops_restart_up_to_the_limit(burgers_cfg, tmp_path):
    res = run(parse_config(burgers_cfg, STALLING + ["training.lbfgs.restarts=3"]), run_dir=tmp_path / "three")
    m = res.metrics
    assert m["restarts"] == 3 and "after 3 restarts" in m["stop_reason"]
    assert m["iterations"]["lbfgs"] < 200  # stopped by the limit, not by the iteration budget
    history = _read(res.path, "history.csv")
    events = _read(res.path, "events.csv")
    assert [e["event"] for e in events] == [f"L-BFGS restart {k}" for k in (1, 2, 3)]
    # each restart follows a chunk that lowered the loss below the previous chunk's (or the Adam stage's) value
    logged = [(int(r["step"]), float(r["loss_total"])) for r in history if r.get("loss_total")]
    for e in events:
        before = [loss for step, loss in logged if step <= int(e["step"])]
        assert before[-1] < before[-2], e["event"]
    # without restarts the stage ends where the first restart happened (same trajectory up to there)
    m0 = run(parse_config(burgers_cfg, STALLING + ["training.lbfgs.restarts=0"]), run_dir=tmp_path / "none").metrics
    assert m0["restarts"] == 0 and "after 0 restarts" in m0["stop_reason"]
    first_restart_step = int(events[0]["step"])
    assert m0["iterations"]["lbfgs"] == first_restart_step - 30 < m["iterations"]["lbfgs"]
