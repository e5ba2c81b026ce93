"""Monthly cost of a stack's resources, line by line (quantity × unit price), and of a whole deployment.

`monthly_cost(resources, usage)` prices one regional stack from `(type token, props,
region)` triples — the same shape CrossGuard hands a stack policy — so the budget policy
and `drkit cost` share one model. Conventions follow AWS's pricing pages and Infracost:
730 hours a month, usage-based resources priced from a usage profile, and every line a
quantity times a unit price you can check by hand.

Every unit price comes from drkit/core/prices.json through `drkit.core.pricing`, per region;
a price the table lacks makes the line a *gap* (marked, priced at nothing, the total flagged
incomplete), never a silent 0 and never an error.

Instance-hours honour the off-hours scheduled actions and the scalable target's min/max;
with a usage profile, provisioned endpoints scale between min and max on requests per
hour ÷ (target invocations per instance × 60). Traffic reaching a region: all of it for
a failover PRIMARY, none for a SECONDARY (it idles at its minimum), and for latency
records an even split over the regions the router's bundled config names, so one stack priced
alone (the budget policy) and the same stack priced inside its deployment (`drkit cost`) get the
same share from the same resources.

The front door is priced from what its code does per request: one API request and one router
invocation (its own work plus the wait on a synchronous endpoint), one API Gateway access-log
line, one audit object and one embedded-metric log line; Route 53's health checkers add probes to
every region, serving or not. The lifecycle functions run once per async/batch request
(completion) or only during a failover (redrive, scale-up).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from drkit.components.frontdoor import ROUTER_GB_SECONDS, RegionalFrontDoorArgs, deployed_router_config
from drkit.components.functions.router.audit import AuditRecord, emf_line, metric_values
from drkit.components.workflow import ASYNC_REQUEST_TRANSITIONS
from drkit.core import pricing as p
from drkit.core.inference_router import TYPE_TOKEN as ROUTER_TYPE
from drkit.core.rto import record_role
from drkit.core.spec import DeploymentSpec
from drkit.core.usage import UsageProfile, load_usage
from drkit.core.values import number
from drkit.engine.graph import DeploymentGraph

__all__ = ["CostEstimate", "CostLine", "DeploymentCost", "deployment_cost", "fair_baseline", "load_usage", "monthly_cost", "traffic_share"]

WEEK_MINUTES = 7 * 24 * 60
STEP = 10  # minutes; fine enough for HH:30 schedules
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
ASYNC_TOKEN_WRITES = 3  # pending record, task token, completion (tokens.py writes these)
# Workflow transitions per async/batch request: ASYNC_REQUEST_TRANSITIONS, counted by walking
# drkit.components.workflow's definition (the front door's per-request budgets use the same number).

# --- front door and Lambda assumptions: each one a stated guess, in one place ------------------

_GB = 1024**3  # bytes in the GB that CloudWatch Logs and S3 bill by


def _default_router_mb() -> int:
    """The router's default memory, read from RegionalFrontDoorArgs so it is stated once."""
    default = next(f.default for f in fields(RegionalFrontDoorArgs) if f.name == "memory_size")
    assert isinstance(default, int)
    return default


# ASSUMPTION (components/frontdoor.py's ROUTER_GB_SECONDS, "512 MB for ~100 ms"): the router's own
# work per invocation, excluding the wait on a synchronous endpoint, which is priced from the usage
# profile's invocation seconds. Derived, so the 100 ms lives only in frontdoor.py.
ROUTER_SECONDS = ROUTER_GB_SECONDS / (_default_router_mb() / 1024)
# ASSUMPTION: the completion function makes 2-4 calls (GetItem, UpdateItem, SendTaskSuccess,
# ListTags for batch) per async/batch request: about 200 ms. Not measured.
COMPLETION_SECONDS = 0.2
# Route 53 API Reference, HealthCheckConfig (docs.aws.amazon.com/Route53/latest/APIReference/
# API_autonaming_HealthCheckConfig.html): one checker per health-checking region probes at the
# interval, and at 30 s an endpoint sees a probe about every 2 s: about 15 probes per interval.
HEALTH_CHECKERS = 15
# Measured, not assumed: json.dumps(vars(AuditRecord)) of a typical record (reason strings from
# drkit.core.routing) is 672-758 B for the example classes; tests/test_cost.py re-measures it.
AUDIT_RECORD_BYTES = 700
# What API Gateway substitutes for each $context variable of the stage's access-log format
# (a typical successful POST /v1/infer); the line's size is measured from the real format.
_ACCESS_LOG_SAMPLE = {
    "requestId": "JZ1a2b3cIAMEbXw=", "routeKey": "POST /v1/infer", "status": "200",
    "responseLatency": "45", "integrationErrorMessage": "-",
}  # fmt: skip
# The Lambda service writes these three lines for every invocation in the default Text log format
# (tracing is Active, so REPORT carries the X-Ray ids); the router itself logs only on failure.
LAMBDA_PLATFORM_LOG_BYTES = len(
    "START RequestId: 6f4c2a8e-1b3d-4e5f-9a7b-2c8d0e1f3a4b Version: $LATEST\n"
    "END RequestId: 6f4c2a8e-1b3d-4e5f-9a7b-2c8d0e1f3a4b\n"
    "REPORT RequestId: 6f4c2a8e-1b3d-4e5f-9a7b-2c8d0e1f3a4b\tDuration: 102.25 ms\tBilled Duration: 103 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 96 MB\t\n"
    "XRAY TraceId: 1-67a1b2c3-4d5e6f7a8b9c0d1e2f3a4b5c\tSegmentId: 1a2b3c4d5e6f7a8b\tSampled: true\t\n"
)
# A typical served request's audit record: what audit.py emits for it is measured, not typed in.
_SERVED = AuditRecord(
    request_id="0f3c9a1e7b2d4c5f8a6e1d0b9c7a2f4e", at=1_767_268_800.0, region="us-east-1", team="card-auth",
    model="fraud-xgb", traffic_class="authorisation", payload_bytes=2048, path="realtime", routed_path="realtime",
    rule="critical-realtime", reason="", estimated_cost_usd=1.195e-05, outcome="served", status_code=200,
)  # fmt: skip
# Metric names audit.py emits for every served record (Refused, Failed and Fallbacks only exist in
# the hours they occur and are not counted).
ROUTER_METRICS_PER_RECORD = tuple(metric_values(_SERVED))
# The embedded-metric-format line per record (the metrics reach CloudWatch as log ingestion, not API calls).
EMF_LINE_BYTES = len(emf_line(_SERVED).encode())
_PATH_OF_MODE = {"provisioned": "realtime", "serverless": "serverless", "async": "async"}


class FunctionRole(str, Enum):
    """What a Lambda function does, which decides how often it runs."""

    ROUTER = "router"  # every request reaching the region, and every health-check probe
    COMPLETION = "completion"  # once per async/batch request
    REDRIVE = "redrive"  # failover only
    SCALE_UP = "scale-up"  # failover only
    UNKNOWN = "unknown"


def function_role(name: str) -> FunctionRole:
    """The role of a function from the suffix drkit's components give its name."""
    return next((r for r in FunctionRole if r is not FunctionRole.UNKNOWN and name.endswith(f"-{r.value}")), FunctionRole.UNKNOWN)


def access_log_bytes(log_format: str) -> int:
    """Bytes of one access-log line: the stage's format with each $context variable filled in."""
    line = re.sub(r"\$context\.([A-Za-z.]+)", lambda m: _ACCESS_LOG_SAMPLE.get(m[1], "-" * 16), log_format)
    return len(line.encode())


def health_probes(request_interval: float) -> float:
    """Requests Route 53's checkers send one endpoint in a month at this interval."""
    return p.HOURS_PER_MONTH * 3600 / request_interval * HEALTH_CHECKERS


def _router_teams(props: Mapping[str, Any]) -> int | None:
    """How many teams the router's bundled config names; None when the config is not in the graph."""
    config = deployed_router_config(props)
    return len(config.get("teams") or []) if config is not None else None


@dataclass(frozen=True)
class CostLine:
    """One priced item: monthly_usd = quantity × unit_price_usd. A gap has no unit price."""

    resource: str
    region: str | None
    model: str
    inference_type: str
    description: str
    quantity: float
    unit: str
    unit_price_usd: float | None
    gap: str = ""  # why there is no price (the line then adds nothing to the priced total)
    sourced: bool = True  # False: the price table marks this figure as not confirmed by AWS

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_price_usd if self.unit_price_usd is not None else 0.0

    @property
    def is_gap(self) -> bool:
        return self.unit_price_usd is None and self.quantity > 0


@dataclass(frozen=True)
class CostEstimate:
    """A stack's monthly bill, line by line; `total_usd` is the priced part."""

    lines: tuple[CostLine, ...]
    usage_given: bool = True
    traffic_share: float = 1.0
    share_basis: str = ""

    @property
    def total_usd(self) -> float:
        return sum(line.monthly_usd for line in self.lines)

    @property
    def gaps(self) -> tuple[CostLine, ...]:
        return tuple(line for line in self.lines if line.is_gap)

    @property
    def complete(self) -> bool:
        """Every line priced, and usage-driven lines priced from a usage profile."""
        return not self.gaps and self.usage_given

    def notes(self) -> list[str]:
        """What the total leaves out, in words both `drkit cost` and the budget policy print."""
        out = []
        if not self.usage_given:
            out.append(f"usage-driven lines are not priced (no usage profile given): {NO_USAGE}")
        for line in self.gaps:
            out.append(f"not priced: {line.resource} {line.description} ({line.quantity:g} {line.unit}): {line.gap}")
        return out

    def by(self, key: Callable[[CostLine], str]) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for line in self.lines:
            out[key(line)] += line.monthly_usd
        return dict(sorted(out.items()))


NO_USAGE = "requests, serverless compute, data processed, DNS queries, DynamoDB requests, audit and async objects, X-Ray traces"


def _price(service: str, key: str, region: str | None) -> tuple[float | None, str, bool]:
    """(unit price, gap reason, sourced) from the price table."""
    found = p.lookup(service, key, region)
    if found is None:
        return None, p.default_table().gap_reason(service, key, region), False
    return found.usd, "", found.sourced


def priced_line(
    resource: str, region: str | None, description: str, quantity: float, unit: str, service: str, key: str,
    *, model: str = "shared", inference_type: str = "shared", price_region: str | None = "",
) -> CostLine:
    """A line priced from the table; `price_region` "" means the line's own region."""
    unit_price, gap, sourced = _price(service, key, region if price_region == "" else price_region)
    return CostLine(resource, region, model, inference_type, description, quantity, unit, unit_price, gap, sourced)


# --- schedules -------------------------------------------------------------------------------

_CRON = re.compile(r"^cron\((\d+) (\d+) \? \* ([A-Z,\-]+) \*\)$")


def _days(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(_DAYS.index(a), _DAYS.index(b) + 1))
        else:
            out.append(_DAYS.index(part))
    return out


def schedule_events(actions: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(minute of week, new minimum) for each scheduled action; unknown crons are ignored."""
    events = []
    for action in actions:
        match = _CRON.match(str(action.get("schedule", "")))
        target = action.get("scalableTargetAction") or {}
        if not match or target.get("minCapacity") is None:
            continue
        minute, hour, days = int(match[1]), int(match[2]), match[3]
        for day in _days(days):
            events.append((day * 1440 + hour * 60 + minute, int(target["minCapacity"])))
    return sorted(events)


def floor_at(events: list[tuple[int, int]], minute: int, default: int) -> int:
    """The scheduled minimum in force at `minute` (the week wraps around)."""
    if not events:
        return default
    current = events[-1][1]  # the last event of the previous week is still in force
    for at, value in events:
        if at > minute:
            break
        current = value
    return current


def weekly_instance_hours(
    minimum: int, maximum: int, events: list[tuple[int, int]], demand: Callable[[int], int] | None = None
) -> float:
    """Instance-hours over one week: max(scheduled floor, demand), capped at the maximum."""
    total = 0
    for minute in range(0, WEEK_MINUTES, STEP):
        floor = floor_at(events, minute, minimum)
        needed = demand(minute) if demand else 0
        total += min(max(floor, needed), maximum) * STEP
    return total / 60


# --- the model -------------------------------------------------------------------------------


def _route_kind(kind: str, modes: set[str]) -> str | None:
    """Which of a model's endpoints a traffic kind lands on (the routing engine's preference)."""
    preference = {
        "critical": ("provisioned", "serverless", "async"),
        "standard": ("serverless", "provisioned", "async"),
        "bulk": ("async", "serverless", "provisioned"),
    }[kind]
    return next((m for m in preference if m in modes), None)


@dataclass(frozen=True)
class _Traffic:
    """What reaches one region in a month, as the front door and lifecycle lines need it."""

    requests: float  # user requests through this region's front door
    sync_requests: float  # of those, the ones served on real-time or serverless (breakers read and write)
    async_requests: float  # of those, the ones queued (async/batch): the completion function's invocations
    deployment_requests: float  # every region together
    deployment_sync_requests: float
    deployment_async_requests: float  # queued requests in every region together: what each replica receives
    sync_wait_seconds: float  # Σ direct requests × model seconds: the router waits for these
    paths_by_model: Mapping[str, frozenset[str]]  # audit.py's InferenceType values that carry traffic
    hourly_requests: tuple[float, ...]  # 168 hours of the week, this region's user requests


@dataclass
class _Stack:
    resources: list[tuple[str, Mapping[str, Any], str | None]]
    configs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    targets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    schedules: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    record_role: str | None = None
    api_domains: set[str] = field(default_factory=set)
    lock_days: dict[str, float] = field(default_factory=dict)
    expiry_days: dict[str, float] = field(default_factory=dict)
    regions: tuple[str, ...] = ()  # every region of the deployment, from the router's bundled config
    audit_bucket: str | None = None  # the front door's buckets, as the router's bundled config names them
    input_bucket: str | None = None
    model_data_buckets: set[str] = field(default_factory=set)  # where SageMaker models read their artifacts
    async_output_buckets: set[str] = field(default_factory=set)  # where async endpoints write results
    replication_destinations: int = 0  # ECR replication rule destinations: this stack is the source

    def __post_init__(self) -> None:
        for t, props, _ in self.resources:
            if t == "aws:apigatewayv2/domainName:DomainName":
                self.api_domains.add(str(props.get("domainName")))
            elif t == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration":
                days = ((props.get("rule") or {}).get("defaultRetention") or {}).get("days")
                self.lock_days[str(props.get("bucket"))] = number(days)
            elif t == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
                days = [number((r.get("expiration") or {}).get("days")) for r in props.get("rules") or [] if r.get("status") == "Enabled"]
                if any(days):
                    self.expiry_days[str(props.get("bucket"))] = min(d for d in days if d)
            elif t == "aws:sagemaker/model:Model":
                containers = [props.get("primaryContainer") or {}, *(props.get("containers") or [])]
                self.model_data_buckets |= {b for c in containers if (b := _s3_bucket(c.get("modelDataUrl")))}
            elif t == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
                self.configs[str(props.get("name"))] = props
                output = (props.get("asyncInferenceConfig") or {}).get("outputConfig") or {}
                self.async_output_buckets |= {b for k in ("s3OutputPath", "s3FailurePath") if (b := _s3_bucket(output.get(k)))}
            elif t == "aws:appautoscaling/target:Target":
                self.targets[str(props.get("resourceId"))] = props
            elif t == "aws:appautoscaling/scheduledAction:ScheduledAction":
                self.schedules.setdefault(str(props.get("resourceId")), []).append(props)
            elif t == "aws:route53/record:Record" and record_role(props):
                self.record_role = record_role(props)
            elif t == "aws:lambda/function:Function" and not self.regions:
                config = deployed_router_config(props)
                if config is not None:
                    self.regions = tuple(config.get("regions") or ())
                    self.audit_bucket, self.input_bucket = config.get("audit_bucket"), config.get("input_bucket")
            elif t == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
                rules = ((props.get("replicationConfiguration") or {}).get("rules")) or []
                self.replication_destinations = max((len(r.get("destinations") or []) for r in rules), default=0)


def _s3_bucket(url: Any) -> str | None:
    """The bucket of an s3:// URL; None for anything else (an unknown preview value, say)."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        return None
    return url[len("s3://"):].split("/", 1)[0] or None


def traffic_share(resources: Iterable[tuple[str, Mapping[str, Any], str | None]]) -> tuple[float, str]:
    """The share of the deployment's traffic this stack serves, read from its own resources."""
    return _share(_Stack(list(resources)))


def _share(stack: _Stack) -> tuple[float, str]:
    if stack.record_role == "SECONDARY":
        return 0.0, "failover secondary: no traffic until a failover"
    if stack.record_role == "LATENCY":
        if stack.regions:
            return 1 / len(stack.regions), f"latency records: an even split over {len(stack.regions)} regions"
        return 1.0, "latency record, but no router config names the regions: priced as taking all traffic"
    return 1.0, "failover primary: all traffic" if stack.record_role == "PRIMARY" else "single region: all traffic"


def monthly_cost(
    resources: Iterable[tuple[str, Mapping[str, Any], str | None]],
    usage: UsageProfile | None = None,
    traffic_share: float | None = None,
) -> CostEstimate:
    """Price one regional stack. Its traffic share is read from its resources (`traffic_share`
    overrides it, for what-ifs); the budget policy and `drkit cost` both call this."""
    stack = _Stack(list(resources))
    share, basis = (traffic_share, "given") if traffic_share is not None else _share(stack)
    lines: list[CostLine] = []
    endpoints = [(props, region) for t, props, region in stack.resources if t == "aws:sagemaker/endpoint:Endpoint"]
    models = sorted({str((e.get("tags") or {}).get("Model", "?")) for e, _ in endpoints})
    modes_by_model: dict[str, set[str]] = defaultdict(set)
    for props, _ in endpoints:
        tags = props.get("tags") or {}
        modes_by_model[str(tags.get("Model"))].add(str(tags.get("InferenceType")))

    def hourly_requests(model: str, mode: str, hour: int, weekend: bool, region_share: float = share) -> float:
        if usage is None:
            return 0.0
        rate = usage.requests_per_hour[hour] * (usage.weekend_factor if weekend else 1.0)
        rate *= region_share * usage.model_share(model, models)
        kinds = [k for k in usage.traffic_mix if _route_kind(k, modes_by_model[model]) == mode]
        return rate * sum(usage.traffic_mix[k] for k in kinds)

    def monthly_requests(model: str, mode: str, region_share: float = share) -> float:
        week = sum(hourly_requests(model, mode, h, d >= 5, region_share) for d in range(7) for h in range(24))
        return week * p.HOURS_PER_MONTH / 168

    sync_wait_seconds = 0.0
    paths_by_model: dict[str, set[str]] = defaultdict(set)
    by_mode: dict[str, float] = defaultdict(float)  # this region
    deployment_by_mode: dict[str, float] = defaultdict(float)
    if usage is not None:
        for model, modes in modes_by_model.items():
            for mode in modes & set(_PATH_OF_MODE):
                requests = monthly_requests(model, mode)
                by_mode[mode] += requests
                deployment_by_mode[mode] += monthly_requests(model, mode, 1.0)
                if requests > 0:
                    paths_by_model[model].add(_PATH_OF_MODE[mode])
                if mode == "provisioned":
                    sync_wait_seconds += requests * usage.invocation_seconds.provisioned
                elif mode == "serverless":
                    sync_wait_seconds += requests * usage.invocation_seconds.serverless
    for props, region in endpoints:
        tags = props.get("tags") or {}
        model, mode = str(tags.get("Model", "?")), str(tags.get("InferenceType", "?"))
        name = str(props.get("name"))
        config = stack.configs.get(str(props.get("endpointConfigName")), {})
        variant = (config.get("productionVariants") or [{}])[0]

        def line(
            description: str, quantity: float, unit: str, service: str, key: str,
            _n: str = name, _r: str | None = region, _m: str = model, _t: str = mode,
        ) -> None:
            lines.append(priced_line(_n, _r, description, quantity, unit, service, key, model=_m, inference_type=_t))

        requests = monthly_requests(model, mode) if mode in _PATH_OF_MODE else 0.0
        if usage is not None and requests > 0:
            gb = requests * usage.mean_payload_kb * 2 / 1_048_576
            line(f"SageMaker data processed: {requests:,.0f} req × {usage.mean_payload_kb:g} KB in + out", gb, "GB", "sagemaker", "data-processed")
        if mode == "serverless":
            sls = variant.get("serverlessConfig") or {}
            memory_gb = number(sls.get("memorySizeInMb"), 1024) / 1024
            if usage is not None and requests > 0:
                seconds = usage.invocation_seconds.serverless
                line(f"serverless compute: {requests:,.0f} req × {seconds} s × {memory_gb:g} GB", requests * seconds * memory_gb, "GB-s", "sagemaker", "serverless:compute")
            concurrency = number(sls.get("provisionedConcurrency"))
            if concurrency:
                line("provisioned concurrency", concurrency * memory_gb * p.HOURS_PER_MONTH * 3600, "GB-s", "sagemaker", "serverless:provisioned-concurrency")
            continue

        instance_type = str(variant.get("instanceType"))
        target = stack.targets.get(f"endpoint/{name}/variant/AllTraffic", {})
        minimum, maximum = int(number(target.get("minCapacity"), 1)), int(number(target.get("maxCapacity"), 1))
        events = schedule_events(stack.schedules.get(f"endpoint/{name}/variant/AllTraffic", []))
        demand: Callable[[int], int] | None = None
        if usage is not None and mode == "provisioned":
            per_instance = 60 * number(_target_value(stack, name), 100)

            def demand(minute: int, _model: str = model, _per: float = per_instance) -> int:
                day, hour = divmod(minute // 60, 24)
                return math.ceil(hourly_requests(_model, "provisioned", hour, day >= 5) / _per)
        elif usage is not None and mode == "async":
            concurrency = max(1, int(number(((config.get("asyncInferenceConfig") or {}).get("clientConfig") or {}).get("maxConcurrentInvocationsPerInstance"), 4)))
            seconds = usage.invocation_seconds.async_

            def demand(minute: int, _model: str = model, _c: int = concurrency, _s: float = seconds) -> int:
                day, hour = divmod(minute // 60, 24)
                return math.ceil(hourly_requests(_model, "async", hour, day >= 5) * _s / 3600 / _c)

        hours = weekly_instance_hours(minimum, maximum, events, demand) * p.HOURS_PER_MONTH / 168
        detail = f"min {minimum}, max {maximum}" + (", off-hours schedule" if events else "") + (", usage-driven" if demand else "")
        line(f"{instance_type} instance-hours ({detail})", hours, "instance-hours", "sagemaker", f"hosting:{instance_type}")

    week = tuple(
        sum(hourly_requests(m, mode, h, d >= 5) for m, modes in modes_by_model.items() for mode in modes & set(_PATH_OF_MODE))
        for d in range(7) for h in range(24)
    )  # fmt: skip
    traffic = _Traffic(
        requests=usage.monthly_requests * share if usage is not None else 0.0,
        sync_requests=by_mode["provisioned"] + by_mode["serverless"],
        async_requests=by_mode["async"],
        deployment_requests=usage.monthly_requests if usage is not None else 0.0,
        deployment_sync_requests=deployment_by_mode["provisioned"] + deployment_by_mode["serverless"],
        deployment_async_requests=deployment_by_mode["async"],
        sync_wait_seconds=sync_wait_seconds,
        paths_by_model={m: frozenset(paths) for m, paths in paths_by_model.items()},
        hourly_requests=week,
    )
    lines.extend(_fixed_lines(stack, usage, traffic, share, sorted(modes_by_model)))
    return CostEstimate(tuple(lines), usage_given=usage is not None, traffic_share=share, share_basis=basis)


def _target_value(stack: _Stack, endpoint_name: str) -> Any:
    resource_id = f"endpoint/{endpoint_name}/variant/AllTraffic"
    for t, props, _ in stack.resources:
        if t == "aws:appautoscaling/policy:Policy" and props.get("resourceId") == resource_id and props.get("policyType") == "TargetTrackingScaling":
            return (props.get("targetTrackingScalingPolicyConfiguration") or {}).get("targetValue")
    return None


# --- the router's own table traffic (components/functions/router/{budgets,breakers,health}.py) -------

# Per request: BudgetStore.spend batch-reads one counter per region (eventually consistent: 0.5 RRU
# each) and BudgetStore.charge adds to this region's counter (1 WRU). Per real-time/serverless
# request: BreakerStore.admit and .record each read the breaker strongly consistently (1 RRU) and
# .record writes it back (1 WRU). Per health probe: health.py reads a key strongly consistently.
BUDGET_READ_RRU_PER_REGION = 0.5
BUDGET_WRITES = 1
BREAKER_READS = 2
BREAKER_WRITES = 1
PROBE_READS = 1
# ASSUMPTION: every item the router and the workflow write is under 1 KB (one WRU), and a replicated
# write crosses regions as about 1 KB of inter-Region transfer.
REPLICATED_ITEM_BYTES = 1024
# X-Ray's default sampling rule for Lambda active tracing: the first request each second, then 5 %.
XRAY_RESERVOIR_PER_HOUR = 3600
XRAY_FIXED_RATE = 0.05


def _table_writes(requests: float, sync_requests: float, async_requests: float) -> float:
    return requests * BUDGET_WRITES + sync_requests * BREAKER_WRITES + async_requests * ASYNC_TOKEN_WRITES


def _table_lines(name: str, region: str | None, stack: _Stack, usage: UsageProfile, traffic: _Traffic, probes: float) -> list[CostLine]:
    """The global table as this region's copy bills it: its reads and writes, the writes other
    regions replicate into it, the transfer of its own writes out, storage and PITR."""
    regions = max(1, len(stack.regions))
    writes = _table_writes(traffic.requests, traffic.sync_requests, traffic.async_requests)
    everywhere = _table_writes(traffic.deployment_requests, traffic.deployment_sync_requests, traffic.deployment_async_requests)
    reads = traffic.requests * BUDGET_READ_RRU_PER_REGION * regions + traffic.sync_requests * BREAKER_READS + probes * PROBE_READS
    out = [
        priced_line(name, region, f"writes here: budget counters, breakers, async tokens × {ASYNC_TOKEN_WRITES}", writes, "WRU", "dynamodb", "on-demand:write-request-unit"),
        priced_line(name, region, f"reads here: budget counters ({regions} regions × 0.5), breakers × {BREAKER_READS}, health probes", reads, "RRU", "dynamodb", "on-demand:read-request-unit"),
        priced_line(name, region, "table storage", usage.table_gb, "GB-month", "dynamodb", "storage"),
        priced_line(name, region, "point-in-time recovery", usage.table_gb, "GB-month", "dynamodb", "pitr"),
    ]
    if regions > 1:
        out.append(priced_line(name, region, "replicated writes received from the other regions", max(0.0, everywhere - writes), "rWRU", "dynamodb", "on-demand:replicated-write-request-unit"))
        gb = writes * (regions - 1) * REPLICATED_ITEM_BYTES / _GB
        out.append(priced_line(name, region, f"inter-Region transfer: this region's writes × {regions - 1} replicas × ~1 KB", gb, "GB", "datatransfer", "inter-region"))
    return out


def _fixed_lines(stack: _Stack, usage: UsageProfile | None, traffic: _Traffic, share: float, models: list[str]) -> list[CostLine]:
    lines: list[CostLine] = []

    def add(resource: str, region: str | None, description: str, quantity: float, unit: str, service: str, key: str, price_region: str | None = "") -> None:
        lines.append(priced_line(resource, region, description, quantity, unit, service, key, price_region=price_region))

    async_requests = traffic.async_requests
    probes = _front_door_probes(stack)
    requests = traffic.requests
    for t, props, region in stack.resources:
        name = str(props.get("name") or props.get("bucket") or props.get("dashboardName") or t.rsplit(":", 1)[-1])
        if t == "aws:kms/key:Key":
            add(name, region, "customer managed KMS key", 1, "key-month", "kms", "key")
        elif t == "aws:route53/healthCheck:HealthCheck":
            options = ["HTTPS"] if str(props.get("type")) == "HTTPS" else []
            options += ["fast interval"] if number(props.get("requestInterval"), 30) == 10 else []
            options += ["latency measurement"] if props.get("measureLatency") else []
            add(name, region, "Route 53 health check (AWS endpoint)", 1, "check-month", "route53", "health-check:aws-endpoint", None)
            if options:
                add(name, region, f"health check options: {', '.join(options)}", len(options), "option-month", "route53", "health-check:option", None)
        elif t == "aws:cloudwatch/metricAlarm:MetricAlarm":
            add(name, region, "CloudWatch alarm (standard)", 1, "alarm-month", "cloudwatch", "alarm")
        elif t == "aws:cloudwatch/dashboard:Dashboard":
            add(name, region, "CloudWatch dashboard", 1, "dashboard-month", "cloudwatch", "dashboard")
        elif t == "aws:arcregionswitch/plan:Plan":
            add(name, region, "ARC Region switch plan, monthly fee", 1, "plan-month", "arc-region-switch", "plan")
        elif t in ("aws:dynamodb/table:Table", "aws:dynamodb/tableReplica:TableReplica") and usage is not None:
            lines.extend(_table_lines(name, region, stack, usage, traffic, probes))
        elif t == "aws:ecr/replicationConfiguration:ReplicationConfiguration" and usage is not None and stack.replication_destinations:
            gb = usage.image_gb * usage.releases_per_month * len(models) * stack.replication_destinations
            add("ecr-replication", region, f"ECR replication: {len(models)} images × {usage.image_gb:g} GB × {usage.releases_per_month:g} releases × {stack.replication_destinations} regions", gb, "GB", "datatransfer", "inter-region")
        elif t == "aws:s3/bucket:Bucket" and usage is not None and name in stack.model_data_buckets:
            add(name, region, "model artifacts", usage.model_data_gb, "GB-month", "s3", "standard:storage")
            add(name, region, f"container images in this region's ECR: {len(models)} × {usage.image_gb:g} GB", len(models) * usage.image_gb, "GB-month", "ecr", "storage")
            if stack.replication_destinations:
                gb = usage.model_data_gb * usage.releases_per_month * stack.replication_destinations
                add(name, region, f"S3 replication of model data to {stack.replication_destinations} regions × {usage.releases_per_month:g} releases", gb, "GB", "datatransfer", "inter-region")
        elif t == "aws:s3/bucket:Bucket" and usage is not None and name == stack.audit_bucket:
            lines.extend(_audit_lines(name, region, requests, stack.lock_days.get(name)))
        elif t == "aws:s3/bucket:Bucket" and usage is not None and name == stack.input_bucket:
            kept = stack.expiry_days.get(name, 30.4)
            gb = async_requests * usage.mean_payload_kb / 1_048_576
            add(name, region, "async inputs: one PUT per queued request", async_requests, "requests", "s3", "put")
            add(name, region, f"async inputs kept {kept:g} days (lifecycle expiry): {async_requests:,.0f} × {usage.mean_payload_kb:g} KB", gb * kept / 30.4, "GB-month", "s3", "standard:storage")
        elif t == "aws:s3/bucket:Bucket" and usage is not None and name in stack.async_output_buckets:
            gb = async_requests * usage.mean_payload_kb / 1_048_576
            add(name, region, "async outputs: SageMaker PUTs one per request, the completion GETs it", async_requests, "requests", "s3", "put")
            add(name, region, "async outputs: one GET per request", async_requests, "requests", "s3", "get")
            add(name, region, f"async outputs: one month's {async_requests:,.0f} × {usage.mean_payload_kb:g} KB (no expiry: grows month on month)", gb, "GB-month", "s3", "standard:storage")
        elif t == "aws:sns/topic:Topic" and usage is not None and str(name).endswith("-success"):
            add(name, region, "async completion notifications", async_requests, "publishes", "sns", "publish")
        elif t == "aws:sfn/stateMachine:StateMachine" and usage is not None:
            add(name, region, f"workflow transitions (async/batch requests × {ASYNC_REQUEST_TRANSITIONS})", async_requests * ASYNC_REQUEST_TRANSITIONS, "transitions", "stepfunctions", "standard:transition")
        elif t == "aws:route53/record:Record" and usage is not None and record_role(props):
            latency = record_role(props) == "LATENCY"
            queries = usage.monthly_requests * share  # worst case: no resolver caching
            add(name, region, f"DNS queries ({'latency' if latency else 'standard'}), uncached worst case", queries, "queries", "route53", "queries:latency" if latency else "queries:standard", None)
        elif t == ROUTER_TYPE:  # $0 from a non-AWS source, marked unconfirmed in prices.json (docs/routers.md)
            add(name, region, "inference router (requests served in another region also pay inter-region data transfer, "
                "not priced)", 1, "router-month", "sagemaker", "inference-router")
        elif t == "aws:lambda/function:Function" and (usage is not None or probes):
            lines.extend(_function_lines(name, region, props, traffic, probes))
        elif t in ("aws:apigateway/restApi:RestApi", "aws:apigatewayv2/api:Api") and (usage is not None or probes):
            key = "rest:request" if "restApi" in t else "http:request"
            add(name, region, f"API requests: {requests:,.0f} routed + {probes:,.0f} health-check probes", requests + probes, "requests", "apigateway", key)
        elif t == "aws:apigatewayv2/stage:Stage" and (usage is not None or probes) and props.get("accessLogSettings"):
            size = access_log_bytes(str((props.get("accessLogSettings") or {}).get("format", "")))
            gb = (requests + probes) * size / _GB
            add(name, region, f"access-log ingestion: ({requests:,.0f} requests + {probes:,.0f} probes) × {size} B", gb, "GB", "cloudwatch", "logs:ingest")
    return lines


def _front_door_probes(stack: _Stack) -> float:
    """Health-check requests a month to this stack's front door (its own custom domains)."""
    probes = 0.0
    for t, props, _ in stack.resources:
        if t == "aws:route53/healthCheck:HealthCheck" and str(props.get("type")).startswith("HTTP") and str(props.get("fqdn")) in stack.api_domains:
            probes += health_probes(number(props.get("requestInterval"), 30))
    return probes


def xray_traces(hourly_invocations: Iterable[float]) -> float:
    """Traces recorded a month under X-Ray's default rule, from a week of hourly invocations."""
    week = sum(min(n, XRAY_RESERVOIR_PER_HOUR) + XRAY_FIXED_RATE * max(0.0, n - XRAY_RESERVOIR_PER_HOUR) for n in hourly_invocations)
    return week * p.HOURS_PER_MONTH / 168


def _function_lines(name: str, region: str | None, props: Mapping[str, Any], traffic: _Traffic, probes: float) -> list[CostLine]:
    """Requests, GB-seconds and platform log lines of one Lambda function, by what it does."""
    memory_mb = number(props.get("memorySize"), 128)  # Lambda's default memory
    gb = memory_mb / 1024
    role = function_role(name)
    traced = str((props.get("tracingConfig") or {}).get("mode")) == "Active"
    out: list[CostLine] = []

    def add(description: str, quantity: float, unit: str, service: str, key: str) -> None:
        out.append(priced_line(name, region, description, quantity, unit, service, key))

    def invoked(count: float, why: str, seconds: float, work: str) -> None:
        add(f"Lambda requests: {why}", count, "requests", "lambda", "request")
        add(f"Lambda compute: {count:,.0f} × {seconds:g} s {work} × {gb:g} GB", count * seconds * gb, "Lambda GB-s", "lambda", "compute:x86")
        log = f"Lambda platform log lines (START/END/REPORT): {count:,.0f} × {LAMBDA_PLATFORM_LOG_BYTES} B"
        add(log, count * LAMBDA_PLATFORM_LOG_BYTES / _GB, "GB", "cloudwatch", "logs:ingest")

    if role is FunctionRole.ROUTER:
        invocations = traffic.requests + probes
        invoked(invocations, f"{traffic.requests:,.0f} routed + {probes:,.0f} health-check probes", ROUTER_SECONDS, "own work (assumed)")
        add(
            f"Lambda compute: router waiting on real-time/serverless endpoints, {traffic.sync_wait_seconds:,.0f} s × {gb:g} GB",
            traffic.sync_wait_seconds * gb, "Lambda GB-s", "lambda", "compute:x86",
        )  # fmt: skip
        if traced:
            hourly_probes = probes / p.HOURS_PER_MONTH
            traces = xray_traces(n + hourly_probes for n in traffic.hourly_requests)
            add("X-Ray traces recorded (active tracing, default sampling: 1/s then 5 %)", traces, "traces", "xray", "traces:recorded")
        out.extend(_metric_lines(name, region, props, traffic))
    elif role is FunctionRole.COMPLETION:
        invoked(traffic.async_requests, "one per async/batch request", COMPLETION_SECONDS, "(assumed)")
    elif role in (FunctionRole.REDRIVE, FunctionRole.SCALE_UP):
        add(f"Lambda requests: {role.value} runs only during a failover or drill, 0 in a normal month", 0, "requests", "lambda", "request")
    else:
        invoked(traffic.requests, "not a drkit function: assumed once per request reaching the region", ROUTER_SECONDS, "(assumed, as the router)")
    return out


def _metric_lines(name: str, region: str | None, props: Mapping[str, Any], traffic: _Traffic) -> list[CostLine]:
    """audit.py's metrics: one embedded-metric log line per request, and a custom metric per dimension set."""
    teams = _router_teams(props)
    paths = sum(len(v) for v in traffic.paths_by_model.values())
    metrics = len(ROUTER_METRICS_PER_RECORD) * (teams if teams is not None else 1) * paths
    team_note = f"{teams} teams" if teams is not None else "1 team (assumed: the router's config is not in the graph)"
    return [
        priced_line(
            name, region, f"embedded-metric log lines: one per request × {EMF_LINE_BYTES} B",
            traffic.requests * EMF_LINE_BYTES / _GB, "GB", "cloudwatch", "logs:ingest",
        ),
        priced_line(
            name, region,
            f"custom metrics: {len(ROUTER_METRICS_PER_RECORD)} names × {team_note} × {paths} (model, path) pairs with traffic; "
            "at most, if every team uses every path",
            metrics, "metric-month", "cloudwatch", "custom-metric",
        ),
    ]  # fmt: skip


MONTH_DAYS = 365 / 12


def _audit_lines(name: str, region: str | None, requests: float, lock_days: float | None) -> list[CostLine]:
    """The router's audit trail: one object per request in S3, stored for its object-lock retention."""
    months = max(1.0, (lock_days or 0) / MONTH_DAYS)
    kept = f"{lock_days:g}-day object lock: {months:.1f} months of records held at once (steady state)" if lock_days else "one month's records"
    return [
        priced_line(name, region, "audit records: one PUT per request", requests, "requests", "s3", "put"),
        priced_line(
            name, region, f"audit records: {requests:,.0f} a month × {AUDIT_RECORD_BYTES} B; {kept}",
            requests * AUDIT_RECORD_BYTES / _GB * months, "GB-month", "s3", "standard:storage",
        ),
    ]  # fmt: skip


# --- a whole deployment ----------------------------------------------------------------------

def _is_capacity(line: CostLine) -> bool:
    return line.unit in ("instance-hours",) or (line.unit == "GB-s" and line.inference_type == "serverless")


@dataclass(frozen=True)
class DeploymentCost:
    """Per-region estimates, the fair baseline and the autoscaling-ceiling figure."""

    deployment: str
    tier: int
    regions: Mapping[str, CostEstimate]
    baseline_regions: Mapping[str, CostEstimate]  # fair baseline: always-on active-active at the peak hour
    ceiling_regions: Mapping[str, float]  # every model at its autoscaling maximum, always on, everywhere
    usage_given: bool

    @property
    def total_usd(self) -> float:
        return sum(e.total_usd for e in self.regions.values())

    @property
    def baseline_total_usd(self) -> float:
        return sum(e.total_usd for e in self.baseline_regions.values())

    @property
    def ceiling_always_on_usd(self) -> float:
        return sum(self.ceiling_regions.values())

    @property
    def ratio_to_baseline(self) -> float:
        return self.total_usd / self.baseline_total_usd if self.baseline_total_usd else float("nan")

    @property
    def complete(self) -> bool:
        return all(e.complete for e in self.regions.values())

    def notes(self) -> list[str]:
        seen: dict[str, None] = {}
        for estimate in self.regions.values():
            for note in estimate.notes():
                seen.setdefault(note, None)
        return list(seen)

    def breakdown(self, key: Callable[[CostLine], str]) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for estimate in self.regions.values():
            for name, value in estimate.by(key).items():
                out[name] += value
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _triples(graph: Any) -> list[tuple[str, Mapping[str, Any], str | None]]:
    return [(r.type, r.inputs, r.region) for r in graph.custom_resources]


def deployment_cost(graph: DeploymentGraph, usage: UsageProfile | None = None) -> DeploymentCost:
    """Price every region with `monthly_cost`, exactly as the budget policy prices each stack."""
    estimates = {region: monthly_cost(_triples(region_graph), usage) for region, region_graph in graph.regions.items()}
    baseline = {region: fair_baseline(graph.spec, region, estimates[region], usage) for region in graph.regions}
    ceiling = {region: _ceiling(graph, region, estimates[region]) for region in graph.regions}
    return DeploymentCost(graph.spec.deployment, int(graph.spec.tier), estimates, baseline, ceiling, usage is not None)


DEFAULT_TARGET_INVOCATIONS = 1000  # per instance per minute, when a model has no provisioned capacity in its spec


def fair_baseline(spec: DeploymentSpec, region: str, actual: CostEstimate, usage: UsageProfile | None) -> CostEstimate:
    """What the naive always-on active-active design costs in `region` (docs/cost.md, "fair baseline").

    Each model runs provisioned instances all month in every region, as many as its peak hour
    needs if this region carried all traffic, and never fewer than its minimum:
    - the work the design serves synchronously (real-time and serverless) on the provisioned
      instance type: ceil(peak req/h × share ÷ 60 ÷ target invocations per instance-minute);
    - the work it queues (async) on the async instance type, always on instead of scaling to
      zero: ceil(peak req/h × share × async seconds ÷ 3600 ÷ concurrent invocations per instance).
    Every other line (front door, table, storage, DNS) is the actual design's: same traffic.
    """
    lines = [line for line in actual.lines if not _is_capacity(line)]
    names = [m.name for m in spec.models]
    baselined: set[str] = set()
    for model in spec.models:
        modes = {m for m, c in (("provisioned", model.provisioned), ("serverless", model.serverless), ("async", model.async_)) if c}
        instances = model.provisioned or model.async_
        if instances is None:
            continue  # serverless only: no instance to compare with; its lines are kept as designed
        sync_type = instances.instance_type
        baselined.add(model.name)
        mix = usage.traffic_mix if usage else {}
        sync_share = sum(v for k, v in mix.items() if _route_kind(k, modes) in ("provisioned", "serverless"))
        async_share = sum(v for k, v in mix.items() if _route_kind(k, modes) == "async")
        peak = usage.peak_hour_requests * usage.model_share(model.name, names) if usage else 0.0
        target = model.provisioned.target_invocations_per_instance if model.provisioned else DEFAULT_TARGET_INVOCATIONS
        minimum = model.provisioned.min_instances if model.provisioned else 1
        sync_needed = max(minimum, math.ceil(peak * sync_share / 60 / target))
        parts = [(sync_type, sync_needed, f"sync work: max(min {minimum}, ceil({peak * sync_share:,.0f} req/h ÷ 60 ÷ {target}/min))")]
        if model.async_ is not None and usage is not None:
            seconds, per = usage.invocation_seconds.async_, model.async_.max_concurrent_invocations_per_instance
            needed = max(1, math.ceil(peak * async_share * seconds / 3600 / per))
            parts.append((model.async_.instance_type, needed, f"queued work: max(1, ceil({peak * async_share:,.0f} req/h × {seconds:g} s ÷ 3600 ÷ {per}))"))
        elif model.async_ is not None:
            parts.append((model.async_.instance_type, 1, "queued work: 1 always-on instance"))
        for instance_type, count, why in parts:
            lines.append(priced_line(
                f"{spec.deployment}-{model.name}-baseline", region, f"fair baseline {instance_type}, {why} = {count} × 730 h",
                count * p.HOURS_PER_MONTH, "instance-hours", "sagemaker", f"hosting:{instance_type}",
                model=model.name, inference_type="provisioned",
            ))  # fmt: skip
    kept = [line for line in actual.lines if _is_capacity(line) and line.model not in baselined]
    return CostEstimate(tuple(lines + kept), usage_given=actual.usage_given, traffic_share=actual.traffic_share, share_basis="fair baseline")


def _ceiling(graph: DeploymentGraph, region: str, actual: CostEstimate) -> float:
    """Every model's provisioned and async capacity at its maximum, 730 h, in this region."""
    total = sum(line.monthly_usd for line in actual.lines if line.unit != "instance-hours")
    for model in graph.spec.models:
        for capacity in (model.provisioned, model.async_):
            if capacity is not None:
                hourly = p.instance_hourly(capacity.instance_type, region)
                if hourly is not None:  # a gap here is already a marked gap line of the actual estimate
                    total += capacity.max_instances * p.HOURS_PER_MONTH * hourly
    return total
