"""The tier composer: one region of one deployment, as Pulumi resources.

`build_region(spec, region)` is the whole Pulumi program for the stack
``<deployment>-<region>``: key, artifact stores, token table (or replica), endpoints, the
routing workflow and its completion/redrive functions, the front door, the DNS record,
dashboards, and AWS's own DR services (Region switch plans on the primary, FIS templates,
Resilience Hub policy). It creates an explicit AWS provider for `region` and puts
every resource under one `RegionalDeployment` component that uses it, so a stack can
only create resources in its own region. The primary's stack owns the global table;
a secondary's stack reads the primary's outputs through a `StackReference` and owns
only its own replica, endpoints, key, bucket and DNS record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from drkit.components.artifacts import ModelArtifactStore, ModelArtifactStoreArgs
from drkit.components.encryption import RegionalKey, RegionalKeyArgs
from drkit.components.endpoint import (
    InferenceMode,
    OffHoursSchedule,
    RegionalInferenceEndpoint,
    RegionalInferenceEndpointArgs,
    async_output_bucket_for,
    endpoint_name_for,
    model_name_for,
)
from drkit.components.failover import RegionalFailoverRecord, RegionalFailoverRecordArgs
from drkit.components.fis import DrExperiments, DrExperimentsArgs, report_bucket_for
from drkit.components.frontdoor import RegionalFrontDoor
from drkit.components.frontdoor import args_from_spec as frontdoor_args
from drkit.components.lifecycle import RequestLifecycle, RequestLifecycleArgs, redrive_function_name
from drkit.components.naming import physical_name, standard_tags, with_inference_type
from drkit.components.observability import DashboardEndpoint, RegionalDashboard, RegionalDashboardArgs
from drkit.components.region_switch import (
    RegionSwitchPlan,
    RegionSwitchPlanArgs,
    ScaleUpFunction,
    ScaleUpFunctionArgs,
    failover_capacity,
    plan_region_pairs,
)
from drkit.components.resilience import ResilienceAssessment, ResilienceAssessmentArgs
from drkit.components.storage import EncryptedBucket
from drkit.components.table import TaskTokenTable, TaskTokenTableArgs
from drkit.components.workflow import InferenceWorkflow, InferenceWorkflowArgs, WorkflowTarget
from drkit.core.routing import classes_from
from drkit.core.spec import DeploymentSpec, ModelSpec
from drkit.core.tiers import RegionRole
from drkit.stacks.plan import EndpointPlan, RegionPlan, plan_region, token_table_name

# Stack outputs a secondary reads from the primary through its StackReference: the table
# (unless strong mode, where the primary owns every replica) and ARC's health checks.
TABLE_EXPORTS = ("token_table_name", "token_table_arn")
ARC_CHECKS_EXPORT = "arc_health_check_ids"


def primary_stack_reference_name(spec: DeploymentSpec, organization: str, project: str) -> str:
    """Fully qualified name of the primary's stack, `<org>/<project>/<deployment>-<primary>`."""
    return f"{organization}/{project}/{spec.stack_name(spec.primary_region)}"


class RegionalDeployment(pulumi.ComponentResource):
    """Everything one regional stack owns; children inherit this region's provider."""

    exports: dict[str, pulumi.Input[Any]]

    def __init__(
        self,
        spec: DeploymentSpec,
        plan: RegionPlan,
        *,
        primary_outputs: Mapping[str, pulumi.Input[str]] | None,
        opts: pulumi.ResourceOptions,
    ) -> None:
        region = plan.region
        super().__init__("drkit:stack:RegionalDeployment", spec.stack_name(region), {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        base_tags = standard_tags(
            deployment=spec.deployment,
            tier=spec.tier,
            cost_center=spec.cost_center,
            inference_type="shared",
            extra=spec.tags,
        )

        key = RegionalKey("key", RegionalKeyArgs(deployment=spec.deployment, region=region, account_id=spec.account_id, tags=base_tags), opts=child)
        site = RegionSite(deployment=spec.deployment, region=region, account_id=spec.account_id, kms_key_arn=key.key_arn, tags=base_tags)

        is_primary = plan.role is RegionRole.PRIMARY
        buckets = {m.model_data.bucket(region, spec.deployment) for m in spec.models}
        stores = {
            bucket: ModelArtifactStore(
                f"artifacts-{bucket}",
                ModelArtifactStoreArgs(
                    bucket_name=bucket,
                    kms_key_arn=key.key_arn,
                    account_id=spec.account_id,
                    region=region,
                    # ECR replication is registry-wide: one rule, owned by the primary.
                    replicate_images_to=spec.secondary_regions if is_primary and index == 0 else (),
                    repositories=[m.image.repository for m in spec.models] if is_primary and index == 0 else (),
                    tags=base_tags,
                ),
                opts=child,
            )
            for index, bucket in enumerate(sorted(buckets))
        }

        table = TaskTokenTable("tokens", token_table_args(spec, plan, site, primary_outputs), opts=child)

        endpoints: dict[str, dict[str, pulumi.Output[str]]] = {}
        alarm_names: list[str] = []
        async_topics: list[pulumi.Output[str]] = []
        for endpoint_plan in plan.endpoints:
            model = spec.model(endpoint_plan.model)
            endpoint = RegionalInferenceEndpoint(
                f"{model.name}-{endpoint_plan.mode.value}",
                _endpoint_args(spec, model, endpoint_plan, region, key.key_arn, base_tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[stores[model.model_data.bucket(region, spec.deployment)]]),
            )
            endpoints.setdefault(model.name, {})[endpoint_plan.mode.value] = endpoint.endpoint_name
            alarm_names.extend(endpoint.alarm_names)
            async_topics.extend(t for t in (endpoint.success_topic_arn, endpoint.error_topic_arn) if t is not None)

        workflow = InferenceWorkflow(
            "workflow",
            InferenceWorkflowArgs(
                **site, table_name=token_table_name(spec), classes=classes_from(spec.traffic_classes), targets=workflow_targets(spec, plan)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[table]),
        )
        lifecycle = RequestLifecycle(
            "lifecycle",
            RequestLifecycleArgs(
                **site,
                table_name=token_table_name(spec),
                state_machine_arn=workflow.state_machine_arn,
                async_topic_arns=async_topics,
                peer_regions=[r for r in spec.regions if r != region],
                reserved_concurrency={k: v for k, v in spec.reserved_concurrency.items() if k in ("completion", "redrive")},
            ),
            opts=child,
        )
        front_door = RegionalFrontDoor(
            "frontdoor",
            frontdoor_args(
                spec,
                region,
                deployed=[(e.model, e.mode) for e in plan.endpoints],
                table_name=token_table_name(spec),
                table_arn=table.table_arn,
                kms_key_arn=key.key_arn,
                state_machine_arn=workflow.state_machine_arn,
                tags=base_tags,
            ),
            opts=child,
        )
        arc_checks = self._recovery(spec, site, is_primary, alarm_names)
        if arc_checks is None:  # a secondary: the primary's plans created them
            arc_checks = pulumi.Output.from_input((primary_outputs or {}).get(ARC_CHECKS_EXPORT, {}))
        control_checks = pulumi.Output.from_input(arc_checks).apply(lambda by_region: list((by_region or {}).get(region, [])))

        RegionalDashboard(
            "dashboard",
            RegionalDashboardArgs(
                dashboard_name=physical_name("drkit", spec.deployment, region, limit=255),
                region=region,
                endpoints=[
                    DashboardEndpoint(
                        endpoint_name=endpoint_name_for(spec.deployment, e.model, e.mode), model=e.model, inference_type=e.mode.value
                    )
                    for e in plan.endpoints
                ],
                table_name=token_table_name(spec),
            ),
            opts=child,
        )

        record = RegionalFailoverRecord(
            "dns",
            RegionalFailoverRecordArgs(
                domain=spec.dns.domain,
                hosted_zone_id=spec.dns.hosted_zone_id,
                region=region,
                target_host=spec.dns.regional_host(region),
                role=plan.record_role,
                health_check_path=spec.health_check.path,
                request_interval=spec.health_check_interval,
                failure_threshold=spec.failure_threshold,
                ttl=spec.dns_ttl,
                tags=base_tags,
                control_check_ids=control_checks,
            ),
            opts=child,
        )

        self.exports = {
            "deployment": spec.deployment,
            "region": region,
            "role": plan.role.value,
            "tier": int(spec.tier),
            "kms_key_arn": key.key_arn,
            "health_check_id": record.health_check_id,
            "endpoints": endpoints,
            "workflow_arn": workflow.state_machine_arn,
            "redrive_function_arn": lifecycle.redrive_function_arn,
            "frontdoor_domain_target": front_door.domain_target,
            "health_url": front_door.health_url,
        }
        self.exports["token_table_name"] = table.table_name
        self.exports["token_table_arn"] = table.table_arn
        if is_primary:
            self.exports[ARC_CHECKS_EXPORT] = arc_checks
        self.register_outputs(self.exports)

    def _recovery(
        self, spec: DeploymentSpec, site: RegionSite, is_primary: bool, alarm_names: list[str]
    ) -> pulumi.Output[dict[str, list[str]]] | None:
        """AWS's own DR services from the same spec: scale-up Lambda, Region switch plans, FIS, Resilience Hub.

        On the primary, returns the health checks ARC's Route 53 blocks created, by region (every
        region's record must honour them, or executing a plan would not move traffic); None elsewhere.
        """
        child = pulumi.ResourceOptions(parent=self)
        region = site["region"]
        capacity = failover_capacity([(m.name, m.provisioned.min_instances) for m in spec.models if m.provisioned])
        if capacity:
            ScaleUpFunction(
                "scale-up",
                ScaleUpFunctionArgs(
                    **site, failover_capacity=capacity, reserved_concurrent_executions=spec.reserved_concurrency.get("scale_up")
                ),
                opts=child,
            )
        arc_checks: pulumi.Output[dict[str, list[str]]] | None = None
        if is_primary:
            plans = [
                RegionSwitchPlan(f"region-switch-{secondary}", args, opts=child)
                for secondary, args in region_switch_plans(spec, site["tags"]).items()
            ]
            arc_checks = arc_health_checks_by_region([p.plan_arn for p in plans], opts=pulumi.InvokeOutputOptions(parent=self))
        reports = EncryptedBucket(
            "fis-reports",
            bucket_name=report_bucket_for(spec.deployment, account_id=spec.account_id, region=region),
            kms_key_arn=site["kms_key_arn"],
            tags=site["tags"],
            opts=child,
        )
        DrExperiments(
            "fis",
            DrExperimentsArgs(
                **site,
                tier=spec.tier,
                table_name=token_table_name(spec),
                rto_seconds=spec.rto_seconds,
                stop_alarm_arns=[f"arn:aws:cloudwatch:{region}:{spec.account_id}:alarm:{n}" for n in alarm_names],
                report_bucket_name=reports.bucket,
            ),
            opts=child,
        )
        ResilienceAssessment(
            "resilience",
            ResilienceAssessmentArgs(
                deployment=spec.deployment,
                tier=spec.tier,
                region=region,
                rto_seconds=spec.rto_seconds,
                rpo_seconds=spec.rpo_seconds,
                tags=site["tags"],
            ),
            opts=child,
        )
        return arc_checks


class RegionSite(TypedDict):
    """What every regional component is told about where it runs; unpacked into its Args."""

    deployment: str
    region: str
    account_id: str
    kms_key_arn: pulumi.Input[str]
    """This region's key."""
    tags: Mapping[str, str]
    """The deployment's standard tags (InferenceType shared)."""


def token_table_args(
    spec: DeploymentSpec, plan: RegionPlan, site: RegionSite, primary_outputs: Mapping[str, pulumi.Input[str]] | None
) -> TaskTokenTableArgs:
    """The primary owns the global table; a secondary owns its replica of it, or in strong mode (where the
    primary declares every replica inline) only names its own, whose ARN is deterministic."""
    name = token_table_name(spec)
    owner = plan.role is RegionRole.PRIMARY
    strong = spec.consistency == "strong"
    global_table_arn: pulumi.Input[str] | None = None  # the owner creates the table
    if not owner and strong:
        global_table_arn = f"arn:aws:dynamodb:{site['region']}:{spec.account_id}:table/{name}"
    elif not owner:
        assert primary_outputs is not None
        global_table_arn = primary_outputs["token_table_arn"]
    return TaskTokenTableArgs(
        table_name=name,
        role="owner" if owner else "inline" if strong else "replica",
        kms_key_arn=site["kms_key_arn"],
        global_table_arn=global_table_arn,
        consistency=spec.consistency,
        strong_replica_regions=spec.secondary_regions if owner and strong else (),
        account_id=spec.account_id,
        tags=site["tags"],
    )


def region_switch_plans(spec: DeploymentSpec, tags: Mapping[str, str]) -> dict[str, RegionSwitchPlanArgs]:
    """Secondary region → the Region switch plan between it and the primary. A plan is one regional
    resource spanning two regions, so the primary's stack owns one per secondary (docs/aws-dr-services.md)."""
    redrive = redrive_function_name(spec.deployment)
    return {
        secondary: RegionSwitchPlanArgs(
            deployment=spec.deployment,
            tier=spec.tier,
            primary_region=primary,
            regions=(primary, secondary),
            rto_seconds=spec.rto_seconds,
            hosted_zone_id=spec.dns.hosted_zone_id,
            record_name=spec.dns.domain,
            account_id=spec.account_id,
            redrive_function_arns={r: f"arn:aws:lambda:{r}:{spec.account_id}:function:{redrive}" for r in (primary, secondary)},
            tags=tags,
        )
        for primary, secondary in plan_region_pairs(spec.primary_region, spec.secondary_regions)
    }


def workflow_targets(spec: DeploymentSpec, plan: RegionPlan) -> list[WorkflowTarget]:
    """Each model's endpoints in this region, as the workflow addresses them."""
    targets = []
    for model in spec.models:
        modes = {e.mode for e in plan.endpoints if e.model == model.name}
        if not modes:
            continue
        has_async = InferenceMode.ASYNC in modes and model.async_ is not None

        def name(mode: InferenceMode, _model: str = model.name, _modes: set[InferenceMode] = modes) -> str | None:
            return endpoint_name_for(spec.deployment, _model, mode) if mode in _modes else None

        targets.append(
            WorkflowTarget(
                model=model.name,
                realtime_endpoint=name(InferenceMode.PROVISIONED),
                serverless_endpoint=name(InferenceMode.SERVERLESS),
                async_endpoint=name(InferenceMode.ASYNC),
                # Batch runs the async endpoint's model and writes beside its async results.
                batch_model_name=model_name_for(spec.deployment, model.name, InferenceMode.ASYNC, model.version) if has_async else None,
                batch_output_path=f"s3://{async_output_bucket_for(spec.deployment, model.name, account_id=spec.account_id, region=plan.region)}/batch/" if has_async else None,
                batch_instance_type=model.async_.instance_type if has_async and model.async_ else None,
            )
        )
    return targets


def _endpoint_args(
    spec: DeploymentSpec,
    model: ModelSpec,
    plan: EndpointPlan,
    region: str,
    kms_key_arn: pulumi.Output[str],
    base_tags: dict[str, str],
) -> RegionalInferenceEndpointArgs:
    common: dict[str, Any] = dict(
        deployment=spec.deployment,
        model=model.name,
        model_version=model.version,
        mode=plan.mode,
        region=region,
        account_id=spec.account_id,
        image_uri=model.image.uri(spec.account_id, region),
        image_repository=model.image.repository,
        model_data_bucket=model.model_data.bucket(region, spec.deployment),
        model_data_key=model.model_data.key,
        kms_key_arn=kms_key_arn,
        tags=with_inference_type(base_tags, plan.mode.value, model.name),
    )
    if plan.mode is InferenceMode.SERVERLESS:
        sls = model.serverless
        assert sls is not None
        return RegionalInferenceEndpointArgs(
            **common, memory_mb=sls.memory_mb, max_concurrency=sls.max_concurrency, provisioned_concurrency=sls.provisioned_concurrency
        )
    # Provisioned and async variants run on instances: their type, and the timeouts that bound a new one's start.
    instances = model.provisioned if plan.mode is InferenceMode.PROVISIONED else model.async_
    assert instances is not None
    common.update(
        instance_type=instances.instance_type,
        model_download_timeout=instances.model_download_timeout_seconds,
        container_startup_timeout=instances.container_startup_timeout_seconds,
    )
    if plan.mode is InferenceMode.ASYNC:
        asy = model.async_
        assert asy is not None
        return RegionalInferenceEndpointArgs(
            **common,
            max_instances=asy.max_instances,
            max_concurrent_invocations_per_instance=asy.max_concurrent_invocations_per_instance,
            backlog_per_instance=asy.backlog_per_instance,
            scale_to_zero=asy.scale_to_zero,
        )
    cap = model.provisioned
    assert cap is not None
    off_hours = None
    if plan.off_hours and spec.off_hours is not None:
        off_hours = OffHoursSchedule(
            timezone=spec.off_hours.timezone,
            scale_down_cron=spec.off_hours.cron(spec.off_hours.scale_down_at),
            scale_up_cron=spec.off_hours.cron(spec.off_hours.scale_up_at),
            off_hours_min=min(spec.off_hours.min_instances, plan.min_instances),
        )
    return RegionalInferenceEndpointArgs(
        **common,
        min_instances=plan.min_instances,
        max_instances=plan.max_instances,
        target_invocations_per_instance=cap.target_invocations_per_instance,
        scale_in_cooldown=cap.scale_in_cooldown_seconds,
        scale_out_cooldown=cap.scale_out_cooldown_seconds,
        off_hours=off_hours,
    )


def build_region(spec: DeploymentSpec, region: str, *, organization: str, project: str) -> dict[str, pulumi.Input[Any]]:
    """The Pulumi program for stack `<deployment>-<region>`; returns the stack's exports."""
    plan = plan_region(spec, region)
    provider = aws.Provider(f"aws-{region}", region=region)
    primary_outputs: dict[str, pulumi.Input[str]] | None = None
    if plan.role is RegionRole.SECONDARY:
        ref = pulumi.StackReference(primary_stack_reference_name(spec, organization, project))
        wanted = [ARC_CHECKS_EXPORT, *(TABLE_EXPORTS if spec.consistency != "strong" else ())]
        primary_outputs = {k: ref.require_output(k) for k in wanted}
    deployment = RegionalDeployment(
        spec, plan, primary_outputs=primary_outputs, opts=pulumi.ResourceOptions(providers=[provider])
    )
    return deployment.exports


def arc_health_checks_by_region(
    plan_arns: list[pulumi.Output[str]], *, opts: pulumi.InvokeOutputOptions | None = None
) -> pulumi.Output[dict[str, list[str]]]:
    """Region → the ids of the health checks ARC's Route 53 blocks created for it, over all plans
    (a tier-1 primary is in every plan, so it has one per plan)."""
    found = [aws.arcregionswitch.get_route53_health_checks_output(plan_arn=arn, opts=opts) for arn in plan_arns]

    def by_region(results: list[Any]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for result in results:
            for check in result.health_checks:
                out.setdefault(check.region, []).append(check.health_check_id)
        return out

    return pulumi.Output.all(*found).apply(by_region)

