"""Run configuration: the schema, loading with ``--set`` overrides, the older-dialect translation and the one
table of defaults. Checks against the registries live one layer up (:func:`pinnit.runs.parse_config`)."""
from .loading import dump_config, parse_structure, read_run_config, read_yaml
from .schema import RunConfig

__all__ = ["RunConfig", "dump_config", "parse_structure", "read_run_config", "read_yaml"]
