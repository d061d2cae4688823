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
from typing import Any, TypeVar

import pydantic

from .errors import ConfigError, did_you_mean

T = TypeVar("T")


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


def _walk_to(data: Any, loc: tuple) -> tuple[Any, Any] | None:
    """(container, key) of the value at pydantic's error ``loc`` in ``data``; parts that name a union member
    (``int``, ``list[int]``) rather than a key are skipped. None when the location is not in ``data``."""
    node, last = data, None
    for part in loc:
        if isinstance(node, dict) and part in node or (isinstance(node, list) and isinstance(part, int)
                                                        and 0 <= part < len(node)):
            if last is not None:
                node = last[0][last[1]]
            last = (node, part)
            node = node[part]
    return last


def whole_numbers(data: Any, exc: pydantic.ValidationError, prefix: str = "") -> bool:
    """Replace, in ``data``, each string an integer field refused (``1e3``: YAML reads exponent notation
    without a dot as a string) by its integer value; True when any was replaced (validate again). A
    number that is not whole (``1e-3``, ``2.5``) raises a one-line ConfigError naming the key path."""
    changed = False
    for err in exc.errors():
        if err["type"] not in ("int_parsing", "int_from_float"):
            continue
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in ("str", "dict"))))
        path = f"{prefix}.{path}" if prefix and path else prefix or path
        raw = err.get("input")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if not (math.isfinite(value) and value == int(value)):
            shown = f"{raw!r} (= {value:g})" if isinstance(raw, str) else repr(raw)
            raise ConfigError(path, f"got {shown}: an integer is required (a whole number, e.g. 500 or 1e3)")
        where = _walk_to(data, loc)
        if where is not None and isinstance(raw, str):
            where[0][where[1]] = int(value)
            changed = True
    return changed


def validate_whole(validate: Callable[[Any], T], data: Any, prefix: str = "") -> T:
    """``validate(data)``, after turning the strings integer fields refuse (``1e3``) into integers in place
    (each replacement removes one string, so this ends)."""
    while True:
        try:
            return validate(data)
        except pydantic.ValidationError as exc:
            if not whole_numbers(data, exc, prefix):
                raise


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
        validated = validate_whole(lambda data: model(**data), params, path)  # "1e3" → 1000
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
