"""``pinnit report``: the tables and figures of a study directory, written to ``STUDY_DIR/report/``.

- ``runs.csv``: one row per planned run — id, method, each axis, seed, outcome and status, every error metric
  of the final and of the best (lowest-loss) weights, best and final total loss, convergence slowness,
  iterations, wall time, start-up before the first step (``startup_s``: compilation, mostly), the failure or
  divergence message.
- ``summary.csv`` / ``summary.md``: one row per method × cell (a combination of the non-seed axis values):
  planned runs, n (completed runs, the ones the statistics use), mean ± std (sample std, ddof = 1) and median
  over seeds of the chosen error metric, of the best loss and of the convergence slowness (KGI preprint), and the
  other outcomes counted (diverged / failed / interrupted / missing).
- ``figures/``: see :mod:`pinnit.studies.figures`.
- ``verdicts.json`` / ``verdicts.md``: a verdict for each of the study's claims (:mod:`pinnit.studies.verdicts`).
- ``summary.md`` ends with the study file's leading comment (what it reduces against its source, and why).
- ``provenance.json``: the commits, machines and dates of the runs' stamps, and the study's span
  (:mod:`pinnit.studies.provenance`); its one line heads ``summary.md``.
- ``signal.md`` / ``signal.json`` (with the init diagnostics): each cell × method's network at initialization beside
  its trained medians (:mod:`pinnit.studies.signal_table`).

The error metric is read for the chosen weights: ``best`` (default) = ``errors_best`` of metrics.json (the
lowest-loss weights), falling back to the final weights' errors for runs that have none; ``final`` =
``errors_final`` (or the top-level ``rel_l2_*`` of runs written before best-weights tracking).
"""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import PinnitError
from ..core.atomic_files import write_csv, write_json, write_text
from .results import OUTCOMES, WEIGHTS, RunRecord, Study, load_study, number, value_label

REPORT_DIR = "report"


def default_metric(study: Study) -> str:
    """The claims' default error: ``rel_l2_mean`` (the mean over fields) when the runs report it, else
    ``rel_l2_u`` when present, else the first relative L2 error they report."""
    keys = study.error_keys()
    for key in ("rel_l2_mean", "rel_l2_u"):
        if key in keys:
            return key
    return keys[0] if keys else "rel_l2_u"


def check_choice(study: Study, weights: str, metric: str) -> None:
    if weights not in WEIGHTS:
        raise PinnitError(f"--weights {weights!r}: expected one of {', '.join(WEIGHTS)}")
    keys = study.error_keys()
    if keys and metric not in keys:
        raise PinnitError(f"--metric {metric!r}: not reported by this study's runs; available: {', '.join(keys)}")


def run_rows(study: Study) -> list[dict[str, Any]]:
    """The rows of runs.csv."""
    keys = study.error_keys()
    rows = []
    for r in study.runs:
        m = r.metrics or {}
        row: dict[str, Any] = {"id": r.id, "method": study.group(r)}
        row.update({a: value_label(r.axes.get(a, "")) for a in study.axes})
        row.update({"seed": r.seed, "outcome": r.outcome, "status": r.status})
        final, best = r.errors("final"), r.errors("best")
        for k in keys:
            row[f"{k}_final"] = final.get(k)
            row[f"{k}_best"] = best.get(k)
        iterations = m.get("iterations")
        iterations = [_of(v, int) for v in (iterations.values() if isinstance(iterations, dict) else [iterations])]
        row.update({"best_loss": r.best_loss, "final_loss": r.final_loss, "slowness": r.slowness(),
                    "best_step": _of(m.get("best_step"), int), "restored_best": _of(m.get("restored_best"), bool),
                    "iterations": None if None in iterations else sum(iterations),
                    "wall_time_s": number(m.get("wall_time_s")), "startup_s": r.startup_s(), "message": r.message})
        rows.append(row)
    return rows


def _of(value: Any, kind: type) -> Any:
    """``value`` when it is a ``kind`` (a bool is no int here), else None: metrics.json may have been edited."""
    return value if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)) else None


def _stats(values: list[float]) -> dict[str, float | None]:
    v = np.array([x for x in values if x is not None], dtype=float)
    return {"mean": float(v.mean()) if v.size else None,
            "std": float(v.std(ddof=1)) if v.size > 1 else None,
            "median": float(np.median(v)) if v.size else None}


def cells(study: Study) -> dict[tuple[str, tuple], list[RunRecord]]:
    """Runs grouped by (method, cell), cells in plan order."""
    groups: dict[tuple[str, tuple], list[RunRecord]] = {}
    for r in study.runs:
        groups.setdefault((study.group(r), study.cell(r)), []).append(r)
    return groups


def summary_rows(study: Study, metric: str, weights: str) -> list[dict[str, Any]]:
    """One row per method × cell; statistics over the completed runs only (the others are counted)."""
    rows = []
    for (method, cell), runs in sorted(cells(study).items(), key=lambda kv: _cell_order(study, kv[0])):
        done = [r for r in runs if r.outcome == "completed"]
        row: dict[str, Any] = {"method": method, **dict(zip(study.cell_axes, (value_label(c) for c in cell)))}
        row.update({"planned": len(runs), "n": len(done)})
        quantities = {metric: [r.error(metric, weights)[0] for r in done],
                      "best_loss": [r.best_loss for r in done], "slowness": [r.slowness() for r in done]}
        for name, values in quantities.items():
            row.update({f"{name}_{k}": v for k, v in _stats(values).items()})
        fallbacks = sum(r.error(metric, weights)[1] != weights for r in done)
        row.update({o: sum(r.outcome == o for r in runs) for o in OUTCOMES if o != "completed"})
        row["weights"] = weights if not fallbacks else f"{weights} ({fallbacks} final)"
        rows.append(row)
    return rows


def header_lines(study: Study) -> list[str]:
    """The study file's leading comment (what it reduces against its source, and why), quoted."""
    try:
        text = (study.path / "study.yaml").read_text(encoding="utf-8")
    except OSError:
        return []
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line[1:].strip())
    if not header:
        return []
    return ["", "## The study file's header", "", *(f"> {line}" if line else ">" for line in header)]


def startup_lines(study: Study) -> list[str]:
    """One sentence on the time before the first step (compilation, mostly) over the completed runs."""
    pairs = [(r.startup_s(), number((r.metrics or {}).get("wall_time_s"))) for r in study.runs if r.outcome == "completed"]
    pairs = [(s, w) for s, w in pairs if s is not None and w]
    if not pairs:
        return []
    start, share = np.array([s for s, _ in pairs]), np.array([s / w for s, w in pairs])
    return ["", f"Start-up before the first step (assembly and compilation; `startup_s` in runs.csv) over "
                f"{len(pairs)} completed runs: median {np.median(start):.1f} s ({100 * np.median(share):.1f} % of a "
                f"run's wall time), max {start.max():.1f} s ({100 * share.max():.1f} %)."]


def _cell_order(study: Study, key: tuple[str, tuple]) -> tuple[int, int]:
    """Cells in order of first appearance in the plan, methods in their order within each cell."""
    method, cell = key
    first = next(i for i, r in enumerate(study.runs) if study.cell(r) == cell)
    return first, study.methods.index(method)


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"
    return str(x)


def summary_markdown(study: Study, rows: list[dict], metric: str, weights: str, figures: list[str]) -> str:
    """The Markdown summary; ``figures`` are paths relative to the report folder."""
    counts = study.counts()
    which = "best weights (the lowest-loss weights)" if weights == "best" else "final weights (last step)"
    done = [r for r in study.runs if r.outcome == "completed"]
    fallbacks = sum(r.error(metric, weights)[1] != weights for r in done)
    if fallbacks:
        which += (f"; {fallbacks} of {len(done)} completed runs report no best-weights errors (written before "
                  "best-weights tracking), so their final weights' errors are used")
    lines = [f"# Study `{study.name}`", "",
             f"{len(study.runs)} planned runs: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES) + ".", "",
             f"Error metric: `{metric}` of the {which}. Statistics are over the completed runs of each cell "
             "(n); std is the sample standard deviation (ddof = 1). Convergence slowness = mean of the "
             "loss curve / initial loss (KGI preprint). Bold: the lowest median error in the cell.", ""]
    axes = study.cell_axes
    head = ["method", *axes, "n / planned", f"{metric} mean ± std", "median", "best loss mean ± std", "median",
            "slowness mean ± std", "median", "diverged", "failed", "interrupted", "missing"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    medians: dict[tuple, list[float]] = {}
    for row in rows:
        if row[f"{metric}_median"] is not None:
            medians.setdefault(tuple(row.get(a) for a in axes), []).append(row[f"{metric}_median"])
    for row in rows:
        med, others = row[f"{metric}_median"], medians.get(tuple(row.get(a) for a in axes), [])
        bold = med is not None and len(others) > 1 and med == min(others)  # only when methods can be compared
        cells_ = [row["method"], *(str(row.get(a)) for a in axes), f"{row['n']} / {row['planned']}"]
        for name in (metric, "best_loss", "slowness"):
            mean, std, median = (row[f"{name}_{k}"] for k in ("mean", "std", "median"))
            text = _fmt(median)
            cells_ += [_fmt(mean) if std is None else f"{_fmt(mean)} ± {_fmt(std)}",
                       f"**{text}**" if bold and name == metric else text]
        cells_ += [str(row[o]) for o in ("diverged", "failed", "interrupted", "missing")]
        lines.append("| " + " | ".join(cells_) + " |")
    lines += startup_lines(study)
    lines += header_lines(study)
    problems = [r for r in study.runs if r.message]
    if problems:
        lines += ["", "## Runs that did not complete", ""]
        lines += [f"- `{r.id}` ({r.outcome}): {r.message}" for r in problems[:50]]
        if len(problems) > 50:
            lines.append(f"- … and {len(problems) - 50} more (see runs.csv)")
    missing = Counter(r.outcome for r in study.runs)["missing"]
    if missing:
        lines += ["", f"{missing} planned runs have no run directory yet (not started)."]
    if figures:
        lines += ["", "## Figures", ""] + [f"- [{f}]({f})" for f in figures]
    return "\n".join(lines) + "\n"


def write_report(study_dir: str | Path, weights: str = "best", metric: str | None = None, *,
                 figures: bool = True, diagnose: bool = True) -> Path:
    """Write runs.csv, summary.csv, summary.md, verdicts, the figures and (with ``diagnose``) the signal table
    (:mod:`pinnit.studies.signal_table`) into ``STUDY_DIR/report``; returns that folder."""
    return build_report(load_study(study_dir), weights, metric, figures=figures, diagnose=diagnose)[0]


def build_report(study: Study, weights: str = "best", metric: str | None = None, *, figures: bool = True,
                 diagnose: bool = True, claims: list | None = None) -> tuple[Path, list[Path]]:
    """:func:`write_report` on a loaded study; returns (report folder, files written). ``claims``: verdicts on
    these (:class:`~pinnit.studies.claims.Claim`) instead of the ones plan.json holds."""
    metric = metric or default_metric(study)
    check_choice(study, weights, metric)
    claims = study_claims(study) if claims is None else claims
    if claims:
        check_study_claims(study, claims)
    out = study.path / REPORT_DIR
    write_csv(out / "runs.csv", run_rows(study))
    rows = summary_rows(study, metric, weights)
    write_csv(out / "summary.csv", rows)
    paths: list[Path] = []
    if figures:
        from .figures import write_figures

        shutil.rmtree(out / "figures", ignore_errors=True)  # no stale figure of an earlier report's axes
        paths = write_figures(study, rows, metric, weights, out / "figures", diagnose=diagnose)
    rel = [p.relative_to(out).as_posix() for p in paths]
    summary = summary_markdown(study, rows, metric, weights, rel)
    verdict_files = write_verdicts(study, claims, out)
    if verdict_files:
        summary += "\n## Claims\n\nVerdicts: [verdicts.md](verdicts.md) (and verdicts.json).\n"
    signal_files = []
    if figures and diagnose:
        from .signal_table import write_signal_table

        signal_files = write_signal_table(study, rows, metric, weights, out)
    if signal_files:
        summary += "\n## Signal at initialization\n\nPer cell and method: [signal.md](signal.md) (and signal.json).\n"
    from .provenance import provenance_line, study_provenance

    provenance = study_provenance(study)
    write_json(out / "provenance.json", provenance)
    summary = summary.replace("\n\n", f"\n\n{provenance_line(provenance)}\n\n", 1)
    write_text(out / "summary.md", summary)
    return out, [out / "runs.csv", out / "summary.csv", out / "summary.md", out / "provenance.json",
                 *verdict_files, *signal_files, *paths]


def study_claims(study: Study) -> list:
    """The claims plan.json holds, validated (a hand-edited one fails in one line)."""
    from .claims import parse_claims

    return parse_claims(study.claims, f"{study.path / 'plan.json'}")


def check_study_claims(study: Study, claims: list) -> None:
    """Claims must name this study's methods, axes and values (one-line PinnitError otherwise)."""
    from .claims import check_claims

    methods = [m for m in study.methods] if any(r.method for r in study.runs) else []
    axes: dict[str, list] = {}
    for r in study.runs:
        for key in study.axes:
            values = axes.setdefault(key, [])
            if key in r.axes and r.axes[key] not in values:
                values.append(r.axes[key])
    check_claims(claims, methods, axes, lambda path, msg: PinnitError(f"study {study.name}: {path}: {msg}"))


def write_verdicts(study: Study, claims: list, out: Path) -> list[Path]:
    """verdicts.json and verdicts.md in ``out`` (stale ones removed when the study states no claims)."""
    import json

    from .verdicts import study_verdicts, verdicts_markdown

    paths = [out / "verdicts.json", out / "verdicts.md"]
    if not claims:
        for path in paths:
            path.unlink(missing_ok=True)
        return []
    verdicts = study_verdicts(study, claims)
    write_text(paths[0], json.dumps({"study": study.name, "claims": verdicts}, indent=1) + "\n")
    write_text(paths[1], verdicts_markdown(verdicts, study.name))
    return paths


def one_line(study: Study) -> str:
    """``study NAME: 12 planned — 8 completed, 1 diverged, ...`` for the CLI."""
    counts = study.counts()
    return f"study {study.name}: {len(study.runs)} planned — " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
