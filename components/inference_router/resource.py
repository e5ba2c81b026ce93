"""InferenceRouter: a SageMaker AI cross-Region inference router as a Pulumi custom resource.

pulumi-aws, pulumi-aws-native and moto have no inference router, so drkit ships its own
provider (`provider.py`, served by `python -m drkit.components.inference_router`). The
resource has its own type token, `drkit:sagemaker:InferenceRouter`, so the policy pack, the
captured graph and the cost engine see a router as a router — a dynamic provider would
register every such resource as `pulumi-python:dynamic:Resource`, which type-keyed rules miss.
`pulumi up` finds the provider through `plugins.providers` in Pulumi.yaml (docs/routers.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from drkit.core.inference_router import LOCAL_REGION_FIRST, TYPE_TOKEN


@dataclass(frozen=True, kw_only=True)
class RoutingTarget:
    """One model the router serves and the endpoints that can serve it."""

    name: str
    """RoutingTargetName callers pass to InvokeInferenceRouter. Default: required."""
    destinations: Sequence[str]
    """Endpoint or inference-component ARNs, 1-10; order matters only for readers (own region first)."""
    routing_preference: str = LOCAL_REGION_FIRST
    """LocalRegionFirst (real-time targets). Default: LocalRegionFirst."""

    def to_props(self) -> dict[str, object]:
        return {"name": self.name, "destinations": list(self.destinations), "routingPreference": self.routing_preference}


@dataclass(frozen=True, kw_only=True)
class InferenceRouterArgs:
    """What one region's router is."""

    region: str
    """Region the router lives in; the provider calls SageMaker there. Default: required."""
    router_name: str
    """InferenceRouterName, 1-63 chars of [a-zA-Z0-9-]. Default: required."""
    routing_targets: Sequence[RoutingTarget]
    """Real-time routing targets, 1-20. Default: required."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the router. Default: none."""


class InferenceRouter(pulumi.CustomResource):
    """A regional inference router; outputs `arn` and `status`."""

    arn: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, args: InferenceRouterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "region": args.region,
            "routerName": args.router_name,
            "routingTargets": [t.to_props() for t in args.routing_targets],
            "tags": dict(args.tags),
            "arn": None,
            "status": None,
        }
        super().__init__(TYPE_TOKEN, name, props, opts)
