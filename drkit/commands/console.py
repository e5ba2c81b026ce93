"""The rich console every command prints its tables with."""

from __future__ import annotations

import sys

from rich.console import Console


def make_console(width: int | None = None) -> Console:
    """A console that stays readable when piped (rich would fall back to 80 columns)."""
    if width is None and not sys.stdout.isatty():
        width = 140
    return Console(soft_wrap=False, width=width)
