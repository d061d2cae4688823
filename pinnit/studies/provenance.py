"""Where a study's numbers come from: ``report/provenance.json``, gathered from the stamps its runs wrote.

Each run's ``metrics.json`` carries the stamp of :mod:`pinnit.core.stamp` (date, machine, torch, commit, dirty
flag). The study's provenance lists the commits its runs were trained at (with counts), whether any was dirty,
the machines and torch versions, and the study's span: from the earliest run start (stamp date minus wall
time) to the latest run end, which is the wall time of the study when it ran in one go. A docs page that shows a
study's tables names these commits (tests/test_docs_results.py checks it).
"""
from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from .results import Study, number


def _when(text: Any) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return None


def study_provenance(study: Study) -> dict[str, Any]:
    """``{study, runs, commits {sha: n}, dirty, machines, torch, first_start, last_end, span_s, run_time_s}``
    over the runs that wrote metrics.json."""
    commits: Counter = Counter()
    machines: Counter = Counter()
    torches: Counter = Counter()
    starts, ends, walls, dirty = [], [], [], False
    for r in study.runs:
        m = r.metrics or {}
        s = m.get("stamp") if isinstance(m.get("stamp"), dict) else {}
        if not s:
            continue
        commits[str(s.get("commit"))] += 1
        dirty = dirty or bool(s.get("commit_dirty"))
        machine = s.get("machine") or {}
        machines[f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"] += 1
        torches[str(s.get("torch"))] += 1
        end, wall = _when(s.get("date")), number(m.get("wall_time_s"))
        if end is not None:
            ends.append(end)
            starts.append(end - datetime.timedelta(seconds=wall or 0.0))
        if wall:
            walls.append(wall)
    span = (max(ends) - min(starts)).total_seconds() if ends else None
    return {"study": study.name, "runs": sum(commits.values()), "commits": dict(commits.most_common()),
            "dirty": dirty, "machines": dict(machines), "torch": dict(torches),
            "first_start": min(starts).isoformat(timespec="seconds") if starts else None,
            "last_end": max(ends).isoformat(timespec="seconds") if ends else None,
            "span_s": span, "run_time_s": sum(walls)}


def provenance_line(p: dict[str, Any]) -> str:
    """One Markdown line: the commits, the dates, the span and the machine."""
    commits = ", ".join(f"`{c[:7]}` ({n} runs)" for c, n in p["commits"].items()) or "no stamped runs"
    span = f"{p['span_s'] / 60:.0f} min from first start to last end" if p.get("span_s") else "span unknown"
    dirty = " (some with uncommitted changes)" if p.get("dirty") else ""
    machine = "; ".join(p["machines"]) or "unknown machine"
    return (f"Trained at commit {commits}{dirty}, {p['first_start']} – {p['last_end']} ({span}; "
            f"{p['run_time_s'] / 3600:.1f} run-hours), on {machine}, torch {', '.join(p['torch'])}.")
