"""Claims a study tests: "method A is better than method B in metric M", checked against the study's own
methods, axes and metrics before anything trains, and read back by ``pinnit report`` for its verdicts
(:mod:`pinnit.studies.verdicts`).

```yaml
claims:
  - id: proposed_beats_eoc
    text: proposed reaches a lower best loss than eoc for every a at depth 50
    metric: best_loss              # best_loss | final_loss | slowness | wall_time_s | rel_l2_best | rel_l2_final
                                   # | <error>_best | <error>_final (e.g. rel_l2_p_best) | metrics.<key in metrics.json>
    better: lower                  # lower | higher: the side the claim says a is on
    a: {method: proposed}          # the runs of one side: method and/or axis values (a and b name the same keys)
    b: {method: eoc}
    where: {network.depth: 50}     # optional: only runs with these axis values
    over: [network.activation.a]   # optional: the claim must hold at every value of these axes
    pair_by: seed                  # a pair: the a and b runs of one seed, equal in every other axis
```
"""
from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import PinnitError
from .results import RunRecord, number, value_label

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
#: Metrics read directly from metrics.json or the run's loss history.
SCALARS = ("best_loss", "final_loss", "slowness", "wall_time_s")
#: The error of the lowest-loss (best) or of the last (final) weights: rel_l2_mean when the runs report it (the
#: mean over the fields, e.g. of an operator run), else rel_l2_u, else the first rel_l2_* they report.
DEFAULT_ERRORS = ("rel_l2_best", "rel_l2_final")
ERROR = re.compile(r"^(?P<key>(rel_l2|max_abs)_[A-Za-z0-9_]+)_(?P<weights>best|final)$")
RAW = re.compile(r"^metrics\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class Claim(BaseModel):
    """One claim: runs ``a`` are better than runs ``b`` in ``metric``, seed by seed (paired)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(pattern=NAME, description="short name of the claim, unique in the study")
    text: str = Field("", description="the claim in words, as the report prints it")
    metric: str = Field(description="best_loss, final_loss, slowness, wall_time_s, rel_l2_best / rel_l2_final "
                                    "(rel_l2_mean when reported, else rel_l2_u), an error key + _best or _final "
                                    "(e.g. rel_l2_p_best), or metrics.KEY for any number in metrics.json")
    better: Literal["lower", "higher"] = Field(description="a's side: lower or higher values of the metric")
    a: dict[str, Any] = Field(min_length=1, description="the runs of side a: {method: NAME} and/or {axis key: value}")
    b: dict[str, Any] = Field(min_length=1, description="the runs of side b, naming the same keys as a")
    where: dict[str, Any] = Field(default_factory=dict, description="only runs with these axis values")
    over: list[str] = Field(default_factory=list,
                            description="axes at every value of which the claim must hold (one verdict per cell, "
                                        "plus the pooled verdict)")
    pair_by: Literal["seed"] = Field("seed", description="runs paired by seed (equal in every other axis)")
    log: bool | None = Field(None, description="compare log10 of the metric (default: yes for losses, errors "
                                               "and slowness, no for metrics.KEY and wall_time_s)")

    @property
    def compared(self) -> list[str]:
        """The keys that tell a from b."""
        return list(self.a)

    @property
    def in_log10(self) -> bool:
        if self.log is not None:
            return self.log
        return not (self.metric.startswith("metrics.") or self.metric == "wall_time_s")


def same(value: Any, wanted: Any) -> bool:
    """An axis value equals a claim's value: numbers by value, mappings also by their printed label."""
    if isinstance(value, (int, float)) and isinstance(wanted, (int, float)) \
            and not isinstance(value, bool) and not isinstance(wanted, bool):
        return math.isclose(float(value), float(wanted), rel_tol=1e-12, abs_tol=0.0)
    return value == wanted or (isinstance(wanted, str) and value_label(value) == wanted)


def check_claims(claims: list[Claim], methods: list[str], axes: dict[str, list[Any]], where) -> None:
    """Raise ``where(path, message)`` for the first claim that names an unknown method, axis, value or metric
    form; ``axes`` maps each varied key to its values."""
    seen: set[str] = set()
    keys = (["method"] if methods else []) + list(axes)
    for i, claim in enumerate(claims):
        path = f"claims[{i}]"
        if claim.id in seen:
            raise where(f"{path}.id", f"'{claim.id}' names two claims; ids are unique")
        seen.add(claim.id)
        for side in ("a", "b", "where"):
            for key, value in getattr(claim, side).items():
                _check_value(f"{path}.{side}.{key}", key, value, keys, methods, axes, where,
                             allow_method=side != "where")
        if set(claim.a) != set(claim.b):
            raise where(path, f"a and b name the same keys (what the claim compares); got a: {', '.join(claim.a)}, "
                              f"b: {', '.join(claim.b)}")
        if all(same(claim.a[k], claim.b[k]) for k in claim.a):
            raise where(path, "a and b select the same runs; give them different values")
        for key in set(claim.a) & set(claim.where):
            raise where(f"{path}.where.{key}", "already set by a and b")
        for j, key in enumerate(claim.over):
            if key not in axes:
                raise where(f"{path}.over[{j}]", f"unknown axis '{key}'; the study's axes: "
                                                 f"{', '.join(axes) or 'none'}")
            if key in claim.a or key in claim.where:
                raise where(f"{path}.over[{j}]", f"'{key}' is fixed by the claim's a/b or where")
        problem = metric_problem(claim.metric)
        if problem:
            raise where(f"{path}.metric", problem)


def _check_value(path, key, value, keys, methods, axes, where, *, allow_method: bool) -> None:
    if key == "method" and methods and allow_method:
        if value not in methods:
            raise where(path, f"unknown method {value!r}; the study's methods: {', '.join(methods)}")
        return
    if key not in axes:
        valid = keys if allow_method else list(axes)
        raise where(path, f"unknown key '{key}'; valid: {', '.join(valid) or 'none (the study varies nothing)'}")
    if not any(same(v, value) for v in axes[key]):
        raise where(path, f"{value!r} is not a value of this axis; its values: "
                          f"{', '.join(value_label(v) for v in axes[key])}")


def metric_problem(metric: str) -> str | None:
    """Why ``metric`` is no metric a claim can name (None when it is)."""
    if metric in SCALARS or metric in DEFAULT_ERRORS or ERROR.match(metric) or RAW.match(metric):
        return None
    return (f"unknown metric {metric!r}; valid: {', '.join(SCALARS + DEFAULT_ERRORS)}, <error>_best or "
            "<error>_final (e.g. rel_l2_u_best, max_abs_u_final), or metrics.<key> for a number in metrics.json")


def check_metric_fields(claims: list[Claim], outputs: list[str], where) -> None:
    """An error metric's field must be one of the problem's outputs (or ``mean``)."""
    fields = [*outputs, "mean"]
    for i, claim in enumerate(claims):
        m = ERROR.match(claim.metric)
        if m is None:
            continue
        rest = m["key"].split("_", 2)[-1]  # rel_l2_u_final_t1 → u_final_t1
        if not any(rest == f or rest.startswith(f + "_") for f in fields):
            raise where(f"claims[{i}].metric", f"{claim.metric!r}: no field '{rest}'; the problem's fields: "
                                               f"{', '.join(outputs)} (and mean)")


def metric_value(record: RunRecord, metric: str, default_error: str) -> float | None:
    """The run's value of ``metric`` (None when it has none)."""
    m = record.metrics or {}
    if metric == "best_loss":
        return record.best_loss
    if metric == "final_loss":
        return record.final_loss
    if metric == "slowness":
        return record.slowness()
    if metric == "wall_time_s":
        return number(m.get("wall_time_s"))
    if metric in DEFAULT_ERRORS:
        return record.errors(metric.rsplit("_", 1)[-1]).get(default_error)
    match = ERROR.match(metric)
    if match:
        return record.errors(match["weights"]).get(match["key"])
    value: Any = m
    for part in metric.split(".")[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    return number(value)


def parse_claims(raw: Any, label: str) -> list[Claim]:
    """Claims from a plan.json or a study file's ``claims`` list; one-line PinnitError when malformed."""
    import pydantic

    from ..config.loading import format_validation_error

    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PinnitError(f"{label}: claims: expected a list")
    out = []
    for i, entry in enumerate(raw):
        try:
            out.append(Claim.model_validate(entry))
        except pydantic.ValidationError as exc:
            err = format_validation_error(exc, Claim)
            raise PinnitError(f"{label}: claims[{i}].{err.path}: {err.message}") from None
    return out


def describe_claim(claim: Claim) -> str:
    """``id: a (method=proposed) lower best_loss than b (method=eoc), where ..., at every network.depth``."""
    def sel(d: dict) -> str:
        return ", ".join(f"{k}={value_label(v)}" for k, v in d.items())

    text = f"{claim.id}: {sel(claim.a)} has {claim.better} {claim.metric} than {sel(claim.b)}, paired by seed"
    if claim.where:
        text += f", where {sel(claim.where)}"
    if claim.over:
        text += f", at every value of {', '.join(claim.over)}"
    return text
