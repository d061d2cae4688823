"""The L-BFGS restart branch: a chunk that stops early on tolerance_change but lowered the loss clears the
curvature memory and goes on, at most ``lbfgs.restarts`` times (float32 line searches stall spuriously)."""
from __future__ import annotations

import csv

from pinnit import parse_config, run

# float32 with a coarse tolerance_change: chunks stop early although they still lower the loss (measured: the
# first chunks of this set-up improve the loss by ~1e-2 and stop after 10–30 of their 20-iteration budget)
STALLING = ["training.dtype=float32", "training.adam.iterations=30", "training.lbfgs.iterations=200",
            "training.lbfgs.chunk=20", "training.lbfgs.tolerance_change=1e-4"]


def _lbfgs_rows(path):
    with open(path / "history.csv") as fh:
        return [r for r in csv.DictReader(fh) if r["stage"] == "lbfgs"]


def test_improving_early_stops_restart_up_to_the_limit(burgers_cfg, tmp_path):
    res = run(parse_config(burgers_cfg, STALLING + ["training.lbfgs.restarts=3"]), run_dir=tmp_path / "three")
    m = res.metrics
    assert m["lbfgs_restarts"] == 3 and "after 3 restarts" in m["lbfgs_stop_reason"]
    assert m["iterations"]["lbfgs"] < 200  # stopped by the limit, not by the iteration budget
    rows = _lbfgs_rows(res.path)
    events = [i for i, r in enumerate(rows) if r.get("event")]
    assert [rows[i]["event"] for i in events] == [f"L-BFGS restart {k}" for k in (1, 2, 3)]
    # each restart follows a chunk that lowered the loss below the previous chunk's (or the Adam stage's) value
    totals = [float(_adam_last_loss(res.path))]
    for r in rows:
        if r.get("event"):
            assert totals[-1] < totals[-2], r["event"]
        else:
            totals.append(float(r["loss_total"]))


def _adam_last_loss(path):
    with open(path / "history.csv") as fh:
        return [r for r in csv.DictReader(fh) if r["stage"] == "adam" and r.get("loss_total")][-1]["loss_total"]

    # without restarts the stage ends where the first restart happened (same trajectory up to there)
    m0 = run(parse_config(burgers_cfg, STALLING + ["training.lbfgs.restarts=0"]), run_dir=tmp_path / "none").metrics
    assert m0["lbfgs_restarts"] == 0 and "after 0 restarts" in m0["lbfgs_stop_reason"]
    first_restart_step = int(rows[events[0]]["step"])
    assert m0["iterations"]["lbfgs"] == first_restart_step - 30 < m["iterations"]["lbfgs"]
