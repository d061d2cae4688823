"""The command registry: a command is a class with ``add_parser(subparsers)`` and ``execute(args)``."""
from __future__ import annotations

from ..registry import Registry

COMMANDS: Registry[type] = Registry("command")


def register_command(name: str):
    return COMMANDS.register(name)
