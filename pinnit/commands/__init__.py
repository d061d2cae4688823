"""CLI subcommands; each module registers one with ``@register_command``."""
from .base import COMMANDS, register_command
from . import diagnose_cmd, list_cmd, predict_cmd, run_cmd  # noqa: F401,E402  (registers entries)

__all__ = ["COMMANDS", "register_command"]
