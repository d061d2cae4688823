"""The study's methods side by side at initialization: ``pinnit diagnose`` (:mod:`pinnit.diagnostics`) run on
one cell's resolved run configs, one per method, written to ``report/figures/init/`` (activation range, last
hidden layer histogram, gradient norms, χ₁ against depth; diagnostics.json, layers.csv).

The cell is the first one in plan order in which every method has a run; the seeds are those of its first
runs; each figure's title (and PNG Title metadata) names the study, the cell and the seed. MLP networks only
(the statistics are per Linear layer of one stack).
"""
from __future__ import annotations

from pathlib import Path

from ..core.errors import PinnitError
from .results import Study, value_label


def representative_runs(study: Study) -> dict:
    """{method: run} for the first cell in plan order that has a run with a config for every method."""
    methods = study.methods
    for cell in dict.fromkeys(study.cell(r) for r in study.runs):
        chosen = {}
        for r in study.runs:
            if study.cell(r) == cell and r.config and study.group(r) not in chosen:
                chosen[study.group(r)] = r
        if len(chosen) == len(methods):
            return {m: chosen[m] for m in methods}
    return {}


def diagnose_methods(study: Study, out: Path, samples: int = 1024) -> list[Path]:
    """Diagnose each method's network at initialization; returns the files written ([] when not applicable)."""
    runs = representative_runs(study)
    if len(runs) < 1 or any((r.config.get("network") or {}).get("arch", "mlp") != "mlp" for r in runs.values()):
        return []
    import torch

    from ..runs import parse_config
    from ..diagnostics.report import diagnose, write_report

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    results = []
    try:
        for method, r in runs.items():
            try:
                d = diagnose(parse_config(r.config), samples=samples)
            except (PinnitError, ValueError, OSError, RuntimeError) as exc:  # e.g. a plan from another version
                print(f"pinnit report: init diagnostics skipped for {method}: {exc}")
                continue
            d.label = d.summary["initializer"] = method
            for row in d.rows:
                row["initializer"] = method
            results.append(d)
    finally:
        torch.set_num_threads(threads)
    if not results:
        return []
    first = next(iter(runs.values()))
    meta = {"study": study.name, "cell": {a: value_label(first.axes.get(a)) for a in study.cell_axes},
            "runs": {m: r.id for m, r in runs.items()}, "samples": samples}
    cell = ", ".join(f"{a.rsplit('.', 1)[-1]}={meta['cell'][a]}" for a in study.cell_axes) or "its only cell"
    seeds = ", ".join(str(s) for s in dict.fromkeys(r.seed for r in runs.values()))
    caption = f"{study.name} at initialization: cell {cell}, seed {seeds}"
    return [p for p in write_report(results, out, meta, caption=caption) if p.suffix == ".png"]
