"""Study files: a base run config, overrides, and the axes to vary (validated like run configs).

```yaml
name: burgers_scale             # optional; default: the file's stem
base: ../burgers.yaml           # a run config: relative to this file, else a shipped config
                                # (burgers_fast.yaml, as `pinnit run` finds it), or an inline mapping
set:                            # --set-style overrides of the base (mapping or list of "key=value")
  training.stages.adam.iterations: 2000
methods:                        # named bundles of keys; the method is itself an axis
  proposed: {network.initializer: {name: proposed}}
  eoc: {network.initializer: {name: eoc, sigma_b: 0.0}}
axes:
  grid:                         # Cartesian product over any dotted config key
    - {key: network.activation.a, values: [0.5, 1.0, 1.5]}
  zip:                          # groups of keys whose lists vary together
    - {network.depth: [10, 20], network.width: [64, 32]}
seeds: [0, 1, 2]                # or a count: 3
claims:                         # optional: what the study tests (pinnit/studies/claims.py; verdicts in the report)
  - {id: proposed_beats_eoc, metric: best_loss, better: lower, a: {method: proposed}, b: {method: eoc},
     over: [network.activation.a]}
```
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ..config.file_kind import RUN, STUDY, require_kind
from ..config.loading import format_validation_error, read_yaml
from ..core.errors import ConfigError, PinnitError
from ..core.params import check_finite
from ..core.shipped import find_shipped
from ..core.yaml_io import check_size
from .claims import Claim, check_claims, same

DOTTED = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
SEED_KEY = "training.seed"
#: Most runs one study may plan (a typo such as ``seeds: 1000000`` is refused before anything is built).
MAX_RUNS = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class GridAxis(_Strict):
    key: str = Field(pattern=DOTTED, description="dotted config key, e.g. network.activation.a")
    values: list[Any] = Field(min_length=1, description="the values it takes")


class Axes(_Strict):
    grid: list[GridAxis] = Field(default_factory=list, description="Cartesian axes")
    zip: list[dict[str, list[Any]]] = Field(
        default_factory=list, description="groups {key: [values], ...} whose lists vary together (equal lengths)")


class ExtraSeeds(_Strict):
    """More seeds for the combinations that match ``where`` (e.g. the cell a claim tests)."""

    where: dict[str, Any] = Field(min_length=1, description="axis values (and/or method) of the runs that get them")
    seeds: list[int] = Field(min_length=1, description="seeds run in addition to the study's seeds")


class StudySpec(_Strict):
    name: str | None = Field(None, pattern=NAME, description="study name; default: the file's stem")
    description: str | None = None
    base: str | dict[str, Any] = Field(description="run config: a path relative to the study file, or a mapping")
    set: dict[str, Any] | list[str] = Field(default_factory=dict, description="overrides applied to the base")
    methods: dict[str, dict[str, Any]] = Field(default_factory=dict, description="named bundles of dotted keys")
    axes: Axes = Field(default_factory=Axes)
    seeds: list[int] | int | None = Field(None, description="list of seeds or a count")
    extra_seeds: list[ExtraSeeds] = Field(
        default_factory=list, description="more seeds for some cells, e.g. {where: {network.activation.a: 1.0}, "
                                          "seeds: [3, 4]}: five seeds where a claim needs them, three elsewhere")
    claims: list[Claim] = Field(default_factory=list,
                                description="what the study tests; `pinnit report` gives each a verdict")


@dataclass
class Study:
    """A loaded study file: the validated spec, its base config mapping, and where it came from."""

    spec: StudySpec
    name: str
    source: Path | None
    text: str
    base: dict[str, Any]
    base_file: Path | None = None
    overrides: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        seeds = self.spec.seeds
        if seeds is None:
            return [int(self.base.get("training", {}).get("seed", 0) or 0)]
        return list(range(seeds)) if isinstance(seeds, int) else list(seeds)

    def seeds_for(self, method: str | None, axes: dict[str, Any]) -> list[int]:
        """The seeds of one combination: the study's, then those of every ``extra_seeds`` entry it matches."""
        seeds = list(self.seeds)
        for extra in self.spec.extra_seeds:
            if all(same(method if k == "method" else axes.get(k), v) for k, v in extra.where.items()):
                seeds += [s for s in extra.seeds if s not in seeds]
        return seeds

    @property
    def varied_keys(self) -> list[str]:
        """The dotted keys the axes vary, grid first then zip groups, in file order."""
        keys = [a.key for a in self.spec.axes.grid]
        for group in self.spec.axes.zip:
            keys.extend(group)
        return keys


def axis_values(spec: StudySpec) -> dict[str, list[Any]]:
    """Each varied key and its values (grid axes, then zip groups)."""
    values = {a.key: list(a.values) for a in spec.axes.grid}
    for group in spec.axes.zip:
        values.update({k: list(v) for k, v in group.items()})
    return values


def _check_structure(spec: StudySpec, where) -> None:
    seen: dict[str, str] = {}
    for i, axis in enumerate(spec.axes.grid):
        path = f"axes.grid[{i}].key"
        if axis.key in seen:
            raise where(path, f"'{axis.key}' is already varied by {seen[axis.key]}")
        if axis.key == SEED_KEY:
            raise where(path, "vary seeds with the top-level 'seeds' key")
        seen[axis.key] = path
    for g, group in enumerate(spec.axes.zip):
        path = f"axes.zip[{g}]"
        if not group:
            raise where(path, "an empty zip group; give {key: [values], ...}")
        lengths = {k: len(v) for k, v in group.items()}
        for key, n in lengths.items():
            if not re.match(DOTTED, key):
                raise where(f"{path}.{key}", "not a dotted config key")
            if key in seen:
                raise where(f"{path}.{key}", f"'{key}' is already varied by {seen[key]}")
            if key == SEED_KEY:
                raise where(f"{path}.{key}", "vary seeds with the top-level 'seeds' key")
            if n == 0:
                raise where(f"{path}.{key}", "needs at least one value")
            seen[key] = f"{path}.{key}"
        if len(set(lengths.values())) > 1:
            raise where(path, "the lists of a zip group vary together and need equal lengths; got "
                              + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
    for name, keys in spec.methods.items():
        if not re.match(NAME, name):
            raise where(f"methods.{name}", "method names use letters, digits, '.', '_' and '-'")
        for key in keys:
            if not re.match(DOTTED, key):
                raise where(f"methods.{name}.{key}", "not a dotted config key")
    if isinstance(spec.seeds, int) and spec.seeds < 1:
        raise where("seeds", f"got {spec.seeds}; a count ≥ 1 or a list of seeds")
    if isinstance(spec.seeds, list):
        if not spec.seeds:
            raise where("seeds", "an empty list; give at least one seed")
        if any(s < 0 for s in spec.seeds) or len(set(spec.seeds)) != len(spec.seeds):
            raise where("seeds", f"got {spec.seeds}; distinct seeds ≥ 0")
    total = max(len(spec.methods), 1) * (spec.seeds if isinstance(spec.seeds, int) else len(spec.seeds or [0]))
    for axis in spec.axes.grid:
        total *= len(axis.values)
    for group in spec.axes.zip:
        total *= len(next(iter(group.values())))
    if total > MAX_RUNS:
        raise where("axes", f"{total} runs planned (methods × axis values × seeds); at most {MAX_RUNS} in one study")


def parse_study(data: Any, *, source: Path | None = None, text: str = "", name: str | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> Study:
    """Validate a study mapping; ``source`` anchors a relative ``base`` path and names errors."""
    label = source.name if source else (name or "study")

    def where(path: str, message: str) -> PinnitError:
        return PinnitError(f"study {label}: {path}: {message}")

    if not isinstance(data, dict):
        raise PinnitError(f"study {label}: expected a mapping at the top level, got {type(data).__name__}")
    require_kind(data, source or label, STUDY)
    check_size(data, f"study {label}")
    try:
        check_finite(data, "")
        spec = StudySpec.model_validate(data)
    except ConfigError as err:
        raise where(err.path, err.message) from None
    except pydantic.ValidationError as exc:
        err = format_validation_error(exc, StudySpec)
        path = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", err.path)  # axes.grid.1.values → axes.grid[1].values
        raise where(path, err.message) from None
    _check_structure(spec, where)
    check_claims(spec.claims, list(spec.methods), axis_values(spec), where)
    for i, extra in enumerate(spec.extra_seeds):
        for key, value in extra.where.items():
            if not (key == "method" and value in spec.methods) and \
                    not any(same(v, value) for v in axis_values(spec).get(key, [])):
                valid = (["method"] if spec.methods else []) + list(axis_values(spec))
                raise where(f"extra_seeds[{i}].where.{key}", f"{value!r} selects no run; keys: {', '.join(valid)}")
        if any(s < 0 for s in extra.seeds) or len(set(extra.seeds)) != len(extra.seeds):
            raise where(f"extra_seeds[{i}].seeds", f"got {extra.seeds}; distinct seeds ≥ 0")
    for i, claim in enumerate(spec.claims):
        for group in spec.axes.zip:
            for key in claim.a:
                others = [k for k in group if k not in claim.a]
                if key in group and others:
                    raise where(f"claims[{i}].a.{key}", f"varies together with {', '.join(others)} (one zip group), "
                                                        "so a and b would differ in those too: name them in a and b, "
                                                        "or compare methods")
    base_file = None
    if isinstance(spec.base, str):
        try:
            base_file = find_base(spec.base, source)
            base = read_yaml(base_file)
            require_kind(base, base_file, RUN)
        except PinnitError as err:
            raise where("base", str(err)) from None
    else:
        base = spec.base
    study_name = spec.name or name or (source.stem if source else "study")
    return Study(spec, study_name, source, text, base, base_file, list(overrides))


def find_base(name: str, source: Path | None) -> Path:
    """A study's ``base:``: the file relative to the study file (or absolute) when it exists, else the shipped
    config of that name, found as ``pinnit run`` finds one; an error names both places looked in."""
    path = Path(name)
    if not path.is_absolute() and source is not None:
        path = source.parent / path
    if path.exists():
        return path
    shipped = find_shipped(name)
    if shipped is None:
        raise PinnitError(f"{path}: no such file (nor a shipped config of that name; `pinnit list configs` "
                          "lists them)")
    return shipped


def load_study(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Study:
    """Read and validate a study file (errors: ``study FILE: key.path: message``)."""
    p = Path(path)
    data = read_yaml(p)
    return parse_study(data, source=p, text=p.read_text(), overrides=overrides)
