"""Signal at initialization beside the trained outcome, per cell and method: ``report/signal.md`` and
``signal.json``.

For each cell of the study and each method, the network of its first run (plan order) is diagnosed at
initialization with ``pinnit diagnose`` (:mod:`pinnit.diagnostics`) and set beside what the study measured
after training (median best loss and error over the completed seeds). This is the depth sweep's comparison:
does signal propagation predict the depth at which an initializer stops training?

Columns from the diagnosis:

- ``signal``: the std over inputs of the last hidden layer's post-activations (averaged over units); a
  network whose last layer does not vary with the input cannot represent a solution until training has
  moved it away from initialization. It is flagged *near-constant* when it is at most
  :data:`~pinnit.diagnostics.plots.NEAR_CONSTANT` × the layer's overall std (the same rule as the
  ``last_layer_hist.png`` flag).
- ``χ₁``: the mean per-layer stretch of an input perturbation (χ₁ = 1 at the edge of chaos; Poole et al.,
  *Exponential expressivity in deep neural networks through transient chaos*, 2016); the product over L
  layers, χ₁ᴸ, is how a perturbation is amplified or damped end to end (``gain``, as log10).
- ``grad ratio``: max / min over layers of the loss gradient's norm per weight matrix at initialization;
  large values mean some layers hardly move at the first steps.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.atomic_files import write_json, write_text
from ..core.errors import PinnitError
from .results import Study, value_label

#: diagnoses a report runs at most (a larger study gets the first cells only, and says so)
MAX_DIAGNOSES = 64


def _first_runs(study: Study) -> list[tuple[tuple, str, Any]]:
    """(cell, method, run) for the first run with a config of each method in each cell, in plan order."""
    seen: dict[tuple, Any] = {}
    for r in study.runs:
        key = (study.cell(r), study.group(r))
        if r.config and key not in seen:
            seen[key] = r
    return [(cell, method, r) for (cell, method), r in seen.items()]


def signal_rows(study: Study, summary: list[dict], metric: str, samples: int = 512) -> tuple[list[dict], str | None]:
    """One row per cell × method (MLP studies only): the diagnosis of its first run's network beside the trained
    counts and medians of its ``summary`` row (:func:`pinnit.studies.report.summary_rows`); plus a note when some
    were left out (too many cells, or a diagnosis that failed)."""
    import torch

    from ..diagnostics.plots import near_constant
    from ..diagnostics.report import diagnose
    from ..runs import parse_config

    chosen = _first_runs(study)
    if not chosen or any((r.config.get("network") or {}).get("arch", "mlp") != "mlp" for _, _, r in chosen):
        return [], None
    note = None
    if len(chosen) > MAX_DIAGNOSES:
        note = f"the first {MAX_DIAGNOSES} of {len(chosen)} cell × method pairs are diagnosed"
        chosen = chosen[:MAX_DIAGNOSES]
    trained_rows = {(row["method"], tuple(row.get(a) for a in study.cell_axes)): row for row in summary}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        for cell, method, r in chosen:
            try:
                d = diagnose(parse_config(r.config), samples=samples)
            except (PinnitError, ValueError, OSError, RuntimeError) as exc:
                note = f"{method} at {cell}: diagnosis skipped ({exc})"
                continue
            s, last = d.summary, d.summary.get("last_layer") or {}
            grads = s.get("gradients") or {}
            ratio = grads["max"] / grads["min"] if grads.get("computed") and grads.get("min") else None
            labels = {a: value_label(v) for a, v in zip(study.cell_axes, cell)}
            trained = trained_rows[(method, tuple(labels.values()))]
            rows.append({**labels, "method": method,
                         "seed": r.seed, "signal": last.get("sample_std"), "near_constant": near_constant(d),
                         "chi1": s.get("chi1_mean"), "log10_gain": s.get("log10_perturbation_gain"),
                         "grad_ratio": ratio, "n": trained["n"], "planned": trained["planned"],
                         "best_loss_median": trained["best_loss_median"],
                         f"{metric}_median": trained[f"{metric}_median"]})
    finally:
        torch.set_num_threads(threads)
    return rows, note


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "⚠ near-constant" if x else ""
    if isinstance(x, float):
        return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"
    return str(x)


def signal_markdown(study: Study, rows: list[dict], metric: str, weights: str, note: str | None) -> str:
    axes = [a for a in study.cell_axes]
    head = [*(a.rsplit(".", 1)[-1] for a in axes), "method", "signal at init", "flag", "χ₁", "log10 gain",
            "grad ratio", "completed", "median best loss", f"median {metric} ({weights})"]
    keys = [*axes, "method", "signal", "near_constant", "chi1", "log10_gain", "grad_ratio", None,
            "best_loss_median", f"{metric}_median"]
    lines = [f"# {study.name}: signal at initialization vs trained outcome", "",
             "Each network diagnosed at initialization (`pinnit diagnose`, the first seed of each cell and method: "
             "signal = std over inputs of the last hidden layer; χ₁ = mean per-layer stretch of an input "
             "perturbation, 1 at the edge of chaos; gain = log10 of the end-to-end stretch; grad ratio = max/min "
             "over layers of the gradient norm) beside the medians over the completed seeds after training.", ""]
    if note:
        lines += [f"Note: {note}.", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"{row['n']}/{row['planned']}" if k is None else _fmt(row.get(k)) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_signal_table(study: Study, summary: list[dict], metric: str, weights: str, out: Path) -> list[Path]:
    """``signal.md`` and ``signal.json`` in ``out`` (``summary``: the report's summary rows); [] for a study
    without MLP runs."""
    rows, note = signal_rows(study, summary, metric)
    if not rows:
        return []
    paths = [out / "signal.md", out / "signal.json"]
    write_text(paths[0], signal_markdown(study, rows, metric, weights, note))
    write_json(paths[1], {"study": study.name, "metric": metric, "weights": weights, "note": note, "rows": rows})
    return paths
