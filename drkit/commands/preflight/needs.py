"""What one region's `pulumi up` needs to find already in place, and the read-only calls that look.

Pure: from the spec and the region's plan (`drkit.stacks.plan`), no AWS. The same `RegionNeeds`
feeds `--plan` (which prints `planned_calls`) and the checks (`drkit.commands.preflight.checks`),
so the plan cannot promise calls the checks do not make, or the reverse.

Where the quota names come from (read 2026-11-29): SageMaker has no API that lists the instance
types it offers in a Region. Service Quotas does list, per Region, one quota per instance type and
use — ``<type> for endpoint usage`` (real-time and asynchronous endpoints),
``<type> for transform job usage`` (batch transform) — and the serverless
``Maximum total concurrency that can be allocated across all serverless endpoints``
(https://docs.aws.amazon.com/general/latest/gr/sagemaker.html, "Service quotas"; the Service
Quotas console for SageMaker). So a type is taken as offered in a Region when its quota is listed
there: an inference from the quota list, stated as such in every finding.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from drkit.components.endpoint import InferenceMode
from drkit.core.spec import DeploymentSpec
from drkit.core.tiers import RegionRole
from drkit.stacks.plan import plan_region, token_table_name

SAGEMAKER_QUOTAS = "sagemaker"  # the Service Quotas service code
SERVERLESS_CONCURRENCY_QUOTA = "Maximum total concurrency that can be allocated across all serverless endpoints"


def endpoint_quota_name(instance_type: str) -> str:
    """Service Quotas' name for the instances of one type that endpoints may run in a Region."""
    return f"{instance_type} for endpoint usage"


def transform_quota_name(instance_type: str) -> str:
    """Service Quotas' name for the instances of one type that transform jobs may run in a Region."""
    return f"{instance_type} for transform job usage"


@dataclass(frozen=True)
class ImageNeed:
    """A container image the region's models pull from the region's own ECR registry."""

    repository: str
    digest: str
    uri: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class ModelDataNeed:
    """A model artifact the region's endpoints download from the region's own bucket."""

    bucket: str
    key: str
    sha256: str
    models: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class QuotaNeed:
    """How much of one Service Quotas quota the region's stack can use at its ceiling."""

    quota_name: str
    needed: int
    why: tuple[str, ...]
    """What adds up to `needed`, e.g. ``fraud-xgb/provisioned max 6``."""
    instance_type: str | None = None
    """The instance type the quota is for; None for the serverless concurrency quota."""
    blue_green: bool = False
    """True when an update runs a second (green) fleet beside the first: SageMaker's blue/green
    deployment "creates a new fleet during the deployment while maintaining the old fleet"
    (API reference, BlueGreenUpdatePolicy)."""


@dataclass(frozen=True)
class RegionNeeds:
    """Everything `pulumi up` of one regional stack needs to exist, and how much quota it uses."""

    deployment: str
    region: str
    role: RegionRole
    primary_region: str
    account_id: str
    token_table: str
    """The global table the primary's stack creates; a secondary's replica and StackReference need it."""
    images: tuple[ImageNeed, ...]
    model_data: tuple[ModelDataNeed, ...]
    quotas: tuple[QuotaNeed, ...]

    @property
    def stack(self) -> str:
        return f"{self.deployment}-{self.region}"


def region_needs(spec: DeploymentSpec, region: str) -> RegionNeeds:
    """What the region's stack reads at deploy time (images, model data) and the quotas it uses."""
    spec.require_region(region)
    plan = plan_region(spec, region)
    deployed = {e.model for e in plan.endpoints}
    images: dict[tuple[str, str], list[str]] = defaultdict(list)
    objects: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for model in spec.models:
        if model.name not in deployed:
            continue
        images[(model.image.repository, model.image.digest)].append(model.name)
        objects[(model.model_data.bucket(region, spec.deployment), model.model_data.key, model.model_data.sha256)].append(model.name)

    endpoint_use: dict[str, list[tuple[int, str]]] = defaultdict(list)
    transform_use: dict[str, list[str]] = defaultdict(list)
    serverless: list[tuple[int, str]] = []
    for endpoint in plan.endpoints:
        model = spec.model(endpoint.model)
        label = f"{model.name}/{endpoint.mode.value}"
        if endpoint.mode is InferenceMode.PROVISIONED and model.provisioned:
            endpoint_use[model.provisioned.instance_type].append((endpoint.max_instances, label))
        elif endpoint.mode is InferenceMode.ASYNC and model.async_:
            endpoint_use[model.async_.instance_type].append((endpoint.max_instances, label))
            # The workflow's batch path runs transform jobs of one instance on the async type.
            transform_use[model.async_.instance_type].append(f"{model.name}/batch")
        elif endpoint.mode is InferenceMode.SERVERLESS and model.serverless:
            serverless.append((model.serverless.max_concurrency, label))

    quotas: list[QuotaNeed] = []
    for instance_type, uses in sorted(endpoint_use.items()):
        quotas.append(
            QuotaNeed(
                quota_name=endpoint_quota_name(instance_type),
                needed=sum(n for n, _ in uses),
                why=tuple(f"{label} max {n}" for n, label in uses),
                instance_type=instance_type,
                blue_green=True,  # provisioned and async endpoints both update blue/green (components/endpoint.py)
            )
        )
    for instance_type, labels in sorted(transform_use.items()):
        quotas.append(
            QuotaNeed(
                quota_name=transform_quota_name(instance_type),
                needed=1,
                why=tuple(f"{label}: transform jobs of 1 instance" for label in labels),
                instance_type=instance_type,
            )
        )
    if serverless:
        quotas.append(
            QuotaNeed(
                quota_name=SERVERLESS_CONCURRENCY_QUOTA,
                needed=sum(n for n, _ in serverless),
                why=tuple(f"{label} max_concurrency {n}" for n, label in serverless),
            )
        )
    return RegionNeeds(
        deployment=spec.deployment,
        region=region,
        role=plan.role,
        primary_region=spec.primary_region,
        account_id=spec.account_id,
        token_table=token_table_name(spec),
        images=tuple(
            ImageNeed(
                repository=repo,
                digest=digest,
                uri=f"{spec.account_id}.dkr.ecr.{region}.amazonaws.com/{repo}@{digest}",
                models=tuple(m),
            )
            for (repo, digest), m in images.items()
        ),
        model_data=tuple(ModelDataNeed(bucket=b, key=k, sha256=s, models=tuple(m)) for (b, k, s), m in objects.items()),
        quotas=tuple(quotas),
    )


@dataclass(frozen=True)
class PlannedCall:
    """One read-only AWS API call preflight makes, with its parameters and why."""

    service: str
    """boto3 client name, e.g. ``service-quotas``."""
    operation: str
    """API operation name as in the service model, e.g. ``ListServiceQuotas``."""
    region: str
    """Where the call goes: the checked region, or the primary's for what its stack must have created."""
    params: dict[str, object]
    why: str
    conditional: str = ""
    """Empty when always made; else when it is made."""


def planned_calls(needs: RegionNeeds) -> list[PlannedCall]:
    """Every call the checks make for `needs`, in order; all read-only, in `needs.region` except the
    two that ask the primary's region whether its stack has run (secondaries only)."""
    region = needs.region
    calls = [
        PlannedCall(
            "sts",
            "GetCallerIdentity",
            region,
            {},
            f"the credentials' account must be {needs.account_id}, which owns the registry and buckets",
        )
    ]
    if needs.role is RegionRole.SECONDARY:
        primary = needs.primary_region
        calls.append(
            PlannedCall(
                "dynamodb",
                "DescribeTable",
                primary,
                {"TableName": needs.token_table},
                f"the primary's stack has run: its global table is in {primary} (this stack's replica and StackReference need it)",
            )
        )
        calls.append(
            PlannedCall(
                "ecr",
                "DescribeRegistry",
                primary,
                {},
                f"{primary}'s registry replicates the model repositories to {region} (the rule the primary's stack creates)",
            )
        )
    for image in needs.images:
        calls.append(
            PlannedCall(
                "ecr",
                "DescribeImages",
                region,
                {"registryId": needs.account_id, "repositoryName": image.repository, "imageIds": [{"imageDigest": image.digest}]},
                f"image {image.repository}@{image.digest[:19]}… in {needs.region}'s registry ({', '.join(image.models)})",
            )
        )
    for obj in needs.model_data:
        calls.append(
            PlannedCall(
                "s3",
                "HeadObject",
                region,
                {"Bucket": obj.bucket, "Key": obj.key, "ChecksumMode": "ENABLED", "ExpectedBucketOwner": needs.account_id},
                f"model data {obj.url} present, with S3's whole-object SHA-256 if it keeps one",
            )
        )
        calls.append(
            PlannedCall(
                "s3",
                "GetObject",
                region,
                {"Bucket": obj.bucket, "Key": obj.key, "ExpectedBucketOwner": needs.account_id},
                f"stream {obj.url} and hash it (SHA-256)",
                conditional="only when HeadObject shows no whole-object SHA-256 (multipart or uploaded without one)",
            )
        )
    if needs.quotas:
        calls.append(
            PlannedCall(
                "service-quotas",
                "ListAWSDefaultServiceQuotas",
                region,
                {"ServiceCode": SAGEMAKER_QUOTAS},
                "every SageMaker quota listed in the Region, with its default value (paginated)",
            )
        )
        calls.append(
            PlannedCall(
                "service-quotas",
                "ListServiceQuotas",
                region,
                {"ServiceCode": SAGEMAKER_QUOTAS},
                "the account's applied values, where they differ from the defaults (paginated)",
            )
        )
    return calls
