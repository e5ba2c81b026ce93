"""How every command talks: data on stdout, people's messages and progress on stderr.

stdout carries only what a command produces (a table for people, or JSON/SARIF/ASL for
machines), so `drkit … --json | jq` always parses; progress spinners appear only when
stderr is a terminal; a reader that closes the pipe early (`| head`) ends the output
quietly instead of raising.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


def make_console(width: int | None = None) -> Console:
    """The stdout console for tables; stays readable when piped (rich would fall back to 80 columns)."""
    if width is None and not sys.stdout.isatty():
        width = 140
    return Console(soft_wrap=False, width=width)


def stderr_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def note(message: str) -> None:
    """A message for the person at the terminal (never part of the data)."""
    print(message, file=sys.stderr)


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while a slow step runs, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    with stderr_console().status(message, spinner="dots"):
        yield


def write_stdout(text: str) -> None:
    """Print the command's data; a closed pipe silences the rest instead of failing the command."""
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


def silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
