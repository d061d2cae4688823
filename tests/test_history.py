"""history.csv has one header and one row per step; events (restarts, rollbacks) go to events.csv."""
from __future__ import annotations

import csv

from pinnit import parse_config
from pinnit.runs import run
from pinnit.outputs.history import history_columns, split_history, write_history

HISTORY = [
    {"step": 10, "stage": "adam", "loss_pde": 0.5, "loss_total": 0.7, "lr": 1e-3},
    {"step": 20, "stage": "adam", "loss_pde": 0.4, "loss_total": 0.6, "lr": 1e-3, "rel_l2_u": 0.3,
     "rel_l2_u_final_t": 0.5},
    {"step": 70, "stage": "lbfgs", "loss_pde": 0.1, "loss_total": 0.2, "lr": 1.0},
    {"step": 70, "stage": "lbfgs", "event": "L-BFGS restart 1"},
    {"step": 90, "stage": "lbfgs", "loss_pde": 0.05, "loss_total": 0.1, "lr": 1.0},
    {"step": 90, "stage": "lbfgs", "loss_pde": 0.05, "loss_total": 0.1, "lr": 1.0, "rel_l2_u": 0.01,
     "rel_l2_u_final_t": 0.02},
]


def _read(path):
    with open(path) as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def test_split_moves_events_out_and_merges_rows_of_one_step():
    rows, events = split_history(HISTORY)
    assert [r["step"] for r in rows] == [10, 20, 70, 90]
    assert rows[-1]["rel_l2_u"] == 0.01  # the evaluation at step 90 kept, not a second row
    assert events == [{"step": 70, "stage": "lbfgs", "event": "L-BFGS restart 1"}]
    assert history_columns(rows) == ["step", "stage", "loss_pde", "loss_total", "lr", "rel_l2_u",
                                     "rel_l2_u_final_t"]


def test_written_files_have_fixed_headers(tmp_path):
    write_history(tmp_path, HISTORY)
    header, rows = _read(tmp_path / "history.csv")
    assert header == ["step", "stage", "loss_pde", "loss_total", "lr", "rel_l2_u", "rel_l2_u_final_t"]
    assert [int(r["step"]) for r in rows] == [10, 20, 70, 90]
    assert rows[0]["rel_l2_u"] == "" and float(rows[1]["rel_l2_u_final_t"]) == 0.5
    header, events = _read(tmp_path / "events.csv")
    assert header == ["step", "stage", "event"] and events[0]["event"] == "L-BFGS restart 1"
    write_history(tmp_path, HISTORY[:1])  # no events: a header-only events.csv
    assert _read(tmp_path / "events.csv") == (["step", "stage", "event"], [])


def test_a_run_with_lbfgs_restarts_writes_unique_steps(burgers_cfg):
    # a loose tolerance_change makes the float64 L-BFGS stop early and restart while the loss still falls
    res = run(parse_config(burgers_cfg, ["training.lbfgs.tolerance_change=1e-3", "training.lbfgs.iterations=60",
                                         "training.lbfgs.restarts=2"]))
    header, rows = _read(res.path / "history.csv")
    steps = [int(r["step"]) for r in rows]
    assert "event" not in header and len(steps) == len(set(steps)) and steps == sorted(steps)
    assert header[:2] == ["step", "stage"] and "rel_l2_u" in header
    _, events = _read(res.path / "events.csv")
    assert res.metrics["restarts"] >= 1 and len(events) == res.metrics["restarts"]
    assert all(e["event"].startswith("L-BFGS restart") for e in events)


def _adam_run(burgers_cfg):
    """40 Adam steps (evaluated every 20) of the small Burgers config: (result, history header, history rows)."""
    cfg = {**burgers_cfg, "training": {k: v for k, v in burgers_cfg["training"].items() if k not in ("adam", "lbfgs")}}
    cfg["training"]["stages"] = {"adam": {"iterations": 40, "lr": 3e-3}}
    res = run(parse_config(cfg))
    return (res, *_read(res.path / "history.csv"))


def test_history_records_seconds_since_the_run_began(burgers_cfg):
    """``time_s`` follows ``lr``, never decreases, and ends within the run's wall time (the resumed case is in
    test_levenberg_marquardt.py: the clock continues across --resume)."""
    res, header, rows = _adam_run(burgers_cfg)
    assert header[header.index("lr") + 1] == "time_s"
    times = [float(r["time_s"]) for r in rows]
    assert len(times) == 4 and all(0 < a <= b for a, b in zip(times, times[1:]))
    assert times[-1] <= res.metrics["wall_time_s"] + 1e-3


def test_history_records_the_seconds_spent_evaluating(burgers_cfg):
    """``eval_s`` follows ``time_s``: the evaluations' share of it so far, growing at evaluation rows only
    (every 20 steps here), so ``time_s − eval_s`` (training alone) never decreases either."""
    _, header, rows = _adam_run(burgers_cfg)
    assert header[header.index("time_s") + 1] == "eval_s"
    spent = [float(r["eval_s"]) for r in rows]
    evaluated = [bool(r["rel_l2_u"]) for r in rows]
    assert evaluated == [False, True, False, True]
    assert spent[0] == 0 and 0 < spent[1] == spent[2] < spent[3]
    train = [float(r["time_s"]) - e for r, e in zip(rows, spent)]
    assert all(0 < a <= b for a, b in zip(train, train[1:]))
