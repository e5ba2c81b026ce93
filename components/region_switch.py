"""RegionSwitchPlan: the ARC Region switch plan that fails a deployment over, and back.

Owned by the **primary region's stack**: a plan is one account-level object that names
both regions, so exactly one stack must own it, and the primary is the stack that is
deployed first and exists for as long as the deployment does. The plan never needs the
secondary's stack outputs: the scale-up functions have fixed names, so their ARNs are
computed (`scale_up_function_arn`), and the redrive functions' ARNs come in as inputs.

Facts that shape it (ARC developer guide and API reference, read 2026-11):

- A plan covers two Regions; a custom-action Lambda block takes one function per Region
  (at most two) and runs the one in the ``activatingRegion`` or ``deactivatingRegion``.
  So a deployment gets one plan per secondary region (tier 1 may have two secondaries).
- Active/passive plans (tiers 2-3) get one *activate* workflow per target region:
  "failover" activates the secondary, "failback" the primary. Active/active plans
  (tier 1) need an activate and a deactivate workflow.
- The Route 53 health-check block needs ``route53:ListResourceRecordSets`` on the zone;
  the Lambda block needs ``lambda:InvokeFunction`` and ``lambda:GetFunction`` on the
  functions; the execution role trusts ``arc-region-switch.amazonaws.com``.
- The Route 53 health-check block *creates* health checks that ARC flips during an
  execution; the records must carry them (`aws.arcregionswitch.get_route53_health_checks`)
  for the block to move traffic. See the README section.

`ScaleUpFunction` deploys the scale-up Lambda (components/functions/scale_up) in one
region with least-privilege IAM; every region's stack creates its own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import pulumi
import pulumi_aws as aws

from drkit.components.functions.scale_up.handler import RELEASE_STEP
from drkit.components.iam import Statement, assume_role_policy, policy_document, write_logs
from drkit.components.lambda_function import lambda_function
from drkit.components.naming import physical_name
from drkit.core.errors import ComponentValidationError
from drkit.core.tiers import Tier

ARC_PRINCIPAL = "arc-region-switch.amazonaws.com"
PLAN_REGION_COUNT = 2  # ARC Region switch plans span two Regions
SCALE_UP_SOURCE = Path(__file__).resolve().parent / "functions" / "scale_up" / "handler.py"


class RecoveryApproach(str, Enum):
    """ARC's name for how the regions share traffic."""

    ACTIVE_ACTIVE = "activeActive"
    ACTIVE_PASSIVE = "activePassive"


class StepKind(str, Enum):
    """ARC execution block types used by drkit plans."""

    APPROVAL = "ManualApproval"
    LAMBDA = "CustomActionLambda"
    ROUTE53 = "Route53HealthCheck"


@dataclass(frozen=True)
class PlanStep:
    """One step of a workflow, before it becomes provider arguments."""

    name: str
    kind: StepKind
    description: str
    function: str = ""
    """For LAMBDA steps: which function set runs ("scale_up" or "redrive")."""
    region_to_run: str = "activatingRegion"
    """For LAMBDA steps: ARC runs the function in the activating or the deactivating region."""


@dataclass(frozen=True)
class PlanWorkflow:
    """One workflow: the action, its target region (None: any region) and its ordered steps."""

    label: str
    action: str  # "activate" | "deactivate"
    target_region: str | None
    steps: tuple[PlanStep, ...]


# --- pure decisions -----------------------------------------------------------------


def recovery_approach(tier: Tier) -> RecoveryApproach:
    """Tier 1 serves from every region; tiers 2-3 keep a passive secondary."""
    return RecoveryApproach.ACTIVE_ACTIVE if tier is Tier.HOT else RecoveryApproach.ACTIVE_PASSIVE


def rto_minutes(rto_seconds: int) -> int:
    """The plan's recovery_time_objective_minutes: the tier target rounded up to a whole minute."""
    return max(1, math.ceil(rto_seconds / 60))


def default_approval_timeout_minutes(tier: Tier) -> int:
    """How long a manual approval may wait: a third of the tier's default RTO budget."""
    return {Tier.HOT: 0, Tier.WARM: 5, Tier.PILOT_LIGHT: 20}[tier]


def scale_up_function_name(deployment: str) -> str:
    """The scale-up Lambda's name, identical in every region so its ARN is known up front."""
    return physical_name("drkit", deployment, "scale-up", limit=64)


def scale_up_function_arn(deployment: str, region: str, account_id: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{scale_up_function_name(deployment)}"


PLAN_NAME_MAX = 32


def plan_name(deployment: str, secondary_region: str) -> str:
    """One plan per secondary region: a plan spans two Regions, a tier-1 deployment may have three.

    CreatePlan's name allows 32 characters (botocore arc-region-switch), not 64.
    """
    return physical_name("drkit", deployment, secondary_region, limit=PLAN_NAME_MAX)


def plan_region_pairs(primary_region: str, secondary_regions: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(primary, secondary) for each plan the primary's stack owns; together they cover every region."""
    return tuple((primary_region, secondary) for secondary in secondary_regions)


def plan_workflows(tier: Tier, primary_region: str, secondary_region: str, *, approval: bool) -> tuple[PlanWorkflow, ...]:
    """The plan's workflows, steps in order, for a tier; pure so tests and docs read the same thing.

    Order: a person approves first (nothing has changed yet), capacity is raised before
    traffic moves (the region must be able to serve it), traffic moves, then the
    activated region redrives the requests left unfinished (idempotent by request id).
    """
    scale = PlanStep("scale-up", StepKind.LAMBDA, "Raise provisioned SageMaker capacity in the activating region", "scale_up")
    dns = PlanStep("shift-traffic", StepKind.ROUTE53, "Move the deployment's DNS answers to the activating region")
    redrive = PlanStep("redrive", StepKind.LAMBDA, "Redrive unfinished requests from the global table", "redrive")
    approve = PlanStep("approve", StepKind.APPROVAL, "A person confirms the region switch before anything changes")
    if tier is Tier.HOT:
        # Active/active: the survivor already runs full capacity. A deactivate workflow has
        # no activating region to run Lambdas in, so it only moves traffic; re-activating a
        # region scales it, moves traffic back and redrives.
        return (
            PlanWorkflow("failover", "deactivate", None, (dns,)),
            PlanWorkflow("failback", "activate", None, (scale, dns, redrive)),
        )
    # After fail back, the standby resumes its off-hours schedule (held by scale-up for the
    # failover); the schedule then restores its floor. The step name is how the function knows.
    release = PlanStep(RELEASE_STEP, StepKind.LAMBDA, "Resume the standby's off-hours schedule", "scale_up", "deactivatingRegion")
    head = (approve,) if approval else ()
    return (
        PlanWorkflow("failover", "activate", secondary_region, (*head, scale, dns, redrive)),
        PlanWorkflow("failback", "activate", primary_region, (*head, scale, dns, redrive, release)),
    )


# --- the plan -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegionSwitchPlanArgs:
    """Inputs of `RegionSwitchPlan`."""

    deployment: str
    """Deployment name; names the plan and its role."""
    tier: Tier
    """DR tier: 1 → active/active, 2-3 → active/passive."""
    primary_region: str
    """The deployment's primary region (owner of this plan)."""
    regions: Sequence[str]
    """(primary, secondary). Exactly two: a plan spans two Regions, so a deployment with more
    secondaries gets one plan per secondary (`plan_region_pairs`)."""
    rto_seconds: int
    """The tier's target RTO; becomes recovery_time_objective_minutes (rounded up)."""
    hosted_zone_id: str
    """Route 53 zone of the deployment's DNS name."""
    record_name: str
    """The deployment's DNS name; its record sets use the region as set identifier."""
    account_id: str
    """Account of the scale-up functions (their ARNs are computed from it)."""
    redrive_function_arns: Mapping[str, pulumi.Input[str]]
    """Region → ARN of the redrive Lambda in that region; one per plan region."""
    approval_role_arn: pulumi.Input[str] | None = None
    """IAM role whose principals may approve. Given → a manual approval step first (tiers 2-3 only). Default: none."""
    approval_timeout_minutes: int | None = None
    """Approval wait. Default: 5 (tier 2), 20 (tier 3); must leave time within the RTO."""
    lambda_timeout_minutes: int = 10
    """Timeout of each Lambda step. Default: 10."""
    lambda_retry_interval_minutes: float = 1.0
    """ARC reruns a failed Lambda step after this many minutes. Default: 1."""
    health_alarm_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Alarm name → ARN, attached as applicationHealth alarms (shown during executions). Default: none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the plan and its role. Default: none."""


def _validate(name: str, args: RegionSwitchPlanArgs) -> None:
    where = f"RegionSwitchPlan {name}"
    regions = list(args.regions)
    if len(regions) != PLAN_REGION_COUNT or len(set(regions)) != PLAN_REGION_COUNT:
        raise ComponentValidationError(
            f"{where}: regions {regions} is invalid; an ARC Region switch plan spans exactly two distinct regions "
            "(create one plan per secondary region, see plan_region_pairs)"
        )
    if regions[0] != args.primary_region:
        raise ComponentValidationError(f"{where}: regions[0] {regions[0]!r} must be the primary_region {args.primary_region!r}")
    if args.rto_seconds < 1:
        raise ComponentValidationError(f"{where}: rto_seconds {args.rto_seconds} must be ≥ 1")
    missing = [r for r in regions if r not in args.redrive_function_arns]
    extra = [r for r in args.redrive_function_arns if r not in regions]
    if missing or extra:
        raise ComponentValidationError(
            f"{where}: redrive_function_arns has regions {sorted(args.redrive_function_arns)}; "
            f"valid: exactly one ARN for each of {', '.join(regions)}"
        )
    if args.approval_role_arn is not None and args.tier is Tier.HOT:
        raise ComponentValidationError(
            f"{where}: approval_role_arn is set for tier 1; a manual approval cannot fit a "
            f"{args.rto_seconds} s RTO — valid: only tiers 2-3 take an approval step"
        )
    if args.approval_timeout_minutes is not None:
        budget = rto_minutes(args.rto_seconds)
        if not 1 <= args.approval_timeout_minutes < budget:
            raise ComponentValidationError(
                f"{where}: approval_timeout_minutes {args.approval_timeout_minutes} is invalid; "
                f"valid: 1 to {budget - 1} (less than the {budget}-minute RTO)"
            )
    if args.lambda_timeout_minutes < 1:
        raise ComponentValidationError(f"{where}: lambda_timeout_minutes {args.lambda_timeout_minutes} must be ≥ 1")
    if args.lambda_retry_interval_minutes <= 0:
        raise ComponentValidationError(f"{where}: lambda_retry_interval_minutes {args.lambda_retry_interval_minutes} must be > 0")


class RegionSwitchPlan(pulumi.ComponentResource):
    """The ARC Region switch plan and its least-privilege execution role."""

    plan_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    workflows: tuple[PlanWorkflow, ...]

    def __init__(self, name: str, args: RegionSwitchPlanArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(name, args)
        super().__init__("drkit:recovery:RegionSwitchPlan", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        primary, secondary = args.regions[0], args.regions[1]
        scale_up_arns = {r: scale_up_function_arn(args.deployment, r, args.account_id) for r in args.regions}
        functions: dict[str, Mapping[str, pulumi.Input[str]]] = {"scale_up": scale_up_arns, "redrive": args.redrive_function_arns}

        role_name = physical_name("drkit", args.deployment, secondary, "region-switch", limit=64)
        role = aws.iam.Role(
            f"{name}-role",
            name=role_name,
            assume_role_policy=assume_role_policy(ARC_PRINCIPAL),
            description=f"ARC Region switch execution role of {args.deployment}",
            tags=dict(args.tags),
            opts=child,
        )
        statements = [
            Statement(
                "InvokeRecoveryFunctions",
                ["lambda:InvokeFunction", "lambda:GetFunction"],
                [*scale_up_arns.values(), *args.redrive_function_arns.values()],
            ),
            Statement(
                "ReadDeploymentRecords",
                ["route53:ListResourceRecordSets"],
                [f"arn:aws:route53:::hostedzone/{args.hosted_zone_id}"],
            ),
        ]
        if args.health_alarm_arns:
            statements.append(Statement("ReadHealthAlarms", ["cloudwatch:DescribeAlarms"], list(args.health_alarm_arns.values())))
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy_document(statements), opts=child)

        approval = args.approval_role_arn is not None
        self.workflows = plan_workflows(args.tier, primary, secondary, approval=approval)
        approval_timeout = args.approval_timeout_minutes or default_approval_timeout_minutes(args.tier)
        plan = aws.arcregionswitch.Plan(
            f"{name}-plan",
            name=plan_name(args.deployment, secondary),
            description=f"Fail {args.deployment} over between {primary} and {secondary} (DR tier {int(args.tier)})",
            execution_role=role.arn,
            recovery_approach=recovery_approach(args.tier).value,
            regions=list(args.regions),
            primary_region=primary,
            recovery_time_objective_minutes=rto_minutes(args.rto_seconds),
            associated_alarms=[
                aws.arcregionswitch.PlanAssociatedAlarmArgs(
                    alarm_type="applicationHealth", map_block_key=alarm, resource_identifier=arn
                )
                for alarm, arn in sorted(args.health_alarm_arns.items())
            ]
            or None,
            workflows=[
                aws.arcregionswitch.PlanWorkflowArgs(
                    workflow_target_action=workflow.action,
                    workflow_target_region=workflow.target_region,
                    workflow_description=f"{workflow.label}: " + " → ".join(s.name for s in workflow.steps),
                    steps=[self._step(args, step, functions, approval_timeout) for step in workflow.steps],
                )
                for workflow in self.workflows
            ],
            tags=dict(args.tags),
            # Every region's DNS record carries the health checks ARC creates for this plan (the
            # secondaries read their ids through a StackReference): deleting or replacing the plan
            # from the primary's stack would leave those records on checks of which "the future status
            # ... can't be predicted" (Route 53 DeleteHealthCheck, API reference). Removing it is deliberate.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role], protect=True),
        )
        self.plan_arn = plan.arn
        self.execution_role_arn = role.arn
        self.register_outputs(
            {
                "plan_arn": plan.arn,
                "execution_role_arn": role.arn,
                "workflows": [w.label for w in self.workflows],
            }
        )

    @staticmethod
    def _step(
        args: RegionSwitchPlanArgs,
        step: PlanStep,
        functions: Mapping[str, Mapping[str, pulumi.Input[str]]],
        approval_timeout: int,
    ) -> aws.arcregionswitch.PlanWorkflowStepArgs:
        # Each step carries the configuration of its own execution block only.
        approval = route53 = lambdas = None
        if step.kind is StepKind.APPROVAL:
            assert args.approval_role_arn is not None
            approval = [
                aws.arcregionswitch.PlanWorkflowStepExecutionApprovalConfigArgs(
                    approval_role=args.approval_role_arn, timeout_minutes=approval_timeout
                )
            ]
        elif step.kind is StepKind.ROUTE53:
            route53 = [
                aws.arcregionswitch.PlanWorkflowStepRoute53HealthCheckConfigArgs(
                    hosted_zone_id=args.hosted_zone_id,
                    record_name=args.record_name,
                    record_sets=[
                        aws.arcregionswitch.PlanWorkflowStepRoute53HealthCheckConfigRecordSetArgs(
                            record_set_identifier=region, region=region
                        )
                        for region in args.regions
                    ],
                )
            ]
        else:
            arns = functions[step.function]
            lambdas = [
                aws.arcregionswitch.PlanWorkflowStepCustomActionLambdaConfigArgs(
                    region_to_run=step.region_to_run,
                    retry_interval_minutes=args.lambda_retry_interval_minutes,
                    timeout_minutes=args.lambda_timeout_minutes,
                    lambdas=[aws.arcregionswitch.PlanWorkflowStepCustomActionLambdaConfigLambdaArgs(arn=arns[r]) for r in args.regions],
                )
            ]
        return aws.arcregionswitch.PlanWorkflowStepArgs(
            name=step.name,
            description=step.description,
            execution_block_type=step.kind.value,
            execution_approval_configs=approval,
            route53_health_check_configs=route53,
            custom_action_lambda_configs=lambdas,
        )


# --- the scale-up function ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScaleUpFunctionArgs:
    """Inputs of `ScaleUpFunction`."""

    deployment: str
    """Deployment name: the Deployment tag the function requires on every endpoint it touches."""
    region: str
    """Region the function runs in and scales."""
    account_id: str
    """Account of the endpoints (narrows IAM resources)."""
    failover_capacity: Mapping[str, int]
    """Model name → instances each provisioned variant needs to carry the whole load."""
    kms_key_arn: pulumi.Input[str]
    """This region's key; encrypts the function's log group."""
    log_retention_days: int = 30
    """Retention of the function's log group. Default: 30."""
    reserved_concurrent_executions: int | None = None
    """Reserved concurrency of the function (spec.reserved_concurrency.scale_up). Default: none (unreserved pool)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags. Default: none."""


def failover_capacity(models: Sequence[tuple[str, int]]) -> dict[str, int]:
    """(model, primary min instances) pairs → the capacity a region needs after failover."""
    return {model: count for model, count in models if count >= 1}


def scale_up_statements(deployment: str, region: str, account_id: str, log_group_arn: pulumi.Input[str]) -> list[Statement]:
    """The scale-up Lambda's permissions: endpoints named after the deployment in its own region only."""
    endpoints = f"arn:aws:sagemaker:{region}:{account_id}:endpoint/{deployment}-*"
    return [
        # ListEndpoints and DescribeScalableTargets have no resource-level permissions (IAM service authorization reference).
        Statement("ListEndpoints", ["sagemaker:ListEndpoints", "application-autoscaling:DescribeScalableTargets"], ["*"]),
        Statement(
            "ScaleDeploymentEndpoints",
            ["sagemaker:ListTags", "sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
            [endpoints],
        ),
        # Scalable targets are named by generated ids, so the deployment's are picked by their tag
        # (RegisterScalableTarget supports aws:ResourceTag on scalable-target; IAM service authorization reference).
        Statement(
            "RaiseAutoscalingFloor",
            ["application-autoscaling:RegisterScalableTarget"],
            [f"arn:aws:application-autoscaling:{region}:{account_id}:scalable-target/*"],
            condition={
                "StringEquals": {"aws:ResourceTag/Deployment": deployment, "application-autoscaling:service-namespace": "sagemaker"}
            },
        ),
        write_logs(log_group_arn),
    ]


class ScaleUpFunction(pulumi.ComponentResource):
    """The scale-up Lambda of one region, with its log group and least-privilege role."""

    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]

    def __init__(self, name: str, args: ScaleUpFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        where = f"ScaleUpFunction {name}"
        bad = {m: c for m, c in args.failover_capacity.items() if isinstance(c, bool) or not isinstance(c, int) or c < 1}
        if bad:
            raise ComponentValidationError(f"{where}: failover_capacity {bad} is invalid; valid: model → integer ≥ 1")
        if args.log_retention_days < 1:
            raise ComponentValidationError(f"{where}: log_retention_days {args.log_retention_days} must be ≥ 1")
        super().__init__("drkit:recovery:ScaleUpFunction", name, {}, opts)
        function = lambda_function(
            name,
            function_name=scale_up_function_name(args.deployment),
            role_name=physical_name("drkit", args.deployment, args.region, "scale-up", limit=64),
            statements=lambda log_group_arn: scale_up_statements(args.deployment, args.region, args.account_id, log_group_arn),
            code=pulumi.AssetArchive({"handler.py": pulumi.FileAsset(str(SCALE_UP_SOURCE))}),
            environment={
                "DEPLOYMENT": args.deployment,
                "TARGET_REGION": args.region,
                "DESIRED_CAPACITY": json.dumps(dict(sorted(args.failover_capacity.items()))),
            },
            timeout=300,
            reserved_concurrent_executions=args.reserved_concurrent_executions,
            settings=args,
            parent=self,
        )
        self.function_arn = function.arn
        self.function_name = function.name
        self.register_outputs({"function_arn": function.arn, "function_name": function.name})
