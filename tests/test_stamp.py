"""The provenance stamp: a run is stamped with the commit it started from, not the one checked out at its end."""
from __future__ import annotations

import json

from pinnit import parse_config
from pinnit.core.stamp import git_commit, started_at, stamp, stamp_line
from pinnit.runs import run

START = {"commit": "f" * 40, "commit_dirty": False}


def test_a_stamp_takes_the_commit_of_the_start_and_keeps_the_end_one_when_they_differ():
    end = {**stamp(), "commit": "a" * 40, "commit_dirty": True}
    s = started_at(end, START)
    assert s["commit"] == "f" * 40 and s["commit_dirty"] is False and s["commit_at_end"] == "a" * 40
    assert s["date"] == end["date"] and s["load_average"] == end["load_average"]
    assert "commit fffffff (at its start; aaaaaaa at its end)" in stamp_line(s)
    same = started_at({**end, "commit": "f" * 40}, START)
    assert "commit_at_end" not in same and "at its start" not in stamp_line(same)
    assert started_at(end, None) == end  # a run directory from before started.json held the commit


def test_a_run_is_stamped_with_the_commit_it_started_from(burgers_cfg, monkeypatch):
    """Code edited or committed while a run trains does not change what the run trained with: metrics.json
    carries the commit recorded in started.json when the run began."""
    import pinnit.runs.pipeline as pipeline

    monkeypatch.setattr(pipeline, "code_state", lambda: dict(START))
    res = run(parse_config(burgers_cfg, ["training.adam.iterations=5", "training.lbfgs.iterations=0"]))
    started = json.loads((res.path / "started.json").read_text())
    assert started["commit"] == "f" * 40
    s = res.metrics["stamp"]
    assert s["commit"] == res.metrics["git_commit"] == "f" * 40
    assert s.get("commit_at_end") == git_commit()  # this checkout's HEAD (None outside git: then no key)
