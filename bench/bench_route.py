"""route() decisions per second, against a dict lookup measured in the same run.

The baseline is the cheapest possible "router": one dict lookup from class name to a path.
The ratio says what the decision table, input validation and the reason sentence cost on
top of that; absolute numbers depend on the machine, the ratio much less.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from drkit.core.routing import (
    ASYNC_MAX_PAYLOAD_BYTES,
    REALTIME_MAX_PAYLOAD_BYTES,
    SERVERLESS_MAX_PAYLOAD_BYTES,
    Path,
    classes_from,
    explain,
    route,
)
from drkit.core.spec import load_spec
from tests.conftest import EXAMPLES

N = 200_000


def requests(n: int, names: list[str]) -> list[tuple[int, str, bool]]:
    """A fixed, seeded mix: mostly small online requests, some at the limits, some bulk-sized."""
    rng = random.Random(4)
    sizes = [1_000, 50_000, SERVERLESS_MAX_PAYLOAD_BYTES, REALTIME_MAX_PAYLOAD_BYTES, REALTIME_MAX_PAYLOAD_BYTES + 1, ASYNC_MAX_PAYLOAD_BYTES // 2]
    return [(rng.choice(sizes), rng.choice(names), rng.random() < 0.3) for _ in range(n)]


def rate(fn: Callable[[int, str, bool], object], workload: list[tuple[int, str, bool]]) -> float:
    start = time.perf_counter()
    for size, name, off_hours in workload:
        fn(size, name, off_hours)
    return len(workload) / (time.perf_counter() - start)


def main() -> None:
    classes = classes_from(load_spec(EXAMPLES / "fraud-tier1.yaml").traffic_classes)
    workload = requests(N, list(classes))
    table = {name: Path.REALTIME for name in classes}

    def baseline(size: int, name: str, off_hours: bool) -> object:
        return table[name]

    def decide(size: int, name: str, off_hours: bool) -> object:
        return route(size, name, classes=classes, off_hours=off_hours)

    def trace(size: int, name: str, off_hours: bool) -> object:
        return explain(size, name, classes=classes, off_hours=off_hours)

    rate(decide, workload[:1000])  # warm the per-class plan cache
    rows = [("dict lookup (baseline)", rate(baseline, workload)), ("route()", rate(decide, workload)), ("explain()", rate(trace, workload[: N // 10]))]
    base = rows[0][1]
    print(f"{N:,} requests over {len(classes)} classes (fraud-tier1), seeded mix of sizes and 30% off-hours")
    print(f"{'':<24} {'decisions/s':>12} {'us/decision':>12} {'x baseline time':>16}")
    for label, per_second in rows:
        print(f"{label:<24} {per_second:>12,.0f} {1e6 / per_second:>12.2f} {base / per_second:>16.1f}")
