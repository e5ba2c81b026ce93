"""What moto does not model, on the virtual clock.

- Route 53 health checkers: a probe every `request_interval`; the status flips after
  `failure_threshold` consecutive failures (or successes); `inverted` flips the
  reported status. moto always reports healthy, so this is the drill's source of truth.
- DNS answers for failover and latency records that honour health, and resolvers that
  keep an answer for the record's TTL.
- Global-table replication with a configurable lag (moto's replicas do not replicate),
  conditional writes for exactly-once, last-writer-wins on arrival.
- A region outage: every call to that region fails as a real outage would, including
  boto3 calls (a botocore ``before-send`` hook raising ``EndpointConnectionError``).
- A SageMaker AI inference router (`route_through_router`): the selection order, the one
  retry and the no-retry-on-timeout rule that AWS documents (drkit.core.inference_router).

Route 53 semantics follow the Route 53 developer guide, "How Amazon Route 53 determines
whether a health check is healthy" and "Values specific for failover records"
(read 2026-11): a disabled check counts as healthy, so drills invert, never disable;
when every latency record is unhealthy Route 53 answers as if all were healthy.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import EndpointConnectionError


class RegionUnavailableError(Exception):
    """A call into a region that is down (the sim's stand-in for a connect timeout)."""

    def __init__(self, region: str) -> None:
        self.region = region
        super().__init__(f"region {region} is not answering")


@dataclass
class RegionOutage:
    """The set of regions that are down."""

    down: set[str] = field(default_factory=set)

    def check(self, region: str) -> None:
        if region in self.down:
            raise RegionUnavailableError(region)

    def install(self, client: Any) -> None:
        """Make every call of a boto3 client to a down region fail with EndpointConnectionError."""
        region = client.meta.region_name

        def refuse(request: Any = None, **_: Any) -> None:
            if region in self.down:
                raise EndpointConnectionError(endpoint_url=getattr(request, "url", region))

        client.meta.events.register("before-send", refuse)


@dataclass
class HealthChecker:
    """One Route 53 health check: probes on its interval, flips after `threshold` in a row."""

    region: str
    request_interval: float
    failure_threshold: int
    inverted: bool = False
    phase: float = 0.0
    healthy: bool = True  # the status Route 53 reports
    _streak: int = 0
    _next_probe: float | None = None

    def advance_to(self, now: float, probe: Callable[[], bool]) -> None:
        """Run every probe due up to `now`. `probe()` is the endpoint's current answer."""
        if self._next_probe is None:
            self._next_probe = self.phase
        while self._next_probe <= now:
            ok = probe() != self.inverted  # an inverted check counts a 200 as a failure
            if ok == self.healthy:
                self._streak = 0
            else:
                self._streak += 1
                if self._streak >= self.failure_threshold:
                    self.healthy, self._streak = ok, 0
            self._next_probe += self.request_interval

    @property
    def reported_healthy(self) -> bool:
        return self.healthy


@dataclass(frozen=True)
class DnsRecord:
    """One record set of the deployment's name: latency (region) or failover (PRIMARY/SECONDARY)."""

    region: str
    policy: str  # LATENCY | PRIMARY | SECONDARY
    ttl: float


def dns_answer(records: Iterable[DnsRecord], checkers: Mapping[str, HealthChecker], preference: list[str]) -> str:
    """The region Route 53 answers with for a client whose nearest regions are `preference`."""
    records = list(records)
    healthy = {r.region for r in records if checkers[r.region].reported_healthy}
    if all(r.policy == "LATENCY" for r in records):
        candidates = [p for p in preference if p in healthy] or [p for p in preference if p in {r.region for r in records}]
        return candidates[0]
    primary = next(r.region for r in records if r.policy == "PRIMARY")
    secondary = next((r.region for r in records if r.policy == "SECONDARY"), primary)
    if primary in healthy:
        return primary
    # Both unhealthy: Route 53 returns the primary (it considers both healthy).
    return secondary if secondary in healthy else primary


@dataclass
class Resolver:
    """A client's resolver cache: keeps an answer for the record's TTL."""

    answer: str | None = None
    expires: float = float("-inf")

    def resolve(self, now: float, lookup: Callable[[], str], ttl: float) -> str:
        if self.answer is None or now >= self.expires:
            self.answer, self.expires = lookup(), now + ttl
        return self.answer


class ConditionFailedError(Exception):
    """A conditional write lost (DynamoDB ConditionalCheckFailedException)."""


@dataclass
class ReplicatedTable:
    """A global table: one replica per region, writes reach the others `lag` seconds later."""

    regions: tuple[str, ...]
    lag: float
    outage: RegionOutage
    replicas: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _pending: list[tuple[float, str, str, str, dict[str, Any]]] = field(default_factory=list)
    written_at: dict[tuple[str, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for region in self.regions:
            self.replicas.setdefault(region, {})

    def get(self, region: str, key: str) -> dict[str, Any] | None:
        self.outage.check(region)
        item = self.replicas[region].get(key)
        return dict(item) if item else None

    def scan(self, region: str) -> list[dict[str, Any]]:
        self.outage.check(region)
        return [dict(i) for i in self.replicas[region].values()]

    def _write(self, region: str, key: str, item: dict[str, Any], now: float) -> None:
        self.replicas[region][key] = item
        self.written_at[(region, key)] = now
        for other in self.regions:
            if other != region:
                self._pending.append((now + self.lag, region, other, key, dict(item)))

    def put_if_absent(self, region: str, key: str, item: dict[str, Any], now: float) -> None:
        self.outage.check(region)
        if key in self.replicas[region]:
            raise ConditionFailedError(key)
        self._write(region, key, {**item, "version": 1}, now)

    def update_if(self, region: str, key: str, *, version: int, changes: Mapping[str, Any], now: float) -> dict:
        """Conditional update on the item's version (token records change only this way)."""
        self.outage.check(region)
        current = self.replicas[region].get(key)
        if current is None or current["version"] != version:
            raise ConditionFailedError(key)
        item = {**current, **changes, "version": version + 1}
        self._write(region, key, item, now)
        return item

    def pump(self, now: float) -> None:
        """Deliver replication that is due; a down source or target holds it back."""
        keep = []
        for entry in self._pending:
            due, source, target, key, item = entry
            if due > now or source in self.outage.down or target in self.outage.down:
                keep.append(entry)
                continue
            current = self.replicas[target].get(key)
            if current is None or current["version"] <= item["version"]:
                self.replicas[target][key] = item
        self._pending = keep

    def unreplicated(self, source: str, target: str) -> list[tuple[str, float]]:
        """(key, written_at) of writes in `source` that `target` has not received yet."""
        return [
            (k, self.written_at.get((s, k), due - self.lag)) for due, s, t, k, _ in self._pending if (s, t) == (source, target)
        ]


@dataclass(frozen=True)
class Routed:
    """What one InvokeInferenceRouter call ended in: the outcome, the destination that gave it, and
    the RoutingReason AWS would report (InvokeInferenceRouter's RoutingReason header)."""

    outcome: str
    destination: str
    reason: str
    attempts: int


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def route_through_router(
    own_region: str,
    destinations: tuple[str, ...],
    attempt: Callable[[str], str],
    *,
    spread: int,
    served: str,
    timeout: str,
) -> Routed:
    """One request through an inference router with RoutingPreference LocalRegionFirst.

    As AWS documents it (RoutingTarget.RoutingPreference and InvokeInferenceRouter, botocore
    sagemaker 2017-07-24 / sagemaker-inference-router-runtime 2026-01-01): the router uses
    destinations in its own region first; when a request leaves the region it is spread across
    the destinations in other regions (`spread` picks one, e.g. the caller's number); a destination
    error it can retry is retried once on another destination; a timeout is never retried.
    Not modelled, because AWS publishes no figure for it: how fast the router learns that a
    destination is unhealthy and stops trying it first. The sim assumes it never learns — every
    request tries its own region first — so a fast-failing local endpoint costs a second attempt
    per request, never a failed request.
    """
    local = [d for d in destinations if arn_region(d) == own_region]
    remote = [d for d in destinations if arn_region(d) != own_region]
    order = local[:1] + ([remote[spread % len(remote)]] if remote else []) + local[1:]
    if not order:
        return Routed("failing", "", "failover", 0)
    first = attempt(order[0])
    reason = "local-preferred" if order[0] in local else ("only-healthy" if len(remote) == 1 else "capacity-available")
    if first in (served, timeout) or len(order) < 2:
        return Routed(first, order[0], reason, 1)
    return Routed(attempt(order[1]), order[1], "failover", 2)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)
