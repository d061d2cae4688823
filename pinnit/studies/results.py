"""Read a study directory — the contract written by ``pinnit study`` — into one record per planned run.

```
STUDY_DIR/plan.json          {"name", "study_file", "axes": [dotted keys], "runs": [{"id", "method", "axes",
                              "seed", "run_dir", "config"}, ...], "claims": [...] (optional)}
STUDY_DIR/runs/<id>/         an ordinary run directory (metrics.json, history.csv, ...)
STUDY_DIR/runs/<id>/failure.json   {"id", "error", "traceback", "time"} for a run that raised
```
Only files are read, so a partial, resumed or remotely executed study reads the same way. Each planned run
gets an *outcome*: ``completed``, ``diverged``, ``failed`` (failure.json, or an unreadable metrics.json),
``interrupted`` (metrics.json says so, or a started run directory without metrics.json) or ``missing``.

Convergence slowness (KGI preprint) = mean of the logged total-loss curve / its first value
(the rows of ``history.csv`` with a ``loss_total``; the trainer logs them at a fixed step interval).
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import PinnitError
from .plan_file import read_plan_file

OUTCOMES = ("completed", "diverged", "failed", "interrupted", "missing")
WEIGHTS = ("best", "final")
ERROR_PREFIXES = ("rel_l2_", "max_abs_")


def number(value: Any) -> float | None:
    """A finite float, or None (blank CSV cells, nulls, NaN, non-numbers)."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def value_label(value: Any) -> str:
    """How an axis value is printed: ``0.5``, ``tanh``, ``eoc(sigma_b=0.1)`` for an entry mapping."""
    if isinstance(value, dict):
        params = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
        name = value.get("name", "")
        return f"{name}({params})" if params else str(name) or json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass
class RunRecord:
    """One planned run and whatever its directory holds."""

    id: str
    method: str | None
    axes: dict[str, Any]
    seed: int | None
    run_dir: Path
    config: dict | None
    outcome: str = "missing"
    status: str = "missing"  #: metrics.json's status, or failed / missing / unfinished
    metrics: dict | None = None
    message: str = ""  #: the failure or divergence message
    _history: list[dict] | None = field(default=None, repr=False)

    def errors(self, weights: str) -> dict[str, float | None]:
        """Error metrics of the final or the best (lowest-loss) weights; {} when the run has none."""
        m = self.metrics or {}
        if weights == "best":
            return {str(k): number(v) for k, v in _mapping(m.get("errors_best")).items()}
        if _mapping(m.get("errors_final")):
            return {str(k): number(v) for k, v in m["errors_final"].items()}
        return {k: number(v) for k, v in m.items() if k.startswith(ERROR_PREFIXES)}  # older runs: final weights

    def error(self, metric: str, weights: str) -> tuple[float | None, str]:
        """(value, weights actually used): ``best`` falls back to the final weights when a run has no
        best-weights errors (written before best-weights tracking existed)."""
        if weights == "best":
            best = self.errors("best")
            if metric in best:
                return best[metric], "best"
        return self.errors("final").get(metric), "final"

    @property
    def best_loss(self) -> float | None:
        return number((self.metrics or {}).get("best_loss"))

    @property
    def final_loss(self) -> float | None:
        final = (self.metrics or {}).get("final_loss")
        return number(final.get("total")) if isinstance(final, dict) else number(final)

    def history(self) -> list[dict[str, Any]]:
        """The rows of history.csv (numbers as floats, blanks as None); [] when absent or unreadable."""
        if self._history is None:
            self._history = []
            path = self.run_dir / "history.csv"
            try:
                with path.open(newline="") as fh:
                    for row in csv.DictReader(fh):  # a row longer than the header puts the rest under None: dropped
                        self._history.append({k: (v if k in ("stage", "event") else number(v))
                                              for k, v in row.items() if isinstance(k, str)})
            except (OSError, csv.Error, UnicodeDecodeError):
                self._history = []
        return self._history

    def loss_curve(self, column: str = "loss_total") -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the logged rows that have a finite ``column``."""
        rows = [(r["step"], r[column]) for r in self.history() if r.get(column) is not None and r.get("step") is not None]
        data = np.array(rows, dtype=float).reshape(-1, 2)
        return data[:, 0], data[:, 1]

    def startup_s(self) -> float | None:
        """Seconds before the first step (assembly, the engine's discovery pass, compilation): the first logged
        row's ``time_s`` minus its steps at the run's median seconds per step (history.csv); None without two
        timed rows of the first stage."""
        rows = [r for r in self.history() if r.get("time_s") is not None and r.get("step") is not None
                and r.get("loss_total") is not None]
        rows = [r for r in rows if r.get("stage") == rows[0].get("stage")] if rows else []
        if len(rows) < 2:
            return None
        steps = np.array([r["step"] for r in rows], float)
        times = np.array([r["time_s"] for r in rows], float)
        per_step = np.diff(times) / np.maximum(np.diff(steps), 1)
        return float(max(times[0] - steps[0] * np.median(per_step), 0.0))

    def slowness(self) -> float | None:
        """Convergence slowness = mean(loss curve) / initial loss (KGI preprint)."""
        _, loss = self.loss_curve()
        if loss.size == 0 or loss[0] <= 0:
            return None
        return float(loss.mean() / loss[0])


@dataclass
class Study:
    """A study's plan and its run records, in plan order."""

    path: Path
    name: str
    axes: list[str]
    runs: list[RunRecord]
    claims: Any = field(default_factory=list)  #: plan.json's claims, as written (validated by the report)

    @cached_property
    def methods(self) -> list[str]:
        """The lines of every comparison: the runs' methods, or the values of the first categorical axis when
        the plan names no methods, or one group ``all``."""
        return list(dict.fromkeys(self.group(r) for r in self.runs))

    @cached_property
    def line_axis(self) -> str | None:
        """The axis that names the lines when the plan has no methods (None: methods name them)."""
        if any(r.method for r in self.runs):
            return None
        categorical = [a for a in self.cell_axes_all if a not in self.numeric_axes]
        return categorical[0] if categorical else None

    @cached_property
    def cell_axes_all(self) -> list[str]:
        return [a for a in self.axes if a.rsplit(".", 1)[-1] != "seed"]  # seeds are repeats, not cells

    @cached_property
    def cell_axes(self) -> list[str]:
        """Axes that define a table cell besides the method (seed axes excluded: seeds are repeats)."""
        line = self.line_axis
        return [a for a in self.cell_axes_all if a != line]

    @cached_property
    def numeric_axes(self) -> list[str]:
        out = []
        for a in self.cell_axes_all:
            values = [r.axes.get(a) for r in self.runs if r.axes.get(a) is not None]
            if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) \
                    and len(set(values)) > 1:
                out.append(a)
        return out

    def group(self, r: RunRecord) -> str:
        if r.method:
            return r.method
        line = self.line_axis
        return value_label(r.axes.get(line)) if line else "all"

    def cell(self, r: RunRecord, axes: list[str] | None = None) -> tuple:
        """The run's values of ``axes`` (default: the cell axes), printable and hashable."""
        return tuple(_hashable(r.axes.get(a)) for a in (self.cell_axes if axes is None else axes))

    def error_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for r in self.runs:
            for weights in WEIGHTS:
                keys.update(dict.fromkeys(r.errors(weights)))
        return sorted(keys, key=lambda k: (not k.startswith("rel_l2_"), k))

    def counts(self) -> dict[str, int]:
        return {o: sum(r.outcome == o for r in self.runs) for o in OUTCOMES}


def _hashable(value: Any) -> Any:
    return value_label(value) if isinstance(value, (dict, list)) else value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def load_study(study_dir: str | Path) -> Study:
    """Read ``plan.json`` and every run directory; a missing or malformed plan is a :class:`PinnitError`."""
    path = Path(study_dir)
    if not path.is_dir():
        raise PinnitError(f"{path}: no such study directory")
    plan = read_plan_file(path)
    if plan is None:
        raise PinnitError(f"{path}: not a study directory (no plan.json; `pinnit study STUDY.yaml` writes it)")
    runs = []
    for entry in plan["runs"]:
        record = RunRecord(id=entry["id"], method=entry["method"], axes=entry["axes"], seed=entry["seed"],
                           run_dir=path / entry["run_dir"], config=entry["config"])
        _read_run(record)
        runs.append(record)
    axes = plan["axes"]
    if axes is None:
        axes = list(dict.fromkeys(str(k) for r in runs for k in r.axes))
    return Study(path=path, name=str(plan.get("name") or path.name), axes=[str(a) for a in axes], runs=runs,
                 claims=plan.get("claims") or [])


def _read_run(r: RunRecord) -> None:
    """Fill outcome, status, metrics and message from the run directory."""
    failure, metrics = r.run_dir / "failure.json", r.run_dir / "metrics.json"
    if failure.exists():
        r.outcome = r.status = "failed"
        try:
            info = _read_json(failure)
            r.message = str(info.get("error") or "failed (no message)")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            r.message = "failed (failure.json unreadable)"
        r.message = r.message.strip().splitlines()[-1][:300] if r.message.strip() else r.message
        return
    if metrics.exists():
        try:
            r.metrics = _read_json(metrics)
            if not isinstance(r.metrics, dict):
                raise ValueError("not an object")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            r.metrics, r.outcome, r.status = None, "failed", "failed"
            r.message = f"metrics.json unreadable ({exc.__class__.__name__})"
            return
        r.status = str(r.metrics.get("status", "unknown"))
        if r.status == "completed":
            r.outcome = "completed"
        elif r.status == "diverged":
            r.outcome = "diverged"
            r.message = str(_mapping(r.metrics.get("diverged")).get("message", "diverged"))[:300]
        else:
            r.outcome = "interrupted"
            if not r.status.startswith("interrupted"):
                r.message = f"metrics.json: status {r.status[:80]!r} is none a run writes; a re-run resumes it"
        return
    if r.run_dir.is_dir() and any(r.run_dir.iterdir()):
        r.outcome, r.status = "interrupted", "unfinished"  # started, killed before metrics.json (or running)
        r.message = "no metrics.json (still running, or killed; resumable from its checkpoint)"
