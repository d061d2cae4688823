"""CLI subcommands; each module registers one with ``@register_command``."""
from .base import COMMANDS, register_command
from . import bench_cmd, diagnose_cmd, init_cmd, list_cmd, predict_cmd, report_cmd, run_cmd, study_cmd

__all__ = ["COMMANDS", "register_command"]
