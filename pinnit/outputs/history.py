"""``history.csv`` and ``events.csv``: the training history as two tables with fixed columns.

The trainer's history is one list of rows; metric rows (``step, stage, loss_<term>…, lr, time_s``, plus
``rel_l2_<field>…`` at evaluation steps; ``time_s`` is the wall time in seconds since the run began, carried in
the checkpoint so that a resumed run continues it, and ``eval_s`` the part of it spent evaluating against the
reference, so that ``time_s − eval_s`` is the training time alone) and event rows (``step, stage, event``: an L-BFGS restart, a
rollback) are split here, so ``history.csv`` has one header — fixed by its first row's columns plus every
error column the run reports — and one row per step, and ``events.csv`` lists what happened where.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core.atomic_files import write_csv

HISTORY_FILE = "history.csv"
EVENTS_FILE = "events.csv"
EVENT_COLUMNS = ("step", "stage", "event")


def split_history(history: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(metric rows, one per step in order of appearance; event rows). A later row for a step already
    logged (e.g. a stage ending where the next begins) updates that step's row instead of repeating it."""
    rows: dict[int, dict[str, Any]] = {}
    events = []
    for row in history:
        if "event" in row:
            events.append({k: row.get(k, "") for k in EVENT_COLUMNS})
        elif row.get("step") in rows:
            rows[row["step"]].update(row)
        else:
            rows[row["step"]] = dict(row)
    return list(rows.values()), events


def history_columns(rows: list[Mapping[str, Any]]) -> list[str]:
    """``step, stage, loss_*…, lr, time_s, eval_s`` as in the first row, then the error columns (``rel_l2_*``), then any
    other column, in order of first appearance."""
    seen: list[str] = []
    for row in rows:
        seen.extend(k for k in row if k not in seen)
    first = list(rows[0]) if rows else ["step", "stage"]
    return first + [k for k in seen if k not in first and k.startswith("rel_l2_")] + \
        [k for k in seen if k not in first and not k.startswith("rel_l2_")]


def write_history(folder: Path, history: Iterable[Mapping[str, Any]]) -> list[Path]:
    """Write ``history.csv`` and ``events.csv`` (header only when nothing happened) into ``folder``."""
    rows, events = split_history(history)
    write_csv(folder / HISTORY_FILE, rows, columns=history_columns(rows))
    write_csv(folder / EVENTS_FILE, events, columns=list(EVENT_COLUMNS))
    return [folder / HISTORY_FILE, folder / EVENTS_FILE]
