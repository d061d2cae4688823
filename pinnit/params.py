"""Validate a registry entry's keyword parameters from its signature.

Activations, initializers and problems declare their parameters as annotated keyword arguments; config
files pass them as a mapping. :func:`bind_params` checks names (with did-you-mean) and types/values (via
pydantic, from the annotations) and reports the first problem as one line naming the key path.
"""
from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from .errors import ConfigError, did_you_mean


def parameter_names(fn: Callable, skip: int = 0) -> list[str]:
    """Names of ``fn``'s configurable keyword parameters (after the first ``skip`` positional ones)."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    return [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def split_spec(spec: Any, path: str) -> tuple[str, dict[str, Any]]:
    """A registry spec — a name, or a mapping ``{name: ..., **params}`` — as (name, params)."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping) and "name" in spec:
        params = dict(spec)
        return params.pop("name"), params
    raise ConfigError(path, f"expected a name or a mapping with 'name', got {spec!r}")


def check_finite(value: Any, path: str) -> None:
    """Raise a ConfigError at the first NaN/±inf inside ``value`` (nested mappings and sequences)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(path, f"got {value}; a finite number is required")
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_finite(v, f"{path}[{i}]")
    if isinstance(value, Mapping):
        for k, v in value.items():
            check_finite(v, f"{path}.{k}" if path else str(k))


def bind_params(fn: Callable, params: Mapping[str, Any] | None, path: str, skip: int = 0,
                internal: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validate ``params`` against ``fn``'s signature; returns the coerced keyword arguments.

    ``skip`` leading parameters (e.g. ``layers, activation, generator``) and the ``internal`` keyword ones
    (e.g. ``sample``) are supplied by pinnit, not the user.
    """
    params = dict(params or {})
    sig = list(inspect.signature(fn).parameters.values())[skip:]
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable annotations: fall back to the raw ones
        hints = {}
    fields: dict[str, Any] = {}
    for p in sig:
        if p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) or p.name in internal:
            continue
        annotation = hints.get(p.name, p.annotation)
        if annotation is inspect.Parameter.empty or isinstance(annotation, str):
            annotation = Any
        default = p.default if p.default is not inspect.Parameter.empty else ...
        fields[p.name] = (annotation, default)
    for key in params:
        if key not in fields and not accepts_any:
            valid = ", ".join(fields) or "none"
            raise ConfigError(f"{path}.{key}", f"unknown parameter{did_you_mean(key, fields)}; valid: {valid}")
    for key, value in params.items():
        check_finite(value, f"{path}.{key}")
    model = pydantic.create_model(
        f"Params_{getattr(fn, '__name__', 'entry')}",
        __config__=pydantic.ConfigDict(arbitrary_types_allowed=True, extra="allow" if accepts_any else "forbid"),
        **fields,
    )
    try:
        validated = model(**params)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        bad = err.get("input")
        shown = "missing" if err["type"] == "missing" else f"got {bad!r}"
        raise ConfigError(f"{path}.{loc}" if loc else path, f"{shown}: {err['msg']}") from None
    out = {k: getattr(validated, k) for k in fields}
    if accepts_any:
        out.update(validated.model_extra or {})
    for key, value in out.items():  # strings such as "1e999" or "inf" become floats only in validation
        check_finite(value, f"{path}.{key}")
    return out
