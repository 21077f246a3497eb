"""One exception tree: every error omnimetrics raises on purpose derives from `OmnimetricsError`.

Each subclass also inherits the builtin it refines, so `except ValueError` keeps working.
Messages say what was wrong, where, and what to do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class OmnimetricsError(Exception):
    """Root of every error omnimetrics raises on purpose."""


class ConfigError(OmnimetricsError, ValueError):
    """A setting is missing or invalid (omnimetrics.toml, environment, arguments)."""


class SchemaError(OmnimetricsError, ValueError):
    """Input does not fit a table contract as a whole (missing columns, unknown table)."""


class SourceError(OmnimetricsError, OSError):
    """A source file cannot be read at all; nothing was written."""


class UnknownNameError(OmnimetricsError, KeyError):
    """A name looked up in a registry does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(OmnimetricsError, AttributeError):
    """A model was asked for results before `fit` was called."""


class EngineError(OmnimetricsError, RuntimeError):
    """The compute engine is missing or cannot do what was asked."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A hint naming the closest choices, for messages about unknown names."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if close:
        return f"Did you mean {' or '.join(repr(c) for c in close)}? Choose from {choices}."
    return f"Choose from {choices}."
