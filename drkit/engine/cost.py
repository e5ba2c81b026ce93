"""Monthly cost of a stack's resources, line by line (quantity × unit price), and of a whole deployment.

`monthly_cost(resources, usage)` prices one regional stack from `(type token, props,
region)` triples — the same shape CrossGuard hands a stack policy — so the budget policy
and `drkit cost` share one model. Conventions follow AWS's pricing pages and Infracost:
730 hours a month, usage-based resources priced from a usage profile, and every line a
quantity times a unit price you can check by hand.

Instance-hours honour the off-hours scheduled actions and the scalable target's min/max;
with a usage profile, provisioned endpoints scale between min and max on requests per
hour ÷ (target invocations per instance × 60). Traffic reaching a region: all of it for
a failover PRIMARY, none for a SECONDARY (it idles at its minimum), and for latency
records an even split, which only the deployment-level function knows (a single stack
is priced as if it took everything: the conservative answer for a budget).

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
from drkit.core.usage import UsageProfile, load_usage
from drkit.engine.graph import DeploymentGraph

__all__ = ["CostEstimate", "CostLine", "DeploymentCost", "deployment_cost", "load_usage", "monthly_cost"]

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
    """One priced item: monthly_usd = quantity × unit_price_usd."""

    resource: str
    region: str | None
    model: str
    inference_type: str
    description: str
    quantity: float
    unit: str
    unit_price_usd: float

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_price_usd


@dataclass(frozen=True)
class CostEstimate:
    """A stack's monthly bill, line by line."""

    lines: tuple[CostLine, ...]

    @property
    def total_usd(self) -> float:
        return sum(line.monthly_usd for line in self.lines)

    def by(self, key: Callable[[CostLine], str]) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for line in self.lines:
            out[key(line)] += line.monthly_usd
        return dict(sorted(out.items()))


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


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


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
    async_requests: float  # of those, the ones queued (async/batch): the completion function's invocations
    deployment_async_requests: float  # queued requests in every region together: what each replica receives
    sync_wait_seconds: float  # Σ direct requests × model seconds: the router waits for these
    paths_by_model: Mapping[str, frozenset[str]]  # audit.py's InferenceType values that carry traffic


@dataclass
class _Stack:
    resources: list[tuple[str, Mapping[str, Any], str | None]]
    configs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    targets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    schedules: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    record_role: str | None = None
    api_domains: set[str] = field(default_factory=set)
    lock_days: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for t, props, _ in self.resources:
            if t == "aws:apigatewayv2/domainName:DomainName":
                self.api_domains.add(str(props.get("domainName")))
            elif t == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration":
                days = ((props.get("rule") or {}).get("defaultRetention") or {}).get("days")
                self.lock_days[str(props.get("bucket"))] = _num(days)
            if t == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
                self.configs[str(props.get("name"))] = props
            elif t == "aws:appautoscaling/target:Target":
                self.targets[str(props.get("resourceId"))] = props
            elif t == "aws:appautoscaling/scheduledAction:ScheduledAction":
                self.schedules.setdefault(str(props.get("resourceId")), []).append(props)
            elif t == "aws:route53/record:Record" and record_role(props):
                self.record_role = record_role(props)


def monthly_cost(
    resources: Iterable[tuple[str, Mapping[str, Any], str | None]],
    usage: UsageProfile | None = None,
    traffic_share: float | None = None,
) -> CostEstimate:
    """Price one regional stack. `traffic_share` overrides the share of traffic it serves."""
    stack = _Stack(list(resources))
    share = traffic_share if traffic_share is not None else (0.0 if stack.record_role == "SECONDARY" else 1.0)
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
        kinds = [k for k, v in usage.traffic_mix.items() if _route_kind(k, modes_by_model[model]) == mode]
        return rate * sum(usage.traffic_mix[k] for k in kinds)

    def monthly_requests(model: str, mode: str, region_share: float = share) -> float:
        week = sum(hourly_requests(model, mode, h, d >= 5, region_share) for d in range(7) for h in range(24))
        return week * p.HOURS_PER_MONTH / 168

    async_requests = 0.0
    sync_wait_seconds = 0.0
    paths_by_model: dict[str, set[str]] = defaultdict(set)
    if usage is not None:
        for model, modes in modes_by_model.items():
            for mode in modes & set(_PATH_OF_MODE):
                requests = monthly_requests(model, mode)
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
            description: str, quantity: float, unit: str, price: float,
            _n: str = name, _r: str | None = region, _m: str = model, _t: str = mode,
        ) -> None:
            lines.append(CostLine(_n, _r, _m, _t, description, quantity, unit, price))

        if mode == "serverless":
            sls = variant.get("serverlessConfig") or {}
            memory_gb = _num(sls.get("memorySizeInMb"), 1024) / 1024
            mult = p.region_multiplier(region)
            requests = monthly_requests(model, mode)
            if usage is not None and requests > 0:
                seconds = usage.invocation_seconds.serverless
                line(f"serverless compute: {requests:,.0f} req × {seconds} s × {memory_gb:g} GB", requests * seconds * memory_gb, "GB-s", p.SERVERLESS_GB_SECOND * mult)
                line("serverless data processed (in + out)", requests * usage.mean_payload_kb * 2 / 1_048_576, "GB", p.SERVERLESS_DATA_PROCESSED_GB * mult)
            concurrency = _num(sls.get("provisionedConcurrency"))
            if concurrency:
                line("provisioned concurrency", concurrency * memory_gb * p.HOURS_PER_MONTH * 3600, "GB-s", p.SERVERLESS_PROVISIONED_CONCURRENCY_GB_SECOND * mult)
            continue

        instance_type = str(variant.get("instanceType"))
        target = stack.targets.get(f"endpoint/{name}/variant/AllTraffic", {})
        minimum, maximum = int(_num(target.get("minCapacity"), 1)), int(_num(target.get("maxCapacity"), 1))
        events = schedule_events(stack.schedules.get(f"endpoint/{name}/variant/AllTraffic", []))
        demand: Callable[[int], int] | None = None
        if usage is not None and mode == "provisioned":
            per_instance = 60 * _num(_target_value(stack, name), 100)

            def demand(minute: int, _model: str = model, _per: float = per_instance) -> int:
                day, hour = divmod(minute // 60, 24)
                return math.ceil(hourly_requests(_model, "provisioned", hour, day >= 5) / _per)
        elif usage is not None and mode == "async":
            concurrency = max(1, int(_num(((config.get("asyncInferenceConfig") or {}).get("clientConfig") or {}).get("maxConcurrentInvocationsPerInstance"), 4)))
            seconds = usage.invocation_seconds.async_
            async_requests += monthly_requests(model, mode)

            def demand(minute: int, _model: str = model, _c: int = concurrency, _s: float = seconds) -> int:
                day, hour = divmod(minute // 60, 24)
                return math.ceil(hourly_requests(_model, "async", hour, day >= 5) * _s / 3600 / _c)

        hours = weekly_instance_hours(minimum, maximum, events, demand) * p.HOURS_PER_MONTH / 168
        detail = f"min {minimum}, max {maximum}" + (", off-hours schedule" if events else "") + (", usage-driven" if demand else "")
        line(f"{instance_type} instance-hours ({detail})", hours, "instance-hours", p.instance_hourly(instance_type, region))

    # Every replica receives every region's token writes, even a failover secondary that serves nothing.
    deployment_async = sum(monthly_requests(m, "async", 1.0) for m, modes in modes_by_model.items() if "async" in modes)
    traffic = _Traffic(
        requests=usage.monthly_requests * share if usage is not None else 0.0,
        async_requests=async_requests,
        deployment_async_requests=deployment_async,
        sync_wait_seconds=sync_wait_seconds,
        paths_by_model={m: frozenset(paths) for m, paths in paths_by_model.items()},
    )
    lines.extend(_fixed_lines(stack, usage, traffic, share))
    return CostEstimate(tuple(lines))


def _target_value(stack: _Stack, endpoint_name: str) -> Any:
    resource_id = f"endpoint/{endpoint_name}/variant/AllTraffic"
    for t, props, _ in stack.resources:
        if t == "aws:appautoscaling/policy:Policy" and props.get("resourceId") == resource_id and props.get("policyType") == "TargetTrackingScaling":
            return (props.get("targetTrackingScalingPolicyConfiguration") or {}).get("targetValue")
    return None


def _fixed_lines(stack: _Stack, usage: UsageProfile | None, traffic: _Traffic, share: float) -> list[CostLine]:
    lines: list[CostLine] = []

    def add(resource: str, region: str | None, description: str, quantity: float, unit: str, price: float) -> None:
        lines.append(CostLine(resource, region, "shared", "shared", description, quantity, unit, price))

    # Token writes happen wherever the request ran; every replica also pays for replicated writes.
    async_requests = traffic.async_requests
    all_async = traffic.deployment_async_requests
    probes = _front_door_probes(stack)
    requests = traffic.requests
    for t, props, region in stack.resources:
        name = str(props.get("name") or props.get("bucket") or props.get("dashboardName") or t.rsplit(":", 1)[-1])
        mult = p.region_multiplier(region)
        if t == "aws:kms/key:Key":
            add(name, region, "customer managed KMS key", 1, "key-month", p.KMS_KEY_MONTH)
        elif t == "aws:route53/healthCheck:HealthCheck":
            options = ["HTTPS"] if str(props.get("type")) == "HTTPS" else []
            options += ["fast interval"] if _num(props.get("requestInterval"), 30) == 10 else []
            options += ["latency measurement"] if props.get("measureLatency") else []
            add(name, region, "Route 53 health check (AWS endpoint)", 1, "check-month", p.HEALTH_CHECK_BASE_MONTH)
            if options:
                add(name, region, f"health check options: {', '.join(options)}", len(options), "option-month", p.HEALTH_CHECK_OPTION_MONTH)
        elif t == "aws:cloudwatch/metricAlarm:MetricAlarm":
            add(name, region, "CloudWatch alarm (standard)", 1, "alarm-month", p.CLOUDWATCH_ALARM_MONTH)
        elif t == "aws:cloudwatch/dashboard:Dashboard":
            add(name, region, "CloudWatch dashboard", 1, "dashboard-month", p.CLOUDWATCH_DASHBOARD_MONTH)
        elif t == "aws:dynamodb/table:Table" and usage is not None:
            add(name, region, "token writes (async/batch requests × 3)", all_async * ASYNC_TOKEN_WRITES, "WRU", p.DYNAMODB_WRITE_REQUEST_UNIT * mult)
            add(name, region, "table storage", usage.table_gb, "GB-month", p.DYNAMODB_STORAGE_GB_MONTH * mult)
            add(name, region, "point-in-time recovery", usage.table_gb, "GB-month", p.DYNAMODB_PITR_GB_MONTH * mult)
        elif t == "aws:dynamodb/tableReplica:TableReplica" and usage is not None:
            add(name, region, "replicated token writes", all_async * ASYNC_TOKEN_WRITES, "rWRU", p.DYNAMODB_REPLICATED_WRITE_UNIT * mult)
            add(name, region, "replica storage", usage.table_gb, "GB-month", p.DYNAMODB_STORAGE_GB_MONTH * mult)
            add(name, region, "point-in-time recovery", usage.table_gb, "GB-month", p.DYNAMODB_PITR_GB_MONTH * mult)
        elif t == "aws:s3/bucket:Bucket" and usage is not None and "model" in name:
            add(name, region, "model artifacts", usage.model_data_gb, "GB-month", p.S3_STANDARD_GB_MONTH * mult)
        elif t == "aws:s3/bucket:Bucket" and usage is not None and name.endswith(f"-audit-{region}"):
            lines.extend(_audit_lines(name, region, requests, stack.lock_days.get(name)))
        elif t == "aws:sns/topic:Topic" and usage is not None and str(name).endswith("-success"):
            add(name, region, "async completion notifications", async_requests, "publishes", p.SNS_PUBLISH * mult)
        elif t == "aws:sfn/stateMachine:StateMachine" and usage is not None:
            add(name, region, f"workflow transitions (async/batch requests × {ASYNC_REQUEST_TRANSITIONS})", async_requests * ASYNC_REQUEST_TRANSITIONS, "transitions", p.STEP_FUNCTIONS_STANDARD_TRANSITION * mult)
        elif t == "aws:route53/record:Record" and usage is not None and record_role(props):
            latency = record_role(props) == "LATENCY"
            per_million = p.QUERIES_LATENCY_PER_MILLION if latency else p.QUERIES_STANDARD_PER_MILLION
            queries = usage.monthly_requests * share  # worst case: no resolver caching
            add(name, region, f"DNS queries ({'latency' if latency else 'standard'}), uncached worst case", queries, "queries", per_million / 1_000_000)
        elif t == ROUTER_TYPE:  # UNPRICED GAP (docs/routers.md "What routers cost"): no AWS router price offline
            add(name, region, "UNPRICED: inference router (no AWS list price found; requests served in another region "
                "also pay inter-region data transfer, not priced here)", 1, "router-month", 0.0)
        elif t == "aws:lambda/function:Function" and (usage is not None or probes):
            lines.extend(_function_lines(name, region, props, traffic, probes))
        elif t in ("aws:apigateway/restApi:RestApi", "aws:apigatewayv2/api:Api") and (usage is not None or probes):
            price = p.API_GATEWAY_REST_REQUEST if "restApi" in t else p.API_GATEWAY_HTTP_REQUEST
            add(name, region, f"API requests: {requests:,.0f} routed + {probes:,.0f} health-check probes", requests + probes, "requests", price * mult)
        elif t == "aws:apigatewayv2/stage:Stage" and (usage is not None or probes) and props.get("accessLogSettings"):
            size = access_log_bytes(str((props.get("accessLogSettings") or {}).get("format", "")))
            gb = (requests + probes) * size / _GB
            add(name, region, f"access-log ingestion: ({requests:,.0f} requests + {probes:,.0f} probes) × {size} B", gb, "GB", p.CLOUDWATCH_LOGS_INGEST_GB * mult)
    return lines


def _front_door_probes(stack: _Stack) -> float:
    """Health-check requests a month to this stack's front door (its own custom domains)."""
    probes = 0.0
    for t, props, _ in stack.resources:
        if t == "aws:route53/healthCheck:HealthCheck" and str(props.get("type")).startswith("HTTP") and str(props.get("fqdn")) in stack.api_domains:
            probes += health_probes(_num(props.get("requestInterval"), 30))
    return probes


def _function_lines(name: str, region: str | None, props: Mapping[str, Any], traffic: _Traffic, probes: float) -> list[CostLine]:
    """Requests, GB-seconds and platform log lines of one Lambda function, by what it does."""
    mult = p.region_multiplier(region)
    memory_mb = _num(props.get("memorySize"), 128)  # Lambda's default memory
    gb = memory_mb / 1024
    role = function_role(name)
    out: list[CostLine] = []

    def add(description: str, quantity: float, unit: str, price: float) -> None:
        out.append(CostLine(name, region, "shared", "shared", description, quantity, unit, price))

    def invoked(count: float, why: str, seconds: float, work: str) -> None:
        add(f"Lambda requests: {why}", count, "requests", p.LAMBDA_REQUEST * mult)
        add(f"Lambda compute: {count:,.0f} × {seconds:g} s {work} × {gb:g} GB", count * seconds * gb, "Lambda GB-s", p.LAMBDA_GB_SECOND * mult)
        log = f"Lambda platform log lines (START/END/REPORT): {count:,.0f} × {LAMBDA_PLATFORM_LOG_BYTES} B"
        add(log, count * LAMBDA_PLATFORM_LOG_BYTES / _GB, "GB", p.CLOUDWATCH_LOGS_INGEST_GB * mult)

    if role is FunctionRole.ROUTER:
        invocations = traffic.requests + probes
        invoked(invocations, f"{traffic.requests:,.0f} routed + {probes:,.0f} health-check probes", ROUTER_SECONDS, "own work (assumed)")
        add(
            f"Lambda compute: router waiting on real-time/serverless endpoints, {traffic.sync_wait_seconds:,.0f} s × {gb:g} GB",
            traffic.sync_wait_seconds * gb, "Lambda GB-s", p.LAMBDA_GB_SECOND * mult,
        )  # fmt: skip
        out.extend(_metric_lines(name, region, props, traffic))
    elif role is FunctionRole.COMPLETION:
        invoked(traffic.async_requests, "one per async/batch request", COMPLETION_SECONDS, "(assumed)")
    elif role in (FunctionRole.REDRIVE, FunctionRole.SCALE_UP):
        add(f"Lambda requests: {role.value} runs only during a failover or drill, 0 in a normal month", 0, "requests", p.LAMBDA_REQUEST * mult)
    else:
        invocations = traffic.requests
        invoked(invocations, "not a drkit function: assumed once per request reaching the region", ROUTER_SECONDS, "(assumed, as the router)")
    return out


def _metric_lines(name: str, region: str | None, props: Mapping[str, Any], traffic: _Traffic) -> list[CostLine]:
    """audit.py's metrics: one embedded-metric log line per request, and a custom metric per dimension set."""
    mult = p.region_multiplier(region)
    teams = _router_teams(props)
    paths = sum(len(v) for v in traffic.paths_by_model.values())
    metrics = len(ROUTER_METRICS_PER_RECORD) * (teams if teams is not None else 1) * paths
    team_note = f"{teams} teams" if teams is not None else "1 team (assumed: the router's config is not in the graph)"
    return [
        CostLine(
            name, region, "shared", "shared", f"embedded-metric log lines: one per request × {EMF_LINE_BYTES} B",
            traffic.requests * EMF_LINE_BYTES / _GB, "GB", p.CLOUDWATCH_LOGS_INGEST_GB * mult,
        ),
        CostLine(
            name, region, "shared", "shared",
            f"custom metrics: {len(ROUTER_METRICS_PER_RECORD)} names × {team_note} × {paths} (model, path) pairs with traffic; "
            "at most, if every team uses every path",
            metrics, "metric-month", p.CLOUDWATCH_CUSTOM_METRIC_MONTH * mult,
        ),
    ]  # fmt: skip


def _audit_lines(name: str, region: str | None, requests: float, lock_days: float | None) -> list[CostLine]:
    """The router's audit trail: one object per request in S3."""
    mult = p.region_multiplier(region)
    kept = f"; the {lock_days:g}-day object lock keeps each longer, so storage grows month on month" if lock_days else ""
    return [
        CostLine(name, region, "shared", "shared", "audit records: one PUT per request", requests, "requests", p.S3_PUT_REQUEST * mult),
        CostLine(
            name, region, "shared", "shared",
            f"audit records: one month's {requests:,.0f} × {AUDIT_RECORD_BYTES} B{kept}",
            requests * AUDIT_RECORD_BYTES / _GB, "GB-month", p.S3_STANDARD_GB_MONTH * mult,
        ),
    ]  # fmt: skip


# --- a whole deployment ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentCost:
    """Per-region estimates, and what the naive design (every region at peak, always) would cost."""

    deployment: str
    tier: int
    regions: Mapping[str, CostEstimate]
    naive_regions: Mapping[str, float]
    usage_given: bool

    @property
    def total_usd(self) -> float:
        return sum(e.total_usd for e in self.regions.values())

    @property
    def naive_total_usd(self) -> float:
        return sum(self.naive_regions.values())

    def breakdown(self, key: Callable[[CostLine], str]) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for estimate in self.regions.values():
            for name, value in estimate.by(key).items():
                out[name] += value
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _triples(graph: Any) -> list[tuple[str, Mapping[str, Any], str | None]]:
    return [(r.type, r.inputs, r.region) for r in graph.custom_resources]


def deployment_cost(graph: DeploymentGraph, usage: UsageProfile | None = None) -> DeploymentCost:
    """Price every region, splitting traffic as the tier's DNS does."""
    regions = list(graph.regions)
    latency = graph.spec.routing.value == "latency"
    estimates = {}
    for region, region_graph in graph.regions.items():
        share = 1 / len(regions) if latency else (1.0 if region == graph.spec.primary_region else 0.0)
        estimates[region] = monthly_cost(_triples(region_graph), usage, traffic_share=share)
    naive = {region: _naive(graph, region, estimates[region]) for region in regions}
    return DeploymentCost(graph.spec.deployment, int(graph.spec.tier), estimates, naive, usage is not None)


def _naive(graph: DeploymentGraph, region: str, actual: CostEstimate) -> float:
    """Every model's provisioned and async capacity at its maximum, 730 h, in this region."""
    spec = graph.spec
    total = sum(line.monthly_usd for line in actual.lines if line.unit not in ("instance-hours",))
    for model in spec.models:
        for capacity in (model.provisioned, model.async_):
            if capacity is not None:
                total += capacity.max_instances * p.HOURS_PER_MONTH * p.instance_hourly(capacity.instance_type, region)
    return total
