"""Time to accuracy: the wall-clock seconds a recipe needs until its error first goes below 1e-3 … 1e-6.

Each recipe (a shipped config name or a YAML file) is trained with ``pinnit run``'s pipeline for each seed.
``history.csv`` holds, at every evaluation step (``evaluation.every``), the relative L2 error
‖u − u_ref‖₂ / ‖u_ref‖₂ on the evaluation grid and ``time_s``, the wall time since the run began (the
evaluations themselves included, so times are upper bounds). For a threshold ε the time to accuracy is the
``time_s`` of the first evaluation row whose error is below ε; it is resolved to one evaluation interval and
is null when the run never gets there. The summary per recipe is the median over seeds, an unreached seed
counting as +∞ (so the median is null when half of the seeds or more never reach ε).

This is the measure of issue 24 ("what a user waits for is time to an error"); the optimizers it compares
are those of the recipes: e.g. Adam → L-BFGS (Liu & Nocedal, "On the limited memory BFGS method for large
scale optimization", 1989) and self-scaled Broyden (Urbán, Stefanou & Pons, "Unveiling the optimization
process of physics informed neural networks", JCP 2025; Kiyani et al., CMAME 2025).
"""
from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import PinnitError

#: Error levels whose first crossing is timed.
THRESHOLDS = (1e-3, 1e-4, 1e-5, 1e-6)
#: The recipes timed by default: the Burgers accuracy recipe (Adam → SSBroyden in float64), its shorter form
#: (more points, fewer iterations), its quick variant (Adam → L-BFGS in float32) and its Gauss–Newton-class
#: variant (Adam → Levenberg–Marquardt in float64), the optimizer recipes shipped for the main job. The CLI's
#: ``--recipes`` default repeats these names (tests/test_bench_tta.py holds them equal).
DEFAULT_RECIPES = ("burgers", "burgers_short", "burgers_fast", "burgers_lm")


def threshold_key(eps: float) -> str:
    """``1e-05`` → ``"1e-05"``: the JSON key of a threshold."""
    return f"{eps:.0e}"


def error_column(columns: Iterable[str]) -> str:
    """The main error of a history: the first ``rel_l2_<field>`` column (not a ``…_final_<time>`` slice)."""
    for c in columns:
        if c.startswith("rel_l2_") and "_final_" not in c:
            return c
    raise PinnitError("time to accuracy: the run's history has no rel_l2_<field> column (its problem has no "
                      "reference solution, or evaluation.every is 0)")


def error_curve(rows: Sequence[Mapping[str, Any]], column: str) -> list[tuple[float, float]]:
    """[(time_s, error), …] of the rows that carry an evaluation, in order."""
    out = []
    for row in rows:
        err, t = row.get(column), row.get("time_s")
        if err not in (None, "") and t not in (None, ""):
            out.append((float(t), float(err)))
    return out


def seconds_to(curve: Sequence[tuple[float, float]], thresholds: Sequence[float] = THRESHOLDS) -> dict[str, float | None]:
    """{threshold: time_s of the first point with error < threshold, or None}."""
    out: dict[str, float | None] = {}
    for eps in thresholds:
        out[threshold_key(eps)] = next((t for t, e in curve if e < eps), None)
    return out


def median_seconds(values: Sequence[float | None]) -> float | None:
    """Median over seeds with an unreached seed (None) as +∞; None when that median is infinite."""
    if not values:
        return None
    med = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(med) else med


def read_history(path: str | Path) -> list[dict[str, str]]:
    """The rows of a run's ``history.csv`` (strings; empty where a column does not apply)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def history_record(rows: Sequence[Mapping[str, Any]], thresholds: Sequence[float] = THRESHOLDS) -> dict[str, Any]:
    """One seed's record from its history: the error column, the curve and the seconds to each threshold."""
    column = error_column(rows[0].keys() if rows else ())
    curve = error_curve(rows, column)
    return {"error": column, "seconds_to": seconds_to(curve, thresholds), "curve": [list(p) for p in curve],
            "final_error": curve[-1][1] if curve else None}


def summarise(recipe: str, seeds: Sequence[dict[str, Any]], thresholds: Sequence[float] = THRESHOLDS) -> dict[str, Any]:
    """The recipe's entry: per-seed records and the median seconds to each threshold."""
    keys = [threshold_key(e) for e in thresholds]
    finals = [s["final_error"] for s in seeds if s["final_error"] is not None]
    reported = [s["run_error"] for s in seeds if s.get("run_error") is not None]
    return {"recipe": recipe, "seeds": list(seeds),
            "median_seconds_to": {k: median_seconds([s["seconds_to"][k] for s in seeds]) for k in keys},
            "median_final_error": statistics.median(finals) if finals else None,
            "median_run_error": statistics.median(reported) if reported else None,
            "median_wall_time_s": statistics.median(s["wall_time_s"] for s in seeds) if seeds else None}


def recipe_config(recipe: str, seed: int, *, threads: int, eval_every: int | None, overrides: Sequence[str]):
    """The validated run config of ``recipe`` at ``seed`` (a one-line error for a bad name, key or value)."""
    from ..core.shipped import resolve_config
    from ..runs import load_config

    sets = [f"training.seed={seed}", f"training.threads={threads}", "output.progress=false", "output.plots=false",
            *([f"evaluation.every={eval_every}"] if eval_every else []), *overrides]
    cfg = load_config(resolve_config(recipe, quiet=True), sets)
    if not cfg.evaluation.every:
        raise PinnitError(f"time to accuracy: recipe {recipe} has evaluation.every 0, so its error is never "
                          "recorded during training; pass --eval-every N")
    return cfg


def check_recipes(recipes: Sequence[str], *, seeds: int, threads: int, eval_every: int | None,
                  overrides: Sequence[str]) -> None:
    """Fail before any training when an argument or a recipe is wrong (so a long bench does not stop late)."""
    if seeds < 1 or (eval_every is not None and eval_every < 1):
        raise PinnitError("bench: --seeds and --eval-every must be ≥ 1")
    if not recipes:
        raise PinnitError("bench: --recipes is empty; give shipped config names or YAML files, e.g. burgers")
    for recipe in recipes:
        recipe_config(recipe, 0, threads=threads, eval_every=eval_every, overrides=overrides)


def train_seed(recipe: str, seed: int, *, threads: int, eval_every: int | None, overrides: Sequence[str],
               run_dir: Path) -> dict[str, Any]:
    """Train ``recipe`` at ``seed`` into ``run_dir`` (``OUT/tta/<recipe>-seed<k>``) and return its record, plus
    wall time, final metrics and the run directory relative to OUT (no machine's absolute path in the JSON)."""
    from ..runs.pipeline import run

    cfg = recipe_config(recipe, seed, threads=threads, eval_every=eval_every, overrides=overrides)
    started = time.perf_counter()
    result = run(cfg, overwrite=True, run_dir=run_dir)
    record = history_record(read_history(result.path / "history.csv"))
    # the run's own error: of the weights it saved (the lowest-loss ones with training.restore_best), which may
    # differ from the last evaluation during training (``final_error``)
    return {"seed": seed, **record, "run_error": result.metrics.get(record["error"]),
            "wall_time_s": result.metrics.get("wall_time_s", time.perf_counter() - started),
            "status": result.metrics.get("status"), "iterations": result.metrics.get("iterations"),
            "run_dir": Path(result.path).relative_to(Path(run_dir).parent.parent).as_posix()}


def time_to_accuracy(recipes: Sequence[str] = DEFAULT_RECIPES, *, seeds: int = 3, threads: int = 1,
                     eval_every: int | None = None, overrides: Sequence[str] = (), out: str | Path = "outputs/bench",
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train every recipe for seeds 0 … ``seeds``−1 (run directories under ``out/tta/``) and summarise."""
    from ..core.stamp import stamp

    check_recipes(recipes, seeds=seeds, threads=threads, eval_every=eval_every, overrides=overrides)
    entries = []
    for recipe in recipes:
        label = Path(recipe).stem
        records = []
        for seed in range(seeds):
            log(f"  time to accuracy: {label}, seed {seed} …")
            rec = train_seed(recipe, seed, threads=threads, eval_every=eval_every, overrides=overrides,
                             run_dir=Path(out) / "tta" / f"{label}-seed{seed}")
            final = "—" if rec["final_error"] is None else f"{rec['final_error']:.3g}"
            log(f"    final {rec['error']} {final} after {rec['wall_time_s']:.0f} s; seconds to "
                + ", ".join(f"{k}: {'—' if v is None else f'{v:.0f}'}" for k, v in rec["seconds_to"].items()))
            records.append(rec)
        entries.append(summarise(label, records))
    return {"stamp": stamp(), "settings": {"recipes": list(recipes), "seeds": seeds, "threads": threads,
                                           "eval_every": eval_every, "overrides": list(overrides),
                                           "thresholds": list(THRESHOLDS)},
            "recipes": entries}
