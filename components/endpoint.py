"""RegionalInferenceEndpoint: one model, one region, one inference mode.

- ``PROVISIONED``: real-time endpoint on dedicated instances; Application Auto Scaling
  target tracking on invocations per instance; off-hours scheduled scale-down; the
  scalable target's min/max are in ``ignore_changes`` because the schedule moves them;
  blue/green deployments with automatic rollback on the errors alarm.
- ``SERVERLESS``: memory size, max concurrency and provisioned concurrency.
- ``ASYNC``: S3 output bucket, SNS success/error topics (all KMS-encrypted) and
  scale-to-zero on an empty backlog, with a step policy that wakes it from zero.

The endpoint configuration's name carries a hash of everything it contains: SageMaker
does not update an endpoint when only its model changes, so a new configuration (new
name) is created, the endpoint moves to it, and only then is the old one deleted
(Pulumi's default create-before-delete replacement).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import pulumi
import pulumi_aws as aws

from drkit.components.alarms import EndpointAlarms, EndpointAlarmsArgs
from drkit.components.iam import Statement, assume_role_policy, policy_document
from drkit.components.naming import content_hash, physical_name, s3_bucket_name
from drkit.components.storage import EncryptedBucket
from drkit.core.errors import ComponentValidationError

VARIANT = "AllTraffic"


class InferenceMode(str, Enum):
    """SageMaker hosting option; also the value of the InferenceType tag."""

    PROVISIONED = "provisioned"
    SERVERLESS = "serverless"
    ASYNC = "async"


@dataclass(frozen=True, kw_only=True)
class OffHoursSchedule:
    """Scheduled scale-down: cron expressions in a time zone, and the off-hours floor."""

    timezone: str
    """IANA time zone of both crons."""
    scale_down_cron: str
    """`cron(...)` when off-hours start."""
    scale_up_cron: str
    """`cron(...)` when business hours resume."""
    off_hours_min: int = 1
    """Minimum instances while off-hours. Default: 1."""


@dataclass(frozen=True, kw_only=True)
class RegionalInferenceEndpointArgs:
    """Inputs of `RegionalInferenceEndpoint`. Capacity fields apply per mode as documented."""

    deployment: str
    """Deployment name; prefixes physical names."""
    model: str
    """Model name."""
    model_version: str
    """Release label; part of the endpoint configuration's content hash."""
    mode: InferenceMode
    """Which hosting option this endpoint uses."""
    region: str
    """This stack's region."""
    account_id: str
    """Account holding the in-region ECR repository."""
    image_uri: str
    """In-region image URI pinned by digest (`...@sha256:...`)."""
    image_repository: str
    """ECR repository name, for the pull permission."""
    model_data_bucket: str
    """In-region model-data bucket."""
    model_data_key: str
    """Key of model.tar.gz in that bucket."""
    kms_key_arn: pulumi.Input[str]
    """Region's KMS key: endpoint storage, async output bucket, topics."""
    instance_type: str | None = None
    """PROVISIONED and ASYNC: instance type. Default: none (required for those modes)."""
    min_instances: int = 1
    """PROVISIONED: autoscaling floor. ASYNC: ignored (0 with scale_to_zero, else 1). Default: 1."""
    max_instances: int = 1
    """PROVISIONED and ASYNC: autoscaling ceiling. Default: 1."""
    target_invocations_per_instance: int = 100
    """PROVISIONED: target-tracking set point. Default: 100."""
    scale_in_cooldown: int = 300
    """PROVISIONED: seconds. Default: 300."""
    scale_out_cooldown: int = 60
    """PROVISIONED: seconds. Default: 60."""
    off_hours: OffHoursSchedule | None = None
    """PROVISIONED: scheduled scale-down. Default: none (always at min..max)."""
    memory_mb: int = 2048
    """SERVERLESS: memory size. Default: 2048."""
    max_concurrency: int = 10
    """SERVERLESS: max concurrent invocations. Default: 10."""
    provisioned_concurrency: int = 0
    """SERVERLESS: warm concurrency (0 = none). Default: 0."""
    max_concurrent_invocations_per_instance: int = 4
    """ASYNC: client concurrency per instance. Default: 4."""
    backlog_per_instance: int = 5
    """ASYNC: target backlog per instance. Default: 5."""
    scale_to_zero: bool = True
    """ASYNC: allow zero instances on an empty backlog. Default: true."""
    model_download_timeout: int = 180
    """PROVISIONED and ASYNC: variant's model-data download timeout (s); bounds scale-out. Default: 180."""
    container_startup_timeout: int = 180
    """PROVISIONED and ASYNC: variant's container startup health-check timeout (s). Default: 180."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child. Default: none."""


def endpoint_name_for(deployment: str, model: str, mode: InferenceMode) -> str:
    """The physical SageMaker endpoint name; stable, so alarms and dashboards can name it up front."""
    return physical_name(deployment, model, mode.value)


def model_name_for(deployment: str, model: str, mode: InferenceMode, version: str) -> str:
    """The SageMaker model behind an endpoint; the workflow's transform jobs run the async one.

    ModelName allows only letters, digits and '-' (no dots): a release label such as 2026.11.1 is
    spelled with '-' and, when that changed it, a digest of the label keeps 1.2 and 1-2 apart.
    """
    label = re.sub(r"[^A-Za-z0-9-]", "-", version).strip("-")
    if label != version:
        label = f"{label}-{content_hash(version, length=6)}"
    return physical_name(deployment, model, mode.value, label)


def async_input_bucket_for(deployment: str, *, account_id: str, region: str) -> str:
    """The region's input bucket, where the router writes the payloads the async endpoint reads:
    drkit-<deployment>-inputs-<account>-<region>."""
    return s3_bucket_name("drkit", deployment, "inputs", account_id=account_id, region=region)


def async_output_bucket_for(deployment: str, model: str, *, account_id: str, region: str) -> str:
    """The async endpoint's output bucket, <deployment>-<model>-async-<account>-<region>; batch
    transform output lands beside it."""
    return s3_bucket_name(deployment, model, InferenceMode.ASYNC.value, account_id=account_id, region=region)


def _validate(name: str, args: RegionalInferenceEndpointArgs) -> None:
    where = f"RegionalInferenceEndpoint {name}"
    if args.mode in (InferenceMode.PROVISIONED, InferenceMode.ASYNC) and not args.instance_type:
        raise ComponentValidationError(f"{where}: mode {args.mode.value} needs instance_type")
    if args.mode is InferenceMode.PROVISIONED and not 1 <= args.min_instances <= args.max_instances:
        raise ComponentValidationError(
            f"{where}: min_instances {args.min_instances} and max_instances {args.max_instances} must satisfy 1 ≤ min ≤ max"
        )
    if "@sha256:" not in args.image_uri:
        raise ComponentValidationError(f"{where}: image_uri {args.image_uri!r} must be pinned by digest (@sha256:...)")
    if f".{args.region}.amazonaws.com/" not in args.image_uri:
        raise ComponentValidationError(
            f"{where}: image_uri {args.image_uri!r} is not in region {args.region}; a DR site pulls from its own registry"
        )
    if args.mode is InferenceMode.SERVERLESS and args.provisioned_concurrency > args.max_concurrency:
        raise ComponentValidationError(
            f"{where}: provisioned_concurrency {args.provisioned_concurrency} exceeds max_concurrency {args.max_concurrency}"
        )


class RegionalInferenceEndpoint(pulumi.ComponentResource):
    """Model + EndpointConfiguration + Endpoint (+ scaling, alarms, async plumbing) for one mode."""

    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    output_bucket: pulumi.Output[str] | None
    success_topic_arn: pulumi.Output[str] | None
    error_topic_arn: pulumi.Output[str] | None
    alarm_names: list[str]

    def __init__(
        self, name: str, args: RegionalInferenceEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        _validate(name, args)
        super().__init__("drkit:endpoint:RegionalInferenceEndpoint", name, {}, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        endpoint_name = endpoint_name_for(args.deployment, args.model, args.mode)

        self.output_bucket = self.success_topic_arn = self.error_topic_arn = None
        output_bucket_arn: pulumi.Output[str] | None = None
        if args.mode is InferenceMode.ASYNC:
            bucket = EncryptedBucket(
                f"{name}-output",
                bucket_name=async_output_bucket_for(args.deployment, args.model, account_id=args.account_id, region=args.region),
                kms_key_arn=args.kms_key_arn,
                tags=tags,
                opts=child,
            )
            success = aws.sns.Topic(
                f"{name}-success", name=f"{endpoint_name}-success", kms_master_key_id=args.kms_key_arn, tags=tags, opts=child
            )
            error = aws.sns.Topic(
                f"{name}-error", name=f"{endpoint_name}-error", kms_master_key_id=args.kms_key_arn, tags=tags, opts=child
            )
            self.output_bucket, output_bucket_arn = bucket.bucket, bucket.arn
            self.success_topic_arn, self.error_topic_arn = success.arn, error.arn

        role = self._execution_role(name, endpoint_name, output_bucket_arn, tags, child)
        alarms = EndpointAlarms(
            f"{name}-alarms",
            EndpointAlarmsArgs(endpoint_name=endpoint_name, is_async=args.mode is InferenceMode.ASYNC, tags=tags),
            opts=child,
        )
        self.alarm_names = alarms.alarm_names

        model = aws.sagemaker.Model(
            f"{name}-model",
            name=model_name_for(args.deployment, args.model, args.mode, args.model_version),
            execution_role_arn=role.arn,
            primary_container={
                "image": args.image_uri,
                "model_data_url": f"s3://{args.model_data_bucket}/{args.model_data_key}",
                "mode": "SingleModel",
            },
            enable_network_isolation=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
        variant = self._variant(model.name)
        config_hash = content_hash(args.image_uri, args.model_data_key, args.model_version, sorted(variant_repr(args).items()))
        config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            name=physical_name(endpoint_name, config_hash),
            production_variants=[variant],
            # SageMaker refuses a KMS key on serverless variants (no attached storage volume).
            kms_key_arn=None if args.mode is InferenceMode.SERVERLESS else args.kms_key_arn,
            async_inference_config=self._async_config(endpoint_name) if args.mode is InferenceMode.ASYNC else None,
            tags=tags,
            opts=child,
        )
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=endpoint_name,
            endpoint_config_name=config.name,
            deployment_config=self._deployment_config(alarms.rollback_alarm_names)
            if args.mode is not InferenceMode.SERVERLESS
            else None,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[alarms]),
        )
        if args.mode is InferenceMode.PROVISIONED:
            self._provisioned_scaling(name, endpoint)
        elif args.mode is InferenceMode.ASYNC:
            self._async_scaling(name, endpoint)

        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.execution_role_arn = role.arn
        self.register_outputs(
            {"endpoint_name": endpoint.name, "endpoint_arn": endpoint.arn, "execution_role_arn": role.arn}
        )

    # --- pieces --------------------------------------------------------------------

    def _execution_role(
        self,
        name: str,
        endpoint_name: str,
        output_bucket_arn: pulumi.Output[str] | None,
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> aws.iam.Role:
        a = self._args
        role = aws.iam.Role(
            f"{name}-role",
            name=physical_name(endpoint_name, a.region, limit=64),
            assume_role_policy=assume_role_policy("sagemaker.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        statements = [
            Statement("ReadModelData", ("s3:GetObject",), [f"arn:aws:s3:::{a.model_data_bucket}/{a.model_data_key}"]),
            Statement(
                "PullImage",
                ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"),
                [f"arn:aws:ecr:{a.region}:{a.account_id}:repository/{a.image_repository}"],
            ),
            # GetAuthorizationToken has no resource-level permissions (IAM service authorization reference).
            Statement("EcrAuth", ("ecr:GetAuthorizationToken",), ["*"]),
            Statement("UseRegionKey", ("kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"), [a.kms_key_arn]),
            Statement(
                "WriteLogs",
                ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
                [f"arn:aws:logs:{a.region}:{a.account_id}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}:*"],
            ),
            Statement(
                "PublishMetrics", ("cloudwatch:PutMetricData",), ["*"]
            ),  # PutMetricData has no resource-level permissions either.
        ]
        if output_bucket_arn is not None:
            # SageMaker reads each async input with this role (its key: UseRegionKey); a batch request's
            # transform job runs this model with this role and lists its S3Prefix input first.
            inputs = async_input_bucket_for(a.deployment, account_id=a.account_id, region=a.region)
            statements.append(Statement("ReadAsyncInputs", ("s3:GetObject",), [f"arn:aws:s3:::{inputs}/*"]))
            statements.append(Statement("ListBatchInputs", ("s3:ListBucket",), [f"arn:aws:s3:::{inputs}"]))
            statements.append(
                Statement("WriteAsyncOutput", ("s3:PutObject", "s3:GetObject"), [pulumi.Output.concat(output_bucket_arn, "/*")])
            )
            statements.append(Statement("NotifyCompletion", ("sns:Publish",), [self.success_topic_arn, self.error_topic_arn]))  # type: ignore[list-item]
        aws.iam.RolePolicy(f"{name}-role-policy", role=role.id, policy=policy_document(statements), opts=child)
        return role

    def _variant(self, model_name: pulumi.Output[str]) -> dict[str, object]:
        a = self._args
        variant: dict[str, object] = {"variant_name": VARIANT, "model_name": model_name}
        if a.mode is InferenceMode.SERVERLESS:
            serverless: dict[str, int] = {"memory_size_in_mb": a.memory_mb, "max_concurrency": a.max_concurrency}
            if a.provisioned_concurrency:
                serverless["provisioned_concurrency"] = a.provisioned_concurrency
            variant["serverless_config"] = serverless
        else:
            variant["instance_type"] = a.instance_type
            variant["initial_instance_count"] = a.min_instances if a.mode is InferenceMode.PROVISIONED else 1
            variant["initial_variant_weight"] = 1.0
            # Explicit timeouts bound how long a new instance takes to serve: the RTO bound reads them.
            variant["model_data_download_timeout_in_seconds"] = a.model_download_timeout
            variant["container_startup_health_check_timeout_in_seconds"] = a.container_startup_timeout
        return variant

    def _async_config(self, endpoint_name: str) -> dict[str, object]:
        a = self._args
        return {
            "output_config": {
                "s3_output_path": pulumi.Output.concat("s3://", self.output_bucket, "/", endpoint_name, "/output"),  # type: ignore[arg-type]
                "s3_failure_path": pulumi.Output.concat("s3://", self.output_bucket, "/", endpoint_name, "/failure"),  # type: ignore[arg-type]
                "kms_key_id": a.kms_key_arn,
                "notification_config": {
                    "success_topic": self.success_topic_arn,
                    "error_topic": self.error_topic_arn,
                    "include_inference_response_ins": ["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"],
                },
            },
            "client_config": {"max_concurrent_invocations_per_instance": a.max_concurrent_invocations_per_instance},
        }

    @staticmethod
    def _deployment_config(alarm_names: list[str]) -> dict[str, object]:
        return {
            "blue_green_update_policy": {
                "traffic_routing_configuration": {"type": "ALL_AT_ONCE", "wait_interval_in_seconds": 300},
                "termination_wait_in_seconds": 300,
                "maximum_execution_timeout_in_seconds": 3600,
            },
            "auto_rollback_configuration": {"alarms": [{"alarm_name": n} for n in alarm_names]},
        }

    def _scalable_target(self, name: str, endpoint: aws.sagemaker.Endpoint, minimum: int, maximum: int) -> aws.appautoscaling.Target:
        return aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=pulumi.Output.concat("endpoint/", endpoint.name, f"/variant/{VARIANT}"),
            min_capacity=minimum,
            max_capacity=maximum,
            tags=dict(self._args.tags),
            # Scheduled actions and failover runbooks move min/max; Pulumi must not undo them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["minCapacity", "maxCapacity"]),
        )

    def _provisioned_scaling(self, name: str, endpoint: aws.sagemaker.Endpoint) -> None:
        a = self._args
        target = self._scalable_target(name, endpoint, a.min_instances, a.max_instances)
        child = pulumi.ResourceOptions(parent=self)
        self._policy(
            f"{name}-invocations-policy",
            "invocations-per-instance",
            target,
            target_tracking={
                "target_value": a.target_invocations_per_instance,
                "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                "scale_in_cooldown": a.scale_in_cooldown,
                "scale_out_cooldown": a.scale_out_cooldown,
            },
        )
        if a.off_hours is None:
            return
        floor = min(a.off_hours.off_hours_min, a.max_instances)
        for label, cron, minimum in (
            ("scale-down", a.off_hours.scale_down_cron, floor),
            ("scale-up", a.off_hours.scale_up_cron, a.min_instances),
        ):
            aws.appautoscaling.ScheduledAction(
                f"{name}-{label}",
                name=physical_name(a.deployment, a.model, label, limit=255),
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                schedule=cron,
                timezone=a.off_hours.timezone,
                scalable_target_action={"min_capacity": minimum, "max_capacity": a.max_instances},
                opts=child,
            )

    def _async_scaling(self, name: str, endpoint: aws.sagemaker.Endpoint) -> None:
        a = self._args
        minimum = 0 if a.scale_to_zero else 1
        target = self._scalable_target(name, endpoint, minimum, a.max_instances)
        self._policy(
            f"{name}-backlog-policy",
            "backlog-per-instance",
            target,
            target_tracking={
                "target_value": a.backlog_per_instance,
                "customized_metric_specification": {
                    "metric_name": "ApproximateBacklogSizePerInstance",
                    "namespace": "AWS/SageMaker",
                    "dimensions": [{"name": "EndpointName", "value": endpoint.name}],
                    "statistic": "Average",
                },
                "scale_in_cooldown": 600,
                "scale_out_cooldown": 120,
            },
        )
        if not a.scale_to_zero:
            return
        # Target tracking cannot leave zero (no per-instance metric without instances):
        # a step policy on HasBacklogWithoutCapacity adds the first instance.
        wake = self._policy(
            f"{name}-wake-from-zero",
            "wake-from-zero",
            target,
            step={
                "adjustment_type": "ChangeInCapacity",
                "cooldown": 300,
                "metric_aggregation_type": "Average",
                "step_adjustments": [{"metric_interval_lower_bound": "0", "scaling_adjustment": 1}],
            },
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-has-backlog",
            name=physical_name(a.deployment, a.model, "has-backlog-without-capacity", limit=255),
            namespace="AWS/SageMaker",
            metric_name="HasBacklogWithoutCapacity",
            dimensions={"EndpointName": endpoint.name},
            statistic="Average",
            period=60,
            evaluation_periods=2,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="missing",
            alarm_actions=[wake.arn],
            tags=dict(a.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _policy(
        self,
        resource_name: str,
        label: str,
        target: aws.appautoscaling.Target,
        *,
        target_tracking: dict[str, object] | None = None,
        step: dict[str, object] | None = None,
    ) -> aws.appautoscaling.Policy:
        """A target-tracking or step scaling policy on the endpoint's scalable target."""
        a = self._args
        return aws.appautoscaling.Policy(
            resource_name,
            name=physical_name(a.deployment, a.model, label, limit=255),
            policy_type="StepScaling" if step else "TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=target_tracking,
            step_scaling_policy_configuration=step,
            opts=pulumi.ResourceOptions(parent=self),
        )


def variant_repr(args: RegionalInferenceEndpointArgs) -> dict[str, object]:
    """What defines the endpoint configuration's content, for its name hash."""
    return {
        "mode": args.mode.value,
        "instance_type": args.instance_type,
        "memory_mb": args.memory_mb if args.mode is InferenceMode.SERVERLESS else None,
        "max_concurrency": args.max_concurrency if args.mode is InferenceMode.SERVERLESS else None,
        "provisioned_concurrency": args.provisioned_concurrency if args.mode is InferenceMode.SERVERLESS else None,
        "async_concurrency": args.max_concurrent_invocations_per_instance if args.mode is InferenceMode.ASYNC else None,
        "timeouts": (args.model_download_timeout, args.container_startup_timeout),
    }
