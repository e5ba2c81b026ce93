"""ResilienceAssessment: a Resilience Hub resiliency policy from the tier's targets, and the tag group.

The policy states the deployment's RTO and RPO for each disruption type Resilience Hub
assesses (Software, Hardware, AZ, Region). drkit has one target per tier, and a
failure smaller than a region must not take longer to recover from than losing the
region, so every disruption type gets the tier's RTO and RPO.

The resource group (tag query ``Deployment=<name>``) holds everything the deployment
tagged in this region — it is what a Resilience Hub application imports as its input
source. pulumi-aws 7.51.1 has **no** resource for a Resilience Hub application
(``resiliencehub`` offers ``ResiliencyPolicy`` and the separate ``V2*`` service/system
resources, whose ``V2Policy`` is a different model), so the application itself is
created outside Pulumi: ``aws resiliencehub create-app --policy-arn <policy_arn>``, then
``import-resources-to-draft-app-version --source-arns <resource_group_arn>``.

Resilience Hub keeps RTO/RPO in whole seconds, so a sub-second RPO is rounded **up** to
1 s (the policy can only be as strict as the service can express).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import pulumi
import pulumi_aws as aws

from drkit.components.naming import physical_name
from drkit.core.errors import ComponentValidationError
from drkit.core.tiers import Tier

DISRUPTION_TYPES = ("software", "hardware", "az", "region")


class DataLocation(str, Enum):
    """Resilience Hub's data location constraint."""

    ANY = "AnyLocation"
    SAME_CONTINENT = "SameContinent"
    SAME_COUNTRY = "SameCountry"


def resiliency_tier(tier: Tier) -> str:
    """Resilience Hub's tier name for a drkit DR tier."""
    return {Tier.HOT: "MissionCritical", Tier.WARM: "Critical", Tier.PILOT_LIGHT: "Important"}[tier]


def go_duration(seconds: float) -> str:
    """Whole seconds as a Go duration ("900s"); fractions round up, since the service counts whole seconds."""
    return f"{math.ceil(seconds)}s"


def policy_targets(rto_seconds: int, rpo_seconds: float) -> dict[str, tuple[str, str]]:
    """Disruption type → (rto, rpo) Go durations; the same tier targets for every type."""
    return {kind: (go_duration(rto_seconds), go_duration(rpo_seconds)) for kind in DISRUPTION_TYPES}


def tag_query(deployment: str) -> str:
    """Resource Groups TAG_FILTERS_1_0 query: every supported resource tagged Deployment=<name>."""
    return json.dumps(
        {"ResourceTypeFilters": ["AWS::AllSupported"], "TagFilters": [{"Key": "Deployment", "Values": [deployment]}]}
    )


@dataclass(frozen=True, kw_only=True)
class ResilienceAssessmentArgs:
    """Inputs of `ResilienceAssessment`."""

    deployment: str
    """Deployment name; the group selects Deployment=<deployment>."""
    tier: Tier
    """DR tier; maps to MissionCritical / Critical / Important."""
    region: str
    """The stack's region (both resources are regional); part of their names."""
    rto_seconds: int
    """Target RTO, applied to every disruption type."""
    rpo_seconds: float
    """Target RPO, applied to every disruption type (rounded up to whole seconds)."""
    data_location: DataLocation = DataLocation.ANY
    """Where Resilience Hub may suggest placing data. Default: AnyLocation."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags. Default: none."""


def _validate(name: str, args: ResilienceAssessmentArgs) -> None:
    where = f"ResilienceAssessment {name}"
    if args.rto_seconds < 1:
        raise ComponentValidationError(f"{where}: rto_seconds {args.rto_seconds} must be ≥ 1")
    if args.rpo_seconds < 0:
        raise ComponentValidationError(f"{where}: rpo_seconds {args.rpo_seconds} must be ≥ 0")
    if args.rpo_seconds > args.rto_seconds:
        raise ComponentValidationError(
            f"{where}: rpo_seconds {args.rpo_seconds} exceeds rto_seconds {args.rto_seconds}; "
            "valid: an RPO no larger than the RTO"
        )


class ResilienceAssessment(pulumi.ComponentResource):
    """Resiliency policy + tag-query resource group, the inputs of a Resilience Hub application."""

    policy_arn: pulumi.Output[str]
    resource_group_arn: pulumi.Output[str]
    targets: dict[str, tuple[str, str]]

    def __init__(self, name: str, args: ResilienceAssessmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(name, args)
        super().__init__("drkit:recovery:ResilienceAssessment", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.targets = policy_targets(args.rto_seconds, args.rpo_seconds)
        t = {kind: {"rto": rto, "rpo": rpo} for kind, (rto, rpo) in self.targets.items()}
        policy = aws.resiliencehub.ResiliencyPolicy(
            f"{name}-policy",
            name=physical_name("drkit", args.deployment, args.region, limit=60),
            description=f"DR tier {int(args.tier)} targets of {args.deployment}: RTO {args.rto_seconds} s, RPO {args.rpo_seconds} s",
            tier=resiliency_tier(args.tier),
            data_location_constraint=args.data_location.value,
            policy=aws.resiliencehub.ResiliencyPolicyPolicyArgs(
                software=aws.resiliencehub.ResiliencyPolicyPolicySoftwareArgs(**t["software"]),
                hardware=aws.resiliencehub.ResiliencyPolicyPolicyHardwareArgs(**t["hardware"]),
                az=aws.resiliencehub.ResiliencyPolicyPolicyAzArgs(**t["az"]),
                region=aws.resiliencehub.ResiliencyPolicyPolicyRegionArgs(**t["region"]),
            ),
            tags=dict(args.tags),
            opts=child,
        )
        group = aws.resourcegroups.Group(
            f"{name}-group",
            name=physical_name("drkit", args.deployment, args.region, limit=128),
            description=f"Every resource of {args.deployment} in {args.region} by its Deployment tag",
            resource_query=aws.resourcegroups.GroupResourceQueryArgs(type="TAG_FILTERS_1_0", query=tag_query(args.deployment)),
            tags=dict(args.tags),
            opts=child,
        )
        self.policy_arn = policy.arn
        self.resource_group_arn = group.arn
        self.register_outputs({"policy_arn": policy.arn, "resource_group_arn": group.arn})
