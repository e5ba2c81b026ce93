"""Ctrl-C in the `drkit` executable: stop at once, the child processes with it.

Raising KeyboardInterrupt wherever the main thread happens to be can lose it. Python ignores it
inside a finalizer (`Exception ignored in ... __del__`, after which `drkit check` finished and
exited 0), and inside Pulumi's event loop a capture's task can swallow it and leave the capture
waiting forever. Both were seen when interrupting `drkit check` (4 interrupts in 105). Most
commands change nothing outside the process, and the ones that do survive a kill at any instant
(docs/failure-model.md), so the executable's handler kills the children it started, says so and
exits 130 without unwinding. Code that rolls back on an interrupt (a running drill) asks for the
exception back with `raising()` for as long as it needs it, and holds further ones off with
`held()` while it rolls back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, NoReturn

_children: list[subprocess.Popen[bytes]] = []


def track(process: subprocess.Popen[bytes]) -> None:
    """Kill `process` if the command is interrupted (a policy pack, say)."""
    _children.append(process)


def untrack(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ValueError):
        _children.remove(process)


def exit_now(signum: int = signal.SIGINT, frame: FrameType | None = None) -> NoReturn:
    for child in _children:
        with contextlib.suppress(OSError):
            child.kill()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write("drkit: interrupted\n")
        sys.stderr.flush()
    os._exit(130)


def stop_at_once() -> None:
    """Make Ctrl-C end the process at once; call from the executable's entry point only. A process
    started with SIGINT ignored (`drkit … &` in a script) keeps ignoring it, as Python does."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, exit_now)


@contextlib.contextmanager
def handling(signum: int, handler: Callable[[int, FrameType | None], Any]) -> Iterator[None]:
    """Within the block, `handler` answers `signum`; afterwards the handler that was in place
    returns. A no-op off the main thread, where Python cannot set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


@contextlib.contextmanager
def raising() -> Iterator[None]:
    """Within the block, Ctrl-C raises KeyboardInterrupt as Python's default does, so the block can
    roll back. An ignored SIGINT stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    with handling(signal.SIGINT, signal.default_int_handler):
        yield


def held(message: str) -> contextlib.AbstractContextManager[None]:
    """Within the block (a rollback) Ctrl-C only prints `message`: cutting it short would leave the
    account half restored."""

    def say(signum: int, frame: FrameType | None) -> None:
        sys.stderr.write(f"drkit: {message}\n")

    return handling(signal.SIGINT, say)
