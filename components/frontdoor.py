"""RegionalFrontDoor: what each region's DNS name points at — API, router Lambda, audit trail.

Per region: an API Gateway **HTTP API** (not REST) whose only integration is the router
Lambda (components/functions/router), on the regional host name *and* the deployment's
shared name, with one ACM certificate for both; the router's least-privilege role; an
object-locked, KMS-encrypted audit bucket; and an input bucket for async/batch payloads.

Why an HTTP API: the router does authentication (team keys), throttling by budget and
routing itself, so REST's extras (API keys and usage plans, request validation, WAF on
the stage) would duplicate it; an HTTP API costs $1.00 per million requests against
REST's $3.50 (drkit/core/pricing.py), adds less latency, and its custom domains are regional,
which is what a failover record needs. Both cap an integration at about 30 s
(HTTP API: 30 s hard; REST: 29 s by default), so the Lambda timeout is 29 s and a class
that needs longer belongs on async. Trade-off accepted: no AWS WAF on an HTTP API stage;
put CloudFront + WAF in front if a deployment needs it.

Why two domain names: clients call the shared name (``fraud.example.com``), which Route
53 answers with this region's host; TLS then presents the *shared* name, so every region's
API must hold a custom domain for it, or failover ends in a certificate error. The
regional host is what the health check probes (spec.dns.regional_host(region)).

Every region's certificate names the shared name, and ACM gives one validation record per
name and account ("the CNAME validation token works for any AWS Region", ACM user guide, DNS
validation, read 2026-11-29), so the shared name's record is the same in every region: each
stack writes it with ``allow_overwrite`` and **retains it on delete**. ACM renews a certificate
only "as long as ... your CNAME record remains in place", so a stack that deleted it on
destroy (or on a replace) would stop every other region's renewals. The regional host's record
belongs to its region alone and goes with its stack. Removing the deployment for good leaves the
shared record in the zone: delete it by hand after the last region (docs/deploying.md).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from drkit.components.bundle import FUNCTIONS, core_modules
from drkit.components.endpoint import InferenceMode, async_input_bucket_for, endpoint_name_for
from drkit.components.functions.router.breakers import BreakerConfig
from drkit.components.functions.router.config import (
    DIRECT_PATHS,
    HealthProbe,
    ModelConfig,
    OffHoursConfig,
    RouterTarget,
    TeamConfig,
)
from drkit.components.iam import Statement, write_logs
from drkit.components.inference_router import InferenceRouter, InferenceRouterArgs, RoutingTarget
from drkit.components.lambda_function import lambda_function
from drkit.components.naming import physical_name, s3_bucket_name
from drkit.components.observability import encrypted_log_group
from drkit.components.storage import EncryptedBucket
from drkit.components.workflow import ASYNC_REQUEST_TRANSITIONS
from drkit.core import inference_router as ir
from drkit.core import pricing
from drkit.core.errors import ComponentValidationError
from drkit.core.routing import ClassInfo, classes_from
from drkit.core.spec import DeploymentSpec

ROUTER_SOURCE = FUNCTIONS / "router"
# Core modules the router imports; each is stdlib + boto3 only (a test parses their imports).
BUNDLED_CORE = ("errors.py", "inference_router.py", "keys.py", "routing.py", "tokens.py")
CONFIG_FILE = "router_config.json"
HANDLER = "router.handler.handler"
MiB = 1024 * 1024
# Lambda's synchronous invocation payload limit is 6 MB (Lambda quotas page, read 2026-11);
# the inline payload arrives JSON-encoded inside the API event, so leave room for the envelope.
MAX_INLINE_BYTES = 5 * MiB
HTTP_API_MAX_TIMEOUT_SECONDS = 30  # API Gateway quotas: HTTP API integration timeout, 30 s maximum


@dataclass(frozen=True, kw_only=True)
class RegionalFrontDoorArgs:
    """Inputs of `RegionalFrontDoor`."""

    deployment: str
    """Deployment name; prefixes the function, role, buckets and API."""
    region: str
    """This region: the API, function, buckets and certificate live here."""
    account_id: str
    """Account of the endpoints, table and workflow (builds their ARNs)."""
    regions: Sequence[str]
    """Every region of the deployment: a team's spend is summed across them."""
    domain: str
    """The deployment's shared DNS name (spec.dns.domain)."""
    regional_host: str
    """This region's host name (spec.dns.regional_host(region)); what the health check probes."""
    hosted_zone_id: str
    """Route 53 zone holding both names (certificate validation and the regional record)."""
    table_name: str
    """The global token table (this region's replica)."""
    table_arn: pulumi.Input[str]
    """ARN of this region's table or replica."""
    kms_key_arn: pulumi.Input[str]
    """This region's key: table, buckets and log group."""
    teams: Sequence[TeamConfig]
    """Callers: name, HMAC-SHA256 of the key, monthly budget, over-budget action. Empty: /health only, every infer is 403."""
    classes: Sequence[ClassInfo]
    """Traffic classes the router accepts (from the spec)."""
    models: Sequence[ModelConfig]
    """Each model's endpoints in this region by path, and its per-request cost estimates."""
    team_key_secret: str | None = None
    """Secrets Manager secret (name or ARN, in this region) keying the team digests; the router may read only
    it. Default: none — then teams must be empty."""
    state_machine_arn: pulumi.Input[str] | None = None
    """This region's InferenceWorkflow. Default: none — then no model may have an async endpoint or batch."""
    off_hours: OffHoursConfig | None = None
    """The spec's off-hours window (routing uses serverless then). Default: none (always business hours)."""
    health_check_path: str = "/health"
    """Path of the deep health route (spec.health_check.path). Default: /health."""
    max_inline_bytes: int = MAX_INLINE_BYTES
    """Largest inline payload; larger ones must come as input_location. Default: 5 MiB (Lambda's 6 MB event limit)."""
    breaker: Mapping[str, float] = field(default_factory=dict)
    """Overrides of the router's BreakerConfig (window_seconds, error_rate, …). Default: none."""
    timeout_seconds: int = 29
    """Router Lambda and integration timeout, 1-29 (HTTP API allows 30). Default: 29."""
    memory_size: int = 512
    """Router Lambda memory, MB. Default: 512."""
    reserved_concurrent_executions: int | None = None
    """Reserved concurrency of the router (spec.reserved_concurrency.router). Default: none (unreserved pool)."""
    audit_retention_days: int = 365
    """Object-lock retention of each audit record. Default: 365."""
    audit_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    """GOVERNANCE (privileged users may lift it) or COMPLIANCE (nobody, not even root). Default: GOVERNANCE."""
    input_retention_days: int = 7
    """Days inline async/batch payloads are kept in the input bucket. Default: 7."""
    throttling_rate_limit: float = 100.0
    """Stage steady-state requests per second. Default: 100."""
    throttling_burst_limit: int = 200
    """Stage burst. Default: 200."""
    log_retention_days: int = 30
    """Function and access log retention. Default: 30."""
    create_regional_record: bool = True
    """Create the alias record regional_host → API domain. Default: true (the health check needs it)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable resource. Default: none."""


def _validate(name: str, args: RegionalFrontDoorArgs) -> None:
    """Refuse what cannot be deployed, before any child exists; each message names field, value and fix."""
    where = f"RegionalFrontDoor {name}"
    if args.region not in args.regions:
        raise ComponentValidationError(f"{where}: region {args.region!r} is not in regions {list(args.regions)}")
    if not args.regional_host.endswith(f".{args.domain}"):
        raise ComponentValidationError(
            f"{where}: regional_host {args.regional_host!r} must be a subdomain of domain {args.domain!r} (one zone, one certificate)"
        )
    if not args.models:
        raise ComponentValidationError(f"{where}: models is empty; give at least one model's endpoints")
    if not args.classes:
        raise ComponentValidationError(f"{where}: classes is empty; give the spec's traffic classes")
    digests = [t.key_digest for t in args.teams]
    if len(set(digests)) != len(digests):
        raise ComponentValidationError(f"{where}: teams share a key_digest; every team needs its own key")
    if args.teams and not args.team_key_secret:
        raise ComponentValidationError(
            f"{where}: team_key_secret is unset but {len(args.teams)} team(s) are listed; name the secret keying their digests"
        )
    if args.reserved_concurrent_executions is not None and args.reserved_concurrent_executions < 1:
        raise ComponentValidationError(
            f"{where}: reserved_concurrent_executions {args.reserved_concurrent_executions} is invalid; valid: at least 1, or unset"
        )
    for model in args.models:
        unknown = sorted(set(model.endpoints) - {*DIRECT_PATHS, "async"})
        if unknown:
            raise ComponentValidationError(
                f"{where}: models[{model.name}].endpoints has path {unknown[0]!r}; valid: realtime, serverless, async"
            )
        negative = {p: c for p, c in model.costs_usd.items() if c < 0}
        if negative:
            raise ComponentValidationError(f"{where}: models[{model.name}].costs_usd {negative} must be ≥ 0 USD")
        if args.state_machine_arn is None and ("async" in model.endpoints or model.batch):
            raise ComponentValidationError(
                f"{where}: models[{model.name}] serves async/batch but state_machine_arn is unset; pass the region's InferenceWorkflow ARN"
            )
    if not args.health_check_path.startswith("/") or args.health_check_path.startswith("/v1/"):
        raise ComponentValidationError(
            f"{where}: health_check_path {args.health_check_path!r} must start with / and not with /v1/"
        )
    if not 1 <= args.max_inline_bytes <= MAX_INLINE_BYTES:
        raise ComponentValidationError(
            f"{where}: max_inline_bytes {args.max_inline_bytes} is invalid; valid: 1-{MAX_INLINE_BYTES} (Lambda's 6 MB event limit)"
        )
    if not 1 <= args.timeout_seconds < HTTP_API_MAX_TIMEOUT_SECONDS:
        raise ComponentValidationError(
            f"{where}: timeout_seconds {args.timeout_seconds} is invalid; valid: 1-{HTTP_API_MAX_TIMEOUT_SECONDS - 1} (HTTP API integrations end at 30 s)"
        )
    try:
        BreakerConfig.from_mapping(dict(args.breaker))
    except (TypeError, ValueError) as exc:
        raise ComponentValidationError(f"{where}: {exc}") from None
    for field_name in ("audit_retention_days", "input_retention_days", "log_retention_days"):
        if getattr(args, field_name) < 1:
            raise ComponentValidationError(f"{where}: {field_name} {getattr(args, field_name)} must be ≥ 1")
    if args.audit_lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
        raise ComponentValidationError(
            f"{where}: audit_lock_mode {args.audit_lock_mode!r} is invalid; valid: GOVERNANCE, COMPLIANCE"
        )


# --- pure pieces: bundle, config, costs, permissions ----------------------------------------------


def lambda_bundle() -> dict[str, Path]:
    """Archive path → source file of the router package (top-level `router`) and the drkit modules it imports."""
    files = {f"router/{p.name}": p for p in sorted(ROUTER_SOURCE.glob("*.py"))}
    files.update(core_modules(BUNDLED_CORE))
    return files


def router_function_name(deployment: str, region: str) -> str:
    """The router Lambda's name (also its role's and API's)."""
    return physical_name("drkit", deployment, region, "router", limit=64)


def audit_bucket_name(deployment: str, *, account_id: str, region: str) -> str:
    """The region's object-locked audit bucket: drkit-<deployment>-audit-<account>-<region>."""
    return s3_bucket_name("drkit", deployment, "audit", account_id=account_id, region=region)


input_bucket_name = async_input_bucket_for


def deployed_router_config(function_props: Mapping[str, Any]) -> dict[str, Any] | None:
    """The router config a captured Lambda function carries in its code archive, as the function
    loads it (the workflow ARN from its environment); None for any other function."""
    config = ((function_props.get("code") or {}).get("archive") or {}).get(CONFIG_FILE)
    if not config or "text" not in config:
        return None
    data: dict[str, Any] = json.loads(config["text"])
    arn = ((function_props.get("environment") or {}).get("variables") or {}).get("ROUTER_STATE_MACHINE_ARN")
    if arn:
        data["state_machine_arn"] = arn
    return data


def router_config(args: RegionalFrontDoorArgs) -> dict[str, object]:
    """The router's config file (plain JSON; the workflow ARN, an Output, goes in an env var)."""
    return {
        "region": args.region,
        "regions": list(args.regions),
        "table_name": args.table_name,
        "audit_bucket": audit_bucket_name(args.deployment, account_id=args.account_id, region=args.region),
        "input_bucket": input_bucket_name(args.deployment, account_id=args.account_id, region=args.region),
        "teams": [asdict(t) for t in args.teams],
        "classes": [{"name": c.name, "kind": c.kind.value, "timeout_seconds": c.timeout_seconds} for c in args.classes],
        "models": {
            m.name: {"endpoints": dict(m.endpoints), "costs_usd": dict(m.costs_usd), "batch": m.batch,
                     **({"inference_router": {"router": m.inference_router.router, "target": m.inference_router.target}}
                        if m.inference_router else {}),
                     **({"health_probe": asdict(m.health_probe)} if m.health_probe else {})}
            for m in args.models
        },  # fmt: skip
        "max_inline_bytes": args.max_inline_bytes,
        "off_hours": asdict(args.off_hours) if args.off_hours else None,
        "breaker": dict(args.breaker),
        "team_key_secret": args.team_key_secret or "",
    }


# Per-request assumptions of `request_costs`, each a stated guess a user can change.
ASSUMED_SERVERLESS_SECONDS = 1.0  # compute billed per serverless request
ASSUMED_ASYNC_SECONDS = 5.0  # one async request's share of an instance slot
ASSUMED_BATCH_SECONDS = 1.0  # one record's share of a transform job
ROUTER_GB_SECONDS = 0.5 * 0.1  # 512 MB router for ~100 ms


def request_costs(
    region: str,
    *,
    realtime_instance: str | None = None,
    target_invocations_per_minute: int = 1000,
    serverless_memory_mb: int | None = None,
    async_instance: str | None = None,
    async_concurrency: int = 4,
    batch: bool = False,
) -> dict[str, float]:
    """Estimated USD per request by path from drkit/core/pricing.py (dated list prices), for budgets.

    Real-time is the instance-hour shared by requests at the autoscaling target (the fleet
    runs anyway, so this is an attributed, not marginal, cost). Every path adds the front
    door itself (HTTP API request, Lambda request and GB-seconds); async and batch add S3,
    SNS and the workflow's Standard transitions.
    """
    def price(service: str, key: str) -> float:
        found = pricing.usd(service, key, region)
        if found is None:
            raise LookupError(key)
        return found

    costs: dict[str, float] = {}
    try:  # a path with any price missing from the table is left out: the router's fallback applies
        front = price("apigateway", "http:request") + price("lambda", "request") + price("lambda", "compute:x86") * ROUTER_GB_SECONDS
        queued = (
            price("s3", "put")
            + price("s3", "get")
            + price("sns", "publish")
            + ASYNC_REQUEST_TRANSITIONS * price("stepfunctions", "standard:transition")  # derived from the workflow's definition
        )
    except LookupError:
        return {}
    realtime_hourly = pricing.instance_hourly(realtime_instance, region) if realtime_instance else None
    if realtime_hourly is not None:
        costs["realtime"] = realtime_hourly / (target_invocations_per_minute * 60) + front
    serverless_gb_second = pricing.usd("sagemaker", "serverless:compute", region)
    if serverless_memory_mb and serverless_gb_second is not None:
        costs["serverless"] = serverless_memory_mb / 1024 * ASSUMED_SERVERLESS_SECONDS * serverless_gb_second + front
    hourly = pricing.instance_hourly(async_instance, region) if async_instance else None
    if hourly is not None:
        costs["async"] = hourly / 3600 * ASSUMED_ASYNC_SECONDS / async_concurrency + queued + front
        if batch:
            costs["batch"] = hourly / 3600 * ASSUMED_BATCH_SECONDS + queued + front
    return {path: round(usd, 12) for path, usd in costs.items()}


MODE_PATHS: Mapping[InferenceMode, str] = {
    InferenceMode.PROVISIONED: "realtime",
    InferenceMode.SERVERLESS: "serverless",
    InferenceMode.ASYNC: "async",
}


def args_from_spec(
    spec: DeploymentSpec,
    region: str,
    *,
    deployed: Iterable[tuple[str, InferenceMode]],
    table_name: str,
    table_arn: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    state_machine_arn: pulumi.Input[str] | None,
    batch: bool = True,
    tags: Mapping[str, str] | None = None,
) -> RegionalFrontDoorArgs:
    """Front-door args for one region of a spec; `deployed` is the region plan's (model, mode) pairs.

    Endpoint names come from `endpoint_name_for` (known before deployment), so the router's
    config is plain data. `batch` says the workflow can run transform jobs for models with an
    async endpoint here (InferenceWorkflow's batch target). Default: true.
    """
    pairs = list(deployed)
    models = []
    for model in spec.models:
        modes = {mode for name, mode in pairs if name == model.name}
        if not modes:
            continue
        endpoints = {MODE_PATHS[mode]: endpoint_name_for(spec.deployment, model.name, mode) for mode in modes}
        costs = request_costs(
            region,
            realtime_instance=model.provisioned.instance_type
            if model.provisioned and InferenceMode.PROVISIONED in modes
            else None,
            target_invocations_per_minute=model.provisioned.target_invocations_per_instance if model.provisioned else 1000,
            serverless_memory_mb=model.serverless.memory_mb if model.serverless and InferenceMode.SERVERLESS in modes else None,
            async_instance=model.async_.instance_type if model.async_ and InferenceMode.ASYNC in modes else None,
            async_concurrency=model.async_.max_concurrent_invocations_per_instance if model.async_ else 4,
            batch=batch,
        )
        models.append(
            ModelConfig(
                name=model.name, endpoints=endpoints, costs_usd=costs, batch=batch and InferenceMode.ASYNC in modes,
                inference_router=router_target(spec, region, model.name)
                if model.inference_router and InferenceMode.PROVISIONED in modes else None,
                health_probe=HealthProbe(body=model.health_probe.body, content_type=model.health_probe.content_type)
                if model.health_probe else None,
            )
        )  # fmt: skip
    off = spec.off_hours
    return RegionalFrontDoorArgs(
        deployment=spec.deployment,
        region=region,
        account_id=spec.account_id,
        regions=spec.regions,
        domain=spec.dns.domain,
        regional_host=spec.dns.regional_host(region),
        hosted_zone_id=spec.dns.hosted_zone_id,
        table_name=table_name,
        table_arn=table_arn,
        kms_key_arn=kms_key_arn,
        team_key_secret=spec.team_key_secret,
        teams=[
            TeamConfig(
                name=t.name,
                key_digest=t.key_digest,
                monthly_budget_usd=t.monthly_budget_usd,
                priority=t.priority,
                over_budget=t.over_budget.value,
            )
            for t in spec.teams
        ],
        classes=list(classes_from(spec.traffic_classes).values()),
        models=models,
        state_machine_arn=state_machine_arn,
        off_hours=OffHoursConfig(timezone=off.timezone, start=off.scale_down_at, end=off.scale_up_at, days=off.days)
        if off
        else None,
        health_check_path=spec.health_check.path,
        audit_retention_days=spec.audit.retention_days,
        audit_lock_mode=spec.audit.lock_mode,
        reserved_concurrent_executions=spec.reserved_concurrency.get("router"),
        tags=dict(tags or {}),
    )


def inference_router_name(deployment: str) -> str:
    """The deployment's router name, the same in every region (routers are regional resources)."""
    return physical_name(deployment, "router", limit=ir.NAME_MAX)


def router_target(spec: DeploymentSpec, region: str, model: str) -> RouterTarget:
    """The routing target of `model` in `region`'s router: its real-time endpoint in every region, this one first.

    Endpoint names are known before deployment (`endpoint_name_for`), so no region waits for another's stack.
    """
    endpoint = endpoint_name_for(spec.deployment, model, InferenceMode.PROVISIONED)
    return RouterTarget(
        router=inference_router_name(spec.deployment),
        target=model,
        destinations=tuple(ir.endpoint_arn(r, spec.account_id, endpoint) for r in ir.destination_regions(region, spec.regions)),
    )


def routed_models(args: RegionalFrontDoorArgs) -> list[ModelConfig]:
    return [m for m in args.models if m.inference_router is not None]


def router_statements(
    args: RegionalFrontDoorArgs,
    *,
    log_group_arn: pulumi.Input[str],
    audit_bucket_arn: pulumi.Input[str],
    input_bucket_arn: pulumi.Input[str],
) -> list[Statement]:
    """The router's permissions: this region's endpoints, table, buckets, workflow and key — nothing else.
    Its metrics are embedded-metric log lines (functions/router/audit.py): no cloudwatch:PutMetricData."""
    endpoint_arn = f"arn:aws:sagemaker:{args.region}:{args.account_id}:endpoint/{{}}"
    direct = sorted({e for m in args.models for p, e in m.endpoints.items() if p in DIRECT_PATHS})
    every = sorted({e for m in args.models for e in m.endpoints.values()})
    statements = [
        Statement("DescribeEndpoints", ["sagemaker:DescribeEndpoint"], [endpoint_arn.format(e.lower()) for e in every]),
        Statement(
            "TableItems",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
            [args.table_arn],
        ),
        Statement("WriteAudit", ["s3:PutObject"], [pulumi.Output.concat(audit_bucket_arn, "/audit/*")]),
        Statement("Inputs", ["s3:PutObject", "s3:GetObject"], [pulumi.Output.concat(input_bucket_arn, "/*")]),
        Statement("DataKey", ["kms:Decrypt", "kms:GenerateDataKey"], [args.kms_key_arn]),
        write_logs(log_group_arn),
        # Active tracing: Lambda refuses CreateFunction unless the role may write segments; no resource type.
        Statement("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
    ]
    if direct:
        statements.insert(
            0, Statement("InvokeEndpoints", ["sagemaker:InvokeEndpoint"], [endpoint_arn.format(e.lower()) for e in direct])
        )
    routed = routed_models(args)
    if routed:
        # AWS: the caller needs permission on the router AND InvokeEndpoint on every destination,
        # because the router calls each destination with the caller's own credentials.
        names = sorted({m.inference_router.router for m in routed if m.inference_router})
        statements.append(Statement("InvokeInferenceRouter", [ir.INVOKE_ROUTER_ACTION],
                                    [ir.router_arn(args.region, args.account_id, n) for n in names]))  # fmt: skip
        destinations = sorted({d for m in routed if m.inference_router for d in m.inference_router.destinations})
        statements.append(Statement("InvokeRoutedEndpoints", [ir.INVOKE_DESTINATION_ACTION], destinations))
    if args.state_machine_arn is not None:
        statements.append(Statement("StartWorkflow", ["states:StartExecution"], [args.state_machine_arn]))
    if args.team_key_secret:
        statements.append(Statement("ReadTeamKeySecret", ["secretsmanager:GetSecretValue"], [secret_arn(args)]))
    return statements


def secret_arn(args: RegionalFrontDoorArgs) -> str:
    """ARN of the team-key secret in this region. Secrets Manager appends "-" and 6 random characters to
    a secret's name in its ARN, so a name is matched with "-??????" (IAM: "?" is one character)."""
    assert args.team_key_secret
    if args.team_key_secret.startswith("arn:"):
        return args.team_key_secret
    return f"arn:aws:secretsmanager:{args.region}:{args.account_id}:secret:{args.team_key_secret}-??????"


def _validation_option(host: str, options: Sequence[Mapping[str, str]]) -> Mapping[str, str]:
    """ACM's validation record for one of the certificate's names.

    ACM always returns one per name once the certificate exists; an offline graph
    (drkit.engine.capture's mocks) may have none, so the record then names a placeholder.
    """
    found = next((o for o in options or () if o.get("domain_name") == host), None)
    if found is None:
        return {
            "resource_record_name": f"_acm-validation.{host}.",
            "resource_record_type": "CNAME",
            "resource_record_value": "unknown-until-deploy.",
        }
    return found


def route_keys(health_check_path: str) -> tuple[str, ...]:
    """The API's routes; anything else is answered 404 by API Gateway without invoking the router."""
    return ("POST /v1/infer", "GET /v1/requests/{id}", f"GET {health_check_path}")


# --- the component ---------------------------------------------------------------------------------


class RegionalFrontDoor(pulumi.ComponentResource):
    """One region's front door: HTTP API on the regional and shared names → router Lambda."""

    api_endpoint: pulumi.Output[str]
    domain_target: pulumi.Output[str]
    domain_target_zone_id: pulumi.Output[str]
    health_url: str
    function_name: pulumi.Output[str]
    audit_bucket: pulumi.Output[str]
    input_bucket: pulumi.Output[str]

    def __init__(self, name: str, args: RegionalFrontDoorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(name, args)
        super().__init__("drkit:frontdoor:RegionalFrontDoor", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        base = router_function_name(args.deployment, args.region)

        # Audit records: versioned, SSE-KMS, private and object-locked (added, never changed during retention).
        # Inputs: inline async/batch payloads and caller uploads waiting for the workflow, then expired.
        audit, inputs = (
            EncryptedBucket(
                f"{name}-{label}",
                bucket_name=bucket_name(args.deployment, account_id=args.account_id, region=args.region),
                kms_key_arn=args.kms_key_arn,
                tags=tags,
                object_lock=object_lock,
                opts=child,
            )
            for label, bucket_name, object_lock in (("audit", audit_bucket_name, True), ("inputs", input_bucket_name, False))
        )
        self._lock_audit_records(name, args, audit, child)
        self._expire_inputs(name, args, inputs, child)

        routed = routed_models(args)
        if routed:
            InferenceRouter(
                f"{name}-inference-router",
                InferenceRouterArgs(
                    region=args.region,
                    router_name=routed[0].inference_router.router,  # type: ignore[union-attr]
                    routing_targets=[
                        RoutingTarget(name=m.inference_router.target, destinations=m.inference_router.destinations)  # type: ignore[union-attr]
                        for m in routed
                    ],
                    tags=tags,
                ),
                opts=child,
            )
        archive: dict[str, pulumi.Asset | pulumi.Archive] = {k: pulumi.FileAsset(str(v)) for k, v in lambda_bundle().items()}
        archive[CONFIG_FILE] = pulumi.StringAsset(json.dumps(router_config(args), sort_keys=True))
        variables: dict[str, pulumi.Input[str]] = {"ROUTER_CONFIG_PATH": f"/var/task/{CONFIG_FILE}"}
        if args.state_machine_arn is not None:
            variables["ROUTER_STATE_MACHINE_ARN"] = args.state_machine_arn
        function = lambda_function(
            name,
            function_name=base,
            role_name=base,
            statements=lambda log_group_arn: router_statements(
                args, log_group_arn=log_group_arn, audit_bucket_arn=audit.arn, input_bucket_arn=inputs.arn
            ),
            code=pulumi.AssetArchive(archive),
            environment=variables,
            timeout=args.timeout_seconds,
            handler=HANDLER,
            memory_size=args.memory_size,
            reserved_concurrent_executions=args.reserved_concurrent_executions,
            tracing=True,
            settings=args,
            parent=self,
        )

        api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=base,
            protocol_type="HTTP",
            description=f"drkit {args.deployment} front door in {args.region}",
            # Callers must come through the custom domains, so the health check sees what they see.
            disable_execute_api_endpoint=True,
            tags=tags,
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=function.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=args.timeout_seconds * 1000 + 500,
            opts=child,
        )
        routes = [
            aws.apigatewayv2.Route(
                f"{name}-route-{key.split()[1].strip('/').replace('/', '-').replace('{', '').replace('}', '')}",
                api_id=api.id,
                route_key=key,
                target=pulumi.Output.concat("integrations/", integration.id),
                opts=child,
            )
            for key in route_keys(args.health_check_path)
        ]
        access_logs = encrypted_log_group(f"{name}-access-logs", log_group_name=f"/aws/apigateway/{base}", settings=args, opts=child)
        stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=args.throttling_rate_limit, throttling_burst_limit=args.throttling_burst_limit
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn,
                format=json.dumps(
                    {
                        "requestId": "$context.requestId",
                        "route": "$context.routeKey",
                        "status": "$context.status",
                        "latency": "$context.responseLatency",
                        "integrationError": "$context.integrationErrorMessage",
                    }  # fmt: skip
                ),
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            # The execution ARN, spelled from the API id (always known once the API exists).
            source_arn=pulumi.Output.concat(f"arn:aws:execute-api:{args.region}:{args.account_id}:", api.id, "/*/*"),
            opts=child,
        )

        certificate = self._certificate(name, args, tags, child)
        domains = {}
        for label, host in (("regional", args.regional_host), ("shared", args.domain)):
            domain = aws.apigatewayv2.DomainName(
                f"{name}-domain-{label}",
                domain_name=host,
                domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
                    certificate_arn=certificate.certificate_arn, endpoint_type="REGIONAL", security_policy="TLS_1_2"
                ),
                tags=tags,
                opts=child,
            )
            aws.apigatewayv2.ApiMapping(
                f"{name}-mapping-{label}", api_id=api.id, domain_name=domain.id, stage=stage.id, opts=child
            )
            domains[label] = domain
        regional = domains["regional"].domain_name_configuration
        self.domain_target = regional.target_domain_name  # type: ignore[assignment]
        self.domain_target_zone_id = regional.hosted_zone_id  # type: ignore[assignment]
        if args.create_regional_record:
            aws.route53.Record(
                f"{name}-regional-record",
                zone_id=args.hosted_zone_id,
                name=args.regional_host,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=self.domain_target, zone_id=self.domain_target_zone_id, evaluate_target_health=False
                    )
                ],
                opts=child,
            )

        self.api_endpoint = api.api_endpoint
        self.health_url = f"https://{args.regional_host}{args.health_check_path}"
        self.function_name = function.name
        self.audit_bucket = audit.bucket
        self.input_bucket = inputs.bucket
        self.register_outputs(
            {
                "api_endpoint": api.api_endpoint,
                "domain_target": self.domain_target,
                "domain_target_zone_id": self.domain_target_zone_id,
                "health_url": self.health_url,
                "function_name": function.name,
                "audit_bucket": audit.bucket,
                "input_bucket": inputs.bucket,
            }
        )

    @staticmethod
    def _lock_audit_records(name: str, args: RegionalFrontDoorArgs, bucket: EncryptedBucket, child: pulumi.ResourceOptions) -> None:
        """Every new audit record is retained for audit_retention_days in audit_lock_mode."""
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-audit-lock",
            bucket=bucket.bucket,
            object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode=args.audit_lock_mode, days=args.audit_retention_days
                )
            ),
            opts=child,
        )

    @staticmethod
    def _expire_inputs(name: str, args: RegionalFrontDoorArgs, bucket: EncryptedBucket, child: pulumi.ResourceOptions) -> None:
        """Inputs are deleted input_retention_days after upload (their old versions a day later)."""
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-inputs-expiry",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-inputs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.input_retention_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=1
                    ),
                )
            ],
            opts=child,
        )

    def _certificate(
        self, name: str, args: RegionalFrontDoorArgs, tags: dict[str, str], child: pulumi.ResourceOptions
    ) -> aws.acm.CertificateValidation:
        """One DNS-validated certificate for the regional host and the shared name, in this region."""
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.regional_host,
            subject_alternative_names=[args.domain],
            validation_method="DNS",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )
        records = []
        for index, host in enumerate((args.regional_host, args.domain)):
            option = certificate.domain_validation_options.apply(functools.partial(_validation_option, host))
            shared = host == args.domain  # every region's certificate is validated by this one record
            records.append(
                aws.route53.Record(
                    f"{name}-certificate-validation-{index}",
                    zone_id=args.hosted_zone_id,
                    name=option.apply(lambda o: o["resource_record_name"]),
                    type=option.apply(lambda o: o["resource_record_type"]),
                    records=[option.apply(lambda o: o["resource_record_value"])],
                    ttl=300,
                    allow_overwrite=True,  # the shared name's record is written by every region's stack
                    opts=pulumi.ResourceOptions(parent=self, retain_on_delete=shared),
                )
            )
        return aws.acm.CertificateValidation(
            f"{name}-certificate-validated",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[r.fqdn for r in records],
            opts=child,
        )
