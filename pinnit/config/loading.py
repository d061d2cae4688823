"""Load a run config: YAML file → ``--set`` overrides → schema → one-line errors naming the key path."""
from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import yaml

from ..core.errors import ConfigError, PinnitError, did_you_mean
from ..core.params import check_finite, validate_whole
from ..core.yaml_io import read_yaml
from .schema import RunConfig


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``key.path=value`` (value parsed as YAML) in place."""
    if "=" not in assignment:
        raise PinnitError(f"--set {assignment!r}: expected KEY.PATH=VALUE, e.g. "
                          "--set training.stages.adam.iterations=500")
    key, raw = assignment.split("=", 1)
    if not key.strip() or any(not k for k in key.strip().split(".")):
        raise PinnitError(f"--set {assignment!r}: empty key in path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    set_path(data, key, value)


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` (e.g. ``network.activation.a``) to ``value`` in place, creating sections.

    A registry entry given as a bare name (``activation: tanh``) becomes ``{name: tanh}`` when one of its
    parameters is set. Shared by ``--set`` and study files.
    """
    parts = key.strip().split(".")
    if not key.strip() or any(not k for k in parts):
        raise PinnitError(f"{key!r}: empty key in path")
    node = data
    for i, k in enumerate(parts[:-1]):
        nxt = node.get(k) if isinstance(node, dict) else None
        if isinstance(nxt, str) and parts[i] in ("activation", "initializer"):
            nxt = {"name": nxt}  # `--set network.activation.a=2` on `activation: tanh`
        if nxt is None:
            nxt = {}
        if not isinstance(nxt, dict):
            raise ConfigError(".".join(parts[: i + 1]), f"is {nxt!r}, not a section; cannot set '{key}'")
        node[k] = nxt
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def _model_at(loc: tuple, root: type[pydantic.BaseModel] = RunConfig) -> type[pydantic.BaseModel] | None:
    """The schema class that owns the last element of ``loc`` (for listing valid keys)."""
    cls: Any = root
    for part in loc[:-1]:
        if not (isinstance(cls, type) and issubclass(cls, pydantic.BaseModel)):
            return None
        field = cls.model_fields.get(str(part))
        if field is None:
            return None
        cls = field.annotation
        args = [a for a in typing.get_args(cls) if isinstance(a, type) and issubclass(a, pydantic.BaseModel)]
        cls = args[0] if args else cls
    return cls if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel) else None


def format_validation_error(exc: pydantic.ValidationError,
                            root: type[pydantic.BaseModel] = RunConfig) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "dict"))))
    path = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        owner = _model_at(loc, root)
        valid = list(owner.model_fields) if owner else []
        hint = did_you_mean(str(loc[-1]), valid)
        return ConfigError(path, f"unknown key{hint}; valid keys: {', '.join(valid)}")
    if err["type"] == "missing":
        return ConfigError(path, "required key is missing")
    return ConfigError(path, f"got {err.get('input')!r}: {err['msg']}")


def parse_structure(data: dict[str, Any], overrides: list[str] | tuple[str, ...] = (),
                    then: Callable[[RunConfig], None] | None = None) -> RunConfig:
    """Check a config mapping's structure (after applying ``overrides``) against the schema.

    The registries (activations, initializers, problems) and the keys that depend on the chosen problem are
    checked one layer up, by :func:`pinnit.runs.parse_config`, which is what a user's config goes through: it
    passes them as ``then``, so their errors too name the keys the config was written with."""
    data = copy.deepcopy(data)
    for assignment in overrides:
        apply_override(data, assignment)
    check_finite(data, "")
    from .dialect import older_path, translate

    older = translate(data)  # training.adam / training.lbfgs → training.stages, after every override
    try:
        cfg = _validated(data)
        if then is not None:
            then(cfg)
        return cfg
    except ConfigError as err:  # named as the keys the config was written with
        raise (older_path(err) if older else err) from None


def _validated(data: dict[str, Any]) -> RunConfig:
    try:
        cfg = validate_whole(RunConfig.model_validate, data)  # "1e3" for an integer field: 1000
    except pydantic.ValidationError as exc:
        raise format_validation_error(exc) from None
    check_finite(cfg.model_dump(), "")  # strings such as "1e999" become floats only in validation
    return cfg


def read_run_config(path: str | Path) -> dict[str, Any]:
    """The mapping in a run config file (a study file or a declaration is named as such, with its command)."""
    from .file_kind import RUN, require_kind

    data = read_yaml(path)
    require_kind(data, path, RUN)
    return data


def dump_config(cfg: RunConfig) -> str:
    """The resolved config as YAML (every default filled in)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
