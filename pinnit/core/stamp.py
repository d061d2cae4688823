"""The provenance stamp every measured result carries: when, on what machine, with which torch, at which commit.

``pinnit run`` puts it in ``metrics.json`` and ``pinnit bench`` in ``bench.json``/``time_to_accuracy.json``
(key ``stamp``); the documentation's results pages print it above each table (:func:`stamp_line`), so a
number is never shown without the date, machine, torch version and commit that produced it.
"""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

#: The keys of a stamp, in order.
STAMP_KEYS = ("date", "machine", "torch", "commit", "commit_dirty", "load_average")


def git_commit(where: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the repository holding ``where`` (default: this package); None outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(where or Path(__file__).parent),
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _dirty(where: Path) -> bool | None:
    """True when tracked files differ from the commit (the numbers may not be reproducible from it)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                             capture_output=True, text=True, timeout=10)
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware")):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def stamp() -> dict[str, Any]:
    """``{date (UTC, ISO 8601), machine {cpu, cores, system}, torch, commit, commit_dirty, load_average}`` for now
    (``load_average``: the 1, 5 and 15 minute load averages, so a result measured on a busy machine says so)."""
    import torch

    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "system": platform.system()},
            "torch": torch.__version__, **code_state(),
            "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def code_state() -> dict[str, Any]:
    """``{commit, commit_dirty}`` of this package's repository now: what a run records when it starts, because
    the code a long run trains with is the code it loaded, not the commit checked out when it ends."""
    here = Path(__file__).parent
    return {"commit": git_commit(here), "commit_dirty": _dirty(here)}


def started_at(s: dict[str, Any], start: dict[str, Any] | None) -> dict[str, Any]:
    """Stamp ``s`` (taken at the end) with the commit of ``start`` (:func:`code_state` at the start), keeping the
    end's commit as ``commit_at_end`` when it differs. ``start`` None (an older run directory): ``s`` unchanged."""
    if not start or "commit" not in start:
        return s
    out = {**s, "commit": start["commit"], "commit_dirty": start.get("commit_dirty")}
    if s.get("commit") != start["commit"]:
        out["commit_at_end"] = s.get("commit")
    return out


def stamp_line(s: dict[str, Any] | None) -> str:
    """``measured 2026-12-07 on Intel Xeon …, 2 cores, torch 2.13.0, commit abc1234`` (or says it is missing)."""
    if not s:
        return "not stamped (no date, machine, torch version or commit recorded)"
    m = s.get("machine") or {}
    commit = (s.get("commit") or "unknown")[:7] + (" with local changes" if s.get("commit_dirty") else "")
    if s.get("commit_at_end"):
        commit += f" (at its start; {str(s['commit_at_end'])[:7]} at its end)"
    load = s.get("load_average")
    return (f"measured {str(s.get('date', '?'))[:10]} on {m.get('cpu', '?')}, {m.get('cores', '?')} cores"
            + (f" (load average {load[0]:.1f})" if load else "") + f", torch {s.get('torch', '?')}, commit {commit}")
