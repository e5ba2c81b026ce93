"""The simulated deployment in motion: health checkers, clients, serving capacity, the
global table, in-flight requests and redrive, all on one virtual clock.

Measured, not replayed: a class's RTO is the time from injection until every synthetic
client's request of that class is answered by a region other than the injected one. Those
requests, and Route 53's probes of `/health`, go through each region's real router
(`frontdoor.FrontDoors`): its fallbacks, circuit breakers and deep health are part of what
is measured. A class is answered by a result, or by an acceptance when it routes to a queue. It
comes out of health-checker ticks (with random phases), resolver caches expiring at
random offsets within the TTL, and capacity becoming ready (serverless cold start,
async scale-from-zero) — the planning figures of `drkit.core.catalog` and the variants'
own timeouts are the only inputs.

Exactly-once: realtime requests are retried by their client with the same request id;
async requests are redriven from the replicated token records by the takeover region.
Both claim a record with a conditional write on its version, and only the winner runs
the model; a request the replica never saw (written inside the replication lag) is
resubmitted by its client, `put_if_absent` on the request id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from drkit.commands.drill.clock import VirtualClock
from drkit.commands.drill.doubles import FAILING, NOT_READY, SERVED, TIMEOUT
from drkit.commands.drill.fidelity import (
    ConditionFailedError,
    DnsRecord,
    HealthChecker,
    RegionOutage,
    RegionUnavailableError,
    ReplicatedTable,
    Resolver,
    dns_answer,
    route_through_router,
    seeded,
)
from drkit.commands.drill.frontdoor import FrontDoors, payload_client
from drkit.commands.drill.topology import EndpointFacts, Topology
from drkit.core.catalog import ASYNC_WAKE_ALARM_SECONDS, SERVERLESS_COLD_START_SECONDS, instance_launch_seconds
from drkit.core.routing import ENDPOINT_MODE, PATH_FALLBACK, ClassInfo, ClassKind, Path, route

IN_PROGRESS, DONE = "IN_PROGRESS", "DONE"
# Synthetic payload sizes per class kind (bytes, uniform): what the drill's clients send.
# The path each request takes is then decided by `drkit.core.routing.route`, as in production.
PAYLOAD_BYTES = {"critical": (512, 64_000), "standard": (1_000, 2_000_000), "bulk": (1_000_000, 200_000_000)}
PROBE_BYTES = 2_048  # the availability probe of each class
# The wall time of t=0 the routers see: Wednesday 2026-01-07 14:00 UTC, business hours from
# US Eastern to Central Europe, so off-hours routing rules stay out of the measurement.
WALL_CLOCK_AT_INJECTION = 1_767_794_400.0


@dataclass(frozen=True, kw_only=True)
class SimSettings:
    """Knobs of the simulated world."""

    seed: int = 7
    """Seed for phases and durations. Default: 7."""
    replication_lag_seconds: float = 0.8
    """Global-table replication lag. Default: 0.8 (drkit's assumption for "sub-second"; AWS gives
    no figure — set it from the table's ReplicationLatency metric, DynamoDB developer guide,
    "Monitoring global tables", read 2026-11)."""
    clients: int = 24
    """Synthetic clients, spread over the regions by home. Default: 24."""
    in_flight: int = 1000
    """Requests in flight at the injection. Default: 1000."""
    download_fraction: float = 0.5
    """Share of a variant's model-download timeout a launch actually takes. Default: 0.5."""
    startup_fraction: float = 0.5
    """Share of a variant's container-startup timeout a launch actually takes. Default: 0.5."""
    async_processing_seconds: tuple[float, float] = (30.0, 600.0)
    """Range of an async job's run time. Default: 30-600 s."""
    wall_clock_at_injection: float = WALL_CLOCK_AT_INJECTION
    """Epoch seconds the routers see at t=0 (breaker windows, budgets, off-hours). Default: 2026-01-07 14:00 UTC."""


@dataclass
class _Endpoint:
    facts: EndpointFacts
    ready_at: float | None  # None: no capacity and nothing launching
    # Serverless: each concurrent caller needs a warm container; a cold endpoint
    # starts one per new caller (the cold start is per container, not per endpoint).
    slots: dict[int, float] = field(default_factory=dict)


@dataclass
class _Request:
    request_id: str
    traffic_class: str
    route: Path  # the routing engine's decision
    model: str
    path: str  # the endpoint mode that accepted it in its home region
    client: int
    submitted: float
    finish_at: float | None  # in the home region, if it survives
    done: bool = False
    awaiting_capacity: str | None = None  # region where it was claimed/resubmitted


@dataclass
class Measurement:
    """What the observation measured, in virtual seconds since the injection."""

    rto_by_class: dict[str, float | None] = field(default_factory=dict)
    rpo_seconds: float | None = 0.0
    unreplicated_at_cut: int = 0
    failback_seconds: float | None = None
    timeline: list[tuple[float, str]] = field(default_factory=list)
    executions: Counter = field(default_factory=Counter)
    in_flight_ids: list[str] = field(default_factory=list)
    redriven: int = 0
    resubmitted: int = 0
    retried: int = 0
    front_door: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per region: what its router answered the drill's requests (FrontDoors.summary)."""
    failed_by_class: Counter = field(default_factory=Counter)
    """Probe requests not answered as their class needs (or answered by the injected region), per class."""
    failed_seconds_by_class: dict[str, int] = field(default_factory=dict)
    """Virtual seconds in which at least one of the class's probe requests failed."""
    without_routers: dict[str, Any] | None = None
    """The same drill on the same deployment without inference routers (set when it has any)."""

    @property
    def lost(self) -> list[str]:
        return [r for r in self.in_flight_ids if self.executions[r] == 0]

    @property
    def run_twice(self) -> list[str]:
        return [r for r in self.in_flight_ids if self.executions[r] > 1]


class DeploymentSim:
    """One deployment's regions, clients and requests on a virtual clock (t=0 is the injection)."""

    def __init__(self, topo: Topology, settings: SimSettings | None = None) -> None:
        self.topo, self.settings = topo, settings or SimSettings()
        self.rng = seeded(self.settings.seed)
        self.classes = {name: ClassInfo(name, ClassKind(kind), int(timeout)) for name, kind, timeout in topo.traffic_classes}
        self.clock = VirtualClock(now=-10.0)
        self.outage = RegionOutage()
        self.failed_models: set[tuple[str, str]] = set()
        self.hung_models: set[tuple[str, str]] = set()  # endpoints that time out but still report InService
        self.takeover = topo.secondaries[0]
        regions = tuple(topo.regions)
        self.checkers = {
            r: HealthChecker(
                r, f.request_interval, f.failure_threshold, phase=self.clock.now + self.rng.uniform(0, f.request_interval)
            )
            for r, f in topo.regions.items()
        }
        self.records = [DnsRecord(r, f.record_policy, f.ttl) for r, f in topo.regions.items()]
        self.ttl = max(f.ttl for f in topo.regions.values())
        # Strong consistency (MRSC) acknowledges a write only once it is replicated: nothing is ever behind.
        lag = 0.0 if topo.consistency == "strong" else self.settings.replication_lag_seconds
        self.table = ReplicatedTable(regions, lag, self.outage)
        self.endpoints: dict[str, list[_Endpoint]] = {}
        for r, f in topo.regions.items():
            active = r == topo.primary or f.record_policy == "LATENCY"
            self.endpoints[r] = [_Endpoint(e, self._steady_ready(e, active)) for e in f.endpoints]
        self.by_name = {r: {ep.facts.name: ep for ep in eps} for r, eps in self.endpoints.items()}
        self.front = FrontDoors(topo, self, clock=lambda: self.settings.wall_clock_at_injection + self.clock.now)
        # Clients: homes spread over the regions; primary-homed clients prefer the takeover region next.
        self.preferences = []
        for i in range(self.settings.clients):
            home = regions[i % len(regions)]
            rest = [self.takeover] + [r for r in regions if r not in (home, self.takeover)]
            self.preferences.append([home] + [r for r in rest if r != home])
        self.resolvers = [Resolver() for _ in self.preferences]
        for resolver, pref in zip(self.resolvers, self.preferences, strict=True):
            resolver.resolve(self.clock.now, partial(self._answer, pref), self.ttl)
            resolver.expires = self.clock.now + self.rng.uniform(0, self.ttl)  # caches fill at random times
        self.requests: dict[str, _Request] = {}
        self.m = Measurement()
        self._last_failure: dict[str, float] = {}
        self._injected = topo.primary
        self._reported: dict[str, bool] = {r: True for r in regions}

    # -- capacity -------------------------------------------------------------------------
    @staticmethod
    def _steady_ready(e: EndpointFacts, active: bool) -> float | None:
        if e.mode == "serverless":
            return float("-inf") if active else None  # a standby serverless endpoint is cold
        count = e.instances if active else e.min_instances
        return float("-inf") if count > 0 else None

    def _launch_seconds(self, e: EndpointFacts) -> float:
        s = self.settings
        if e.mode == "serverless":
            return SERVERLESS_COLD_START_SECONDS
        new_instance = (
            instance_launch_seconds(e.instance_type)
            + e.download_timeout_seconds * s.download_fraction
            + e.startup_timeout_seconds * s.startup_fraction
        )
        return new_instance + (ASYNC_WAKE_ALARM_SECONDS if e.mode == "async" else 0.0)

    def _endpoint(self, region: str, model: str, path: Path) -> _Endpoint | None:
        """The region's endpoint for a routed request, falling back as the workflow does."""
        by_mode = {ep.facts.mode: ep for ep in self.endpoints[region] if ep.facts.model == model}
        modes = (ENDPOINT_MODE[p] for p in PATH_FALLBACK[path])
        return next((by_mode[m] for m in modes if m in by_mode), None)

    def _ready(self, region: str, ep: _Endpoint, caller: int) -> bool:
        """Whether `ep` answers `caller` now, starting a cold start or scale-out if nothing is warm."""
        now = self.clock.now
        if ep.facts.mode == "serverless" and ep.ready_at != float("-inf"):
            ready = ep.slots.setdefault(caller, now + SERVERLESS_COLD_START_SECONDS)
            if ep.ready_at is None:
                ep.ready_at = ready
                self.m.timeline.append((round(now, 1), f"{region}: {ep.facts.name} cold start"))
            return ready <= now
        if ep.ready_at is None:
            ep.ready_at = now + self._launch_seconds(ep.facts)
            self.m.timeline.append((round(now, 1), f"{region}: {ep.facts.name} launching, ready at +{ep.ready_at - now:.0f} s"))
        if ep.facts.mode == "async":
            return True  # an async endpoint accepts into its queue even at zero instances
        return ep.ready_at <= now

    def _serve(self, region: str, model: str, path: Path, caller: int) -> _Endpoint | None:
        """The endpoint that answers a routed request now, falling back as the workflow does."""
        if region in self.outage.down or self._broken(region, model):
            return None
        ep = self._endpoint(region, model, path)
        return ep if ep is not None and self._ready(region, ep, caller) else None

    # -- what the routers' AWS calls reach (frontdoor.World) ----------------------------------
    def region_down(self, region: str) -> bool:
        return region in self.outage.down

    def invoke(self, region: str, endpoint: str, body: bytes) -> str:
        """InvokeEndpoint: SERVED, NOT_READY (capacity still coming) or FAILING."""
        ep = self.by_name[region][endpoint]
        if (region, ep.facts.model) in self.failed_models:
            return FAILING
        if (region, ep.facts.model) in self.hung_models:
            return TIMEOUT
        return SERVED if self._ready(region, ep, payload_client(body)) else NOT_READY

    def invoke_router(self, region: str, router: str, target: str, body: bytes) -> tuple[str, str, str]:
        """InvokeInferenceRouter on `region`'s router: its deployed destinations, AWS's selection rules."""
        destinations = self.topo.regions[region].inference_routers[(router, target)]
        client = payload_client(body)

        def attempt(arn: str) -> str:
            where, name = arn.split(":")[3], arn.rsplit("/", 1)[-1]
            if where in self.outage.down:
                return FAILING  # the destination's region does not answer: a connection error, retryable
            endpoint = next((n for n in self.by_name[where] if n.lower() == name), None)
            return self.invoke(where, endpoint, body) if endpoint else FAILING

        routed = route_through_router(region, destinations, attempt, spread=client, served=SERVED, timeout=TIMEOUT)
        return routed.outcome, routed.destination, routed.reason

    def _broken(self, region: str, model: str) -> bool:
        return (region, model) in self.failed_models or (region, model) in self.hung_models

    def endpoint_status(self, region: str, endpoint: str) -> str | None:
        """DescribeEndpoint's status; None when the region has no such endpoint."""
        ep = self.by_name[region].get(endpoint)
        if ep is None:
            return None
        return "Failed" if (region, ep.facts.model) in self.failed_models else "InService"

    def workflow_started(self, region: str, execution_input: Mapping[str, Any]) -> None:
        """A workflow execution invokes its endpoint, which starts async capacity from zero."""
        ep = self._endpoint(region, str(execution_input["model"]), Path(execution_input["path"]))
        if ep is not None:
            self._ready(region, ep, caller=-1)

    def deep_health(self, region: str) -> bool:
        """GET /health of the region's front door (its router's deep check); no answer in an outage."""
        return region not in self.outage.down and self.front.healthy(region)

    def _answer(self, preference: list[str]) -> str:
        return dns_answer(self.records, self.checkers, preference)

    # -- the in-flight workload --------------------------------------------------------------
    def submit_in_flight(self) -> None:
        """N requests accepted by the primary in the 10 s before the injection, none finished."""
        n, classes = self.settings.in_flight, self.topo.traffic_classes
        primary_clients = [i for i, p in enumerate(self.preferences) if p[0] == self.topo.primary]
        lo, hi = self.settings.async_processing_seconds
        start = self.clock.now
        for i in range(n):
            name, kind, _timeout = classes[i % len(classes)]
            model = self.topo.models[i % len(self.topo.models)]
            decision = route(int(self.rng.uniform(*PAYLOAD_BYTES[kind])), name, classes=self.classes).path
            ep = self._endpoint(self.topo.primary, model, decision)
            path = ep.facts.mode if ep else "provisioned"
            submitted = start + (i + 0.5) * (-start) / n
            finish = self.rng.uniform(0.2, 2.0) if path != "async" else self.rng.uniform(lo, hi)
            rid = f"drill-{i:05d}"
            req = _Request(rid, name, decision, model, path, primary_clients[i % len(primary_clients)], submitted, finish)
            self.requests[rid] = req
            self.table.put_if_absent(
                self.topo.primary,
                rid,
                {"request_id": rid, "home_region": self.topo.primary, "status": IN_PROGRESS, "path": path, "model": model},
                submitted,
            )
            self.m.in_flight_ids.append(rid)
            self.table.pump(submitted)
        self.clock.now = 0.0
        self.table.pump(0.0)

    def cut(
        self, *, outage: set[str], inverted: set[str], failed: set[tuple[str, str]], hung: set[tuple[str, str]] | None = None
    ) -> None:
        """Apply the injected account state at t=0 and record the RPO at the cut."""
        for region, checker in self.checkers.items():  # probes before the cut saw the healthy world
            checker.advance_to(self.clock.now, partial(self.deep_health, region))
        self.outage.down |= outage
        self.failed_models |= failed
        self.hung_models |= hung or set()
        for r in inverted:
            self.checkers[r].inverted = True
        behind = self.table.unreplicated(self.topo.primary, self.takeover)
        self.m.unreplicated_at_cut = len(behind)
        self.m.rpo_seconds = round(max((self.clock.now - w for _, w in behind), default=0.0), 3)
        self.m.timeline.append(
            (0.0, f"inject: outage={sorted(outage)} inverted={sorted(inverted)} failed={sorted(failed)} hung={sorted(hung or ())}")
        )

    def restore(self) -> None:
        self.outage.down.clear()
        self.failed_models.clear()
        self.hung_models.clear()
        for c in self.checkers.values():
            c.inverted = False
        self.m.timeline.append((round(self.clock.now, 1), "restore: account back to its snapshot"))

    # -- one virtual second -------------------------------------------------------------------
    def tick(self, *, measure: bool = True, failback_since: float | None = None) -> None:
        now = self.clock.advance(1.0)
        for region, checker in self.checkers.items():
            checker.advance_to(now, partial(self.deep_health, region))
            if checker.reported_healthy != self._reported[region]:
                self._reported[region] = checker.reported_healthy
                state = "healthy" if checker.reported_healthy else "unhealthy"
                self.m.timeline.append((round(now, 1), f"{region}: Route 53 reports {state}"))
        self.table.pump(now)
        self._finish_home_work(now)
        self._redrive(now)
        self._client_work(now)
        if measure:
            self._probe_classes(now)
        if failback_since is not None and self.m.failback_seconds is None and self._all_home(now):
            self.m.failback_seconds = round(now - failback_since, 1)
            self.m.timeline.append((round(now, 1), "fail back: every client served by its home region"))

    def _complete(self, req: _Request, region: str, now: float) -> None:
        item = self.table.get(region, req.request_id)
        if item is None or item["status"] == DONE:
            return
        self.table.update_if(region, req.request_id, version=item["version"], changes={"status": DONE}, now=now)
        req.done = True

    def _finish_home_work(self, now: float) -> None:
        home = self.topo.primary
        if home in self.outage.down:
            return
        for req in self.requests.values():
            if req.done or req.awaiting_capacity or req.finish_at is None or req.finish_at > now:
                continue
            if self._broken(home, req.model):
                continue
            item = self.table.get(home, req.request_id)
            if item and item["status"] == IN_PROGRESS and item["home_region"] == home:
                self.m.executions[req.request_id] += 1
                self._complete(req, home, now)

    def _home_lost(self, req: _Request) -> bool:
        return self.topo.primary in self.outage.down or self._broken(self.topo.primary, req.model)

    def _claim(self, region: str, req: _Request, now: float) -> bool:
        """Take ownership of a record (conditional on its version); False if another did."""
        item = self.table.get(region, req.request_id)
        try:
            if item is None:
                self.table.put_if_absent(
                    region, req.request_id,
                    {"request_id": req.request_id, "home_region": region, "status": IN_PROGRESS, "path": req.path, "model": req.model},
                    now,
                )  # fmt: skip
                self.m.resubmitted += 1
            elif item["status"] == IN_PROGRESS and item["home_region"] != region:
                self.table.update_if(region, req.request_id, version=item["version"], changes={"home_region": region}, now=now)
            else:
                return False
        except ConditionFailedError:
            return False
        req.finish_at = None
        return True

    def _redrive(self, now: float) -> None:
        """The takeover region redrives async records whose home region cannot finish them."""
        region = self.takeover
        if not self.deep_health(region) or self.checkers[self.topo.primary].reported_healthy:
            return
        for item in self.table.scan(region):
            req = self.requests.get(item["request_id"])
            if req is None or req.done or req.path != "async" or req.awaiting_capacity or not self._home_lost(req):
                continue
            ep = self._serve(region, req.model, req.route, req.client)
            if ep is not None and self._claim(region, req, now):
                req.awaiting_capacity = region
                self.m.redriven += 1
        self._drain(region, now)

    def _drain(self, region: str, now: float) -> None:
        for req in self.requests.values():
            if req.awaiting_capacity != region or req.done:
                continue
            ep = self._endpoint(region, req.model, req.route)
            ready = ep.slots.get(req.client, ep.ready_at) if ep is not None and ep.slots else (ep.ready_at if ep else None)
            if ready is not None and ready <= now and region not in self.outage.down:
                self.m.executions[req.request_id] += 1
                self._complete(req, region, now)

    def _client_work(self, now: float) -> None:
        """Clients retry failed realtime calls and resubmit async requests no replica knows."""
        for req in self.requests.values():
            if req.done or req.awaiting_capacity or not self._home_lost(req):
                continue
            region = self.resolvers[req.client].resolve(now, partial(self._answer, self.preferences[req.client]), self.ttl)
            if region == self.topo.primary and self._home_lost(req) and req.path != "async":
                continue  # still resolving to the lost region: the call fails, retry next second
            if req.path == "async":
                try:
                    known = self.table.get(region, req.request_id)
                except RegionUnavailableError:
                    continue
                if known is not None:
                    continue  # the takeover region's redrive owns it
            ep = self._serve(region, req.model, req.route, req.client)
            if ep is None or not self._claim(region, req, now):
                continue
            self.m.retried += req.path != "async"
            req.awaiting_capacity = region
            self._drain(region, now)

    def _probe_classes(self, now: float) -> None:
        """Each client sends one request per class to the front door its resolver answers."""
        for name in self.classes:
            for i, resolver in enumerate(self.resolvers):
                region = resolver.resolve(now, partial(self._answer, self.preferences[i]), self.ttl)
                if region in self.outage.down:  # the request never reaches a front door
                    self._fail(name, now)
                    continue
                answer = self.front.infer(
                    region, client=i, model=self.topo.models[i % len(self.topo.models)], traffic_class=name,
                    payload_bytes=PROBE_BYTES, request_id=f"probe-{int(now)}-{i}-{name}",
                )  # fmt: skip
                # Recovered means answered by a region other than the injected one: the front door's
                # own endpoints, or an inference router's destination elsewhere.
                if answer.serving_region == self._injected or not answer.served:
                    self._fail(name, now)  # no break: every caller's request starts its capacity

    def _fail(self, name: str, now: float) -> None:
        self.m.failed_by_class[name] += 1
        if self._last_failure.get(name) != now:
            self.m.failed_seconds_by_class[name] = self.m.failed_seconds_by_class.get(name, 0) + 1
        self._last_failure[name] = now

    def _all_home(self, now: float) -> bool:
        for i, resolver in enumerate(self.resolvers):
            region = resolver.resolve(now, partial(self._answer, self.preferences[i]), self.ttl)
            if self.preferences[i][0] == self.topo.primary and region != self.topo.primary:
                return False
        return True

    # -- the drill's view -----------------------------------------------------------------------
    def served(self, stable_seconds: float) -> bool:
        """Every class answered outside the injected region for `stable_seconds`."""
        now = self.clock.now
        return all(now - self._last_failure.get(name, 0.0) >= stable_seconds for name, _, _ in self.topo.traffic_classes)

    def settle_rto(self) -> None:
        for name, _, _ in self.topo.traffic_classes:
            last = self._last_failure.get(name)
            rto = 0.0 if last is None else round(last + 1.0, 1)
            self.m.rto_by_class[name] = rto
            self.m.timeline.append((rto, f"class {name}: served outside the injected region"))

    def pending(self) -> int:
        return sum(1 for r in self.requests.values() if not r.done)

    def summary(self) -> dict[str, Any]:
        return {"now": self.clock.now, "pending": self.pending(), "executions": sum(self.m.executions.values())}
