"""What a drill needs to know about a deployment, read from the offline graph (never the YAML).

Per region: the health check (interval, threshold), the DNS record (TTL, routing role),
the endpoints with their mode, capacity and timeouts, and the token table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from drkit.components.frontdoor import deployed_router_config
from drkit.core.inference_router import TYPE_TOKEN as INFERENCE_ROUTER
from drkit.core.rto import RtoBound, is_probing_check, worst_case_rto
from drkit.core.type_tokens import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    FUNCTION,
    HEALTH_CHECK,
    RECORD,
    SCALABLE_TARGET,
    TABLE,
    TABLE_REPLICA,
)
from drkit.core.values import number
from drkit.engine.graph import DeploymentGraph, RegionGraph


@dataclass(frozen=True, kw_only=True)
class EndpointFacts:
    """One SageMaker endpoint as the drill sees it."""

    name: str
    model: str
    mode: str  # provisioned | serverless | async (the InferenceType tag)
    instance_type: str
    instances: int
    min_instances: int
    download_timeout_seconds: float
    startup_timeout_seconds: float


@dataclass(frozen=True, kw_only=True)
class RegionFacts:
    """One region's routing and serving facts."""

    region: str
    role: str  # PRIMARY | SECONDARY (spec role)
    record_policy: str  # LATENCY | PRIMARY | SECONDARY
    fqdn: str
    request_interval: float
    failure_threshold: int
    ttl: float
    endpoints: tuple[EndpointFacts, ...]
    table_name: str
    bound: RtoBound
    router_config: Mapping[str, Any]
    """The front door's router config as deployed (its function's `router_config.json`, with the
    workflow ARN its environment supplies); empty when the region has no front door."""
    inference_routers: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    """(router name, routing target) → destination ARNs in the order deployed: the region's
    inference routers as their resources in the graph say. Default: none."""

    def endpoints_for(self, model: str) -> list[EndpointFacts]:
        return [e for e in self.endpoints if e.model == model]

    def without_routers(self) -> RegionFacts:
        """This region as if no model used an inference router (the drill's comparison run)."""
        models = {
            name: {k: v for k, v in model.items() if k != "inference_router"}
            for name, model in dict(self.router_config.get("models") or {}).items()
        }
        config = {**self.router_config, "models": models} if self.router_config else {}
        return replace(self, router_config=config, inference_routers={})


@dataclass(frozen=True, kw_only=True)
class Topology:
    """The whole deployment, primary first."""

    deployment: str
    tier: int
    primary: str
    regions: Mapping[str, RegionFacts]
    models: tuple[str, ...]
    zone_id: str
    record_name: str
    traffic_classes: tuple[tuple[str, str, float], ...]  # (name, kind, timeout_seconds)
    rto_target_seconds: float = 3600.0
    """The spec's RTO target (its tier's unless the spec sets one): a drill that misses it fails."""
    rpo_target_seconds: float = 1.0
    """The spec's RPO target: 0 under strong consistency, else the tier's or the spec's."""
    consistency: str = "eventual"
    """The token table's mode: `eventual` (replication lag) or `strong` (MRSC: no acknowledged write is lost)."""

    @property
    def secondaries(self) -> list[str]:
        return [r for r in self.regions if r != self.primary]

    @property
    def stable_seconds(self) -> float:
        """How long every class must be served before a drill calls it recovered: a resolver's
        longest TTL plus one probe interval of the takeover region's health check."""
        return max(f.ttl for f in self.regions.values()) + self.regions[self.secondaries[0]].request_interval

    @property
    def routed(self) -> bool:
        """Whether any region's front door sends real-time requests through an inference router."""
        return any(f.inference_routers for f in self.regions.values())

    def without_routers(self) -> Topology:
        return replace(self, regions={r: f.without_routers() for r, f in self.regions.items()})


def _router_config(rg: RegionGraph) -> dict[str, Any]:
    """The region's router config as its function would load it; empty without a front door."""
    found = (deployed_router_config(f.inputs) for f in rg.of_type(FUNCTION))
    return next((config for config in found if config is not None), {})


def _region_facts(rg: RegionGraph) -> RegionFacts:
    check = next(c for c in rg.of_type(HEALTH_CHECK) if is_probing_check(c.inputs))  # the deep check drills invert
    record = rg.of_type(RECORD)[0]
    failover = record.get("failoverRoutingPolicies") or []
    policy = str(failover[0]["type"]) if failover else "LATENCY"
    configs = {str(c.get("name")): c for c in rg.of_type(ENDPOINT_CONFIG)}
    minimums = {
        str(t.get("resourceId", "")).split("/")[1]: int(number(t.get("minCapacity"), 1))
        for t in rg.of_type(SCALABLE_TARGET)
        if str(t.get("resourceId", "")).count("/") >= 1
    }
    endpoints = []
    for ep in rg.of_type(ENDPOINT):
        config = configs.get(str(ep.get("endpointConfigName")))
        variant = ((config.get("productionVariants") if config else None) or [{}])[0]
        mode = str(ep.tags.get("InferenceType", "provisioned"))
        instances = 0 if variant.get("serverlessConfig") else int(number(variant.get("initialInstanceCount"), 1))
        name = str(ep.get("name"))
        endpoints.append(
            EndpointFacts(
                name=name,
                model=str(ep.tags.get("Model", "")),
                mode=mode,
                instance_type=str(variant.get("instanceType") or ""),
                instances=instances,
                min_instances=minimums.get(name, instances),
                download_timeout_seconds=number(variant.get("modelDataDownloadTimeoutInSeconds"), 3600),
                startup_timeout_seconds=number(variant.get("containerStartupHealthCheckTimeoutInSeconds"), 3600),
            )
        )
    tables = rg.of_type(TABLE, TABLE_REPLICA)
    table_arn = str(tables[0].outputs.get("arn", "")) if tables else ""
    return RegionFacts(
        region=rg.region,
        role=rg.role.value.upper() if hasattr(rg.role, "value") else str(rg.role),
        record_policy=policy,
        fqdn=str(check.get("fqdn")),
        request_interval=number(check.get("requestInterval"), 30),
        failure_threshold=int(number(check.get("failureThreshold"), 3)),
        ttl=number(record.get("ttl"), 60),
        endpoints=tuple(endpoints),
        table_name=table_arn.rsplit("/", 1)[-1],
        bound=worst_case_rto((r.type, r.inputs) for r in rg.custom_resources),
        router_config=_router_config(rg),
        inference_routers={
            (str(r.get("routerName")), str(t["name"])): tuple(t["destinations"])
            for r in rg.of_type(INFERENCE_ROUTER)
            for t in r.get("routingTargets") or []
        },
    )


def topology_of(graph: DeploymentGraph) -> Topology:
    """Read the drill's view of a deployment from its captured graph."""
    spec = graph.spec
    return Topology(
        deployment=spec.deployment,
        tier=int(spec.tier),
        primary=spec.primary_region,
        regions={rg.region: _region_facts(rg) for rg in graph},
        models=tuple(m.name for m in spec.models),
        zone_id=str(graph.primary.of_type(RECORD)[0].get("zoneId", "")),
        record_name=str(graph.primary.of_type(RECORD)[0].get("name", "")),
        traffic_classes=tuple((c.name, c.kind.value, float(c.timeout_seconds)) for c in spec.traffic_classes),
        rto_target_seconds=float(spec.rto_seconds),
        rpo_target_seconds=float(spec.rpo_seconds),
        consistency=spec.consistency,
    )
