"""The deployment spec: one YAML file, validated into a frozen pydantic model.

Everything downstream (stacks, preview, policies, cost, drills) reads this model and
never the YAML. `load_spec(path)` either returns a valid `DeploymentSpec` or raises one
`SpecError` listing every problem as ``file: field.path: value — what would be valid``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from drkit.core import aws_limits
from drkit.core.catalog import (
    HEALTH_CHECK_INTERVALS,
    HEALTH_CHECK_MAX_FAILURE_THRESHOLD,
    MRSC_REGION_SETS,
    SAGEMAKER_REGIONS,
    SERVERLESS_MAX_CONCURRENCY,
    SERVERLESS_MEMORY_MB,
    closest,
    mrsc_region_set,
)
from drkit.core.errors import SpecError
from drkit.core.inference_router import FRONT_DOOR_TIMEOUT_SECONDS, MAX_DESTINATIONS, MAX_ROUTING_TARGETS
from drkit.core.inference_router import class_gain as router_class_gain
from drkit.core.loader import load_yaml
from drkit.core.routing import REALTIME_MAX_SECONDS
from drkit.core.tiers import (
    RegionRole,
    RoutingPolicy,
    Tier,
    default_dns_ttl,
    default_failure_threshold,
    default_health_check_interval,
    default_rpo_seconds,
    default_rto_seconds,
    routing_policy,
)
from drkit.core.validation import describe, problems

_NAME = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
_SHA256 = r"^[0-9a-f]{64}$"
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_V = TypeVar("_V")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False, allow_inf_nan=False)

    _at_most: ClassVar[tuple[tuple[str, str], ...]] = ()
    """Pairs of fields (low, high) where low may not exceed high."""

    @model_validator(mode="after")
    def _ordered(self) -> Any:
        for low, high in self._at_most:
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value > high_value:
                raise ValueError(f"{low} ({low_value}) must be ≤ {high} ({high_value})")
        return self


def _valid_region(value: str) -> str:
    if value not in SAGEMAKER_REGIONS:
        hint = closest(value, SAGEMAKER_REGIONS)
        did_you_mean = f" (did you mean {', '.join(hint)}?)" if hint else ""
        raise ValueError(f"unknown AWS region{did_you_mean}; valid: a SageMaker region such as us-east-1")
    return value


def _checked(problem_of: Callable[[_V], str | None], value: _V) -> _V:
    """`value` when the rule `problem_of` (one of `aws_limits`'s) finds nothing wrong; else its message."""
    problem = problem_of(value)
    if problem:
        raise ValueError(problem)
    return value


def _valid_instance_type(value: str) -> str:
    """Any type SageMaker hosts on (botocore's ProductionVariantInstanceType), priced by drkit or not."""
    known = aws_limits.realtime_instance_types()
    if value not in known:
        hint = closest(value, known)
        did_you_mean = f" (did you mean {', '.join(hint)}?)" if hint else ""
        raise ValueError(f"unknown SageMaker instance type{did_you_mean}; valid: ml.<family>.<size>, e.g. ml.m5.xlarge")
    return value


class TrafficKind(str, Enum):
    """What a traffic class needs from the routing engine."""

    CRITICAL = "critical"  # lowest latency, always real-time when it fits
    STANDARD = "standard"  # interactive, may use serverless, cheaper off-hours
    BULK = "bulk"  # throughput over latency: async or batch


class OverBudget(str, Enum):
    """What the front door does with a team's request once its monthly budget is spent."""

    REFUSE = "refuse"  # 429 with a body naming the budget
    DEGRADE = "degrade"  # route to the cheapest path that still serves the request


class ContainerImage(_Frozen):
    """The model's container image, pulled in every region from that region's ECR copy."""

    repository: str = Field(description="ECR repository name (CreateRepository's repositoryName rules).")
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="Image digest; tags are not accepted.")

    @field_validator("repository")
    @classmethod
    def _ecr_name(cls, value: str) -> str:
        return _checked(aws_limits.ecr_repository_problem, value)

    def uri(self, account: str, region: str) -> str:
        """The in-region image URI, pinned by digest."""
        return f"{account}.dkr.ecr.{region}.amazonaws.com/{self.repository}@{self.digest}"


class ModelData(_Frozen):
    """Model artifact in S3; every region reads its own copy in `<bucket_prefix>-<deployment>-<region>`.

    S3 bucket names are global: the deployment in the name keeps two deployments that share a
    prefix (in one account or two) from creating the same bucket.
    """

    bucket_prefix: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{2,40}$", description="Bucket name before the region suffix.")
    key: str = Field(min_length=1, pattern=r"^[^/].*\.tar\.gz$", description="Object key of model.tar.gz.")
    sha256: str = Field(pattern=_SHA256, description="Checksum of the artifact; identical in every region.")

    def bucket(self, region: str, deployment: str) -> str:
        return f"{self.bucket_prefix}-{deployment}-{region}"

    def url(self, region: str, deployment: str) -> str:
        return f"s3://{self.bucket(region, deployment)}/{self.key}"


class ProvisionedCapacity(_Frozen):
    """A real-time endpoint on dedicated instances, autoscaled on invocations per instance."""

    instance_type: str = Field(description="SageMaker hosting instance type, e.g. ml.m5.xlarge.")
    min_instances: int = Field(ge=1, le=100, description="Instances always running in the primary. Default: required.")
    max_instances: int = Field(ge=1, le=100, description="Autoscaling ceiling in every region.")
    target_invocations_per_instance: int = Field(
        default=100, ge=1, le=100_000, description="Target-tracking set point (per minute). Default: 100."
    )
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600, description="Default: 300.")
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600, description="Default: 60.")
    model_download_timeout_seconds: int = Field(
        default=180, ge=60, le=3600, description="Variant's model-data download timeout; bounds scale-out time. Default: 180."
    )
    container_startup_timeout_seconds: int = Field(
        default=180, ge=60, le=3600, description="Variant's container startup health-check timeout. Default: 180."
    )
    _at_most = (("min_instances", "max_instances"),)

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, value: str) -> str:
        return _valid_instance_type(value)


class ServerlessCapacity(_Frozen):
    """A serverless endpoint: pay per GB-second, cold starts, 4 MB payloads."""

    memory_mb: int = Field(description="One of 1024, 2048, 3072, 4096, 5120, 6144.")
    max_concurrency: int = Field(ge=1, le=SERVERLESS_MAX_CONCURRENCY, description="1-200.")
    provisioned_concurrency: int = Field(default=0, ge=0, description="Warm capacity; ≤ max_concurrency. Default: 0.")
    _at_most = (("provisioned_concurrency", "max_concurrency"),)

    @field_validator("memory_mb")
    @classmethod
    def _memory_size(cls, value: int) -> int:
        if value not in SERVERLESS_MEMORY_MB:
            raise ValueError(f"must be one of {', '.join(map(str, SERVERLESS_MEMORY_MB))}")
        return value


class AsyncCapacity(_Frozen):
    """An asynchronous endpoint: S3 in and out, SNS on completion, scales to zero when idle."""

    instance_type: str = Field(description="SageMaker hosting instance type.")
    max_instances: int = Field(ge=1, le=100, description="Ceiling while the backlog drains.")
    max_concurrent_invocations_per_instance: int = Field(default=4, ge=1, le=1000, description="Default: 4.")
    backlog_per_instance: int = Field(default=5, ge=1, le=10_000, description="Target backlog per instance. Default: 5.")
    scale_to_zero: bool = Field(default=True, description="Scale to zero instances on an empty backlog. Default: true.")
    model_download_timeout_seconds: int = Field(default=180, ge=60, le=3600, description="Default: 180.")
    container_startup_timeout_seconds: int = Field(default=180, ge=60, le=3600, description="Default: 180.")

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, value: str) -> str:
        return _valid_instance_type(value)


class HealthProbe(_Frozen):
    """A small request the region's deep health sends to an endpoint whose breaker is half-open.

    Once a hung or failing endpoint has taken its region out of DNS, no request reaches it again:
    the probe is how the region learns the endpoint answers before DNS sends traffic back. It must
    answer within 1 s (Route 53 wants the health status within 2 s).
    """

    body: str = Field(min_length=1, max_length=4096, description="Request body the model answers quickly, e.g. a minimal feature vector.")
    content_type: str = Field(
        default="application/json", pattern=r"^[\x20-\x7e]{1,1024}$", description="ContentType header. Default: application/json."
    )


class ModelSpec(_Frozen):
    """One model, served in every region of the deployment."""

    name: str = Field(pattern=_NAME, description="Lowercase name, 3-40 chars.")
    version: str = Field(default="1", pattern=r"^[A-Za-z0-9._-]{1,32}$", description="Release label. Default: 1.")
    image: ContainerImage
    model_data: ModelData
    provisioned: ProvisionedCapacity | None = Field(default=None, description="Real-time endpoint. Default: none.")
    serverless: ServerlessCapacity | None = Field(default=None, description="Serverless endpoint. Default: none.")
    async_: AsyncCapacity | None = Field(default=None, alias="async", description="Async endpoint. Default: none.")
    inference_router: bool = Field(
        default=False,
        description="Send this model's real-time requests through a SageMaker AI cross-Region inference router "
        "in each region, listing the model's provisioned endpoints in every region, own region first "
        "(tiers 1-2; docs/routers.md). Async stays regional. Default: false.",
    )
    health_probe: HealthProbe | None = Field(
        default=None,
        description="Request deep health sends to a half-open real-time or serverless endpoint, so a region that "
        "left DNS returns only once the endpoint answers (docs/failure-model.md). Default: none — the region "
        "returns when the breaker's cool-down ends, untested.",
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _some_capacity(self) -> ModelSpec:
        if not (self.provisioned or self.serverless or self.async_):
            raise ValueError("a model needs at least one of provisioned, serverless or async")
        if self.health_probe and not (self.provisioned or self.serverless):
            raise ValueError("health_probe is sent to a real-time or serverless endpoint; this model has only async (remove it)")
        return self


class TrafficClass(_Frozen):
    """A named class of requests and what it needs from routing."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    kind: TrafficKind
    timeout_seconds: int = Field(default=60, ge=1, le=86_400, description="Client deadline. Default: 60.")


class OffHours(_Frozen):
    """When provisioned endpoints outside tier 1 scale down, in the team's own time zone."""

    timezone: str = Field(description="IANA time zone, e.g. America/New_York.")
    scale_down_at: str = Field(description="HH:MM, 24 h.")
    scale_up_at: str = Field(description="HH:MM, 24 h.")
    days: tuple[str, ...] = Field(default=_DAYS, description="Days the schedule runs (MON..SUN). Default: every day.")
    min_instances: int = Field(default=1, ge=1, le=100, description="Instances kept off-hours. Default: 1.")

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            hint = closest(value, tuple(available_timezones()))
            did_you_mean = f" (did you mean {', '.join(hint)}?)" if hint else ""
            raise ValueError(f"unknown IANA time zone{did_you_mean}") from None
        return value

    @field_validator("scale_down_at", "scale_up_at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValueError("must be a 24-hour time HH:MM, e.g. 20:00")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(d.upper() for d in value)
        bad = [d for d in upper if d not in _DAYS]
        if bad or not upper:
            raise ValueError(f"days must be a non-empty list of {', '.join(_DAYS)}")
        if len(set(upper)) != len(upper):
            raise ValueError("days must not repeat")
        return upper

    @model_validator(mode="after")
    def _distinct(self) -> OffHours:
        if self.scale_down_at == self.scale_up_at:
            raise ValueError("scale_down_at and scale_up_at must differ")
        return self

    def cron(self, at: str) -> str:
        """Application Auto Scaling cron expression for HH:MM on the configured days."""
        hour, minute = at.split(":")
        return f"cron({int(minute)} {int(hour)} ? * {','.join(self.days)} *)"


class Dns(_Frozen):
    """The deployment's public name and the hosted zone that holds it."""

    domain: str = Field(max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    hosted_zone_id: str = Field(pattern=r"^Z[A-Z0-9]{5,31}$", description="Route 53 hosted zone id, e.g. Z0123456789ABC.")
    ttl_seconds: int | None = Field(default=None, ge=0, le=86_400, description="Default: 30 s tier 1, 60 s otherwise.")

    def regional_host(self, region: str) -> str:
        """The name each region's front door answers on; the shared record points at it."""
        return f"{region}.{self.domain}"


class HealthCheck(_Frozen):
    """Route 53 health check on each region's deep /health."""

    path: str = Field(default="/health", pattern=r"^/[A-Za-z0-9/_.-]*$", description="Default: /health.")

    @field_validator("path")
    @classmethod
    def _probe_path(cls, value: str) -> str:
        return _checked(aws_limits.health_path_problem, value)
    request_interval_seconds: int | None = Field(default=None, description="10 or 30. Default: 10 tier 1, 30 otherwise.")
    failure_threshold: int | None = Field(default=None, ge=1, le=HEALTH_CHECK_MAX_FAILURE_THRESHOLD, description="Default: 3.")

    @field_validator("request_interval_seconds")
    @classmethod
    def _interval(cls, value: int | None) -> int | None:
        if value is not None and value not in HEALTH_CHECK_INTERVALS:
            raise ValueError("must be 10 or 30 (the only intervals Route 53 offers)")
        return value


class Targets(_Frozen):
    """Recovery objectives; defaulted from the tier."""

    rto_seconds: int | None = Field(default=None, ge=1, le=86_400, description="Default: 60 / 900 / 3600 by tier.")
    rpo_seconds: float | None = Field(default=None, ge=0, le=86_400, description="Default: 1.")


class Team(_Frozen):
    """A caller of the front door: its key (hashed), monthly budget and priority."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")
    key_digest: str = Field(
        pattern=_SHA256,
        description="HMAC-SHA256 (hex) of the team's API key under team_key_secret (`drkit keys digest`); the key never appears.",
    )
    monthly_budget_usd: float = Field(ge=0, le=10_000_000)
    priority: Literal["high", "normal", "low"] = Field(
        default="normal", description="Order in which its unfinished async/batch requests are redriven after a failover."
    )
    over_budget: OverBudget = OverBudget.DEGRADE


class Audit(_Frozen):
    """The front door's object-locked audit trail."""

    retention_days: int = Field(default=365, ge=1, le=36_500, description="Object Lock retention per record. Default: 365.")
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE",
        description="GOVERNANCE (s3:BypassGovernanceRetention may lift it) or COMPLIANCE (nobody, not even root, "
        "can delete a record or the bucket before retention ends). Default: GOVERNANCE.",
    )


class DeploymentSpec(_Frozen):
    """A whole multi-region inference deployment. Read with `load_spec`."""

    deployment: str = Field(pattern=_NAME, description="Name, 3-40 lowercase chars; prefixes stacks and resources.")
    tier: Tier = Field(description="1 hot, 2 warm, 3 pilot light.")
    primary_region: str
    secondary_regions: tuple[str, ...] = Field(min_length=1, description="At least one region other than the primary.")
    allowed_regions: tuple[str, ...] | None = Field(default=None, description="Data residency allowlist. Default: no limit.")
    account_id: str = Field(pattern=r"^[0-9]{12}$", description="AWS account the stacks deploy to; holds the ECR repositories and names drkit's S3 buckets.")
    cost_center: str = Field(pattern=r"^[A-Za-z0-9_.:/=+@-]{1,128}$", description="Value of the CostCenter tag.")
    consistency: Literal["eventual", "strong"] = Field(
        default="eventual",
        description="Global table mode. strong (RPO 0) needs tier 1 and 3 regions, and the primary then owns every replica.",
    )
    dns: Dns
    health_check: HealthCheck = HealthCheck()
    targets: Targets = Targets()
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    traffic_classes: tuple[TrafficClass, ...] = Field(
        default=(
            TrafficClass(name="critical", kind=TrafficKind.CRITICAL, timeout_seconds=5),
            TrafficClass(name="standard", kind=TrafficKind.STANDARD, timeout_seconds=60),
            TrafficClass(name="bulk", kind=TrafficKind.BULK, timeout_seconds=3600),
        ),
        min_length=1,
    )
    off_hours: OffHours | None = Field(default=None, description="Required for provisioned endpoints in tiers 2-3.")
    teams: tuple[Team, ...] = ()
    team_key_secret: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$",
        description="Secrets Manager secret (same name in every region, or replicated) keying the team digests. "
        "Required when teams are listed. Default: none.",
    )
    audit: Audit = Audit()
    reserved_concurrency: dict[Literal["router", "completion", "redrive", "scale_up"], int] = Field(
        default_factory=dict,
        description="Reserved concurrent executions per function (at least 1). Default: none reserved — AWS keeps 100 "
        "unreserved per account and new accounts have lower quotas, so a fixed default could fail the first deploy.",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags on every taggable resource.")

    @field_validator("tags")
    @classmethod
    def _user_tags(cls, value: dict[str, str]) -> dict[str, str]:
        return _checked(aws_limits.spec_tags_problem, value)

    @field_validator("primary_region")
    @classmethod
    def _primary_known(cls, value: str) -> str:
        return _valid_region(value)

    @field_validator("secondary_regions", "allowed_regions")
    @classmethod
    def _each_region(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return value
        problems = []
        for index, region in enumerate(value):
            try:
                _valid_region(region)
            except ValueError as exc:
                problems.append(f"[{index}] {region!r}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        duplicates = sorted({r for r in value if value.count(r) > 1})
        if duplicates:
            raise ValueError(f"duplicate region {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> DeploymentSpec:
        problems: list[str] = []
        if self.primary_region in self.secondary_regions:
            problems.append(f"secondary_regions: {self.primary_region!r} is also the primary_region; list it once")
        if self.allowed_regions is not None:
            outside = [r for r in self.regions if r not in self.allowed_regions]
            if outside:
                problems.append(
                    f"regions {', '.join(outside)} are not in allowed_regions ({', '.join(self.allowed_regions)})"
                )
        names = [m.name for m in self.models]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"models: duplicate model name {name!r}")
        classes = [c.name for c in self.traffic_classes]
        for name in sorted({n for n in classes if classes.count(n) > 1}):
            problems.append(f"traffic_classes: duplicate class name {name!r}")
        teams = [t.name for t in self.teams]
        for name in sorted({n for n in teams if teams.count(n) > 1}):
            problems.append(f"teams: duplicate team name {name!r}")
        keys = [t.key_digest for t in self.teams]
        if len(set(keys)) != len(keys):
            problems.append("teams: two teams share one key_digest; every team needs its own key")
        if self.teams and not self.team_key_secret:
            problems.append(
                "team_key_secret: missing; teams need the Secrets Manager secret that keys their digests (see docs/failure-model.md)"
            )
        for role, reserved in self.reserved_concurrency.items():
            if reserved < 1:
                problems.append(
                    f"reserved_concurrency.{role}: {reserved} is not valid; valid: at least 1 (0 would stop the function)"
                )
        for index, model in enumerate(self.models):
            if self.tier is Tier.HOT and model.provisioned is None:
                problems.append(
                    f"models[{index}] ({model.name}): tier 1 (hot) needs provisioned capacity in every region; add models[{index}].provisioned"
                )
            if self.tier is Tier.PILOT_LIGHT and not (model.serverless or model.async_):
                problems.append(
                    f"models[{index}] ({model.name}): tier 3 (pilot light) secondaries serve only serverless/async; add models[{index}].serverless or .async"
                )
            if self.off_hours and model.provisioned and self.off_hours.min_instances > model.provisioned.max_instances:
                problems.append(
                    f"off_hours.min_instances ({self.off_hours.min_instances}) exceeds models[{index}].provisioned.max_instances ({model.provisioned.max_instances})"
                )
        problems.extend(self._router_problems())
        problems += self._aws_name_problems()
        needs_schedule = self.tier is not Tier.HOT and any(m.provisioned for m in self.models)
        if needs_schedule and self.off_hours is None:
            problems.append(
                "off_hours: tiers 2-3 with provisioned endpoints need an off-hours scale-down schedule (timezone, scale_down_at, scale_up_at)"
            )
        if self.tier is not Tier.HOT and len(self.secondary_regions) != 1:
            problems.append(
                f"secondary_regions: tiers 2-3 use Route 53 failover records, which allow one PRIMARY and one SECONDARY; "
                f"list exactly one secondary region (got {len(self.secondary_regions)}) or use tier 1"
            )
        if self.consistency == "strong":
            if self.tier is not Tier.HOT:
                problems.append("consistency: 'strong' is only offered for tier 1; use 'eventual'")
            elif len(self.regions) != 3:
                problems.append(
                    f"consistency: 'strong' needs exactly 3 regions (DynamoDB multi-Region strong consistency); this spec has {len(self.regions)}"
                )
            elif mrsc_region_set(self.regions) is None:
                sets = "; ".join(f"{name}: {', '.join(sorted(members))}" for name, members in MRSC_REGION_SETS.items())
                problems.append(
                    f"consistency: 'strong' needs all 3 regions in one DynamoDB multi-Region strong consistency Region set;"
                    f" {', '.join(self.regions)} are not (valid sets: {sets})"
                )
        if problems:
            raise ValueError(" | ".join(problems))
        return self

    def _router_problems(self) -> list[str]:
        """Why `inference_router: true` cannot work here, per AWS's router limits (drkit.core.inference_router)."""
        problems: list[str] = []
        routed = [(i, m) for i, m in enumerate(self.models) if m.inference_router]
        for index, model in routed:
            where = f"models[{index}].inference_router ({model.name})"
            if self.tier is Tier.PILOT_LIGHT:
                problems.append(f"{where}: routers are offered for tiers 1-2; a tier-3 secondary has no running real-time endpoint to route to")
            if model.provisioned is None and self.tier is not Tier.HOT:  # tier 1 already requires it
                problems.append(f"{where}: a router lists real-time endpoints; add models[{index}].provisioned or set inference_router: false")
        if routed and len(self.regions) > MAX_DESTINATIONS:
            problems.append(
                f"models: inference_router lists one endpoint per region and a routing target takes at most "
                f"{MAX_DESTINATIONS} destinations; this spec has {len(self.regions)} regions"
            )
        if len(routed) > MAX_ROUTING_TARGETS:
            problems.append(f"models: {len(routed)} models set inference_router; a router takes at most {MAX_ROUTING_TARGETS} routing targets")
        if routed and not self.router_classes:
            problems.append(
                "traffic_classes: inference_router serves real-time requests only, and no class reaches real-time "
                f"(kind critical or standard with timeout_seconds ≤ {REALTIME_MAX_SECONDS}); add one or set inference_router: false"
            )
        return problems

    @property
    def router_classes(self) -> dict[str, str]:
        """Classes whose requests can ride a router (real-time), with what the router gains them.

        The front door ends a request at 29 s (API Gateway), so no class gets AWS's 170 s for two
        full attempts: 'fast-failures' means the retry happens only when the first destination
        answers an error before the deadline (docs/routers.md).
        """
        return {
            c.name: router_class_gain(c.timeout_seconds, FRONT_DOOR_TIMEOUT_SECONDS)
            for c in self.traffic_classes
            if c.kind is not TrafficKind.BULK and c.timeout_seconds <= REALTIME_MAX_SECONDS
        }
    def _aws_name_problems(self) -> list[str]:
        """What each region's stack would send AWS from this spec, judged by the deploy-rule table."""
        problems: list[str] = []
        for region in self.regions:
            problem = aws_limits.certificate_name_problem(self.dns.regional_host(region))
            if problem:
                problems.append(f"dns.domain: {region}'s certificate name {self.dns.regional_host(region)!r} {problem}")
        for index, model in enumerate(self.models):
            for region in self.regions:
                bucket = model.model_data.bucket(region, self.deployment)
                problem = aws_limits.s3_bucket_name_problem(bucket)
                if problem:
                    problems.append(f"models[{index}].model_data.bucket_prefix: {region}'s bucket {bucket!r} {problem}")
                url = model.model_data.url(region, self.deployment)
                problem = aws_limits.model_data_url_problem(url)
                if problem:
                    problems.append(f"models[{index}].model_data.key: {describe(url)} {problem}")
                uri = model.image.uri(self.account_id, region)
                problem = aws_limits.image_uri_problem(uri)
                if problem:
                    problems.append(f"models[{index}].image.repository: {region}'s image URI {describe(uri)} {problem}")
            if model.async_ and model.async_.instance_type not in aws_limits.transform_instance_types():
                problems.append(
                    f"models[{index}].async.instance_type: {model.async_.instance_type!r} also runs batch transform jobs, "
                    "and SageMaker's TransformInstanceType does not offer it; pick a type offered for both"
                )
        return sorted(set(problems), key=problems.index)

    # Derived values: the one place each default is resolved.

    @property
    def regions(self) -> tuple[str, ...]:
        """Primary first, then secondaries in spec order."""
        return (self.primary_region, *self.secondary_regions)

    def require_region(self, region: str, source: str = "--region") -> str:
        """`region` if it belongs to this deployment, else a SpecError naming the valid ones."""
        if region not in self.regions:
            raise SpecError(source, [f"region {region!r} is not in deployment {self.deployment}; valid: {', '.join(self.regions)}"])
        return region

    def role(self, region: str) -> RegionRole:
        self.require_region(region)
        return RegionRole.PRIMARY if region == self.primary_region else RegionRole.SECONDARY

    def stack_name(self, region: str) -> str:
        """The Pulumi stack for one region, e.g. fraud-tier1-us-east-1."""
        return f"{self.deployment}-{region}"

    @property
    def routing(self) -> RoutingPolicy:
        return routing_policy(self.tier)

    @property
    def rto_seconds(self) -> int:
        return self.targets.rto_seconds or default_rto_seconds(self.tier)

    @property
    def rpo_seconds(self) -> float:
        """The spec's target, else 0 under strong consistency (MRSC acknowledges a write only once
        another region has it), else the tier's."""
        if self.targets.rpo_seconds is not None:
            return self.targets.rpo_seconds
        return 0.0 if self.consistency == "strong" else default_rpo_seconds(self.tier)

    @property
    def health_check_interval(self) -> int:
        return self.health_check.request_interval_seconds or default_health_check_interval(self.tier)

    @property
    def failure_threshold(self) -> int:
        return self.health_check.failure_threshold or default_failure_threshold(self.tier)

    @property
    def dns_ttl(self) -> int:
        return self.dns.ttl_seconds if self.dns.ttl_seconds is not None else default_dns_ttl(self.tier)

    def model(self, name: str) -> ModelSpec:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)


# --- loading -----------------------------------------------------------------------


def parse_spec(data: Any, source: str = "<spec>") -> DeploymentSpec:
    """Validate already-parsed YAML; raises `SpecError` naming `source`."""
    if data is None:
        raise SpecError(source, ["the file is empty; expected a mapping with deployment, tier, primary_region, ..."])
    if not isinstance(data, dict):
        raise SpecError(source, [f"top level is a {type(data).__name__}; expected a mapping of fields"])
    try:
        return DeploymentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, problems(exc, DeploymentSpec)) from None


def load_spec(path: str | Path) -> DeploymentSpec:
    """Read and validate a deployment spec file (through `drkit.core.loader`'s limits)."""
    return parse_spec(load_yaml(path, kind="deployment spec"), str(path))
