"""Policy-check time per stack as the stack grows from 10 to 2,000 resources.

One synthetic tier-1 primary stack with 200 models (2,000+ resources) is captured
once; its first N resources are then checked by the running pack (Analyze per resource +
AnalyzeStack), so only the check is timed. Ratios are against the 10-resource check in
the same run. Also reported: the whole `drkit check` of the 3-region example (capture,
pack start-up and check) as a whole process, as a ratio to importing the SDKs it needs (target <= 5x)
and to importing the pulumi-aws classes its stacks register (the bare import loads none of them),
and the same check with the deploy rules (`policies/deploy_rules.py`: botocore limits, documented
limits, input safety) against it with them disabled, as a ratio (target <= 1.20).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from pulumi_policy.proxy import unknown_checking_proxy

from bench.bench_preview import synthetic_spec
from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks, run_check
from drkit.core import aws_limits as al
from drkit.core.spec import load_spec
from drkit.engine.capture import capture_region, capture_regions
from drkit.engine.graph import RegionGraph
from drkit.policies.deploy_rules import POLICIES as DEPLOY_RULES
from drkit.policies.resources import sdk_class_path
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
    deploy_rules_ratio()


SDK_IMPORT = [sys.executable, "-c", "import pulumi_aws, pulumi_policy"]
CHECK = [sys.executable, "-m", "drkit", "check", str(EXAMPLES / "fraud-tier1.yaml"), "--policy-pack-config", "policies/policy-config.json"]
E2E_RUNS = 5


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - start


def _resource_classes_import() -> tuple[list[str], int]:
    """A process that imports the pulumi_aws class of every type the example's stacks register:
    `import pulumi_aws` alone loads none of them (its service modules load on first use)."""
    types = sorted({r.type for g in capture_regions(load_spec(EXAMPLES / "fraud-tier1.yaml")) for r in g.resources})
    classes = [f"{module}.{name}" for module, name in filter(None, map(sdk_class_path, types))]
    return [sys.executable, "-c", f"import pulumi_aws, pulumi_policy; [{', '.join(classes)}]"], len(classes)


def end_to_end() -> None:
    """`drkit check` of the 3-region example as a user runs it, against importing the SDKs it
    needs, in turns (A B A B …) so a drifting machine moves both; target: ratio <= 5."""
    classes, count = _resource_classes_import()
    _seconds(CHECK)  # warm the file cache
    runs = [(_seconds(CHECK), _seconds(SDK_IMPORT), _seconds(classes)) for _ in range(E2E_RUNS)]
    check, sdk, used = (statistics.median(r[i] for r in runs) for i in (0, 1, 2))
    ratio = statistics.median(c / s for c, s, _ in runs)
    print(
        f"drkit check fraud-tier1 (3 regions), whole process: median {check:.2f} s; "
        f"import pulumi_aws + pulumi_policy: {sdk:.2f} s; ratio {ratio:.1f}x (target <= 5x), {E2E_RUNS} runs each"
    )
    print(
        f"  importing the {count} pulumi_aws classes the stacks register: {used:.2f} s; "
        f"ratio {statistics.median(c / u for c, _, u in runs):.1f}x"
    )


def _check_in_process(config: dict) -> tuple[float, int]:
    """`drkit check stacks/examples/fraud-tier1.yaml` as the command runs it: pack boots during capture."""
    path = EXAMPLES / "fraud-tier1.yaml"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(config, file)
    start = time.perf_counter()
    with PolicyPackProcess(DEFAULT_PACK_DIR) as pack:
        spec = load_spec(path)
        result = run_check(spec, capture_regions(spec), spec_path=str(path), pack=pack, config_path=file.name)
    seconds = time.perf_counter() - start
    Path(file.name).unlink()
    return seconds, len(result.findings)


def deploy_rules_ratio() -> None:
    without = {p.name: "disabled" for p in DEPLOY_RULES}
    _check_in_process({})  # warm the imports and botocore's model cache on disk
    runs: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(REPEATS):  # interleaved, so load on the machine hits both alike
        runs["with"].append(_check_in_process({})[0])
        runs["without"].append(_check_in_process(without)[0])
    best_with, best_without = min(runs["with"]), min(runs["without"])
    print(
        f"fraud-tier1 check with deploy rules {best_with:.2f} s, disabled {best_without:.2f} s: "
        f"ratio {best_with / best_without:.2f} (best of {REPEATS}; target <= 1.20)"
    )
    # A disabled rule's module still loads the models in the background, so also report the
    # rules' whole cost as if nothing overlapped: loading the models in a fresh interpreter plus
    # judging every resource of the three stacks.
    code = (
        "import time; t = time.perf_counter(); from drkit.core import aws_limits as al; al.warm(); "
        "print(time.perf_counter() - t)"
    )
    load = min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(REPEATS))
    graphs = list(capture_regions(load_spec(EXAMPLES / "fraud-tier1.yaml")))
    start = time.perf_counter()
    for graph in graphs:
        for resource in graph.custom_resources:
            args = types.SimpleNamespace(resource_type=resource.type, props=unknown_checking_proxy(dict(resource.inputs)), name=resource.name, urn=resource.urn)
            for policy in DEPLOY_RULES:
                policy.validate(args, lambda *_: None)
    judge = time.perf_counter() - start
    print(
        f"  deploy rules' own cost: {load:.2f} s loading {len(al.RESOURCE_APIS)} types' models + {judge:.2f} s judging "
        f"{sum(len(g.custom_resources) for g in graphs)} resources; no-overlap bound {(best_without + load + judge) / best_without:.2f}"
    )
