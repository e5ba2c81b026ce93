"""Router Lambda: the regional front door's single function behind the HTTP API.

Routes (API Gateway HTTP API, payload format 2.0):

- ``POST /v1/infer`` — team key in ``x-drkit-key`` (its HMAC-SHA256 under the deployment's secret
  looked up in the config; keys are never stored), body ``{"model", "traffic_class", "payload" |
  "input_location", ["content_type"], ["request_id"]}``. The routing engine (drkit/core/routing.py)
  picks a path; breakers and the team's budget may change it; real-time and serverless are
  invoked here (200 with the result), async and batch are recorded in the token table and
  started as a Step Functions execution (202 with the request id).
- ``GET /v1/requests/{id}`` — the request's record in the global table (any region's), to the team that sent it.
- ``GET /health`` — deep health (health.py): 200, or 503 naming what failed.

Teams are isolated from each other: a request id is the caller's own (stored as ``<team>_<id>``,
so two teams may use one id and neither can read, overwrite or detect the other's); an inline
payload is written under ``teams/<team>/`` only after the id is known to be free, and never over
an existing object; an ``input_location`` must lie under the caller's ``teams/<team>/`` prefix.

Every client mistake is a 4xx JSON body ``{"error": code, "message": ...}``, never a 500.
Dependencies: boto3 + stdlib + drkit/{__init__,errors,keys,routing,tokens}.py, packaged with this directory
as the top-level package ``router`` (components/__init__.py imports pulumi, so the Lambda
cannot import through it). Environment: ROUTER_CONFIG or ROUTER_CONFIG_PATH (config.py); the
team-key secret named by the config is read from Secrets Manager once per cold start.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from drkit.core.errors import DrkitError
from drkit.core.inference_router import FRONT_DOOR_TIMEOUT_SECONDS
from drkit.core.keys import check_secret, key_digest
from drkit.core.routing import (
    ASYNC_MAX_PAYLOAD_BYTES,
    BATCH_MAX_PAYLOAD_BYTES,
    PATH_FALLBACK,
    REALTIME_MAX_PAYLOAD_BYTES,
    SERVERLESS_MAX_PAYLOAD_BYTES,
    classes_from,
    route,
)
from drkit.core.tokens import TokenStore, TokenStoreError

from .audit import AuditRecord, AuditWriter, to_stdout
from .breakers import BreakerConfig, BreakerState, BreakerStore
from .budgets import BudgetAction, BudgetStore, decide, request_cost
from .config import (
    DIRECT_PATHS,
    ConfigError,
    HealthProbe,
    ModelConfig,
    RouterConfig,
    RouterTarget,
    TeamConfig,
    is_off_hours,
    load_config,
)
from .health import HealthReport, deep_health

LOG = logging.getLogger("drkit.router")
LOG.setLevel(logging.INFO)

KEY_HEADER = "x-drkit-key"
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]+")  # within drkit/core/tokens.py REQUEST_ID_PATTERN; always fullmatch
# The stored id "<team>_<id>" is the async endpoint's InferenceId, which allows 64 characters
# (botocore sagemaker-runtime InvokeEndpointAsync.InferenceId, max 64).
STORED_ID_MAX = 64
TEAM_PREFIX = "teams/{team}/"  # every input object of a team lives under its prefix in the input bucket
# S3 object keys: at most 1024 bytes (S3 User Guide, "Naming Amazon S3 objects", read 2026-11). Segments
# "." and ".." and empty ones are refused: some HTTP stacks normalise them, so the object read may not be
# the one named, and a prefix check on the raw string would then mean nothing.
S3_KEY_MAX_BYTES = 1024
# InvokeEndpoint ContentType: max 1024, pattern \p{ASCII}* (botocore sagemaker-runtime); it travels as an
# HTTP header, so control characters (CR/LF: header injection) are refused too.
CONTENT_TYPE = re.compile(r"[\x20-\x7e]{1,1024}")
S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([^\x00-\x1f\x7f]+)")
REQUEST_TTL_SECONDS = 7 * 24 * 3600

# Largest payload each path accepts: the routing engine's AWS limits (cited in drkit/core/routing.py),
# used when a request must leave its routed path.
PATH_MAX_BYTES: Mapping[str, int] = {
    "realtime": REALTIME_MAX_PAYLOAD_BYTES,
    "serverless": SERVERLESS_MAX_PAYLOAD_BYTES,
    "async": ASYNC_MAX_PAYLOAD_BYTES,
    "batch": BATCH_MAX_PAYLOAD_BYTES,
}

# Where a request may go when its routed path cannot take it here: drkit.core.routing.PATH_FALLBACK,
# the table the workflow and the drills use too.
FALLBACKS: Mapping[str, tuple[str, ...]] = {p.value: tuple(q.value for q in PATH_FALLBACK[p]) for p in PATH_FALLBACK}

# InvokeEndpoint errors that mean "capacity is still coming" (a serverless cold start, per the
# InvokeEndpoint API reference): the request falls back, but the breaker does not count them.
# Counting them would open every breaker of a standby region during the cold start a failover
# causes, and deep health would then take the one region left out of DNS (found by the tier-3 drill).
CAPACITY_WARMING = frozenset({"ModelNotReadyException"})
# Route 53 wants a health check's status within 2 s of connecting (Route 53 Developer Guide, "How Amazon
# Route 53 determines whether a health check is healthy"): a probe that has not answered by then fails.
HEALTH_PROBE_TIMEOUT_SECONDS = 1.0
HEALTH_PROBE_CONNECT_SECONDS = 0.3


_default_route = route


class HttpError(Exception):
    """A request the router answers with a 4xx/5xx JSON body instead of serving it."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class Response:
    """An HTTP answer; `to_api_gateway` turns it into the Lambda proxy result."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_api_gateway(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"content-type": "application/json", **self.headers},
            "body": json.dumps(self.body, default=str),
        }


@dataclass(frozen=True)
class Clients:
    """The AWS clients of this region (injectable for tests)."""

    sagemaker_runtime: Any
    sagemaker: Any
    stepfunctions: Any
    dynamodb: Any
    s3: Any
    inference_router_runtime: Any = None
    """sagemaker-inference-router-runtime, for models whose real-time path goes through a router."""
    health_runtime: Any = None
    """sagemaker-runtime for deep health's probes, with a read timeout inside Route 53's. Default: sagemaker_runtime."""

    @classmethod
    def for_region(cls, region: str) -> Clients:
        import boto3  # deferred: tests inject clients
        from botocore.config import Config

        # The router may make two attempts; reading for the whole front-door deadline lets its
        # retry happen, and one client attempt keeps the router's retry the only one (docs/routers.md).
        routed = Config(read_timeout=FRONT_DOOR_TIMEOUT_SECONDS, retries={"mode": "standard", "total_max_attempts": 1})
        runtime, sagemaker, stepfunctions, dynamodb, s3 = (boto3.client(s, region_name=region) for s in
                     ("sagemaker-runtime", "sagemaker", "stepfunctions", "dynamodb", "s3"))  # fmt: skip
        router = boto3.client("sagemaker-inference-router-runtime", region_name=region, config=routed)
        probing = Config(connect_timeout=HEALTH_PROBE_CONNECT_SECONDS, read_timeout=HEALTH_PROBE_TIMEOUT_SECONDS,
                         retries={"mode": "standard", "total_max_attempts": 1})  # fmt: skip
        health = boto3.client("sagemaker-runtime", region_name=region, config=probing)
        return cls(runtime, sagemaker, stepfunctions, dynamodb, s3, inference_router_runtime=router, health_runtime=health)


@dataclass(frozen=True, kw_only=True)
class InferRequest:
    """A validated POST /v1/infer body."""

    model: ModelConfig
    traffic_class: str
    payload: bytes | None
    input_location: str | None
    payload_bytes: int
    content_type: str
    request_id: str


# --- pure helpers -----------------------------------------------------------------------------------


def scoped_request_id(team: str, request_id: str) -> str:
    """The table key of a team's request: the id is the team's own, so teams never collide or meet."""
    return f"{team}_{request_id}"


def max_request_id_length(team: str) -> int:
    """Longest id a team may send: its scoped id must fit the async endpoint's InferenceId."""
    return STORED_ID_MAX - len(team) - 1


def valid_request_id(team: str, request_id: Any) -> bool:
    """True for 1..max_request_id_length(team) characters from A-Z a-z 0-9 _ -."""
    return (
        isinstance(request_id, str)
        and 0 < len(request_id) <= max_request_id_length(team)
        and REQUEST_ID.fullmatch(request_id) is not None
    )


def team_prefix(team: str) -> str:
    """The input bucket prefix a team's objects live under."""
    return TEAM_PREFIX.format(team=team)


def servable_paths(routed: str, model: ModelConfig, payload_bytes: int) -> list[str]:
    """Paths that can take this request here, in preference order (the routed path first)."""
    return [p for p in FALLBACKS[routed] if model.serves(p) and payload_bytes <= PATH_MAX_BYTES[p]]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI whose key S3 would store as written; ValueError when it is not one."""
    match = S3_URI.fullmatch(uri)
    if not match:
        raise ValueError(uri)
    key = match.group(2)
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(uri)
    try:
        if len(key.encode()) > S3_KEY_MAX_BYTES:
            raise ValueError(uri)
    except UnicodeEncodeError:  # a lone surrogate: no S3 key
        raise ValueError(uri) from None
    return match.group(1), key


def _value(path: Any) -> str:
    return str(getattr(path, "value", path))


def parse_infer(body: Any, config: RouterConfig, team: TeamConfig, *, new_id: Callable[[], str]) -> InferRequest:
    """Validate a decoded body from `team`; raises HttpError 400/413 naming the field and what is valid.

    An input_location must lie under the team's own prefix: checked here, before anything reads it,
    so another team's object is never read, measured or even looked up."""
    if not isinstance(body, dict):
        raise HttpError(400, "malformed_body", f"body must be a JSON object, got {type(body).__name__}")
    model_name = body.get("model")
    if not isinstance(model_name, str) or model_name not in config.models:
        raise HttpError(
            400, "unknown_model", f"model: {_shown(model_name)} is not served here; valid: {', '.join(sorted(config.models))}"
        )
    traffic_class = body.get("traffic_class")
    if not isinstance(traffic_class, str) or not traffic_class:
        names = ", ".join(c.name for c in config.classes)
        raise HttpError(
            400, "unknown_traffic_class", f"traffic_class: {_shown(traffic_class)} is missing or not a string; valid: {names}"
        )
    has_payload, has_location = "payload" in body, "input_location" in body
    if has_payload == has_location:
        raise HttpError(400, "malformed_body", "give exactly one of payload (inline) or input_location (s3://bucket/key)")
    content_type = body.get("content_type", "application/json")
    if not isinstance(content_type, str) or not CONTENT_TYPE.fullmatch(content_type):
        raise HttpError(
            400, "malformed_body", "content_type: must be a MIME type of 1-1024 printable ASCII characters (no CR/LF)"
        )
    request_id = body.get("request_id")
    if request_id is None:  # absent or null: the router names the request
        request_id = new_id()
    if not valid_request_id(team.name, request_id):
        raise HttpError(400, "malformed_body", f"request_id: {_shown(request_id)} is not valid; {_id_rule(team.name)}")
    payload: bytes | None = None
    location: str | None = None
    if has_payload:
        raw = body["payload"]
        try:
            # ensure_ascii=False: UTF-8 out, so a lone surrogate anywhere in the payload fails here, not in the model
            text = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
            payload = text.encode()
        except UnicodeEncodeError:
            raise HttpError(400, "malformed_body", "payload: holds a lone UTF-16 surrogate; send valid Unicode text") from None
        if len(payload) > config.max_inline_bytes:
            raise HttpError(
                413, "payload_too_large",
                f"payload: {len(payload)} bytes inline exceeds {config.max_inline_bytes}; "
                "upload it to S3 and send input_location instead",
            )  # fmt: skip
        size = len(payload)
    else:
        location = body["input_location"]
        prefix = f"s3://{config.input_bucket}/{team_prefix(team.name)}"
        try:
            bucket, key = parse_s3_uri(location if isinstance(location, str) else "")
        except ValueError:
            raise HttpError(
                400, "malformed_body",
                f"input_location: {_shown(location)} is not an s3://bucket/key URI (key: at most {S3_KEY_MAX_BYTES} bytes, "
                "no control characters, no empty, '.' or '..' segments)",
            ) from None  # fmt: skip
        if bucket != config.input_bucket or not key.startswith(team_prefix(team.name)):
            raise HttpError(
                400, "malformed_body", f"input_location: the object is outside your team's prefix; valid: {prefix}...",
            )  # fmt: skip
        size = -1  # measured by the router (HeadObject)
    return InferRequest(
        model=config.models[model_name],
        traffic_class=traffic_class,
        payload=payload,
        input_location=location,
        payload_bytes=size,
        content_type=content_type,
        request_id=request_id,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _shown(value: Any) -> str:
    """A client value quoted for a message: repr (control characters escaped), cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _id_rule(team: str) -> str:
    return f"use 1-{max_request_id_length(team)} characters from A-Z a-z 0-9 _ -"


def read_key_secret(secretsmanager: Any, secret_id: str) -> bytes:
    """The team-key secret's bytes (SecretString as UTF-8, or SecretBinary); ConfigError when unusable."""
    try:
        value = secretsmanager.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        raise ConfigError(f"team_key_secret {secret_id!r}: {exc.response.get('Error', {}).get('Code', 'unreadable')}") from None
    secret = value["SecretString"].encode() if value.get("SecretString") is not None else bytes(value.get("SecretBinary") or b"")
    try:
        return check_secret(secret)
    except ValueError as exc:
        raise ConfigError(f"team_key_secret {secret_id!r}: {exc}") from None


# --- the router: side effects at the edges ----------------------------------------------------------


class Router:
    """One region's front door. Dependencies are injected so tests control time and AWS."""

    def __init__(
        self,
        config: RouterConfig,
        clients: Clients,
        *,
        route: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        use_breakers: bool = True,
        use_budgets: bool = True,
        emit_metrics: Callable[[str], None] = to_stdout,
        key_secret: bytes | None = None,
    ) -> None:
        """`key_secret` keys the team digests (read_key_secret at cold start); required when there are teams."""
        if config.teams and key_secret is None:
            raise ConfigError("the router has teams but no key_secret; read it with read_key_secret(team_key_secret)")
        self.key_secret = check_secret(key_secret) if key_secret is not None else b""
        self.config = config
        self.clients = clients
        self.route = route or _default_route
        self.clock = clock
        self.timer = timer
        self.new_id = new_id
        self.classes = classes_from(config.classes)
        self.breakers = (
            BreakerStore(
                config.table_name, config.region, clients.dynamodb, BreakerConfig.from_mapping(dict(config.breaker)), clock=clock
            )
            if use_breakers
            else None
        )
        self.budgets = (
            BudgetStore(config.table_name, config.region, config.regions, clients.dynamodb, clock=clock) if use_budgets else None
        )
        self.tokens = TokenStore(config.table_name, clients.dynamodb, clock=clock)
        self.audit = AuditWriter(config.audit_bucket, clients.s3, emit_metrics)
        self._teams = {t.key_digest: t for t in config.teams}

    # entry point

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Lambda proxy event (HTTP API v2.0) → proxy result."""
        try:
            if not isinstance(event, Mapping):
                raise HttpError(400, "malformed_event", f"event must be an object, got {type(event).__name__}")
            context = event.get("requestContext")
            http = context.get("http") if isinstance(context, Mapping) else None
            method = (http.get("method") if isinstance(http, Mapping) else None) or event.get("httpMethod") or "GET"
            path = event.get("rawPath") or event.get("path") or "/"
            if not isinstance(method, str) or not isinstance(path, str):
                raise HttpError(400, "malformed_event", "method and path must be strings")
            method = method.upper()
            if path == "/v1/infer":
                self._allow(method, "POST")
                return self.infer(event).to_api_gateway()
            if path.startswith("/v1/requests/"):
                self._allow(method, "GET")
                return self.get_request(event, path.removeprefix("/v1/requests/")).to_api_gateway()
            if path in ("/health", "/health/"):
                self._allow(method, "GET")
                return self.health().to_api_gateway()
            raise HttpError(
                404, "not_found", f"no route {_shown(method)} {_shown(path)}; valid: POST /v1/infer, GET /v1/requests/{{id}}, GET /health"
            )
        except HttpError as exc:
            return Response(exc.status, {"error": exc.code, "message": exc.message, **exc.details}).to_api_gateway()

    @staticmethod
    def _allow(method: str, allowed: str) -> None:
        if method != allowed:
            raise HttpError(405, "method_not_allowed", f"method {_shown(method)} is not allowed here; valid: {allowed}")

    # POST /v1/infer

    def _team(self, event: Mapping[str, Any]) -> TeamConfig:
        raw_headers = event.get("headers") or {}
        if not isinstance(raw_headers, Mapping):
            raise HttpError(400, "malformed_event", "headers must be an object")
        headers = {str(k).lower(): v for k, v in raw_headers.items()}
        key = headers.get(KEY_HEADER)
        if not key:
            raise HttpError(401, "missing_key", f"header {KEY_HEADER} is missing; send your team's API key")
        if not isinstance(key, str) or not self._teams:
            raise HttpError(403, "unknown_key", f"the key in {KEY_HEADER} belongs to no team of this deployment")
        team = self._teams.get(key_digest(key, self.key_secret))
        if team is None:
            raise HttpError(403, "unknown_key", f"the key in {KEY_HEADER} belongs to no team of this deployment")
        return team

    @staticmethod
    def _body(event: Mapping[str, Any], limit: int) -> Any:
        raw = event.get("body") or ""
        if not isinstance(raw, str):
            raise HttpError(400, "malformed_body", f"body must be a string (JSON text), got {type(raw).__name__}")
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(raw, validate=True)
            except (ValueError, binascii.Error):  # includes non-ASCII text
                raise HttpError(400, "malformed_body", "body is marked base64 but is not valid base64") from None
        if len(raw) > limit * 2 + 65536:  # JSON escaping at most doubles a payload; anything larger cannot fit
            raise HttpError(
                413, "payload_too_large", f"body of {len(raw)} bytes exceeds what an inline payload of {limit} bytes can take"
            )
        try:
            # RFC 8259: JSON between systems is UTF-8 and has no NaN/Infinity; json.loads alone would
            # guess UTF-16/32 from bytes and accept both, so neither is left to it.
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            return json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and integers past Python's 4300-digit limit
            raise HttpError(400, "malformed_json", f"body is not valid JSON: {str(exc)[:200]}") from None
        except RecursionError:
            raise HttpError(400, "malformed_json", "body is nested too deeply") from None

    def _off_hours(self) -> bool:
        window = self.config.off_hours
        if window is None:
            return False
        try:
            now = datetime.fromtimestamp(self.clock(), ZoneInfo(window.timezone))
        except Exception:  # noqa: BLE001 - a missing tz database must not stop serving; route as business hours
            LOG.warning("time zone %s unavailable; routing as business hours", window.timezone)
            return False
        return is_off_hours(now, window)

    def _measure(self, request: InferRequest) -> InferRequest:
        if request.input_location is None:
            return request
        bucket, key = parse_s3_uri(request.input_location)
        try:
            head = self.clients.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
                raise HttpError(
                    400, "input_not_found", f"input_location: {request.input_location} does not exist or is not readable"
                ) from None
            raise
        size = int(head["ContentLength"])
        return InferRequest(**{**request.__dict__, "payload_bytes": size})

    def infer(self, event: Mapping[str, Any]) -> Response:
        """Authenticate, validate, route, apply breakers and budget, serve, charge, audit."""
        team = self._team(event)
        request = self._measure(
            parse_infer(self._body(event, self.config.max_inline_bytes), self.config, team, new_id=self.new_id)
        )
        if request.traffic_class not in self.classes:
            raise HttpError(
                400,
                "unknown_traffic_class",
                f"traffic_class: {_shown(request.traffic_class)} is not a class of this deployment; valid: {', '.join(sorted(self.classes))}",
                valid_traffic_classes=sorted(self.classes),
            )
        try:
            decision = self.route(request.payload_bytes, request.traffic_class, classes=self.classes, off_hours=self._off_hours())
        except Exception as exc:
            if isinstance(exc, (ValueError, DrkitError)):  # RoutingError: unknown class, bad size
                raise HttpError(400, "unroutable", str(exc), valid_traffic_classes=sorted(self.classes)) from None
            raise
        routed, rule = _value(decision.path), str(decision.rule)
        candidates = servable_paths(routed, request.model, request.payload_bytes)
        record = dict(
            request_id=request.request_id, region=self.config.region, team=team.name, model=request.model.name,
            traffic_class=request.traffic_class, payload_bytes=request.payload_bytes, routed_path=routed, rule=rule,
        )  # fmt: skip
        if not candidates:
            return self._finish(record, routed, 503, "failed", "", "allow", str(decision.reason), {
                "error": "no_path", "message": f"model {request.model.name} has no path in {self.config.region} for "
                f"{request.payload_bytes} bytes routed {routed}"})  # fmt: skip

        budget_action, reason = BudgetAction.ALLOW, str(decision.reason)
        if self.budgets is not None:
            spend = self.budgets.spend(team.name)
            verdict = decide(
                team=team.name, budget_usd=team.monthly_budget_usd, spend_usd=spend, over_budget=team.over_budget,
                routed=routed, candidates=candidates, costs=request.model.costs_usd,
            )  # fmt: skip
            budget_action = verdict.action
            if verdict.action is BudgetAction.REFUSE:
                return self._finish(record, routed, 429, "refused", "", verdict.action.value, verdict.reason, {
                    "error": "over_budget", "message": verdict.reason, "team": team.name,
                    "monthly_budget_usd": team.monthly_budget_usd, "month_to_date_usd": round(spend, 6)})  # fmt: skip
            if verdict.action is BudgetAction.DEGRADE:
                assert verdict.path is not None
                reason = verdict.reason
                candidates = [verdict.path, *(p for p in candidates if p != verdict.path)]
        return self._serve(request, team, record, candidates, budget_action.value, reason)

    def _serve(
        self, request: InferRequest, team: TeamConfig, record: dict[str, Any], candidates: list[str], budget: str, reason: str
    ) -> Response:
        fallback: list[str] = []
        for path in candidates:
            if path in DIRECT_PATHS:
                # A routed request keeps the local endpoint's breaker: deep health reads it, so a router
                # that times out on a hung local endpoint still takes the region out of DNS.
                routed = request.model.inference_router if path == "realtime" else None
                endpoint = request.model.endpoints[path]
                if self.breakers is not None and not self.breakers.admit(endpoint):
                    fallback.append(f"breaker open on {endpoint}")
                    continue
                outcome = self._invoke(request, endpoint, routed)
                if outcome is None:
                    fallback.append(f"{path} endpoint {endpoint} failed")
                    continue
                return self._finish(record, path, outcome[0], "served" if outcome[0] == 200 else "failed",
                                    "; ".join(fallback), budget, reason, outcome[1])  # fmt: skip
            return self._finish(
                record, path, 202, "accepted", "; ".join(fallback), budget, reason, self._start(request, team, record, path)
            )
        return self._finish(record, candidates[0], 503, "failed", "; ".join(fallback), budget, reason, {
            "error": "unavailable", "message": f"no path could serve the request in {self.config.region}: {'; '.join(fallback)}"})  # fmt: skip

    def _payload(self, request: InferRequest) -> bytes:
        if request.payload is not None:
            return request.payload
        assert request.input_location is not None
        bucket, key = parse_s3_uri(request.input_location)
        body: bytes = self.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def _invoke(
        self, request: InferRequest, endpoint: str, routed: RouterTarget | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        """Invoke a real-time/serverless endpoint, or the inference router in front of the real-time
        endpoints; None when it failed (try the fallback)."""
        body = self._payload(request)
        started = self.timer()
        try:
            if routed is not None:
                response = self.clients.inference_router_runtime.invoke_inference_router(
                    InferenceRouterName=routed.router, RoutingTargetName=routed.target, Body=body, ContentType=request.content_type
                )
            else:
                response = self.clients.sagemaker_runtime.invoke_endpoint(
                    EndpointName=endpoint, Body=body, ContentType=request.content_type
                )
            output = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:  # BotoCoreError: timeouts, connection errors
            self._count_failure(endpoint, exc, started)
            if _rejected_input(exc):
                return 424, {"error": "model_rejected_input", "message": exc.response["Error"].get("Message", ""),
                             "model_status": int(exc.response["OriginalStatusCode"]), "request_id": request.request_id}  # fmt: skip
            LOG.warning("endpoint %s failed: %s", endpoint, exc.response.get("Error", {}) if isinstance(exc, ClientError) else exc)
            return None
        self._record(endpoint, True, (self.timer() - started) * 1000)
        try:
            result: Any = json.loads(output)
        except (json.JSONDecodeError, UnicodeDecodeError):
            result = base64.b64encode(output).decode() if not _is_text(output) else output.decode()
        answer = {"request_id": request.request_id, "result": result, "content_type": response.get("ContentType", "")}
        if routed is not None:  # which destination served it, and why the router chose it
            answer.update(served_by=response.get("InvokedRoutedResourceArn", ""), routing_reason=response.get("RoutingReason", ""))
        return 200, answer

    def _record(self, endpoint: str, ok: bool, latency_ms: float) -> None:
        if self.breakers is not None:
            self.breakers.record(endpoint, ok, latency_ms)

    def _release(self, endpoint: str) -> None:
        if self.breakers is not None:
            self.breakers.release(endpoint)

    def _count_failure(self, endpoint: str, exc: ClientError | BotoCoreError, started: float) -> None:
        """An invocation that raised, on the endpoint's breaker: capacity still warming is no outcome
        (a half-open slot taken for it comes back), a model rejecting its input is a working endpoint,
        anything else a failure."""
        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in CAPACITY_WARMING:
            self._release(endpoint)
        else:
            self._record(endpoint, _rejected_input(exc), (self.timer() - started) * 1000)

    def _conflict(self, request: InferRequest) -> HttpError:
        return HttpError(
            409, "request_id_conflict",
            f"request_id: {request.request_id!r} is already used by one of your team's requests with another "
            "path, model or input_location; request ids must be unique per request",
        )  # fmt: skip

    def _start(self, request: InferRequest, team: TeamConfig, record: Mapping[str, Any], path: str) -> dict[str, Any]:
        """Record the request (PENDING) and start its workflow execution, idempotently by request id.

        The id is checked before anything is written: a repeat of the same request starts nothing
        new and never overwrites its input (the first write wins); the same id for another request
        is a 409. Ids are the team's own (`scoped_request_id`), so nothing here meets another team."""
        if not self.config.state_machine_arn:
            raise HttpError(
                503, "no_workflow", f"path {path} needs the workflow, which is not configured in {self.config.region}"
            )
        stored_id = scoped_request_id(team.name, request.request_id)
        stored = self.tokens.get(stored_id)
        if stored is not None:
            same_input = request.input_location is None or stored.input_location == request.input_location
            if (stored.path, stored.model, stored.team) != (path, request.model.name, team.name) or not same_input:
                raise self._conflict(request)
        else:
            location = request.input_location or self._store_input(request, team)
            try:
                stored = self.tokens.record(
                    stored_id, self.config.region, path, request.model.name, location, REQUEST_TTL_SECONDS,
                    team=team.name, priority=team.priority,
                )  # fmt: skip
            except TokenStoreError:
                raise self._conflict(request) from None
        execution_input = {
            **record, "request_id": stored_id, "path": path, "input_location": stored.input_location,
            "payload_bytes": request.payload_bytes, "content_type": request.content_type, "home_region": self.config.region,
            "off_hours": self._off_hours(), "attempt": 1,
        }  # fmt: skip
        try:
            self.clients.stepfunctions.start_execution(
                stateMachineArn=self.config.state_machine_arn, name=stored.execution_name, input=json.dumps(execution_input)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
        return {
            "request_id": request.request_id,
            "path": path,
            "status": stored.status.value,
            "status_url": f"/v1/requests/{request.request_id}",
        }

    def _store_input(self, request: InferRequest, team: TeamConfig) -> str:
        """Write an inline payload under the team's prefix, never over an existing object (If-None-Match: *)."""
        day = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y/%m/%d")
        key = f"{team_prefix(team.name)}inline/{day}/{request.request_id}"
        try:
            self.clients.s3.put_object(
                Bucket=self.config.input_bucket, Key=key, Body=request.payload, ContentType=request.content_type,
                IfNoneMatch="*",
            )  # fmt: skip
        except ClientError as exc:
            # PreconditionFailed: the object exists (a concurrent request with this id won the race);
            # ConditionalRequestConflict: a concurrent conditional write to the key is in flight.
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise self._conflict(request) from None
            raise
        return f"s3://{self.config.input_bucket}/{key}"

    def _finish(
        self,
        record: Mapping[str, Any],
        path: str,
        status: int,
        outcome: str,
        fallback: str,
        budget: str,
        reason: str,
        body: dict[str, Any],
    ) -> Response:
        model = self.config.models[record["model"]]
        cost = request_cost(path, model.costs_usd) if outcome in ("served", "accepted") else 0.0
        if cost and self.budgets is not None:
            self.budgets.charge(record["team"], cost)
        self.audit.write(AuditRecord(
            **record, at=self.clock(), path=path, reason=reason, estimated_cost_usd=cost, outcome=outcome,
            status_code=status, budget_action=budget, fallback=fallback,
        ))  # fmt: skip
        headers = {
            "x-drkit-path": path, "x-drkit-rule": record["rule"], "x-drkit-request-id": record["request_id"],
            "x-drkit-region": self.config.region,  # which region answered: what drills and clients check after a failover
        }  # fmt: skip
        if status < 300:
            body = {**body, "path": path, "routed_path": record["routed_path"], "rule": record["rule"], "reason": reason}
            if fallback:
                body["fallback"] = fallback
        return Response(status, body, headers)

    # GET /v1/requests/{id}

    def get_request(self, event: Mapping[str, Any], request_id: str) -> Response:
        """The request's record from the global table (any region may answer), to the team that sent it.

        The id is looked up among the caller's own (`scoped_request_id`): another team's request
        with the same id is simply not there, so the answer is exactly that of a missing id.
        """
        team = self._team(event)
        if not valid_request_id(team.name, request_id):
            raise HttpError(400, "malformed_request_id", f"request id {_shown(request_id)} is not valid; {_id_rule(team.name)}")
        found = self.tokens.get(scoped_request_id(team.name, request_id))
        if found is None or found.team != team.name:
            raise HttpError(
                404,
                "unknown_request",
                f"request {request_id} is not in the table (real-time requests are answered inline and not stored)",
            )
        body: dict[str, Any] = {
            "request_id": request_id, "status": "EXPIRED" if found.expired else found.status.value,
            "path": found.path, "model": found.model, "home_region": found.home_region, "attempt": found.attempt,
        }  # fmt: skip
        for name in ("output_location", "error", "cause", "redriven_to"):
            if getattr(found, name):
                body[name] = getattr(found, name)
        return Response(200, body)

    # GET /health

    def health_report(self) -> HealthReport:
        probed = self._probe_half_open()
        endpoints = sorted({e for m in self.config.models.values() for e in m.endpoints.values()})
        direct = {name: sorted(e for p, e in m.endpoints.items() if p in DIRECT_PATHS) for name, m in sorted(self.config.models.items())}
        breakers = self.breakers

        def breaker_state(endpoint: str) -> BreakerState:
            if breakers is None:
                return BreakerState.CLOSED
            state = breakers.state(endpoint)
            # Half-open is not yet well: where a probe can prove it, the region returns once the breaker closes.
            return BreakerState.OPEN if state is BreakerState.HALF_OPEN and endpoint in probed else state

        return deep_health(
            region=self.config.region, endpoints=endpoints, direct_endpoints=direct if breakers else {},
            table_name=self.config.table_name, sagemaker=self.clients.sagemaker, dynamodb=self.clients.dynamodb,
            breaker_state=breaker_state,
        )  # fmt: skip

    def _probe_half_open(self) -> set[str]:
        """Send one half-open endpoint its model's health probe, through its breaker; returns every
        endpoint a probe can speak for (those of models with a `health_probe`).

        Once DNS has moved away no request reaches the region, so without a probe a breaker that
        opened on a hung endpoint half-opens after its cool-down, the region reads healthy, DNS
        fails back and the hung endpoint fails requests again: a flap every cool-down. One probe
        per call keeps /health inside Route 53's 2 s however many endpoints are recovering.
        """
        if self.breakers is None:
            return set()
        probes = [(e, m.health_probe) for m in self.config.models.values() if m.health_probe
                  for p, e in m.endpoints.items() if p in DIRECT_PATHS]  # fmt: skip
        runtime = self.clients.health_runtime or self.clients.sagemaker_runtime
        for endpoint, probe in probes:
            try:
                if self.breakers.state(endpoint) is BreakerState.HALF_OPEN and self.breakers.admit(endpoint):
                    self._probe(runtime, endpoint, probe)
                    break
            except Exception as exc:  # noqa: BLE001 - /health must answer; the breaker check reports the state
                LOG.warning("health probe of %s failed: %s", endpoint, exc)
                break
        return {e for e, _ in probes}

    def _probe(self, runtime: Any, endpoint: str, probe: HealthProbe) -> None:
        started = self.timer()
        try:
            runtime.invoke_endpoint(EndpointName=endpoint, Body=probe.body.encode(), ContentType=probe.content_type)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            self._count_failure(endpoint, exc, started)
        else:
            self._record(endpoint, True, (self.timer() - started) * 1000)

    def health(self) -> Response:
        report = self.health_report()
        return Response(report.status_code, report.body())


def _rejected_input(exc: Exception) -> TypeGuard[ClientError]:
    """SageMaker's ModelError carrying the container's 4xx: the model refused this input, the endpoint works."""
    if not isinstance(exc, ClientError):
        return False
    original = int(exc.response.get("OriginalStatusCode") or 0)
    return exc.response.get("Error", {}).get("Code") == "ModelError" and 400 <= original < 500


def _is_text(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


_ROUTER: Router | None = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: one Router per execution environment, built on first use."""
    global _ROUTER
    if _ROUTER is None:
        config = load_config()
        secret = None
        if config.team_key_secret:
            import boto3  # deferred: tests inject clients

            secret = read_key_secret(boto3.client("secretsmanager", region_name=config.region), config.team_key_secret)
        _ROUTER = Router(config, Clients.for_region(config.region), key_secret=secret)
    try:
        return _ROUTER.handle(event)
    except Exception:
        LOG.exception("unhandled error")
        return Response(500, {"error": "internal", "message": "the router failed; the request may be retried"}).to_api_gateway()
