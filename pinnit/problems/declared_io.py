"""The YAML schema of a declared problem, its file (merged with inline keys), and its data files.

A declaration is a mapping (see :class:`Declaration`), given inline under ``problem:`` or in a YAML file
named by ``problem.file``; inline keys override the file's (mappings merge key by key, so
``--set problem.parameters.nu=0.1`` changes one parameter). Data files (``.npz`` or ``.csv`` with a
header row) hold named columns: the inputs and the fields, either as scattered points (equal-length
1-D arrays) or, in ``.npz``, as a grid (1-D axes and field arrays of shape len(axis₀) × len(axis₁) × …).
"""
from __future__ import annotations

import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from ..core.errors import ConfigError, did_you_mean
from ..core.params import validate_whole
from ..core.yaml_io import read_yaml

PATH = "problem"
REPO = Path(__file__).resolve().parents[2]

Expr = str | float  # an expression; YAML numbers are accepted as constants
Face = str | dict[str, Expr]  # an input name (both of its faces) or {input: position, ...}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ConditionSpec(_Spec):
    """One boundary/initial/data condition; ``value`` and ``equation`` may list one entry per face."""

    kind: Literal["dirichlet", "neumann", "periodic", "initial", "data"]
    name: str | None = None
    at: Face | list[Face] | None = None  # where it holds ('on' would read as YAML's true)
    field: str | None = None
    value: Expr | list[Expr] | None = None
    equation: str | list[str] | None = None
    derivatives: NonNegativeInt = 0
    points: PositiveInt | None = None
    file: str | None = None
    data: dict[str, list[float]] | None = None


class GaugeSpec(_Spec):
    """Where a field defined up to a constant (a pressure) is pinned: ``{field: p, at: {x: 0, y: 0}}``."""

    field: str
    at: dict[str, Expr]


class ExactFile(_Spec):
    path: str
    names: dict[str, str] = {}  # array name in the file → input or field name, e.g. {usol: u}


class EvaluationSpec(_Spec):
    resolution: list[PositiveInt] | None = None
    box: dict[str, tuple[Expr, Expr]] = {}
    singular: list[dict[str, Expr]] = []  # points where the solution has no value (a corner's log pressure)


class SensorSpec(_Spec):
    """Equispaced sensors of a function input: ``count`` points on ``range`` (default: its argument's domain)."""

    count: Annotated[int, Field(ge=4, le=100_000)] = 101
    range: tuple[Expr, Expr] | None = None


class LawSpec(_Spec):
    """The law functions are drawn from: a Gaussian random field with an RBF kernel (DeepXDE's GRF)."""

    kind: Literal["grf"] = "grf"
    kernel: Literal["rbf"] = "rbf"
    length_scale: Annotated[float, Field(gt=0)] = 0.2
    variance: Annotated[float, Field(gt=0)] = 1.0
    grid: Annotated[int, Field(ge=4, le=20_000)] = 1000


class FunctionSpec(_Spec):
    """A function input f(argument) of an operator problem: sensors, law, training and held-out counts."""

    argument: str
    sensors: SensorSpec = SensorSpec()
    law: LawSpec = LawSpec()
    train: Annotated[int, Field(gt=0, le=10_000_000)] = 1000
    test: Annotated[int, Field(ge=0, le=10_000_000)] = 200


class Declaration(_Spec):
    description: str | None = None
    inputs: Annotated[dict[str, tuple[Expr, Expr]], Field(min_length=1)]
    fields: str | Annotated[list[str], Field(min_length=1)]
    time: str | None = None  # the time-like input; default: t when declared
    parameters: dict[str, float] = {}
    equations: str | list[str] | dict[str, str]
    conditions: list[ConditionSpec] = []
    output_transform: Expr | dict[str, Expr] | None = None
    satisfies: list[str] = []
    exact: Expr | dict[str, Expr] | None = None
    exact_file: str | ExactFile | None = None
    evaluation: EvaluationSpec = EvaluationSpec()
    collocation: PositiveInt = 2000
    max_derivative_order: Annotated[int, Field(ge=1, le=32)] = 4  # raise it for higher-order PDEs
    functions: dict[str, FunctionSpec] = {}  # function inputs (operator learning, e.g. a random lid)
    solver: str | dict[str, Expr] | None = None  # reference solver for any function input: name or {name, **params}
    gauge: GaugeSpec | None = None  # a field known up to a constant, pinned to 0 at one point (operator runs)


_OWNERS = {"conditions": ConditionSpec, "evaluation": EvaluationSpec, "exact_file": ExactFile, "gauge": GaugeSpec}
_FUNCTION_OWNERS = {"sensors": SensorSpec, "law": LawSpec}
_TAGS = {"str", "float", "int", "dict", "list", "tuple", *(m.__name__ for m in (ConditionSpec, ExactFile, GaugeSpec))}


def _owner(loc: Sequence) -> type[BaseModel]:
    """The model whose key is at ``loc`` (for 'unknown key' messages)."""
    if len(loc) <= 1:
        return Declaration
    if loc[0] == "functions":
        return _FUNCTION_OWNERS.get(str(loc[2]), FunctionSpec) if len(loc) > 3 else FunctionSpec
    return _OWNERS.get(str(loc[0]), Declaration)


def _loc(loc: Sequence) -> str:
    parts = [p for p in loc if not (isinstance(p, str) and ("[" in p or p in _TAGS))]
    out = PATH
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def validate_declaration(raw: Mapping[str, Any]) -> Declaration:
    """Validate a merged declaration; the first problem becomes a one-line ConfigError at its key path."""
    conditions = raw.get("conditions")
    for i, c in enumerate(conditions if isinstance(conditions, list) else []):
        if isinstance(c, Mapping) and True in c:
            raise ConfigError(f"{PATH}.conditions[{i}]", "YAML reads the key 'on' as true; write 'at:' for "
                                                         "where the condition holds")
    try:
        return validate_whole(Declaration.model_validate, dict(raw), PATH)  # collocation: 1e3 → 1000
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        err, path = errors[0], _loc(errors[0]["loc"])
        if err["type"] == "extra_forbidden":
            owner = _owner(err["loc"])
            key = str(err["loc"][-1])
            raise ConfigError(path, f"unknown key '{key}'{did_you_mean(key, owner.model_fields)}; "
                                    f"valid keys: {', '.join(owner.model_fields)}") from None
        if err["type"] == "missing":
            raise ConfigError(path, "required key is missing") from None
        if err["type"] == "literal_error":
            options = [o.strip(" '") for o in err["ctx"]["expected"].replace(" or ", ",").split(",")]
            raise ConfigError(path, f"got {err['input']!r}{did_you_mean(err['input'], options)}; "
                                    f"valid: {', '.join(options)}") from None
        same = [e["msg"] for e in errors if _loc(e["loc"]) == path]
        raise ConfigError(path, f"got {err['input']!r}: {' or '.join(dict.fromkeys(same))}") from None


def resolve(name: str, key: str, base: Path | None = None) -> Path:
    """A file given in the config: absolute, or relative to ``base``, the current directory, the repo root,
    the shipped files (``problems/heat.yaml`` of an installed pinnit)."""
    from ..core.shipped import shipped_root

    p = Path(name)
    roots = dict.fromkeys(d for d in (base, Path.cwd(), REPO, shipped_root()) if d is not None)
    candidates = [p] if p.is_absolute() else [d / p for d in roots]
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(key, f"no such file '{name}' (looked in {', '.join(str(c.parent) for c in candidates)})")


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge recursively, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        out[key] = merge(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return out


def load_declaration(file: str | None, inline: Mapping[str, Any]) -> tuple[Declaration, Path | None]:
    """The declaration from ``file`` (if any) with the ``inline`` keys on top, validated."""
    if file is None:
        return validate_declaration(inline), None
    path = resolve(file, f"{PATH}.file")
    data = read_yaml(path)
    return validate_declaration(merge(data, inline)), path


# --- data files --------------------------------------------------------------------------------------

def read_table(path: Path, key: str, names: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Named float arrays from ``.npz`` or ``.csv`` (header row), renamed by ``names``."""
    if path.suffix not in (".npz", ".csv"):
        raise ConfigError(key, f"'{path.name}': expected a .npz or .csv file")
    try:
        if path.suffix == ".npz":
            with zipfile.ZipFile(path):  # np.load would take a .npy or a pickle too (never unpickled: refused)
                pass
            with np.load(path, allow_pickle=False) as z:
                table = {k: z[k] for k in z.files}
            for k, v in table.items():
                if v.dtype.kind not in "iuf":  # not bool, complex, dates, strings, records
                    raise ConfigError(key, f"array '{k}' of '{path.name}' holds {v.dtype} values; expected real "
                                           "numbers")
            table = {k: np.asarray(v, dtype=float) for k, v in table.items()}
        else:  # -sig: a spreadsheet's byte-order mark is not part of the first column's name
            with warnings.catch_warnings():  # e.g. "Empty input file": the error below says it in one line
                warnings.simplefilter("ignore")
                rows = np.genfromtxt(path, delimiter=",", names=True, dtype=float, encoding="utf-8-sig")
            table = {k: np.atleast_1d(rows[k]).astype(float) for k in rows.dtype.names or ()}
    except (OSError, ValueError, IndexError, EOFError, MemoryError, zipfile.BadZipFile) as exc:
        why = ("pickled Python objects (never loaded)" if "pickle" in str(exc) else "no header row (an empty file?)"
               if isinstance(exc, IndexError) else " ".join(line.strip() for line in str(exc).splitlines()))
        raise ConfigError(key, f"cannot read '{path}': {why}") from None
    for old, new in (names or {}).items():
        if old not in table:
            raise ConfigError(f"{key}.names.{old}", f"no array '{old}' in '{path.name}'"
                                                    f"{did_you_mean(old, table)}; arrays: {', '.join(table)}")
        table[new] = table.pop(old)
    return table


class Table:
    """Inputs and field values from a data file: scattered points, or a grid (axes + 'ij' arrays)."""

    def __init__(self, table: Mapping[str, np.ndarray], inputs: Sequence[str], fields: Sequence[str], key: str):
        missing = [k for k in inputs if k not in table]
        if missing:
            raise ConfigError(key, f"no column '{missing[0]}'{did_you_mean(missing[0], table)} (every input "
                                   f"{', '.join(inputs)} is needed); columns: {', '.join(table)}")
        self.fields = [k for k in fields if k in table]
        if not self.fields:
            raise ConfigError(key, f"no field column ({', '.join(fields)}); columns: {', '.join(table)}")
        axes = [np.ravel(table[k]) for k in inputs]
        values = {k: np.asarray(table[k]) for k in self.fields}
        for name, arr in [*zip(inputs, axes), *values.items()]:
            if not arr.size:
                raise ConfigError(key, f"column '{name}' is empty; the data needs at least one row")
            bad = np.flatnonzero(~np.isfinite(arr.ravel()))
            if len(bad):  # a blank or non-numeric CSV cell reads as nan
                raise ConfigError(key, f"column '{name}', value {bad[0] + 1}: {arr.ravel()[bad[0]]} (blank or not "
                                       "a number?); every value must be a finite number")
        grid = tuple(len(a) for a in axes)
        if len(inputs) > 1 and all(v.shape == grid for v in values.values()):
            self.axes: list[np.ndarray] | None = axes
            self.grid = values
            mesh = np.meshgrid(*axes, indexing="ij")
            self.points = np.stack([m.ravel() for m in mesh], axis=-1)
            self.values = {k: v.ravel() for k, v in values.items()}
        else:
            for name, v in values.items():
                if v.ndim > 1 and v.size != len(axes[0]):
                    raise ConfigError(key, f"field '{name}' has shape {v.shape}; the grid of {', '.join(inputs)} "
                                           f"needs {grid} ('ij' order)")
            n = len(axes[0])
            for name, arr in [*zip(inputs, axes), *values.items()]:
                if arr.size != n:
                    raise ConfigError(key, f"column '{name}' has {arr.size} values, '{inputs[0]}' has {n}; "
                                           f"give equal-length columns or a grid (field shape {grid})")
            self.axes, self.grid = None, {}
            self.points = np.stack(axes, axis=-1)
            self.values = {k: v.ravel() for k, v in values.items()}

    def box(self) -> list[tuple[float, float]]:
        return [(float(c.min()), float(c.max())) for c in self.points.T]

    def interpolate(self, mesh: np.ndarray, key: str) -> dict[str, np.ndarray]:
        """Field values at ``mesh`` points (N × d), linear; points outside the data are an error."""
        from scipy.interpolate import RegularGridInterpolator, griddata

        lo, hi = np.array(self.box()).T
        span = np.maximum(hi - lo, 1e-300)
        if np.any(mesh < lo - 1e-9 * span) or np.any(mesh > hi + 1e-9 * span):
            raise ConfigError(key, f"the evaluation grid leaves the data's box {self.box()}; set "
                                   f"{PATH}.evaluation.box inside it")
        mesh = np.clip(mesh, lo, hi)
        out = {}
        for name in self.fields:
            if self.axes is not None:
                order = [np.argsort(a) for a in self.axes]
                values = self.grid[name][np.ix_(*order)]
                out[name] = RegularGridInterpolator([a[o] for a, o in zip(self.axes, order)], values)(mesh)
            elif mesh.shape[1] == 1:
                o = np.argsort(self.points[:, 0])
                out[name] = np.interp(mesh[:, 0], self.points[o, 0], self.values[name][o])
            else:
                try:
                    out[name] = griddata(self.points, self.values[name], mesh, method="linear")
                except RuntimeError as exc:  # scipy's QhullError: e.g. all points on one line
                    raise ConfigError(key, "cannot interpolate between the data points (too few, or all on one "
                                           f"line or plane? qhull {str(exc).split()[0]}); give a grid or points "
                                           "spread over the box") from None
                if np.isnan(out[name]).any():
                    raise ConfigError(key, f"the evaluation grid leaves the convex hull of the data points; set "
                                           f"{PATH}.evaluation.box inside it")
        return out
