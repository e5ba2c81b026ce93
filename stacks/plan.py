"""What one region of a deployment runs, decided from the spec and the tier — pure, no Pulumi.

The tier composer (`drkit.stacks.program`) turns this plan into components; tests, cost and
drills can read the same plan to know what each tier keeps where.
"""

from __future__ import annotations

from dataclasses import dataclass

from drkit.components.endpoint import InferenceMode
from drkit.components.failover import RecordRole
from drkit.core.spec import DeploymentSpec
from drkit.core.tiers import RegionRole, RoutingPolicy, Tier, secondary_keeps_provisioned, secondary_min_instances


@dataclass(frozen=True)
class EndpointPlan:
    """One endpoint to create: model, mode and capacity in this region."""

    model: str
    mode: InferenceMode
    min_instances: int
    max_instances: int
    off_hours: bool


@dataclass(frozen=True)
class RegionPlan:
    """Everything the tier decides for one region."""

    region: str
    role: RegionRole
    record_role: RecordRole
    endpoints: tuple[EndpointPlan, ...]

    def endpoint(self, model: str, mode: InferenceMode) -> EndpointPlan | None:
        return next((e for e in self.endpoints if e.model == model and e.mode is mode), None)


def token_table_name(spec: DeploymentSpec) -> str:
    """The global table's name, identical in every region."""
    return f"drkit-{spec.deployment}-tokens"


def record_role(spec: DeploymentSpec, region: str) -> RecordRole:
    if spec.routing is RoutingPolicy.LATENCY:
        return RecordRole.LATENCY
    return RecordRole.PRIMARY if spec.role(region) is RegionRole.PRIMARY else RecordRole.SECONDARY


def plan_region(spec: DeploymentSpec, region: str) -> RegionPlan:
    """The endpoints and DNS role of one region under the spec's tier."""
    role = spec.role(region)
    endpoints: list[EndpointPlan] = []
    for model in spec.models:
        if model.provisioned:
            cap = model.provisioned
            if role is RegionRole.PRIMARY:
                endpoints.append(
                    EndpointPlan(model.name, InferenceMode.PROVISIONED, cap.min_instances, cap.max_instances, spec.off_hours is not None)
                )
            elif secondary_keeps_provisioned(spec.tier):
                minimum = secondary_min_instances(spec.tier, cap.min_instances)
                endpoints.append(
                    EndpointPlan(model.name, InferenceMode.PROVISIONED, minimum, cap.max_instances, spec.off_hours is not None)
                )
        if model.serverless:
            endpoints.append(EndpointPlan(model.name, InferenceMode.SERVERLESS, 0, 0, False))
        if model.async_:
            floor = 0 if model.async_.scale_to_zero else 1
            endpoints.append(EndpointPlan(model.name, InferenceMode.ASYNC, floor, model.async_.max_instances, False))
    return RegionPlan(region=region, role=role, record_role=record_role(spec, region), endpoints=tuple(endpoints))


__all__ = ["EndpointPlan", "RegionPlan", "Tier", "plan_region", "record_role", "token_table_name"]
