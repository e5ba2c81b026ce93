"""Cost levers against the fair baseline, per tier: each example as shipped, then with one lever
undone at a time, so the saving of each lever is measured, not asserted.

    python -m bench bench_cost_levers      # markdown table on stdout (docs/cost.md's table)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from drkit.core.spec import DeploymentSpec
from drkit.core.usage import load_usage
from drkit.engine.capture import capture
from drkit.engine.cost import deployment_cost

EXAMPLES = Path(__file__).resolve().parent.parent / "stacks" / "examples"
Change = Callable[[dict[str, Any]], None]


def _models(change: Callable[[dict[str, Any]], None]) -> Change:
    def apply(spec: dict[str, Any]) -> None:
        for model in spec["models"]:
            change(model)

    return apply


def _no_off_hours(spec: dict[str, Any]) -> None:
    # tiers 2-3 must have a schedule (the spec refuses none): one that keeps the daytime minimum
    floor = max(m["provisioned"]["min_instances"] for m in spec["models"] if m.get("provisioned"))
    spec["off_hours"]["min_instances"] = floor


def _async_always_on(model: dict[str, Any]) -> None:
    if model.get("async"):
        model["async"]["scale_to_zero"] = False


def _no_serverless(model: dict[str, Any]) -> None:
    model.pop("serverless", None)


def _set(name: str, path: tuple[str, ...], value: Any) -> Change:
    def apply(spec: dict[str, Any]) -> None:
        for model in spec["models"]:
            if model["name"] == name:
                target = model
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value

    return apply


LEVERS: dict[str, list[tuple[str, list[Change]]]] = {
    "docs-tier3": [
        ("async always on (no scale to zero)", [_models(_async_always_on)]),
        ("without serverless (standard traffic on provisioned)", [_models(_no_serverless)]),
        ("before resizing: real-time ml.m5.large, async ml.m5.xlarge × 4 at a time",
         [_set("doc-classifier", ("provisioned", "instance_type"), "ml.m5.large"), _set("doc-classifier", ("async", "instance_type"), "ml.m5.xlarge"),
          _set("doc-classifier", ("async", "max_instances"), 2), _set("doc-classifier", ("async", "max_concurrent_invocations_per_instance"), 4)]),
    ],
    "search-tier2": [
        ("off-hours schedule keeping the daytime minimum (2)", [_no_off_hours]),
        ("async always on (no scale to zero)", [_models(_async_always_on)]),
        ("without serverless (standard traffic on provisioned)", [_models(_no_serverless)]),
        ("before resizing: query-embed on ml.g5.xlarge", [_set("query-embed", ("provisioned", "instance_type"), "ml.g5.xlarge"), _set("query-embed", ("async", "instance_type"), "ml.g5.xlarge")]),
    ],
    "fraud-tier1": [
        ("async always on (no scale to zero)", [_models(_async_always_on)]),
        ("without serverless (standard traffic on provisioned)", [_models(_no_serverless)]),
    ],
}  # fmt: skip


def measure(example: str, changes: list[Change]) -> tuple[float, float]:
    data = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    data = copy.deepcopy(data)
    for change in changes:
        change(data)
    cost = deployment_cost(capture(DeploymentSpec.model_validate(data)), load_usage(EXAMPLES / "usage" / f"{example}.yaml"))
    return cost.total_usd, cost.baseline_total_usd


def main() -> None:
    print("| tier | design | USD/month | its own fair baseline | ratio to its own | ratio to the shipped design's |")
    print("|---|---|---:|---:|---:|---:|")
    for example, levers in LEVERS.items():
        total, baseline = measure(example, [])
        tier = example.rsplit("tier", 1)[1]
        print(f"| {tier} | {example} as shipped | {total:,.0f} | {baseline:,.0f} | **{total / baseline:.1%}** | **{total / baseline:.1%}** |")
        for name, changes in levers:
            other, other_baseline = measure(example, changes)
            print(f"| {tier} | {name} | {other:,.0f} | {other_baseline:,.0f} | {other / other_baseline:.1%} | {other / baseline:.1%} |")


if __name__ == "__main__":
    main()
