"""Verdicts on a study's claims (:mod:`pinnit.studies.claims`): paired differences over seeds, a bootstrap
confidence interval of their mean and a signed-rank test.

For one claim, runs are paired by seed: the a run and the b run of one seed that agree in every axis the
claim does not compare (they trained on the same points and lids: :mod:`pinnit.runtime.context`). The paired
difference is ``d = f(a) − f(b)``, with ``f = log10`` for losses, errors and slowness (a ratio: d = −1 means
a is ten times lower) and the identity otherwise. A pair whose a or b run failed, was interrupted, is missing
or reports no finite (for log10: positive) value is dropped, and the verdict says which.

- **Bootstrap CI** (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13, the percentile
  interval): resample the n differences with replacement B = 10,000 times (numpy, fixed seed
  :data:`BOOTSTRAP_SEED`), take each resample's mean; the 95 % interval is the 2.5th and 97.5th percentiles
  of those means.
- **Wilcoxon signed-rank test** (Wilcoxon, "Individual comparisons by ranking methods", 1945), one-sided in
  the claimed direction (``scipy.stats.wilcoxon``, ``alternative='less'`` for ``better: lower``): rank |d|,
  sum the ranks of the positive differences; exact p for small n without ties, zero differences dropped.
  With n < 5 pairs even the most extreme outcome has p ≥ 1/16 > 0.05: such a test cannot be significant.

Verdict: **holds** when the CI lies entirely on the claimed side of 0 and p < 0.05; **contradicted** when it
lies entirely on the other side; else **inconclusive at this budget**; with n < 5 always
"inconclusive: n = 3 < 5 seeds, cannot be significant". A claim with ``over`` gets one verdict per cell and
one pooled over all cells; it holds when every cell holds and is contradicted when any cell is.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .claims import Claim, metric_value, same
from .results import RunRecord, Study, value_label

BOOTSTRAP_SEED = 0
RESAMPLES = 10_000
LEVEL = 0.95
ALPHA = 0.05
MIN_PAIRS = 5
HOLDS, CONTRADICTED, INCONCLUSIVE = "holds", "contradicted", "inconclusive at this budget"


def bootstrap_ci(d: np.ndarray, resamples: int = RESAMPLES, level: float = LEVEL,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``d`` (Efron & Tibshirani 1993)."""
    d = np.asarray(d, dtype=float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def signed_rank_p(d: np.ndarray, better: str) -> float:
    """One-sided Wilcoxon signed-rank p-value that the differences lean to the claimed side (Wilcoxon 1945)."""
    from scipy.stats import wilcoxon

    d = np.asarray(d, dtype=float)
    if not np.any(d != 0):
        return 1.0  # no evidence either way (scipy cannot rank an all-zero sample)
    return float(wilcoxon(d, alternative="less" if better == "lower" else "greater").pvalue)


def paired_test(d: np.ndarray, better: str) -> dict[str, Any]:
    """n, mean difference, bootstrap CI, one-sided p and the verdict of one set of paired differences."""
    d = np.asarray(d, dtype=float)
    n = int(d.size)
    if n == 0:
        return {"n": 0, "mean": None, "ci": None, "p": None, "verdict": "no pairs: nothing to test"}
    low, high = bootstrap_ci(d)
    p = signed_rank_p(d, better)
    sign = -1.0 if better == "lower" else 1.0  # claimed side: sign · d > 0
    if n < MIN_PAIRS:
        verdict = f"inconclusive: n = {n} < {MIN_PAIRS} seeds, cannot be significant"
    elif min(sign * low, sign * high) > 0 and p < ALPHA:
        verdict = HOLDS
    elif max(sign * low, sign * high) < 0:
        verdict = CONTRADICTED
    else:
        verdict = INCONCLUSIVE
    return {"n": n, "mean": float(d.mean()), "ci": [low, high], "p": p, "verdict": verdict}


def _default_error(study: Study) -> str:
    keys = study.error_keys()
    return next((k for k in ("rel_l2_mean", "rel_l2_u") if k in keys), keys[0] if keys else "rel_l2_u")


def _value(r: RunRecord, claim: Claim, default_error: str) -> tuple[float | None, str]:
    """(transformed value, why it is missing)."""
    if r.outcome not in ("completed", "diverged"):
        return None, f"{r.id} {r.outcome}"
    v = metric_value(r, claim.metric, default_error)
    if v is None or not math.isfinite(v):
        return None, f"{r.id} ({r.outcome}) has no {claim.metric}"
    if claim.in_log10:
        if v <= 0:
            return None, f"{r.id}: {claim.metric} = {v:g} ≤ 0 has no log10"
        return math.log10(v), ""
    return v, ""


def _selects(r: RunRecord, study: Study, selector: dict[str, Any]) -> bool:
    for key, wanted in selector.items():
        value = study.group(r) if key == "method" else r.axes.get(key)
        if not same(value, wanted):
            return False
    return True


def claim_pairs(study: Study, claim: Claim) -> tuple[dict[tuple, list[dict]], list[str]]:
    """Pairs by cell of ``over`` (``()`` when none): ``[{"seed", "a", "b", "d", "context"}]``, and the dropped
    pairs, each as one line."""
    default_error = _default_error(study)
    fixed = set(claim.a) | set(claim.where) | set(claim.over)
    rest = [k for k in study.axes if k not in fixed and k.rsplit(".", 1)[-1] != "seed"]
    sides: dict[str, dict[tuple, RunRecord]] = {"a": {}, "b": {}}
    for r in study.runs:
        if not _selects(r, study, claim.where):
            continue
        side = "a" if _selects(r, study, claim.a) else "b" if _selects(r, study, claim.b) else None
        if side:
            key = (study.cell(r, claim.over), study.cell(r, rest), r.seed)
            sides[side][key] = r
    pairs: dict[tuple, list[dict]] = {}
    dropped = []
    for key in dict.fromkeys([*sides["a"], *sides["b"]]):  # plan order
        cell, context, seed = key
        ra, rb = sides["a"].get(key), sides["b"].get(key)
        where = ", ".join(f"{k}={value_label(v)}" for k, v in zip(claim.over + rest, cell + context))
        label = f"seed {seed}" + (f" ({where})" if where else "")
        pairs.setdefault(cell, [])
        if ra is None or rb is None:
            dropped.append(f"{label}: no {'a' if ra is None else 'b'} run in the plan")
            continue
        (va, why_a), (vb, why_b) = _value(ra, claim, default_error), _value(rb, claim, default_error)
        if va is None or vb is None:
            dropped.append(f"{label}: " + "; ".join(w for w in (why_a, why_b) if w))
            continue
        pairs[cell].append({"seed": seed, "context": where, "a": va, "b": vb, "d": va - vb})
    return pairs, dropped


def claim_verdict(study: Study, claim: Claim) -> dict[str, Any]:
    """The verdict of one claim: per cell of ``over``, pooled, overall, and the dropped pairs."""
    pairs, dropped = claim_pairs(study, claim)
    pooled = paired_test(np.array([p["d"] for cell in pairs.values() for p in cell]), claim.better)
    cells = []
    if claim.over:
        for cell, items in pairs.items():
            test = paired_test(np.array([p["d"] for p in items]), claim.better)
            label = ", ".join(f"{k}={value_label(v)}" for k, v in zip(claim.over, cell))
            cells.append({"cell": label, **test, "differences": [round(p["d"], 6) for p in items]})
    verdicts = [c["verdict"] for c in cells]
    if not claim.over:
        overall = pooled["verdict"]
    elif verdicts and all(v == HOLDS for v in verdicts):
        overall = HOLDS
    elif CONTRADICTED in verdicts:
        overall = f"{CONTRADICTED} (in {verdicts.count(CONTRADICTED)} of {len(verdicts)} cells)"
    else:
        small = [c for c in cells if 0 < c["n"] < MIN_PAIRS]
        overall = INCONCLUSIVE + (f" (n < {MIN_PAIRS} seeds in {len(small)} of {len(cells)} cells, which "
                                  "cannot be significant)" if small else "")
    return {"id": claim.id, "text": claim.text, "metric": claim.metric, "better": claim.better,
            "scale": "log10" if claim.in_log10 else "linear",
            "difference": ("log10(a) − log10(b)" if claim.in_log10 else "a − b"),
            "a": claim.a, "b": claim.b, "where": claim.where, "over": claim.over,
            "verdict": overall, "pooled": {**pooled, "differences": [round(p["d"], 6) for c in pairs.values()
                                                                      for p in c]},
            "cells": cells, "dropped": dropped}


def study_verdicts(study: Study, claims: list[Claim]) -> list[dict[str, Any]]:
    return [claim_verdict(study, c) for c in claims]


def _num(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.3g}" if x == 0 or 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def table_rows(verdicts: list[dict[str, Any]]) -> list[list[str]]:
    """One row per claim (pooled) and per cell of its ``over``."""
    rows = []
    for v in verdicts:
        for i, part in enumerate([{"cell": "pooled", **v["pooled"]}, *v["cells"]]):
            ci = "–" if part["ci"] is None else f"[{_num(part['ci'][0])}, {_num(part['ci'][1])}]"
            verdict = part["verdict"] if part["cell"] != "pooled" or not v["cells"] else \
                f"{part['verdict']}; claim: **{v['verdict']}**"
            rows.append([f"`{v['id']}`" if i == 0 else "", part["cell"], str(part["n"]), _num(part["mean"]), ci,
                         _num(part["p"]), verdict])
    return rows


HEAD = ["claim", "cell", "n pairs", "mean paired diff", "95 % CI", "p", "verdict"]


def verdicts_markdown(verdicts: list[dict[str, Any]], study_name: str) -> str:
    """verdicts.md: the claims, the table, the dropped pairs."""
    lines = [f"# Verdicts of study `{study_name}`", "",
             "Paired differences over seeds (a − b, in log10 for losses, errors and slowness: −1 = a ten times "
             f"lower); 95 % percentile bootstrap CI of their mean ({RESAMPLES} resamples, seed {BOOTSTRAP_SEED}; "
             "Efron & Tibshirani 1993); p: one-sided Wilcoxon signed-rank test in the claimed direction "
             f"(Wilcoxon 1945). Holds: CI on the claimed side and p < {ALPHA}; contradicted: CI on the other "
             f"side; fewer than {MIN_PAIRS} pairs cannot be significant.", ""]
    for v in verdicts:
        lines.append(f"- `{v['id']}`: {v['text'] or v['id']} — {v['metric']} ({v['difference']}), "
                     f"{v['better']} is better: **{v['verdict']}**")
    lines += ["", "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(verdicts)]
    dropped = [(v["id"], d) for v in verdicts for d in v["dropped"]]
    if dropped:
        lines += ["", "## Dropped pairs", ""] + [f"- `{cid}`: {d}" for cid, d in dropped]
    return "\n".join(lines) + "\n"


def verdicts_text(verdicts: list[dict[str, Any]]) -> str:
    """The table as plain text for the terminal."""
    rows = [HEAD] + [[c.replace("`", "").replace("**", "") for c in row] for row in table_rows(verdicts)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    dropped = sum(len(v["dropped"]) for v in verdicts)
    if dropped:
        out.append(f"{dropped} pair(s) dropped (failed, missing or no value): see verdicts.md")
    return "\n".join(out)
