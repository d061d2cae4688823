"""A user's run config, checked all the way: structure (:mod:`pinnit.config`), then the registries and the
chosen problem (:mod:`.validate`), then the derived keys (:mod:`.resolve`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import RunConfig, parse_structure, read_run_config
from .resolve import resolve_derived
from .validate import validate_registries


def parse_config(data: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Validate a config mapping (after applying ``overrides``) into a :class:`~pinnit.config.RunConfig`."""
    def check(cfg: RunConfig) -> None:
        validate_registries(cfg)
        resolve_derived(cfg)

    return parse_structure(data, overrides, then=check)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read, override and validate a run config file (a study file or a declaration is named as such)."""
    return parse_config(read_run_config(path), overrides)
