"""Garbage-collector settings for a short batch process (a `drkit` command, the policy pack).

Capturing a stack under Pulumi's mocks allocates about a million short-lived objects (an
Output, futures and a task per property of every resource). With CPython's default thresholds
(700 allocations) the cyclic collector walked the heap hundreds of times: 40% of a capture's
CPU. Collecting gen 0 every 50,000 allocations keeps memory bounded (+4% peak on fraud-tier1)
and takes that cost away. At exit, the collector's last walk over the whole heap (0.6 s after a
3-region capture) frees nothing the process still needs, so a command's objects are frozen first.
Measured with `python -m bench bench_check`.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def for_batch() -> None:
    """Collect less often; call once at a process's start."""
    gc.set_threshold(GEN0_THRESHOLD, 20, 100)


def before_exit() -> None:
    """Skip the collector's walk of every live object at interpreter exit."""
    gc.freeze()
