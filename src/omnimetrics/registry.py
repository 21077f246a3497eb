"""One generic registry of small named things (tables, attribution models, KPIs, indicators...).

A duplicate name raises; an unknown name says which names exist and which are close.

>>> from omnimetrics.registry import Registry
>>> colours = Registry[str]("colour")
>>> colours.add("red", "#f00")
'#f00'
>>> colours["red"]
'#f00'
>>> colours["rde"]
Traceback (most recent call last):
...
omnimetrics.errors.UnknownNameError: Unknown colour 'rde'. Did you mean 'red'? Choose from ['red'].
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from omnimetrics.errors import ConfigError, UnknownNameError, did_you_mean

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one kind, in declaration order."""

    def __init__(self, kind: str, entries: Mapping[str, T] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = dict(entries or {})

    def add(self, name: str, entry: T) -> T:
        """Declare `entry` under `name`; a name declared twice is an error."""
        if name in self._entries:
            raise ConfigError(f"{self.kind.capitalize()} {name!r} is declared twice.")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}. " + did_you_mean(name, self._entries)
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """The declared names, for help texts."""
        return list(self._entries)

    def extended(self, entries: Mapping[str, T]) -> Registry[T]:
        """A new registry with these entries added (the original is left unchanged)."""
        copy = Registry[T](self.kind, self._entries)
        for name, entry in entries.items():
            copy.add(name, entry)
        return copy

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
