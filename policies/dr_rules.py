"""Disaster-recovery rules: token table, health check and record, RTO, regions, independence."""

from __future__ import annotations

import json
import re
from typing import Any

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy

from drkit.core.catalog import SAGEMAKER_REGIONS
from drkit.core.rto import record_role, worst_case_rto
from drkit.core.tiers import Tier, default_rto_seconds
from drkit.policies.declare import declare, setting
from drkit.policies.resources import (
    ECR_REPLICATION,
    ENDPOINT_CONFIG,
    HEALTH_CHECK,
    IAM_DOCUMENT_PROPS,
    INFERENCE_ROUTER,
    MODEL,
    RECORD,
    REPLICA,
    TABLE,
    TOKEN_TABLE_HASH_KEY,
    Report,
    as_list,
    ecr_destinations,
    number,
    plain,
    region_of,
    stack_label,
    stack_tier,
    tags,
    where,
)


def _validate_token_table(args: StackValidationArgs, report: Report) -> None:
    if stack_tier(args.resources) is None:
        return  # not a drkit stack
    stack = stack_label(args.resources)
    tables = [r for r in args.resources if r.resource_type == TABLE and r.props.get("hashKey") == TOKEN_TABLE_HASH_KEY]
    replicas = [r for r in args.resources if r.resource_type == REPLICA]
    inline = [r for r in args.resources if r.resource_type == TASK_TOKEN_TABLE and r.props.get("role") == "inline"]
    if not tables and not replicas and inline:
        if inline[0].props.get("consistency") != "STRONG":
            report(f"Stack {stack}: an inline token-table replica exists only under strong consistency; got {inline[0].props.get('consistency')!r}.")
        return  # strong consistency: the primary's table declares this region's replica inline
    if not tables and not replicas:
        report(
            f"Stack {stack} has neither the task-token table nor a replica of it: a region without the "
            "token table cannot redrive another region's requests. Compose the stack with TaskTokenTable."
        )
        return
    for table in tables:
        props = table.props
        problems = []
        if props.get("billingMode") != "PAY_PER_REQUEST":
            problems.append(f"billingMode is {props.get('billingMode')!r}, needs 'PAY_PER_REQUEST'")
        if not (props.get("pointInTimeRecovery") or {}).get("enabled"):
            problems.append("point-in-time recovery is off")
        if not (props.get("ttl") or {}).get("enabled"):
            problems.append("TTL is off, so finished tokens are never removed")
        if not props.get("streamEnabled") or props.get("streamViewType") != "NEW_AND_OLD_IMAGES":
            problems.append("streams are not NEW_AND_OLD_IMAGES, which global-table replication requires")
        strong = [r for r in as_list(props.get("replicas")) if r.get("consistencyMode") == "STRONG"]
        if strong and len(strong) != 2:
            problems.append(f"multi-Region strong consistency needs exactly 2 inline replicas (3 regions); got {len(strong)}")
        if strong and not all(r.get("pointInTimeRecovery") for r in strong):
            problems.append("an inline strong-consistency replica has point-in-time recovery off")
        if problems:
            report(f"Task-token table {where(table)} in stack {stack}: {'; '.join(problems)}. Use TaskTokenTable's defaults.")
    for replica in replicas:
        if not replica.props.get("pointInTimeRecovery"):
            report(f"Table replica {where(replica)} in stack {stack} has point-in-time recovery off. Set point_in_time_recovery=True.")


def _validate_health_and_record(args: StackValidationArgs, report: Report) -> None:
    if stack_tier(args.resources) is None:
        return
    stack = stack_label(args.resources)
    checks = [r for r in args.resources if r.resource_type == HEALTH_CHECK]
    routed = [
        r
        for r in args.resources
        if r.resource_type == RECORD and record_role(r.props)
    ]
    if not checks:
        report(f"Stack {stack} has no Route 53 health check, so DNS cannot tell when this region fails. Add RegionalFailoverRecord.")
    if not routed:
        report(f"Stack {stack} has no failover or latency record, so traffic cannot move to or from this region. Add RegionalFailoverRecord.")
    for record in routed:
        if not record.props.get("healthCheckId"):
            report(f"Record {where(record)} in stack {stack} has no health check attached, so Route 53 never fails it over. Set health_check_id.")


_RTO_SETTINGS = {
    "rtoTargetSeconds": setting(
        "object",
        properties={str(int(t)): {"type": "number", "minimum": 1} for t in Tier},
        additionalProperties=False,
        default={str(int(t)): default_rto_seconds(t) for t in Tier},
        description="Target RTO in seconds per DR tier ('1', '2', '3').",
    )
}


def _validate_rto(args: StackValidationArgs, report: Report) -> None:
    tier = stack_tier(args.resources)
    if tier is None:
        return
    targets = args.get_config().get("rtoTargetSeconds") or {}
    target = float(targets.get(str(int(tier)), default_rto_seconds(tier)))
    bound = worst_case_rto((r.resource_type, plain(r.props)) for r in args.resources)
    if bound.total_seconds > target:
        report(
            f"Stack {stack_label(args.resources)} can take {bound.explain()} to serve after a failover, over tier "
            f"{int(tier)}'s target of {target:.0f} s. Shorten the health-check interval or threshold, the record TTL, "
            "or the model download / container startup timeouts, or keep more capacity warm."
        )


def _regions_used(args: ResourceValidationArgs) -> list[str]:
    """The provider's region and every region the resource places data or images in."""
    provider_region = region_of(args)
    found = [provider_region] if provider_region else []
    if args.resource_type == TABLE:
        found += [str(r.get("regionName")) for r in as_list(args.props.get("replicas")) if r.get("regionName")]
    if args.resource_type == ECR_REPLICATION:
        found += ecr_destinations(args.props)
    return found


_REGION_SETTINGS = {
    "allowedRegions": setting(
        "array",
        items={"type": "string", "enum": sorted(SAGEMAKER_REGIONS)},
        default=[],
        description="Regions the organisation's data may live in. Empty: every SageMaker region.",
    )
}


def _validate_regions(args: ResourceValidationArgs, report: Report) -> None:
    allowed = list(args.get_config().get("allowedRegions") or sorted(SAGEMAKER_REGIONS))
    for region in _regions_used(args):
        if region not in allowed:
            report(
                f"{where(args)} is placed in {region}, outside the allowed regions ({', '.join(allowed)}). "
                "Move the deployment to an allowed region or, if data residency permits, add it to `allowedRegions`."
            )


ARN_REGION = re.compile(r"arn:aws[a-z-]*:([a-z0-9-]+):([a-z]{2}(?:-[a-z]+)+-\d):")
HOST_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com")
TASK_TOKEN_TABLE = "drkit:table:TaskTokenTable"
# The only cross-region references DR needs: the replica names its global table (or the table its
# inline replicas), and
# the primary's ECR replication names its destinations (data flows out, never read back).
# Under strong consistency the table declares its replicas inline, each with its region's key.
CROSS_REGION_ALLOWED = {(REPLICA, "globalTableArn"), (TABLE, "replicas"), (ECR_REPLICATION, "replicationConfiguration")}
# An ARC Region switch plan spans two regions by design: it and its execution role name the
# recovery functions of both, and run outside the regions they recover.
REGION_SWITCH_PLAN = "aws:arcregionswitch/plan:Plan"
REGION_SWITCH_COMPONENT = "drkit:recovery:RegionSwitchPlan"


def _spans_regions(resource: Any) -> bool:
    if resource.resource_type == REGION_SWITCH_PLAN:
        return True
    parent = resource.parent
    while parent is not None:
        if parent.resource_type == REGION_SWITCH_COMPONENT:
            return True
        parent = parent.parent
    return False


# An inference router's destinations are a failover link, not a dependency: its routing target
# lists the model's real-time endpoint in every region with its own region's first
# (LocalRegionFirst), so losing another region leaves it serving locally. The caller must be
# allowed to invoke every destination (AWS: the router uses the caller's credentials), so the
# same ARNs appear in exactly one kind of statement: sagemaker:InvokeEndpoint on them.
ROUTED_ENDPOINT = re.compile(r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):\d{12}:endpoint/[a-zA-Z0-9-]+$")


def _routed_destinations(resources: Any) -> set[str]:
    """Destination ARNs of the stack's routers whose targets include their own region's endpoint."""
    allowed: set[str] = set()
    for resource in resources:
        if resource.resource_type != INFERENCE_ROUTER:
            continue
        region = plain(resource.props).get("region")
        for target in plain(resource.props).get("routingTargets") or []:
            destinations = [str(d) for d in target.get("destinations") or []]
            matches = [ROUTED_ENDPOINT.match(d) for d in destinations]
            if all(matches) and any(m and m.group(1) == region for m in matches):
                allowed |= set(destinations)
    return allowed


def _without_routed(resource: Any, props: dict[str, Any], routed: set[str]) -> dict[str, Any]:
    """`props` less the router's destinations and the InvokeEndpoint statements on exactly those."""
    if not routed:
        return props
    if resource.resource_type == INFERENCE_ROUTER:
        targets = [{**t, "destinations": [d for d in t.get("destinations") or [] if d not in routed]}
                   for t in props.get("routingTargets") or []]  # fmt: skip
        return {**props, "routingTargets": targets}
    for key in IAM_DOCUMENT_PROPS.get(resource.resource_type, ()):
        try:
            document = json.loads(props[key]) if isinstance(props.get(key), str) else None
        except json.JSONDecodeError:
            continue
        if not isinstance(document, dict):
            continue
        kept = [s for s in as_list(document.get("Statement")) if not _invokes_routed(s, routed)]
        props = {**props, key: json.dumps({**document, "Statement": kept})}
    return props


def _invokes_routed(statement: Any, routed: set[str]) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    actions, targets = as_list(statement.get("Action")), as_list(statement.get("Resource"))
    return actions == ["sagemaker:InvokeEndpoint"] and bool(targets) and all(t in routed for t in targets)


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _strings(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _strings(v, f"{path}[{i}]")]
    return []


def _validate_independence(args: StackValidationArgs, report: Report) -> None:
    routed = _routed_destinations(args.resources)
    for resource in args.resources:
        region = region_of(resource)
        if region is None or _spans_regions(resource):
            continue
        for path, text in _strings(_without_routed(resource, plain(resource.props), routed), ""):
            if (resource.resource_type, path.split(".")[0].split("[")[0]) in CROSS_REGION_ALLOWED:
                continue
            others = {m.group(2) for m in ARN_REGION.finditer(text)} | {m.group(1) for m in HOST_REGION.finditer(text)}
            for other in sorted(others - {region}):
                report(
                    f"{where(resource)} in {region} references {other} at `{path}` ({text[:120]}). A region that "
                    f"reads from {other} fails with it: use this region's own copy (replicated bucket, ECR replica, key).",
                    resource.urn,
                )


def _validate_pinned(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != MODEL:
        return
    containers = as_list(args.props.get("primaryContainer")) + as_list(args.props.get("containers"))
    for container in containers:
        image = str(container.get("image") or "")
        if "@sha256:" not in image:
            report(
                f"Model {args.name} runs image {image!r}, which is not pinned by digest: a tag can point at different "
                "code in each region. Reference the image as <repository>@sha256:<digest>."
            )


def _validate_multi_az(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != ENDPOINT_CONFIG or tags(args.props).get("DRTier") != "1":
        return
    if tags(args.props).get("InferenceType") != "provisioned":
        return
    for variant in as_list(args.props.get("productionVariants")):
        count = number(variant.get("initialInstanceCount"), 0)
        if not variant.get("serverlessConfig") and count < 2:
            report(
                f"Tier-1 variant {variant.get('variantName')} of {args.name} runs {count:.0f} instance: SageMaker "
                "spreads instances over Availability Zones only when there are at least two. Set min_instances >= 2."
            )


POLICIES = [
    declare(
        StackValidationPolicy,
        "token-table-global",
        "Checks whether the task-token table is a global table (or replica) with PITR, TTL and PAY_PER_REQUEST.",
        _validate_token_table,
    ),
    declare(
        StackValidationPolicy,
        "health-check-and-dns-record",
        "Checks whether the region has a Route 53 health check and a failover or latency record that uses it.",
        _validate_health_and_record,
    ),
    declare(
        StackValidationPolicy,
        "rto-within-tier-target",
        "Checks whether the worst-case RTO computed from the resources (health-check interval x failure threshold"
        " + record TTL + scale-up or cold-start time) is within the tier's target.",
        _validate_rto,
        settings=_RTO_SETTINGS,
    ),
    declare(
        ResourceValidationPolicy,
        "allowed-regions",
        "Checks whether every resource, replica and image replica is in an allowed region (data residency).",
        _validate_regions,
        settings=_REGION_SETTINGS,
    ),
    declare(
        StackValidationPolicy,
        "regional-independence",
        "Checks whether no resource references an ARN, bucket or image in another region (except global-table replication).",
        _validate_independence,
    ),
    declare(
        ResourceValidationPolicy,
        "model-pinned-by-digest",
        "Checks whether every SageMaker model's image is pinned by digest, so every region serves the same code.",
        _validate_pinned,
    ),
    declare(
        ResourceValidationPolicy,
        "tier1-multi-az",
        "Checks whether tier-1 provisioned variants run at least two instances, so they span Availability Zones.",
        _validate_multi_az,
    ),
]
