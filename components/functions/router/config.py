"""Router configuration: what the front door of one region serves, loaded once per cold start.

The config is JSON, from the ROUTER_CONFIG environment variable or the file named by
ROUTER_CONFIG_PATH. It holds only HMAC-SHA256 digests of team keys (drkit/core/keys.py), never
keys, and names the Secrets Manager secret that keys them; the router reads that secret at cold
start. A leaked config (or bundle) therefore grants nothing.

Stdlib and drkit.core only: this module is packaged into the router Lambda.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from drkit.core.routing import ClassInfo, RoutingError

PATHS = ("realtime", "serverless", "async", "batch")
DIRECT_PATHS = ("realtime", "serverless")  # invoked by the router itself
WORKFLOW_PATHS = ("async", "batch")  # started as a Step Functions execution
PRIORITIES = ("high", "normal", "low")  # drkit.core.spec.Team.priority; redrive starts requests in this order
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# drkit.core.spec.Team.name: no "_", so "<team>_<request id>" splits one way only (handler.scoped_request_id).
TEAM_NAME = re.compile(r"[a-z][a-z0-9-]{1,30}")
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


class ConfigError(ValueError):
    """The router's config is unusable; raised at cold start, never per request."""


@dataclass(frozen=True, kw_only=True)
class TeamConfig:
    """A caller: the digest of its key, its monthly budget and what happens past it."""

    name: str
    key_digest: str
    """Lowercase hex HMAC-SHA256 of the team's key under the deployment's team-key secret."""
    monthly_budget_usd: float
    priority: str = "normal"
    """high | normal | low: recorded on the team's async/batch requests; redrive starts high first."""
    over_budget: str = "degrade"  # refuse | degrade


@dataclass(frozen=True, kw_only=True)
class RouterTarget:
    """The inference router that serves a model's real-time path (docs/routers.md)."""

    router: str
    """InferenceRouterName in this region."""
    target: str
    """RoutingTargetName: the model's name."""
    destinations: tuple[str, ...] = ()
    """Endpoint ARNs in every region, this region's first: the component grants InvokeEndpoint on each.
    Not in the Lambda's config (the router resource holds them). Default: none."""


@dataclass(frozen=True, kw_only=True)
class HealthProbe:
    """A small request deep health sends to an endpoint whose breaker is half-open (drkit.core.spec.HealthProbe)."""

    body: str
    content_type: str = "application/json"


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """One model in this region: its endpoints by path and the estimated cost of a request on each."""

    name: str
    endpoints: Mapping[str, str]
    """Endpoint name by path (realtime → provisioned, serverless, async). Absent path: not deployed here."""
    costs_usd: Mapping[str, float]
    """Estimated USD per request by path (see budgets.py for where the figures come from)."""
    batch: bool = False
    """True when the workflow can run this model as a batch transform."""
    inference_router: RouterTarget | None = None
    """The router its real-time requests go through, instead of the endpoint. Default: none."""
    health_probe: HealthProbe | None = None
    """What deep health sends to a half-open endpoint to learn it answers again. Default: none (no
    traffic, no probe: the breaker half-opens after its cool-down and the region returns untested)."""

    def serves(self, path: str) -> bool:
        """True when this region can serve `path` for this model."""
        return (path == "batch" and self.batch) or path in self.endpoints


@dataclass(frozen=True, kw_only=True)
class OffHoursConfig:
    """When the deployment is off-hours (the spec's scale-down window), in its own time zone."""

    timezone: str
    start: str  # HH:MM, off-hours begin
    end: str  # HH:MM, off-hours end
    days: tuple[str, ...] = _DAYS


@dataclass(frozen=True, kw_only=True)
class RouterConfig:
    """Everything one region's router knows; built from the spec by components/frontdoor.py."""

    region: str
    regions: tuple[str, ...]
    table_name: str
    audit_bucket: str
    input_bucket: str
    state_machine_arn: str
    teams: tuple[TeamConfig, ...]
    classes: tuple[ClassInfo, ...]
    models: Mapping[str, ModelConfig]
    max_inline_bytes: int = 6 * 1024 * 1024
    off_hours: OffHoursConfig | None = None
    breaker: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of breakers.BreakerConfig fields. Default: none."""
    team_key_secret: str = ""
    """Secrets Manager secret (name or ARN) keying the team digests. Default: none — only with no teams."""


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}.{key}: {value!r} is not valid; expected {getattr(kind, '__name__', kind)}")
    return value


def parse_config(data: Any) -> RouterConfig:
    """A RouterConfig from decoded JSON; raises ConfigError naming the bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a JSON object, got {type(data).__name__}")
    teams = []
    if data.get("teams") and not data.get("team_key_secret"):
        raise ConfigError("config.team_key_secret: missing; teams need the secret that keys their digests")
    for i, raw in enumerate(_require(data, "teams", list, "config")):
        where = f"config.teams[{i}]"
        name = _require(raw, "name", str, where)
        if not TEAM_NAME.fullmatch(name):
            raise ConfigError(f"{where}.name: {name!r} is not valid; use 2-31 characters a-z 0-9 -, starting with a letter")
        digest = _require(raw, "key_digest", str, where)
        if not _SHA256.fullmatch(digest):
            raise ConfigError(f"{where}.key_digest: not a lowercase hex HMAC-SHA256 digest")
        priority = raw.get("priority", "normal")
        if priority not in PRIORITIES:
            raise ConfigError(f"{where}.priority: {priority!r} is not valid; valid: {', '.join(PRIORITIES)}")
        over = raw.get("over_budget", "degrade")
        if over not in ("refuse", "degrade"):
            raise ConfigError(f"{where}.over_budget: {over!r} is not valid; valid: refuse, degrade")
        teams.append(
            TeamConfig(
                name=name,
                key_digest=digest,
                monthly_budget_usd=float(_require(raw, "monthly_budget_usd", (int, float), where)),
                priority=priority,
                over_budget=over,
            )
        )
    classes = tuple(_class(raw, f"config.classes[{i}]") for i, raw in enumerate(_require(data, "classes", list, "config")))
    models: dict[str, ModelConfig] = {}
    for name, raw in _require(data, "models", dict, "config").items():
        where = f"config.models.{name}"
        endpoints = _require(raw, "endpoints", dict, where)
        bad = sorted(set(endpoints) - set(DIRECT_PATHS) - {"async"})
        if bad:
            raise ConfigError(f"{where}.endpoints: unknown path {bad[0]!r}; valid: realtime, serverless, async")
        costs = {str(k): float(v) for k, v in dict(raw.get("costs_usd", {})).items()}
        models[name] = ModelConfig(
            name=name, endpoints=dict(endpoints), costs_usd=costs, batch=bool(raw.get("batch", False)),
            inference_router=_router_target(raw.get("inference_router"), f"{where}.inference_router"),
            health_probe=_health_probe(raw.get("health_probe"), f"{where}.health_probe"),
        )  # fmt: skip
    off = data.get("off_hours")
    return RouterConfig(
        region=_require(data, "region", str, "config"),
        regions=tuple(_require(data, "regions", list, "config")),
        table_name=_require(data, "table_name", str, "config"),
        audit_bucket=_require(data, "audit_bucket", str, "config"),
        input_bucket=_require(data, "input_bucket", str, "config"),
        state_machine_arn=str(data.get("state_machine_arn", "")),
        teams=tuple(teams),
        classes=classes,
        models=models,
        max_inline_bytes=int(data.get("max_inline_bytes", 6 * 1024 * 1024)),
        off_hours=OffHoursConfig(timezone=off["timezone"], start=off["start"], end=off["end"], days=tuple(off.get("days", _DAYS)))
        if isinstance(off, dict)
        else None,
        breaker=dict(data.get("breaker", {})),
        team_key_secret=str(data.get("team_key_secret") or ""),
    )


def _class(raw: Any, where: str) -> ClassInfo:
    name, kind = _require(raw, "name", str, where), _require(raw, "kind", str, where)
    try:
        return ClassInfo(name=name, kind=kind, timeout_seconds=_require(raw, "timeout_seconds", int, where))
    except RoutingError as exc:  # an unknown kind: a cold-start ConfigError like every other bad field
        raise ConfigError(f"{where}: {exc}") from None


def _router_target(raw: Any, where: str) -> RouterTarget | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {raw!r} is not valid; expected an object with router and target")
    return RouterTarget(router=_require(raw, "router", str, where), target=_require(raw, "target", str, where))


def _health_probe(raw: Any, where: str) -> HealthProbe | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {raw!r} is not valid; expected an object with body and content_type")
    return HealthProbe(body=_require(raw, "body", str, where), content_type=str(raw.get("content_type", "application/json")))


def load_config(environ: Mapping[str, str] | None = None) -> RouterConfig:
    """The config from ROUTER_CONFIG (inline JSON) or ROUTER_CONFIG_PATH (a file).

    ROUTER_STATE_MACHINE_ARN, when set, supplies the workflow ARN: it is only known at deploy
    time, while the file is written before (it ships inside the function's code).
    """
    env = os.environ if environ is None else environ
    if env.get("ROUTER_CONFIG"):
        text = env["ROUTER_CONFIG"]
    elif env.get("ROUTER_CONFIG_PATH"):
        with open(env["ROUTER_CONFIG_PATH"], encoding="utf-8") as handle:
            text = handle.read()
    else:
        raise ConfigError("neither ROUTER_CONFIG nor ROUTER_CONFIG_PATH is set")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config is not JSON: {exc}") from None
    if env.get("ROUTER_STATE_MACHINE_ARN") and isinstance(data, dict):
        data["state_machine_arn"] = env["ROUTER_STATE_MACHINE_ARN"]
    return parse_config(data)


def _hhmm(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def is_off_hours(now_local: datetime, window: OffHoursConfig | None) -> bool:
    """True inside the off-hours window (which may wrap midnight); `now_local` is in the window's zone."""
    if window is None:
        return False
    start, end, clock = _hhmm(window.start), _hhmm(window.end), now_local.time().replace(second=0, microsecond=0)
    day = _DAYS[now_local.weekday()]
    if start < end:
        return day in window.days and start <= clock < end
    # Wraps midnight: the evening part belongs to today, the early-morning part to yesterday's window.
    if clock >= start:
        return day in window.days
    yesterday = _DAYS[(now_local.weekday() - 1) % 7]
    return clock < end and yesterday in window.days
