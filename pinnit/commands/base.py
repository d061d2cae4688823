"""The command registry: a command is a class with ``add_parser(subparsers)`` and ``execute(args)``."""
from __future__ import annotations

import argparse

from ..core.registry import Registry

COMMANDS: Registry[type] = Registry("command")


def register_command(name: str):
    return COMMANDS.register(name)


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (argparse turns the error into one usage line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def command_parser(sub, name: str, command: type, help: str, examples: str | None = None) -> argparse.ArgumentParser:
    """A command's subparser: ``help`` in ``pinnit --help``, the command class's docstring as its description and
    ``examples`` (run by tests/test_doc_examples.py) as its epilog, line breaks kept."""
    return sub.add_parser(name, help=help, description=command.__doc__, epilog=examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
