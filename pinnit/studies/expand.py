"""Expand a study into fully resolved, validated run configs with deterministic ids.

Each combination is method × grid product × zip positions × seed (seeds innermost; ``extra_seeds`` adds
seeds to the combinations it matches). Its config is the
base, then the study's ``set``, the command line's ``--set``, the method's keys, the axis values and
``training.seed``, validated by :func:`pinnit.runs.parse_config`. Every combination is validated before
anything trains; an error names the study key that produced the bad value and the combination.

The id is readable plus a hash: ``<method>-<axis labels>-s<seed>-<8 hex>``, the hash over the resolved config
without ``output`` and ``training.threads`` (which the executor sets and which do not change the result).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from ..runs import parse_config
from ..config.dialect import as_stages
from ..config.loading import set_path
from ..core.errors import ConfigError, PinnitError
from .spec import SEED_KEY, Study

#: Short labels for common keys in run ids (``d50`` for network.depth = 50); other keys use their last part.
ABBREVIATIONS = {"depth": "d", "width": "w", "iterations": "it", "lr_per_omega": "lrw"}
#: Training keys set by the executor that do not change a run's result (left out of the id hash, like ``output``).
UNHASHED_TRAINING_KEYS = ("threads",)


@dataclass
class PlannedRun:
    """One expanded run of a study (the ``runs`` entries of plan.json)."""

    id: str
    method: str | None
    axes: dict[str, Any]
    seed: int
    config: dict[str, Any]

    @property
    def run_dir(self) -> str:
        return f"runs/{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "method": self.method, "axes": self.axes, "seed": self.seed,
                "run_dir": self.run_dir, "config": self.config}


def config_digest(config: dict[str, Any]) -> str:
    """8 hex digits of the resolved config, less the keys that do not change a run's result."""
    body = {k: v for k, v in config.items() if k != "output"}
    training = as_stages(body.get("training", {}))  # an older plan.json's or config.yaml's: as written now
    body["training"] = {k: v for k, v in training.items() if k not in UNHASHED_TRAINING_KEYS}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:8]


def value_label(key: str, value: Any) -> str:
    """A short, filesystem-safe label for one axis value: ``a0.5``, ``d50``, ``tanh``, ``lr0.001``."""
    last = key.rsplit(".", 1)[-1]
    if isinstance(value, dict):
        text = str(value.get("name", "x"))
    elif isinstance(value, str) and last in ("name", "activation", "initializer"):
        text = value
    else:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        text = f"{ABBREVIATIONS.get(last, last)}{shown}"
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", text)[:40]


def _overrides(study: Study) -> list[tuple[str, Any, str]]:
    """(key, value, study path) of the study's ``set`` and the command line's ``--set``, in order."""
    items: list[tuple[str, Any, str]] = []
    spec_set = study.spec.set
    if isinstance(spec_set, dict):
        items += [(k, v, f"set.{k}") for k, v in spec_set.items()]
    else:
        for i, assignment in enumerate(spec_set):
            items.append((*_split(assignment, f"set[{i}]", study), f"set[{i}]"))
    for assignment in study.overrides:
        items.append((*_split(assignment, "--set", study), f"--set {assignment.split('=', 1)[0]}"))
    return items


def _split(assignment: str, path: str, study: Study) -> tuple[str, Any]:
    if "=" not in assignment:
        raise _error(study, path, f"{assignment!r}: expected KEY.PATH=VALUE")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _error(study: Study, path: str, message: str) -> PinnitError:
    where = study.source.name if study.source else study.name
    return PinnitError(f"study {where}: {path}: {message}")


def _combinations(study: Study):
    """Yield (method, [(key, value, study path)]) in plan order (seeds are looped inside each)."""
    spec = study.spec
    methods = list(spec.methods) or [None]
    grid = [[(a.key, v, f"axes.grid[{i}].values[{j}]") for j, v in enumerate(a.values)]
            for i, a in enumerate(spec.axes.grid)]
    zips = []
    for g, group in enumerate(spec.axes.zip):
        n = len(next(iter(group.values())))
        zips.append([[(k, vals[j], f"axes.zip[{g}].{k}[{j}]") for k, vals in group.items()] for j in range(n)])
    for method in methods:
        for point in itertools.product(*grid):
            for zipped in itertools.product(*zips):
                yield method, list(point) + [kv for part in zipped for kv in part]


def _source_of(path: str, sources: dict[str, str]) -> str:
    """The study key that set the config key ``path`` (longest prefix match), else the base config."""
    best = ""
    for key in sources:
        if path == key or path.startswith((key + ".", key + "[")) or key.startswith(path + "."):
            best = key if len(key) > len(best) else best
    return sources[best] if best else "base"


def expand(study: Study) -> list[PlannedRun]:
    """All runs of ``study``, each validated; raises a one-line PinnitError at the first bad combination.

    The seed changes nothing that validation checks, so each combination is validated once, with its first
    seed, and the other seeds get the same resolved config with their own ``training.seed``.
    """
    combos = list(_combinations(study))
    per_combo = [study.seeds_for(method, {k: v for k, v, _ in values}) for method, values in combos]
    total = sum(len(s) for s in per_combo)
    overrides = _overrides(study)
    runs: list[PlannedRun] = []
    for i, (method, values) in enumerate(combos):
        seeds = per_combo[i]
        data = copy.deepcopy(study.base)
        sources: dict[str, str] = {}
        steps = list(overrides)
        if method is not None:
            steps += [(k, v, f"methods.{method}.{k}") for k, v in study.spec.methods[method].items()]
        steps += values + [(SEED_KEY, seeds[0], "seeds[0]")]
        axes = {key: value for key, value, _ in values}
        readable = "-".join([*([method] if method else []), *(value_label(k, v) for k, v in axes.items())])
        where = f"run {len(runs) + 1}/{total} ({readable + '-' if readable else ''}s{seeds[0]})"
        try:
            for key, value, path in steps:
                sources[key] = path
                set_path(data, key, value)
            cfg = parse_config(data)
        except ConfigError as err:
            raise _error(study, _source_of(err.path, sources), f"{where}: {err}") from None
        except PinnitError as err:
            raise _error(study, "base", f"{where}: {err}") from None
        resolved = cfg.model_dump(mode="json")
        for seed in seeds:
            config = copy.deepcopy(resolved)
            config["training"]["seed"] = seed
            label = f"{readable}-s{seed}" if readable else f"s{seed}"
            runs.append(PlannedRun(f"{label}-{config_digest(config)}", method, axes, seed, config))
    ids = [r.id for r in runs]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise _error(study, "axes", f"two combinations resolve to the same config ({dup}); an axis or method "
                                    "changes nothing")
    return runs
