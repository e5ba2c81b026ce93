"""Cost rules: budget, instance types, capacity caps, off-hours scale-down, cost tags."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from drkit.core.errors import DrkitError
from drkit.core.tiers import Tier
from drkit.core.usage import UsageProfile, load_usage, usage_from_data
from drkit.engine.cost import CostEstimate, monthly_cost
from drkit.policies.declare import declare, keyed, setting
from drkit.policies.resources import (
    COST_TAGS,
    ENDPOINT,
    ENDPOINT_CONFIG,
    SCHEDULED_ACTION,
    TARGET,
    Report,
    as_list,
    endpoint_from_resource_id,
    is_taggable,
    number,
    plain,
    region_of,
    stack_label,
    stack_tier,
    tags,
    where,
)

DEFAULT_MONTHLY_BUDGET_USD = 5000
DEFAULT_INSTANCE_TYPES = (
    "ml.t2.medium",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.c5.large",
    "ml.c5.xlarge",
    "ml.c5.2xlarge",
    "ml.c6i.large",
    "ml.c6i.xlarge",
    "ml.c6i.2xlarge",
    "ml.m6i.large",
    "ml.m6i.xlarge",
    "ml.g5.xlarge",
    "ml.g5.2xlarge",
    "ml.inf2.xlarge",
)
DEFAULT_MAX_INSTANCES_PER_MODEL = 10


_BUDGET_SETTINGS = {
    "monthlyBudgetUsd": setting(
        "number", minimum=0, default=DEFAULT_MONTHLY_BUDGET_USD, description="Budget for any stack not listed in `budgets`."
    ),
    "budgets": keyed({"type": "number", "minimum": 0}, "Monthly budget in USD per stack, keyed `<deployment>-<region>`."),
    "usageProfiles": keyed(
        {"type": "object"},
        "Usage profiles inline (drkit's usage-profile fields), keyed by stack `<deployment>-<region>` or by deployment.",
    ),
    "usageProfile": setting(
        "string",
        default="",
        description="Path to a usage profile file for stacks not in `usageProfiles` (`drkit check` resolves it against the "
        "config file; `pulumi preview` against its working directory). Empty: usage-driven lines are not priced.",
    ),
}


def stack_usage(config: Mapping[str, Any], stack: str) -> UsageProfile | None:
    """The usage profile the policy config gives this stack: inline under `usageProfiles` (keyed by
    stack, else by deployment), else the file `usageProfile` names; None prices capacity only."""
    inline = config.get("usageProfiles") or {}
    deployment = stack.rsplit("-", 3)[0] if stack.count("-") >= 3 else stack
    for key in (stack, deployment):
        if key in inline:
            return usage_from_data(inline[key], f"policy config usageProfiles.{key}")
    if config.get("usageProfile"):
        return load_usage(str(config["usageProfile"]))
    return None


@dataclass(frozen=True)
class _Priced:
    """What a stack's estimate is computed from, compared by content (`key`): both budget policies
    price every stack, and each receives its own copy of the stack's resources, so identity cannot
    tell that the second is pricing what the first just priced."""

    key: str
    resources: list[tuple[str, Any, str | None]] = field(compare=False)
    usage: UsageProfile | None = field(compare=False)


@lru_cache(maxsize=8)
def _estimate(priced: _Priced) -> CostEstimate:
    return monthly_cost(priced.resources, priced.usage)  # the same call `drkit cost` makes per stack


def _budget_inputs(args: StackValidationArgs) -> tuple[str, float, CostEstimate]:
    config = args.get_config()
    stack = stack_label(args.resources)
    budget = float((config.get("budgets") or {}).get(stack, config.get("monthlyBudgetUsd", DEFAULT_MONTHLY_BUDGET_USD)))
    usage = stack_usage(config, stack)
    triples = [(r.resource_type, plain(r.props), region_of(r)) for r in args.resources]
    key = json.dumps([triples, usage.model_dump(mode="json") if usage else None], sort_keys=True, default=str)
    return stack, budget, _estimate(_Priced(key, triples, usage))


def _validate_budget(args: StackValidationArgs, report: Report) -> None:
    try:
        stack, budget, estimate = _budget_inputs(args)
    except DrkitError as exc:
        report(f"Cannot price stack {stack_label(args.resources)}: {exc}. Fix `usageProfiles` or `usageProfile` in the policy config.")
        return
    if estimate.total_usd > budget:
        biggest = sorted(estimate.lines, key=lambda line: line.monthly_usd, reverse=True)[:3]
        top = "; ".join(f"{line.description} ${line.monthly_usd:,.0f}" for line in biggest)
        partial = " (priced part only; unpriced lines would add more)" if not estimate.complete else ""
        report(
            f"Stack {stack} is estimated at ${estimate.total_usd:,.0f}/month{partial}, over its budget of ${budget:,.0f}. "
            f"Largest lines: {top}. Lower min/max instances or instance sizes, add an off-hours schedule, "
            f"or raise `budgets.{stack}` in the policy config."
        )


def _validate_budget_complete(args: StackValidationArgs, report: Report) -> None:
    try:
        stack, _, estimate = _budget_inputs(args)
    except DrkitError:
        return  # monthly-cost-within-budget reports it
    if not estimate.complete:
        report(
            f"Stack {stack}'s estimate of ${estimate.total_usd:,.0f}/month is incomplete: "
            + "; ".join(note.rstrip(".") for note in estimate.notes())
            + ". Give the stack's usage profile under `usageProfiles` in the policy config, or add the missing prices."
        )


def _variants(props: Any) -> list[Any]:
    return as_list(props.get("productionVariants")) + as_list(props.get("shadowProductionVariants"))


_INSTANCE_TYPE_SETTINGS = {
    "allowedInstanceTypes": setting(
        "array",
        items={"type": "string", "pattern": "^ml\\."},
        default=list(DEFAULT_INSTANCE_TYPES),
        description="SageMaker instance types endpoints may use.",
    )
}


def _validate_instance_types(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != ENDPOINT_CONFIG:
        return
    allowed = list(args.get_config().get("allowedInstanceTypes", DEFAULT_INSTANCE_TYPES))
    for variant in _variants(args.props):
        instance_type = variant.get("instanceType")
        if instance_type and instance_type not in allowed:
            report(
                f"Variant {variant.get('variantName')} of endpoint configuration {args.name} uses {instance_type}, "
                f"which is not in the allowed instance types ({', '.join(allowed)}). "
                "Pick an allowed type or add it to `allowedInstanceTypes` in the policy config."
            )


def _endpoint_models(args: StackValidationArgs) -> dict[str, tuple[str, str]]:
    """Endpoint name -> (model, inference type), from the endpoints' tags."""
    found = {}
    for resource in args.resources:
        if resource.resource_type == ENDPOINT:
            endpoint_tags = tags(resource.props)
            found[str(resource.props.get("name"))] = (
                str(endpoint_tags.get("Model", "?")),
                str(endpoint_tags.get("InferenceType", "?")),
            )
    return found


_CAPACITY_SETTINGS = {
    "maxInstancesPerModel": setting(
        "integer", minimum=1, default=DEFAULT_MAX_INSTANCES_PER_MODEL, description="Cap for any model not listed in `modelCaps`."
    ),
    "modelCaps": keyed(
        {"type": "integer", "minimum": 0}, "Maximum instances per model name, summed over its endpoints in one stack."
    ),
}


def _validate_capacity_caps(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    default_cap = int(config.get("maxInstancesPerModel", DEFAULT_MAX_INSTANCES_PER_MODEL))
    caps = config.get("modelCaps") or {}
    models = _endpoint_models(args)
    per_model: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for resource in args.resources:
        if resource.resource_type != TARGET or resource.props.get("serviceNamespace") != "sagemaker":
            continue
        endpoint = endpoint_from_resource_id(resource.props.get("resourceId"))
        if endpoint is None:
            continue
        model = models.get(endpoint, ("?", "?"))[0]
        per_model[model].append((endpoint, int(number(resource.props.get("maxCapacity")))))
    for model, targets in sorted(per_model.items()):
        cap = int(caps.get(model, default_cap))
        total = sum(count for _, count in targets)
        if total > cap:
            detail = ", ".join(f"{endpoint} max {count}" for endpoint, count in targets)
            report(
                f"Model {model} can scale to {total} instances in stack {stack_label(args.resources)} ({detail}), "
                f"above its cap of {cap}. Lower max_instances in the deployment spec or raise "
                f"`modelCaps.{model}` in the policy config."
            )


def _validate_off_hours(args: StackValidationArgs, report: Report) -> None:
    tier = stack_tier(args.resources)
    if tier is None or tier is Tier.HOT:
        return  # tier 1 keeps full capacity around the clock: that is what it pays for
    models = _endpoint_models(args)
    lowest_scheduled: dict[str, float] = {}
    for resource in args.resources:
        if resource.resource_type == SCHEDULED_ACTION:
            resource_id = str(resource.props.get("resourceId"))
            action = resource.props.get("scalableTargetAction") or {}
            minimum = number(action.get("minCapacity"), float("inf"))
            lowest_scheduled[resource_id] = min(lowest_scheduled.get(resource_id, float("inf")), minimum)
    for resource in args.resources:
        if resource.resource_type != TARGET:
            continue
        resource_id = str(resource.props.get("resourceId"))
        endpoint = endpoint_from_resource_id(resource_id)
        model, kind = models.get(endpoint or "", ("?", "?"))
        minimum = number(resource.props.get("minCapacity"))
        if kind != "provisioned" or minimum <= 1:
            continue  # one instance is the floor off-hours too; nothing to scale down
        if lowest_scheduled.get(resource_id, float("inf")) >= minimum:
            report(
                f"Provisioned endpoint {endpoint} (model {model}, tier {int(tier)}) keeps {minimum:.0f} instances "
                "around the clock: it has no scheduled action lowering its minimum off-hours. "
                "Add `off_hours` (timezone, scale_down_at, scale_up_at) to the deployment spec."
            )


def _validate_cost_tags(args: ResourceValidationArgs, report: Report) -> None:
    missing = [key for key in COST_TAGS if not tags(args.props).get(key)]
    # Only a resource that lacks a tag is asked whether its type takes tags: for a type outside
    # policies/taggable.json the answer loads a pulumi_aws service module (up to 0.3 s).
    if missing and is_taggable(args.resource_type):
        report(
            f"{where(args)} lacks cost tags {', '.join(missing)}. Create it through a drkit component "
            "(drkit.components.naming.standard_tags) or add the tags yourself."
        )


POLICIES = [
    declare(
        StackValidationPolicy,
        "monthly-cost-within-budget",
        "Checks whether the priced part of the stack's monthly estimate (drkit cost's own figure) is within its budget.",
        _validate_budget,
        settings=_BUDGET_SETTINGS,
    ),
    declare(
        StackValidationPolicy,
        "monthly-cost-complete",
        "Checks whether the stack's monthly estimate prices every line: a usage profile is given and no price is missing.",
        _validate_budget_complete,
        level=EnforcementLevel.ADVISORY,
        settings=_BUDGET_SETTINGS,
    ),
    declare(
        ResourceValidationPolicy,
        "instance-type-allowlist",
        "Checks whether every SageMaker variant uses an instance type from the allowlist.",
        _validate_instance_types,
        settings=_INSTANCE_TYPE_SETTINGS,
    ),
    declare(
        StackValidationPolicy,
        "capacity-caps",
        "Checks whether each model's autoscaling maximum, summed over its endpoints, is within its cap.",
        _validate_capacity_caps,
        settings=_CAPACITY_SETTINGS,
    ),
    declare(
        StackValidationPolicy,
        "off-hours-scale-down",
        "Checks whether provisioned endpoints outside tier 1 scale down off-hours on a schedule.",
        _validate_off_hours,
        level=EnforcementLevel.ADVISORY,  # saves money; never breaks recovery
    ),
    declare(
        ResourceValidationPolicy,
        "required-cost-tags",
        "Checks whether every taggable resource carries the InferenceType, DRTier, Model and CostCenter tags.",
        _validate_cost_tags,
    ),
]
