"""Named registries: activations, initializers, problems, executors.

Each entry is added by a decorator in the file that defines it, so adding one is one new file or one
decorated class. Lookup of an unknown name raises a one-line :class:`ConfigError` with a suggestion.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ConfigError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → entry mapping with one-line descriptions (the first docstring line of each entry)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._descriptions: dict[str, str] = {}

    def register(self, name: str, description: str | None = None) -> Callable[[T], T]:
        def decorate(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = entry
            doc = description or (getattr(entry, "__doc__", None) or "").strip().splitlines()
            self._descriptions[name] = doc if isinstance(doc, str) else (doc[0] if doc else "")
            return entry

        return decorate

    def get(self, name: str, path: str = "") -> T:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(sorted(self._entries))
            raise ConfigError(
                path, f"unknown {self.kind} '{name}'{did_you_mean(name, self._entries)}; valid: {valid}"
            ) from None

    def describe(self) -> dict[str, str]:
        return {k: self._descriptions[k] for k in sorted(self._entries)}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
