"""Run configuration: schema, loading with overrides, validation against the registries."""
from .loading import dump_config, load_config, parse_config, read_yaml
from .schema import RunConfig

__all__ = ["RunConfig", "dump_config", "load_config", "parse_config", "read_yaml"]
