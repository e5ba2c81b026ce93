"""Policy-check time per stack as the stack grows from 10 to 2,000 resources.

One synthetic tier-1 primary stack with 200 models (2,000+ resources) is captured
once; its first N resources are then checked by the running pack (Analyze per resource +
AnalyzeStack), so only the check is timed. Ratios are against the 10-resource check in
the same run. Also reported: the whole `drkit check` of the 3-region example (capture,
pack start-up and check), whose target is <= 3 s.
"""

from __future__ import annotations

import dataclasses
import time

from bench.bench_preview import synthetic_spec
from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks, run_check
from drkit.core.spec import load_spec
from drkit.engine.capture import capture_region, capture_regions
from drkit.engine.graph import RegionGraph
from tests.conftest import EXAMPLES

SIZES = (10, 100, 500, 1000, 2000)
REPEATS = 3


def prefix(graph: RegionGraph, count: int) -> RegionGraph:
    custom = graph.custom_resources[:count]
    return dataclasses.replace(graph, resources=tuple(custom))


def best_of(pack: PolicyPackProcess, graph: RegionGraph) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        check_stacks(pack, [graph], config={})
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    spec = synthetic_spec(2, 200)
    big = capture_region(spec, spec.primary_region)
    with PolicyPackProcess(DEFAULT_PACK_DIR) as pack:
        best_of(pack, prefix(big, 10))  # warm the pack's imports
        rows = [(n, best_of(pack, prefix(big, n))) for n in SIZES if n <= len(big.custom_resources)]
    base = rows[0][1]
    print(f"{'resources':>9} {'seconds':>8} {'x 10':>7} {'ms/resource':>12}")
    for count, seconds in rows:
        print(f"{count:>9} {seconds:>8.3f} {seconds / base:>7.1f} {seconds / count * 1000:>12.2f}")

    path = EXAMPLES / "fraud-tier1.yaml"
    start = time.perf_counter()
    with PolicyPackProcess(DEFAULT_PACK_DIR) as pack:  # as `drkit check` does: boot the pack during capture
        spec = load_spec(path)
        result = run_check(spec, capture_regions(spec), spec_path=str(path), pack=pack)
    seconds = time.perf_counter() - start
    print(
        f"fraud-tier1 end to end (capture + pack start + check, {len(result.stacks)} stacks, "
        f"{result.resources_checked} resources): {seconds:.2f} s (target <= 3 s)"
    )
