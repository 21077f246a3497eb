"""The `omnimetrics` command: a thin shell. Each command parses its options, calls one
`Workspace` method (or library function) and renders the `Result` it returns."""

from omnimetrics.cli import incrementality, loading, measures, serve  # noqa: F401 - importing them registers the commands
from omnimetrics.cli.shell import app, main

__all__ = ["app", "main"]
