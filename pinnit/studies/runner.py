"""Run a study: expand, prepare the study directory, skip finished runs, resume interrupted ones, execute.

Re-running the same study continues it: runs whose metrics.json says ``completed`` or ``diverged`` are
kept, interrupted ones resume from their checkpoint, failed or missing ones start afresh. SIGINT/SIGTERM
stop launching runs, let the running ones checkpoint, and exit 130.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..runs import parse_config
from ..config.dialect import as_stages
from ..core.errors import PinnitError
from .executors import EXECUTORS, ExecutorOptions, StudyStop
from .claims import check_metric_fields, describe_claim
from .expand import PlannedRun, expand
from .spec import Study, load_study
from .state import PLAN_FILE, prepare_study_dir, read_plan, run_state, study_lock

DEFAULT_ROOT = Path("outputs") / "studies"


@dataclass
class StudyPlan:
    """The expanded runs and where they live."""

    name: str
    study_dir: Path
    runs: list[PlannedRun]
    axes: list[str]
    study: Study | None = None  # None when continued from an existing study directory's plan.json

    def states(self) -> dict[str, str]:
        return {r.id: run_state(self.study_dir / r.run_dir) for r in self.runs}


def load_plan(source: str | Path, *, study_dir: str | Path | None = None,
              overrides: list[str] | tuple[str, ...] = ()) -> StudyPlan:
    """Expand a study file, or read back a study directory's plan.json (``pinnit study STUDY_DIR``)."""
    src = Path(source)
    if src.is_dir():
        plan = read_plan(src)
        if plan is None:
            raise PinnitError(f"{src}: not a study directory (no {PLAN_FILE}); give a study file")
        if overrides:
            raise PinnitError("--set applies to a study file, not to an existing study directory")
        runs = [_planned(r, f"{src / PLAN_FILE}: runs[{i}]") for i, r in enumerate(plan["runs"])]
        return StudyPlan(plan["name"] or src.name, Path(study_dir) if study_dir else src, runs, plan["axes"] or [])
    study = load_study(src, overrides)
    runs = expand(study)
    if study.spec.claims and runs:
        from ..problems import build_problem

        label = study.source.name if study.source else study.name
        outputs = list(build_problem(runs[0].config["problem"], "problem").outputs)
        check_metric_fields(study.spec.claims, outputs,
                            lambda path, msg: PinnitError(f"study {label}: {path}: {msg}"))
    where = Path(study_dir) if study_dir else DEFAULT_ROOT / study.name
    return StudyPlan(study.name, where, runs, study.varied_keys, study)


def _planned(entry: dict[str, Any], where: str) -> PlannedRun:
    """A plan.json run (already checked by :func:`plan_file.read_plan_file`), its config validated as
    ``pinnit run`` validates one, so that a hand-edited plan fails here in one line, before anything trains."""
    if entry["config"] is None or entry["seed"] is None:
        raise PinnitError(f"{where}: needs 'seed' and 'config'")
    try:
        parse_config(entry["config"])
    except PinnitError as err:
        raise PinnitError(f"{where} ({entry['id']}): config: {err}") from None
    return PlannedRun(entry["id"], entry["method"], entry["axes"], entry["seed"], entry["config"])


def print_plan(plan: StudyPlan, out=None) -> None:
    """One line per run: id, method, axis values, seed, state on disk."""
    out = out or sys.stdout
    states = plan.states()
    width = max((len(r.id) for r in plan.runs), default=2)
    print(f"study {plan.name}: {len(plan.runs)} run(s) in {plan.study_dir}; varied: "
          f"{', '.join(plan.axes) or '-'}", file=out)
    print(f"{'id':<{width}}  {'method':<10}  {'seed':>4}  {'state':<11}  axes", file=out)
    for r in plan.runs:
        axes = ", ".join(f"{k}={_short(v)}" for k, v in r.axes.items()) or "-"
        stages = as_stages(r.config["training"])["stages"]  # an older plan.json holds training.adam / lbfgs
        lrs = "".join(f"; {name} lr {s['lr']:.3g}" for name, s in stages.items()
                      if s.get("lr") is not None and s["iterations"])
        print(f"{r.id:<{width}}  {r.method or '-':<10}  {r.seed:>4}  {states[r.id]:<11}  {axes}{lrs}", file=out)
    for claim in plan.study.spec.claims if plan.study is not None else []:
        print(f"claim {describe_claim(claim)}", file=out)


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class Outcome:
    """What one ``run_study`` call did."""

    skipped: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False

    def count(self, prefix: str) -> int:
        return sum(str(r.get("status", "")).startswith(prefix) for r in self.records)

    @property
    def exit_code(self) -> int:
        if self.stopped or self.count("interrupted"):
            return 130
        return 1 if self.count("failed") else 0


def compile_cache(study_dir: Path) -> str:
    """The compilation cache every run of the study shares: ``$TORCHINDUCTOR_CACHE_DIR`` when the user set
    one, else ``STUDY_DIR/compile_cache`` (on a cluster the study directory is on storage every node sees, so
    Ray workers on other machines share it too). Torch writes its per-user default into the environment the
    first time it compiles, so that value counts as unset."""
    from ..runtime.torch_private import default_compile_cache
    from .worker import CACHE_VARIABLE

    chosen, default = os.environ.get(CACHE_VARIABLE), default_compile_cache()
    if chosen and (default is None or os.path.abspath(chosen) != os.path.abspath(default)):
        return chosen
    return str(Path(study_dir).resolve() / "compile_cache")


def run_study(plan: StudyPlan, executor: str = "local", options: ExecutorOptions | None = None, *,
              overwrite: bool = False, out=None) -> Outcome:
    """Execute the plan's unfinished runs; finished ones stay as they are."""
    out = out or sys.stdout
    options = options or ExecutorOptions()
    if overwrite and plan.study is None:
        raise PinnitError("--overwrite needs the study file (the plan is rebuilt from it)")
    with study_lock(plan.study_dir) as lock:
        if plan.study is not None:
            prepare_study_dir(plan.study_dir, plan.study, plan.runs, overwrite)
        options = replace(options, log_dir=options.log_dir or str(plan.study_dir / "logs"), lock_fd=lock.fileno())
        return _execute(plan, executor, options, out)


def _execute(plan: StudyPlan, executor: str, options: ExecutorOptions, out) -> Outcome:
    states = plan.states()
    cache = compile_cache(plan.study_dir)
    tasks = [{"id": r.id, "run_dir": str(plan.study_dir / r.run_dir), "config": r.config,
              "resume": states[r.id] == "interrupted", "compile_cache": cache}
             for r in plan.runs if states[r.id] != "finished"]
    outcome = Outcome(skipped=len(plan.runs) - len(tasks))
    runner = EXECUTORS.get(executor, "--executor")(options)
    resumed = sum(t["resume"] for t in tasks)
    print(f"study {plan.name}: {len(plan.runs)} run(s): {outcome.skipped} finished (kept), {resumed} to resume, "
          f"{len(tasks) - resumed} to run; {plan.study_dir}", file=out)
    if not tasks:
        return outcome
    print(runner.describe(len(tasks)), file=out, flush=True)
    start = time.perf_counter()

    def done(record: dict[str, Any]) -> None:
        outcome.records.append(record)
        print(f"[{len(outcome.records)}/{len(tasks)}] {format_record(record)}  ({time.perf_counter() - start:.0f} s)",
              file=out, flush=True)

    with StudyStop() as stop:
        runner.execute(tasks, stop, done)
    outcome.stopped = stop.requested
    return outcome


def format_record(record: dict[str, Any]) -> str:
    parts = [f"{record['id']}: {record.get('status')}"]
    if record.get("error"):
        parts.append(record["error"])
    for key, value in record.items():
        if key.startswith("rel_l2") and isinstance(value, (int, float)) and math.isfinite(value):
            parts.append(f"{key} {value:.3g}")
    if record.get("wall_time_s") is not None:
        parts.append(f"{record['wall_time_s']:.1f} s")
    return ", ".join(parts)
