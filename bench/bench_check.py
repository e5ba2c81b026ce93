"""Policy-check time per stack as the stack grows from 10 to 2,000 resources.

One synthetic tier-1 primary stack with 200 models (2,000+ resources) is captured
once; its first N resources are then checked by the running pack (Analyze per resource +
AnalyzeStack), so only the check is timed. Ratios are against the 10-resource check in
the same run. Also reported: the whole `drkit check` of the 3-region example (capture,
pack start-up and check) as a whole process, as a ratio to importing the SDKs it needs (target <= 5x).
"""

from __future__ import annotations

import dataclasses
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_preview import synthetic_spec
from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks
from drkit.engine.capture import capture_region
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

    end_to_end()


SDK_IMPORT = [sys.executable, "-c", "import pulumi_aws, pulumi_policy"]
CHECK = [sys.executable, "-m", "drkit", "check", str(EXAMPLES / "fraud-tier1.yaml"), "--policy-pack-config", "policies/policy-config.json"]
E2E_RUNS = 5


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - start


def end_to_end() -> None:
    """`drkit check` of the 3-region example as a user runs it, against importing the SDKs it
    needs, in turns (A B A B …) so a drifting machine moves both; target: ratio <= 5."""
    _seconds(CHECK)  # warm the file cache
    pairs = [(_seconds(CHECK), _seconds(SDK_IMPORT)) for _ in range(E2E_RUNS)]
    check, sdk = (statistics.median(p[i] for p in pairs) for i in (0, 1))
    ratio = statistics.median(c / s for c, s in pairs)
    print(
        f"drkit check fraud-tier1 (3 regions), whole process: median {check:.2f} s; "
        f"import pulumi_aws + pulumi_policy: {sdk:.2f} s; ratio {ratio:.1f}x (target <= 5x), {E2E_RUNS} pairs"
    )
