"""Recovery rules: AWS's own DR services (Region switch, FIS, Resilience Hub) must agree with the tier."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy

from drkit.core.tiers import Tier, default_rpo_seconds, default_rto_seconds
from drkit.policies.declare import declare
from drkit.policies.resources import (
    ECR_REPLICATION,
    Report,
    as_list,
    ecr_destinations,
    number,
    region_of,
    stack_label,
    stack_tier,
    where,
)

PLAN = "aws:arcregionswitch/plan:Plan"
FIS_TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
RESILIENCY_POLICY = "aws:resiliencehub/resiliencyPolicy:ResiliencyPolicy"
DISRUPTIONS = ("software", "hardware", "az", "region")


def _deployment_regions(args: StackValidationArgs) -> set[str]:
    """The primary's region plus every region it replicates images to: the deployment's regions."""
    regions = {r for r in (region_of(x) for x in args.resources) if r}
    for resource in args.resources:
        if resource.resource_type == ECR_REPLICATION:
            regions |= set(ecr_destinations(resource.props))
    return regions


def _validate_plans(args: StackValidationArgs, report: Report) -> None:
    tier = stack_tier(args.resources)
    if tier is None:
        return
    stack = stack_label(args.resources)
    plans = [r for r in args.resources if r.resource_type == PLAN]
    is_primary = any(r.resource_type == ECR_REPLICATION for r in args.resources)
    if is_primary and not plans:
        report(f"Primary stack {stack} has no Region switch plan: a real failover has no runbook. Compose RegionSwitchPlan.")
    target_minutes = -(-default_rto_seconds(tier) // 60)
    approach = "activeActive" if tier is Tier.HOT else "activePassive"
    covered: set[str] = set()
    for plan in plans:
        props = plan.props
        covered |= {str(r) for r in as_list(props.get("regions"))}
        rto = number(props.get("recoveryTimeObjectiveMinutes"), float("inf"))
        if rto > target_minutes:
            report(
                f"Region switch plan {where(plan)} promises an RTO of {rto:.0f} min, above tier {int(tier)}'s target of "
                f"{target_minutes} min. Set recovery_time_objective_minutes from the tier (RegionSwitchPlanArgs.rto_seconds).",
                plan.urn,
            )
        if props.get("recoveryApproach") != approach:
            report(
                f"Region switch plan {where(plan)} uses {props.get('recoveryApproach')!r}; tier {int(tier)} needs {approach!r}.",
                plan.urn,
            )
    if plans:
        missing = sorted(_deployment_regions(args) - covered)
        if missing:
            report(
                f"The Region switch plans of stack {stack} do not cover region(s) {', '.join(missing)} of the deployment: "
                "those regions can be lost without a plan. Add a plan per secondary region (plan_region_pairs)."
            )


def _validate_stop_conditions(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != FIS_TEMPLATE:
        return
    alarms = [c for c in as_list(args.props.get("stopConditions")) if c.get("source") == "aws:cloudwatch:alarm" and c.get("value")]
    if not alarms:
        report(
            f"FIS experiment template {args.name} has no CloudWatch alarm stop condition: an experiment that goes wrong "
            "keeps injecting faults. Add the deployment's 5xx/latency alarms as stop conditions."
        )


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)$")


def _seconds(value: Any) -> float | None:
    match = _DURATION.match(str(value or ""))
    if match is None:
        return None
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def _validate_resiliency(args: StackValidationArgs, report: Report) -> None:
    tier = stack_tier(args.resources)
    if tier is None:
        return
    policies = [r for r in args.resources if r.resource_type == RESILIENCY_POLICY]
    if not policies:
        report(f"Stack {stack_label(args.resources)} has no Resilience Hub resiliency policy. Compose ResilienceAssessment.")
    rto, rpo = default_rto_seconds(tier), max(default_rpo_seconds(tier), 1.0)  # Resilience Hub counts whole seconds
    for policy in policies:
        for disruption in DISRUPTIONS:
            targets = (policy.props.get("policy") or {}).get(disruption) or {}
            got_rto, got_rpo = _seconds(targets.get("rto")), _seconds(targets.get("rpo"))
            if got_rto is None or got_rto > rto or got_rpo is None or got_rpo > rpo:
                report(
                    f"Resiliency policy {where(policy)} sets {disruption} RTO {targets.get('rto')!r} / RPO {targets.get('rpo')!r}; "
                    f"tier {int(tier)} needs at most {rto:.0f}s / {rpo:.0f}s. Derive it from the tier (ResilienceAssessmentArgs).",
                    policy.urn,
                )


POLICIES = [
    declare(
        StackValidationPolicy,
        "region-switch-plan-matches-tier",
        "Checks whether the primary has Region switch plans covering every region, with the tier's RTO and approach.",
        _validate_plans,
    ),
    declare(
        ResourceValidationPolicy,
        "fis-template-has-stop-condition",
        "Checks whether every FIS experiment template stops on at least one CloudWatch alarm.",
        _validate_stop_conditions,
    ),
    declare(
        StackValidationPolicy,
        "resiliency-policy-matches-tier",
        "Checks whether the stack has a Resilience Hub policy whose RTO/RPO per disruption are within the tier's targets.",
        _validate_resiliency,
    ),
]
