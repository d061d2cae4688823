"""User-facing errors.

A :class:`PinnitError` is a mistake in the user's input (config, CLI arguments, files). The CLI prints
its message as one line and exits with code 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (a newline in a name → ``\\n``), so
    an error message stays one line whatever the input held."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class PinnitError(Exception):
    """An error caused by the user's input; ``str(err)`` is the one line shown to them (unprintable
    characters from the input escaped)."""

    exit_code = 2

    def __str__(self) -> str:
        return printable(super().__str__())


class ResourceError(PinnitError):
    """A valid input that needs more than the machine has (e.g. memory); the CLI exits with code 1."""

    exit_code = 1


class ConfigError(PinnitError):
    """A config value is invalid: names the key path, the bad value and what is allowed."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)

    def within(self, path: str, head: str) -> "ConfigError":
        """Re-anchor a path relative to an entry (``initializer.bounds``, ``terms[0].c``) under ``path``."""
        if self.path == path or self.path.startswith((path + ".", path + "[")):
            return self
        rel = self.path
        if rel == head or rel.startswith((head + ".", head + "[")):
            rel = rel[len(head):].lstrip(".")
        sep = "" if rel.startswith("[") else "."
        return ConfigError(f"{path}{sep}{rel}" if rel else path, self.message)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest valid name, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
