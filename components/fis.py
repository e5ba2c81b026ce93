"""DrExperiments: AWS FIS experiment templates that a real account can run against a deployment.

FIS has no action that fails a SageMaker endpoint, and its API-error injection actions
(``aws:fis:inject-api-internal-error`` / ``-throttle-error`` / ``-unavailable-error``)
accept only the ``ec2`` namespace, so they cannot fake SageMaker or DynamoDB errors
either. What FIS *can* do to this architecture (FIS actions reference, read 2026-11):

- ``aws:dynamodb:global-table-pause-replication`` on the token table
  (``aws:dynamodb:global-table``, target key ``Tables``; parameter ``duration``): the
  region's replica stops receiving writes, which is what an RPO measurement needs.
- ``aws:lambda:invocation-error`` / ``aws:lambda:invocation-add-delay`` on the front
  door's router function (``aws:lambda:function``, target key ``Functions``): the
  region's deep ``/health`` fails (or slows), so Route 53 fails the region over — the
  real failover path, end to end. These need the FIS Lambda extension layer on the
  function and an S3 configuration bucket (FIS user guide, "Use the aws:lambda:function
  actions"); without them the experiment runs and injects nothing.

Every template stops on the deployment's CloudWatch alarms (at least one), selects its
targets by the deployment's tags (never by ARN, so the template outlives replacements),
logs to a CloudWatch log group, and can write an experiment report to S3.

A template is regional: it acts on the targets in the region of the stack that owns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import pulumi
import pulumi_aws as aws

from drkit.components.frontdoor import router_function_name
from drkit.components.iam import Statement, service_role
from drkit.components.naming import physical_name, s3_bucket_name
from drkit.components.observability import encrypted_log_group
from drkit.core.errors import ComponentValidationError
from drkit.core.tiers import Tier

FIS_PRINCIPAL = "fis.amazonaws.com"
LOG_SCHEMA_VERSION = 2
MAX_DURATION_SECONDS = 12 * 3600  # FIS actions run at most 12 hours


class Scenario(str, Enum):
    """A fault FIS can inject into a drkit deployment on a real account."""

    PAUSE_TOKEN_REPLICATION = "pause-token-replication"
    ROUTER_ERRORS = "router-errors"
    ROUTER_LATENCY = "router-latency"


@dataclass(frozen=True)
class FisTarget:
    """How a scenario selects its targets: resource type, the action's target key and extra tags."""

    resource_type: str
    key: str
    extra_tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScenarioTemplate:
    """What one experiment template does, before it becomes provider arguments."""

    scenario: Scenario
    action_id: str
    description: str
    target: FisTarget
    parameters: tuple[tuple[str, str], ...]
    permissions: tuple[str, ...]
    """Actions the FIS role needs for this action (FIS actions reference)."""


# --- pure decisions -------------------------------------------------------------------


def report_bucket_for(deployment: str, *, account_id: str, region: str) -> str:
    """The region's bucket for experiment reports: drkit-<deployment>-fis-reports-<account>-<region>."""
    return s3_bucket_name("drkit", deployment, "fis-reports", account_id=account_id, region=region)


def iso_duration(seconds: int) -> str:
    """ISO 8601 duration FIS accepts, e.g. PT2M, PT1H30M."""
    seconds = max(60, min(seconds, MAX_DURATION_SECONDS))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return out


def fault_duration_seconds(rto_seconds: int) -> int:
    """Long enough to see the failover complete: twice the RTO target, at least 2 min, at most 12 h."""
    return max(120, min(2 * rto_seconds, MAX_DURATION_SECONDS))


def scenarios_for(tier: Tier, *, router: bool) -> tuple[Scenario, ...]:
    """The scenarios each tier gets. Router faults need the router's tag; tier 1 also gets latency.

    Latency is a tier-1 question (latency records keep sending traffic to a slow but
    healthy region); tiers 2-3 only fail over on a failed health check.
    """
    out = [Scenario.PAUSE_TOKEN_REPLICATION]
    if router:
        out.append(Scenario.ROUTER_ERRORS)
        if tier is Tier.HOT:
            out.append(Scenario.ROUTER_LATENCY)
    return tuple(out)


def scenario_template(
    scenario: Scenario, *, rto_seconds: int, router_tags: Mapping[str, str] | None = None, router_delay_ms: int = 3000
) -> ScenarioTemplate:
    """The action, target and parameters of one scenario; pure."""
    duration = iso_duration(fault_duration_seconds(rto_seconds))
    router = tuple(sorted((router_tags or {}).items()))
    lambda_permissions = ("lambda:GetFunction", "s3:PutObject", "s3:DeleteObject", "tag:GetResources")
    if scenario is Scenario.PAUSE_TOKEN_REPLICATION:
        return ScenarioTemplate(
            scenario,
            "aws:dynamodb:global-table-pause-replication",
            "Pause replication into this region's token-table replica; measures RPO and redrive",
            FisTarget("aws:dynamodb:global-table", "Tables"),
            (("duration", duration),),
            (
                "dynamodb:PutResourcePolicy",
                "dynamodb:DeleteResourcePolicy",
                "dynamodb:GetResourcePolicy",
                "dynamodb:DescribeTable",
                "tag:GetResources",
            ),
        )
    if scenario is Scenario.ROUTER_ERRORS:
        return ScenarioTemplate(
            scenario,
            "aws:lambda:invocation-error",
            "Fail every router invocation: /health returns 5xx and Route 53 fails the region over",
            FisTarget("aws:lambda:function", "Functions", router),
            (("duration", duration), ("invocationPercentage", "100"), ("preventExecution", "true")),
            lambda_permissions,
        )
    return ScenarioTemplate(
        scenario,
        "aws:lambda:invocation-add-delay",
        f"Delay router invocations by {router_delay_ms} ms: latency routing must move traffic away",
        FisTarget("aws:lambda:function", "Functions", router),
        (("duration", duration), ("invocationPercentage", "100"), ("startupDelayMilliseconds", str(router_delay_ms))),
        lambda_permissions,
    )


def templates_for(tier: Tier, *, rto_seconds: int, router_tags: Mapping[str, str] | None = None) -> tuple[ScenarioTemplate, ...]:
    """Every experiment template a deployment of `tier` gets; what the component creates."""
    return tuple(
        scenario_template(s, rto_seconds=rto_seconds, router_tags=router_tags)
        for s in scenarios_for(tier, router=bool(router_tags))
    )


# --- the component -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DrExperimentsArgs:
    """Inputs of `DrExperiments`."""

    deployment: str
    """Deployment name; every target must carry Deployment=<deployment>."""
    tier: Tier
    """DR tier; decides the scenarios (see `scenarios_for`)."""
    region: str
    """The stack's region: the templates act on targets there."""
    account_id: str
    """The deployment's account: every ARN the role is granted names it."""
    table_name: str
    """The global token table (same name in every region)."""
    rto_seconds: int
    """The tier's target RTO; each fault lasts twice as long (2 min to 12 h)."""
    stop_alarm_arns: Sequence[pulumi.Input[str]]
    """The deployment's CloudWatch alarms in this region; any in ALARM stops the experiment. At least one."""
    kms_key_arn: pulumi.Input[str]
    """This region's key; encrypts the experiment log group."""
    router_tags: Mapping[str, str] | None = None
    """Tags that pick out the front door's router function (besides Deployment). None → no router scenarios. Default: none."""
    lambda_config_bucket_arn: pulumi.Input[str] | None = None
    """S3 bucket (ARN) the FIS Lambda extension reads; required with router_tags. Default: none."""
    report_bucket_name: pulumi.Input[str] | None = None
    """Bucket for FIS experiment reports. None → no report. Default: none."""
    report_dashboard_arn: pulumi.Input[str] | None = None
    """Dashboard whose widgets the report includes (with report_bucket_name). Default: none."""
    log_retention_days: int = 30
    """Retention of the experiment log group. Default: 30."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on templates, role and log group. Default: none."""


def _validate(name: str, args: DrExperimentsArgs) -> None:
    where = f"DrExperiments {name}"
    if not args.stop_alarm_arns:
        raise ComponentValidationError(
            f"{where}: stop_alarm_arns is empty; valid: at least one CloudWatch alarm ARN that stops the experiment"
        )
    if args.rto_seconds < 1:
        raise ComponentValidationError(f"{where}: rto_seconds {args.rto_seconds} must be ≥ 1")
    if args.router_tags is not None:
        if not args.router_tags:
            raise ComponentValidationError(
                f"{where}: router_tags is empty; valid: tags that match only the router function, e.g. {{'Component': 'router'}}"
            )
        if "Deployment" in args.router_tags:
            raise ComponentValidationError(
                f"{where}: router_tags must not set Deployment (it is always {args.deployment!r}); give the router's own tag"
            )
        if args.lambda_config_bucket_arn is None:
            raise ComponentValidationError(
                f"{where}: router_tags needs lambda_config_bucket_arn, the S3 bucket the FIS Lambda extension reads"
            )
    if args.report_dashboard_arn is not None and args.report_bucket_name is None:
        raise ComponentValidationError(f"{where}: report_dashboard_arn needs report_bucket_name to write the report to")
    if args.log_retention_days < 1:
        raise ComponentValidationError(f"{where}: log_retention_days {args.log_retention_days} must be ≥ 1")


class DrExperiments(pulumi.ComponentResource):
    """The FIS experiment templates of one region, their role and their log group."""

    template_ids: dict[str, pulumi.Output[str]]
    templates: tuple[ScenarioTemplate, ...]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DrExperimentsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(name, args)
        super().__init__("drkit:recovery:DrExperiments", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.templates = templates_for(args.tier, rto_seconds=args.rto_seconds, router_tags=args.router_tags)

        logs = encrypted_log_group(f"{name}-logs", log_group_name=f"/drkit/fis/{args.deployment}", settings=args, opts=child)
        role, _ = service_role(
            name,
            role_name=physical_name("drkit", args.deployment, args.region, "fis", limit=64),
            service=FIS_PRINCIPAL,
            statements=self._statements(args, logs.arn),
            tags=args.tags,
            opts=child,
        )

        self.template_ids = {}
        for template in self.templates:
            target_name = template.target.key.lower()
            experiment = aws.fis.ExperimentTemplate(
                f"{name}-{template.scenario.value}",
                description=f"{args.deployment} {args.region}: {template.description}"[:512],
                role_arn=role.arn,
                stop_conditions=[
                    aws.fis.ExperimentTemplateStopConditionArgs(source="aws:cloudwatch:alarm", value=arn)
                    for arn in args.stop_alarm_arns
                ],
                targets=[
                    aws.fis.ExperimentTemplateTargetArgs(
                        name=target_name,
                        resource_type=template.target.resource_type,
                        selection_mode="ALL",
                        resource_tags=[
                            aws.fis.ExperimentTemplateTargetResourceTagArgs(key=k, value=v)
                            for k, v in (("Deployment", args.deployment), *template.target.extra_tags)
                        ],
                    )
                ],
                actions=[
                    aws.fis.ExperimentTemplateActionArgs(
                        name=template.scenario.value,
                        action_id=template.action_id,
                        description=template.description,
                        parameters=[
                            aws.fis.ExperimentTemplateActionParameterArgs(key=k, value=v) for k, v in template.parameters
                        ],
                        target=aws.fis.ExperimentTemplateActionTargetArgs(key=template.target.key, value=target_name),
                    )
                ],
                # Refuse to "succeed" on nothing: a template whose tags match no resource fails.
                experiment_options=aws.fis.ExperimentTemplateExperimentOptionsArgs(
                    account_targeting="single-account", empty_target_resolution_mode="fail"
                ),
                log_configuration=aws.fis.ExperimentTemplateLogConfigurationArgs(
                    log_schema_version=LOG_SCHEMA_VERSION,
                    cloudwatch_logs_configuration=aws.fis.ExperimentTemplateLogConfigurationCloudwatchLogsConfigurationArgs(
                        log_group_arn=pulumi.Output.concat(logs.arn, ":*")
                    ),
                ),
                experiment_report_configuration=self._report(args),
                tags={**args.tags, "Name": f"{args.deployment}-{template.scenario.value}"},
                opts=child,
            )
            self.template_ids[template.scenario.value] = experiment.id
        self.role_arn = role.arn
        self.register_outputs({"template_ids": self.template_ids, "role_arn": role.arn, "log_group": logs.name})

    @staticmethod
    def _report(args: DrExperimentsArgs) -> aws.fis.ExperimentTemplateExperimentReportConfigurationArgs | None:
        if args.report_bucket_name is None:
            return None
        return aws.fis.ExperimentTemplateExperimentReportConfigurationArgs(
            outputs=aws.fis.ExperimentTemplateExperimentReportConfigurationOutputsArgs(
                s3_configuration=aws.fis.ExperimentTemplateExperimentReportConfigurationOutputsS3ConfigurationArgs(
                    bucket_name=args.report_bucket_name, prefix=f"fis/{args.deployment}/{args.region}"
                )
            ),
            data_sources=aws.fis.ExperimentTemplateExperimentReportConfigurationDataSourcesArgs(
                cloudwatch_dashboards=[
                    aws.fis.ExperimentTemplateExperimentReportConfigurationDataSourcesCloudwatchDashboardArgs(
                        dashboard_arn=args.report_dashboard_arn
                    )
                ]
            )
            if args.report_dashboard_arn is not None
            else None,
        )

    def _statements(self, args: DrExperimentsArgs, log_group_arn: pulumi.Output[str]) -> list[Statement]:
        """FIS role: each action's permissions on this deployment's resources in this region."""
        region, deployment = args.region, args.deployment
        statements: list[Statement] = []
        scenarios = {t.scenario for t in self.templates}
        if Scenario.PAUSE_TOKEN_REPLICATION in scenarios:
            statements.append(
                Statement(
                    "PauseTokenReplication",
                    [
                        "dynamodb:PutResourcePolicy",
                        "dynamodb:DeleteResourcePolicy",
                        "dynamodb:GetResourcePolicy",
                        "dynamodb:DescribeTable",
                    ],
                    # The target: FIS resolves targets in the experiment's region only, and the action
                    # pauses replication through the resource policy of the table it targets
                    # (FIS actions reference, aws:dynamodb:global-table-pause-replication).
                    [f"arn:aws:dynamodb:{region}:{args.account_id}:table/{args.table_name}"],
                )
            )
        if scenarios & {Scenario.ROUTER_ERRORS, Scenario.ROUTER_LATENCY}:
            assert args.lambda_config_bucket_arn is not None
            statements.append(
                Statement(
                    "ReadRouter",
                    ["lambda:GetFunction"],
                    [f"arn:aws:lambda:{region}:{args.account_id}:function:{router_function_name(deployment, region)}"],
                )
            )
            statements.append(
                Statement(
                    "WriteLambdaFaultConfig",
                    ["s3:PutObject", "s3:DeleteObject"],
                    [pulumi.Output.concat(args.lambda_config_bucket_arn, "/*")],
                )
            )
        # Tag-based target resolution; tag:GetResources has no resource-level permissions.
        statements.append(Statement("ResolveTargets", ["tag:GetResources"], ["*"]))
        # Experiment log delivery to CloudWatch Logs (FIS user guide, "Experiment logging permissions").
        statements.append(
            Statement(
                "DeliverLogs",
                ["logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
                ["*"],
            )
        )
        if args.report_bucket_name is not None:
            statements.append(
                Statement(
                    "WriteReport",
                    ["s3:PutObject", "s3:GetObject"],
                    [pulumi.Output.concat("arn:aws:s3:::", args.report_bucket_name, f"/fis/{deployment}/{region}/*")],
                )
            )
            # FIS writes the report with this role, so an SSE-KMS report bucket needs its data key for it.
            statements.append(Statement("EncryptReport", ["kms:GenerateDataKey"], [args.kms_key_arn]))
            if args.report_dashboard_arn is not None:
                statements.append(Statement("ReadReportDashboard", ["cloudwatch:GetDashboard"], [args.report_dashboard_arn]))
                statements.append(Statement("RenderReportWidgets", ["cloudwatch:GetMetricWidgetImage"], ["*"]))
        del log_group_arn  # delivery permissions are account-level; the group ARN lives on the template
        return statements
