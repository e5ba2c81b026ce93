"""Offline preview time as regions (R) and models (M) grow, 1x1 up to 10x20.

Reports seconds, resources, and each size's time as a ratio of the 1x1 baseline measured
in the same run, plus time per resource (flat per-resource time = linear growth).
"""

from __future__ import annotations

import time
from typing import Any

from drkit.core.inference_router import MAX_ROUTING_TARGETS
from drkit.core.spec import DeploymentSpec, parse_spec
from drkit.engine.capture import capture
from tests.conftest import EXAMPLES

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1", "us-east-2", "eu-north-1", "ca-central-1", "sa-east-1"]
SIZES = [(1, 1), (3, 1), (3, 5), (5, 10), (10, 10), (10, 20)]


def synthetic_spec(regions: int, models: int) -> DeploymentSpec:
    """A tier-1 deployment with `regions` regions and `models` provisioned+serverless models."""
    import yaml

    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "fraud-tier1.yaml").read_text())
    data.update(primary_region=REGIONS[0], secondary_regions=REGIONS[1 : max(regions, 2)], allowed_regions=None)
    template = data["models"][0]
    # A router takes at most MAX_ROUTING_TARGETS models; the rest invoke their endpoints directly.
    data["models"] = [
        {**template, "name": f"model-{i:02d}", "async": None, "inference_router": template.get("inference_router", False) and i < MAX_ROUTING_TARGETS}
        for i in range(models)
    ]
    for model in data["models"]:
        model.pop("async")
    spec = parse_spec(data)
    return spec


def timed(spec: DeploymentSpec, regions: int) -> tuple[float, int]:
    start = time.perf_counter()
    graph = capture(spec, list(spec.regions[:regions]))
    return time.perf_counter() - start, graph.resource_count


def main() -> None:
    timed(synthetic_spec(1, 1), 1)  # warm imports and the Pulumi runtime
    rows = []
    for regions, models in SIZES:
        seconds, resources = timed(synthetic_spec(regions, models), regions)
        rows.append((regions, models, seconds, resources))
    base_seconds, base_resources = rows[0][2], rows[0][3]
    print(f"{'RxM':>6} {'resources':>9} {'seconds':>8} {'x 1x1':>7} {'ms/resource':>12} {'per-resource vs 1x1':>20}")
    for regions, models, seconds, resources in rows:
        per = seconds / resources
        print(
            f"{regions:>2}x{models:<3} {resources:>9} {seconds:>8.2f} {seconds / base_seconds:>7.1f}"
            f" {per * 1000:>12.2f} {per / (base_seconds / base_resources):>20.2f}"
        )
