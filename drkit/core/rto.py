"""Worst-case RTO of one regional stack, computed from its resources alone.

    RTO = detection + DNS + capacity
    detection = health check request interval x failure threshold (+ one breaker window when only the
                front door's breakers can see the failure: a hung endpoint still reads InService)
    DNS       = record TTL (resolvers may keep the old answer that long)
    capacity  = the slowest model's time to serve in the region taking over:
                provisioned, already at full capacity (tier 1 latency records): 0
                provisioned secondary that must scale out: instance launch
                  + model-data download timeout + container startup timeout
                serverless: cold start
                async at zero instances: wake alarm + launch + download + startup

It takes `(type token, properties)` pairs so the same function serves the policy pack
(CrossGuard resources), `drkit check`, the drill report and the recovery plans. Property
names are the engine's camelCase; numbers may arrive as floats (protobuf Struct).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drkit.core.catalog import ASYNC_WAKE_ALARM_SECONDS, SERVERLESS_COLD_START_SECONDS, instance_launch_seconds
from drkit.core.type_tokens import ENDPOINT_CONFIG, HEALTH_CHECK, RECORD, SCALABLE_TARGET
from drkit.core.values import number


@dataclass(frozen=True)
class RtoBound:
    """The computed bound and where each second comes from."""

    detection_seconds: float
    dns_seconds: float
    capacity_seconds: float
    record_role: str | None
    capacity_by_endpoint: Mapping[str, float] = field(default_factory=dict)
    breaker_seconds: float = 0.0
    """Time for the front door's breakers to trip first, when the health check cannot see the failure
    on its own (a hung endpoint). Default: 0."""

    @property
    def total_seconds(self) -> float:
        return self.breaker_seconds + self.detection_seconds + self.dns_seconds + self.capacity_seconds

    def explain(self) -> str:
        slowest = max(self.capacity_by_endpoint.items(), key=lambda kv: kv[1], default=("none", 0.0))
        breaker = f"breaker trip {self.breaker_seconds:.0f} s + " if self.breaker_seconds else ""
        return (
            f"{self.total_seconds:.0f} s = {breaker}detection {self.detection_seconds:.0f} s"
            f" + DNS TTL {self.dns_seconds:.0f} s + capacity {self.capacity_seconds:.0f} s"
            f" (slowest: {slowest[0]})"
        )


def record_role(props: Mapping[str, Any]) -> str | None:
    """PRIMARY / SECONDARY / LATENCY for the region's routed record; None for any other record
    (certificate validation, the front door's alias), which does not move traffic."""
    failover = props.get("failoverRoutingPolicies") or []
    if failover:
        return str(failover[0].get("type"))
    if props.get("latencyRoutingPolicies"):
        return "LATENCY"
    return None


def is_probing_check(props: Mapping[str, Any]) -> bool:
    """True for a health check that probes an endpoint (the region's deep /health); False for a
    CALCULATED parent, which only combines its children and adds no detection time."""
    return props.get("type") != "CALCULATED"


def _variant_capacity_seconds(variant: Mapping[str, Any], *, at_zero: bool, must_scale: bool) -> float:
    if variant.get("serverlessConfig"):
        return SERVERLESS_COLD_START_SECONDS
    instance_type = str(variant.get("instanceType") or "")
    new_instance = (
        instance_launch_seconds(instance_type)
        + number(variant.get("modelDataDownloadTimeoutInSeconds"), 3600)
        + number(variant.get("containerStartupHealthCheckTimeoutInSeconds"), 3600)
    )
    if at_zero:
        return ASYNC_WAKE_ALARM_SECONDS + new_instance
    return new_instance if must_scale else 0.0


def worst_case_rto(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> RtoBound:
    """The bound for the region whose resources these are, as the region taking over."""
    items = list(resources)
    checks = [p for t, p in items if t == HEALTH_CHECK and is_probing_check(p)]
    # Only the region's routed record (failover or latency) moves traffic; others (certificate
    # validation, the front door's own alias) do not bound the RTO.
    records = [p for t, p in items if t == RECORD and record_role(p)]
    detection = max(
        (number(c.get("requestInterval"), 30) * number(c.get("failureThreshold"), 3) for c in checks), default=0.0
    )
    dns = max((number(r.get("ttl"), 60) for r in records), default=0.0)
    role = next((r for r in (record_role(p) for p in records) if r), None)
    async_at_zero = {
        str(p.get("resourceId", "")).split("/")[1]
        for t, p in items
        if t == SCALABLE_TARGET and number(p.get("minCapacity"), 1) == 0 and str(p.get("resourceId", "")).count("/") >= 1
    }
    # Only the region that takes over waits for capacity; a primary or an active-active
    # region already serves at its configured capacity.
    must_scale = role == "SECONDARY"
    by_endpoint: dict[str, float] = {}
    for t, p in items:
        if t != ENDPOINT_CONFIG:
            continue
        name = str(p.get("name", "?"))
        endpoint_name = name.rsplit("-", 1)[0]
        is_async = bool(p.get("asyncInferenceConfig"))
        for variant in p.get("productionVariants") or []:
            serverless = bool(variant.get("serverlessConfig"))
            if not must_scale and not (is_async and role == "SECONDARY"):
                seconds = 0.0
            else:
                seconds = _variant_capacity_seconds(
                    variant, at_zero=is_async and endpoint_name in async_at_zero, must_scale=must_scale and not serverless
                )
            by_endpoint[endpoint_name] = max(by_endpoint.get(endpoint_name, 0.0), seconds)
    capacity = max(by_endpoint.values(), default=0.0)
    return RtoBound(detection, dns, capacity, role, by_endpoint)
