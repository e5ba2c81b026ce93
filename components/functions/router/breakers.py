"""Per-endpoint circuit breakers, persisted in the token table so they survive a cold start.

States (the usual three, e.g. Nygard, "Release It!", and AWS Builders' Library "Timeouts,
retries and backoff with jitter")::

    CLOSED ──(error rate or slow rate over the window)──► OPEN ──(cool-down)──► HALF_OPEN
       ▲                                                   ▲                       │
       └──────────────(`half_open_probes` successes)───────┼───────────────────────┘
                                                           └──(any probe fails)────┘

The sliding window is a ring of fixed buckets (counts of requests, errors and slow
requests), so the state fits one small item. "p-latency over the threshold" is decided
exactly from counts: the p95 latency exceeds T iff more than 5 % of the window's requests
took longer than T.

Persistence: one item per (region, endpoint), key ``breaker#<region>#<endpoint>``. The
region is in the key because the table is global and endpoint names are identical in every
region: without it, a region's open breaker would replicate into the healthy region. Every
write is conditional on the item's ``version`` (the same discipline as drkit/core/tokens.py),
so two concurrent Lambdas cannot lose each other's counts; a lost race re-reads and retries.
Breaker items carry no ``home_region``, so they never appear in the redrive index.

All decisions are pure functions of (snapshot, now, config); the store is the only I/O.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from drkit.core.tokens import HASH_KEY

MAX_WRITE_ATTEMPTS = 5


class BreakerState(str, Enum):
    """Whether requests may reach an endpoint."""

    CLOSED = "closed"  # traffic flows; outcomes are counted
    OPEN = "open"  # traffic goes to the fallback path until the cool-down ends
    HALF_OPEN = "half_open"  # a few probes may pass; their outcome decides


@dataclass(frozen=True, kw_only=True)
class BreakerConfig:
    """Thresholds of one breaker. Defaults suit a real-time endpoint with a 60 s hard limit."""

    window_seconds: int = 60
    """Length of the sliding window. Default: 60."""
    bucket_seconds: int = 10
    """Width of one window bucket. Default: 10 (six buckets)."""
    min_requests: int = 10
    """Requests in the window before the breaker may trip, so one error at night does not. Default: 10."""
    error_rate: float = 0.5
    """Fraction of failed requests that trips the breaker. Default: 0.5."""
    latency_ms: float = 2000.0
    """Latency threshold for the percentile test. Default: 2000 ms."""
    latency_percentile: float = 0.95
    """Percentile compared with `latency_ms`: trips when more than 1 - p of requests are slower. Default: 0.95."""
    cool_down_seconds: int = 30
    """Time open before probes are let through. Default: 30."""
    half_open_probes: int = 3
    """Probes allowed while half-open, and successes needed to close. Default: 3."""

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any]) -> BreakerConfig:
        """Defaults with the given overrides; unknown names are an error naming the valid ones."""
        valid = set(cls.__dataclass_fields__)
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise ValueError(f"breaker.{unknown[0]}: unknown setting; valid: {', '.join(sorted(valid))}")
        return cls(**overrides)


@dataclass(frozen=True)
class Bucket:
    """Counts of one window bucket starting at `start` (epoch seconds, bucket-aligned)."""

    start: int
    requests: int = 0
    errors: int = 0
    slow: int = 0


@dataclass(frozen=True, kw_only=True)
class BreakerSnapshot:
    """A breaker as stored: state, window, probe counts and the version guarding writes."""

    endpoint: str
    state: BreakerState = BreakerState.CLOSED
    buckets: tuple[Bucket, ...] = ()
    opened_at: float = 0.0
    probes_started: int = 0
    probe_successes: int = 0
    probed_at: float = 0.0
    """When the last probe was admitted: a probe lost with its Lambda is re-issued a cool-down later."""
    version: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Admission:
    """Whether one request may use the endpoint now, and the snapshot to persist if it changed."""

    allowed: bool
    snapshot: BreakerSnapshot
    changed: bool


# --- pure decisions -----------------------------------------------------------------------------


def _window(snapshot: BreakerSnapshot, now: float, config: BreakerConfig) -> tuple[Bucket, ...]:
    oldest = now - config.window_seconds
    return tuple(b for b in snapshot.buckets if b.start + config.bucket_seconds > oldest)


def totals(snapshot: BreakerSnapshot, now: float, config: BreakerConfig) -> Bucket:
    """Sum of the buckets still inside the window at `now` (start = 0)."""
    live = _window(snapshot, now, config)
    return Bucket(0, sum(b.requests for b in live), sum(b.errors for b in live), sum(b.slow for b in live))


def trip_reason(window: Bucket, config: BreakerConfig) -> str | None:
    """Why the window trips the breaker, or None."""
    if window.requests < config.min_requests:
        return None
    if window.errors / window.requests >= config.error_rate:
        return f"error rate {window.errors}/{window.requests} ≥ {config.error_rate:.0%}"
    if window.slow / window.requests > 1 - config.latency_percentile:
        pct = round(config.latency_percentile * 100)
        return f"p{pct} latency > {config.latency_ms:.0f} ms ({window.slow}/{window.requests} slower)"
    return None


def advance(snapshot: BreakerSnapshot, now: float, config: BreakerConfig) -> BreakerSnapshot:
    """The snapshot at `now`: OPEN becomes HALF_OPEN once the cool-down has passed.

    A half-open breaker whose probes never reported (their Lambda timed out or crashed)
    gets those probe slots back one cool-down after the last probe, so it cannot stick.
    """
    if snapshot.state is BreakerState.OPEN and now - snapshot.opened_at >= config.cool_down_seconds:
        return replace(snapshot, state=BreakerState.HALF_OPEN, probes_started=0, probe_successes=0)
    lost = snapshot.probes_started > snapshot.probe_successes and now - snapshot.probed_at >= config.cool_down_seconds
    if snapshot.state is BreakerState.HALF_OPEN and lost:
        return replace(snapshot, probes_started=snapshot.probe_successes)
    return snapshot


def admit(snapshot: BreakerSnapshot, now: float, config: BreakerConfig) -> Admission:
    """May a request go to the endpoint? Half-open admits at most `half_open_probes` probes."""
    current = advance(snapshot, now, config)
    changed = current is not snapshot
    if current.state is BreakerState.CLOSED:
        return Admission(True, current, changed)
    if current.state is BreakerState.OPEN:
        return Admission(False, current, changed)
    if current.probes_started < config.half_open_probes:
        return Admission(True, replace(current, probes_started=current.probes_started + 1, probed_at=now), True)
    return Admission(False, current, changed)


def release(snapshot: BreakerSnapshot, now: float, config: BreakerConfig) -> BreakerSnapshot:
    """Give back a half-open probe slot whose request learned nothing (capacity still warming)."""
    current = advance(snapshot, now, config)
    if current.state is BreakerState.HALF_OPEN and current.probes_started > current.probe_successes:
        return replace(current, probes_started=current.probes_started - 1)
    return current


def record(snapshot: BreakerSnapshot, now: float, ok: bool, latency_ms: float, config: BreakerConfig) -> BreakerSnapshot:
    """The snapshot after one outcome. A slow success counts as slow, not as an error."""
    current = advance(snapshot, now, config)
    slow = latency_ms > config.latency_ms
    if current.state is BreakerState.HALF_OPEN:
        if not ok or slow:
            why = "probe failed" if not ok else f"probe took {latency_ms:.0f} ms > {config.latency_ms:.0f} ms"
            return replace(current, state=BreakerState.OPEN, opened_at=now, buckets=(), reason=why)
        successes = current.probe_successes + 1
        if successes >= config.half_open_probes:
            return replace(current, state=BreakerState.CLOSED, buckets=(), probes_started=0, probe_successes=0, reason="")
        return replace(current, probe_successes=successes)
    if current.state is BreakerState.OPEN:
        return current  # a request admitted before another Lambda opened the breaker: ignore
    start = int(now // config.bucket_seconds * config.bucket_seconds)
    buckets = list(_window(current, now, config))
    last = buckets.pop() if buckets and buckets[-1].start == start else Bucket(start)
    buckets.append(Bucket(start, last.requests + 1, last.errors + (not ok), last.slow + slow))
    updated = replace(current, buckets=tuple(buckets))
    tripped = trip_reason(totals(updated, now, config), config)
    if tripped is not None:
        return replace(updated, state=BreakerState.OPEN, opened_at=now, buckets=(), reason=tripped)
    return updated


# --- persistence ----------------------------------------------------------------------------------


def breaker_key(region: str, endpoint: str) -> str:
    """The table key of one region's breaker for one endpoint."""
    return f"breaker#{region}#{endpoint}"


def to_item(region: str, snapshot: BreakerSnapshot) -> dict[str, dict[str, str]]:
    """The DynamoDB item of a snapshot (version already bumped by the caller)."""
    window = [[b.start, b.requests, b.errors, b.slow] for b in snapshot.buckets]
    return {
        HASH_KEY: {"S": breaker_key(region, snapshot.endpoint)},
        "kind": {"S": "breaker"},
        "endpoint": {"S": snapshot.endpoint},
        "state": {"S": snapshot.state.value},
        "window": {"S": json.dumps(window)},
        "opened_at": {"N": f"{snapshot.opened_at:.6f}"},
        "probes_started": {"N": str(snapshot.probes_started)},
        "probe_successes": {"N": str(snapshot.probe_successes)},
        "probed_at": {"N": f"{snapshot.probed_at:.6f}"},
        "reason": {"S": snapshot.reason or "-"},
        "version": {"N": str(snapshot.version)},
    }


def from_item(endpoint: str, item: dict[str, dict[str, str]] | None) -> BreakerSnapshot:
    """A snapshot from its item; a missing item is a fresh CLOSED breaker at version 0."""
    if not item:
        return BreakerSnapshot(endpoint=endpoint)
    reason = item.get("reason", {}).get("S", "")
    return BreakerSnapshot(
        endpoint=endpoint,
        state=BreakerState(item["state"]["S"]),
        buckets=tuple(Bucket(*map(int, row)) for row in json.loads(item["window"]["S"])),
        opened_at=float(item["opened_at"]["N"]),
        probes_started=int(item["probes_started"]["N"]),
        probe_successes=int(item["probe_successes"]["N"]),
        probed_at=float(item.get("probed_at", {}).get("N", "0")),
        version=int(item["version"]["N"]),
        reason="" if reason == "-" else reason,
    )


class BreakerStore:
    """Reads and version-conditional writes of one region's breakers; `clock` is injectable."""

    def __init__(
        self,
        table_name: str,
        region: str,
        dynamodb_client: Any,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.region = region
        self.client = dynamodb_client
        self.config = config or BreakerConfig()
        self.clock = clock

    def load(self, endpoint: str) -> BreakerSnapshot:
        """The endpoint's breaker as stored (strongly consistent read in this region)."""
        response = self.client.get_item(
            TableName=self.table_name, Key={HASH_KEY: {"S": breaker_key(self.region, endpoint)}}, ConsistentRead=True
        )
        return from_item(endpoint, response.get("Item"))

    def _save(self, snapshot: BreakerSnapshot) -> bool:
        item = to_item(self.region, replace(snapshot, version=snapshot.version + 1))
        condition = "attribute_not_exists(#k)" if snapshot.version == 0 else "#v = :v"
        kwargs: dict[str, Any] = {"ExpressionAttributeNames": {"#k": HASH_KEY}}
        if snapshot.version:
            kwargs = {
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(snapshot.version)}},
            }
        try:
            self.client.put_item(TableName=self.table_name, Item=item, ConditionExpression=condition, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _update(self, endpoint: str, change: Callable[[BreakerSnapshot], tuple[BreakerSnapshot, bool]]) -> BreakerSnapshot:
        """Read, change, conditionally write; on a lost race read again (bounded)."""
        snapshot = self.load(endpoint)
        for _ in range(MAX_WRITE_ATTEMPTS):
            updated, changed = change(snapshot)
            if not changed or self._save(updated):
                return updated
            snapshot = self.load(endpoint)
        return snapshot  # persistent contention: act on the latest stored state, drop this update

    def admit(self, endpoint: str) -> bool:
        """True when a request may use `endpoint` now (consumes a probe slot when half-open)."""
        verdict: list[bool] = []

        def change(snapshot: BreakerSnapshot) -> tuple[BreakerSnapshot, bool]:
            admission = admit(snapshot, self.clock(), self.config)
            verdict[:] = [admission.allowed]
            return admission.snapshot, admission.changed

        self._update(endpoint, change)
        return verdict[-1]

    def record(self, endpoint: str, ok: bool, latency_ms: float) -> BreakerSnapshot:
        """Count one outcome; returns the stored snapshot."""
        return self._update(endpoint, lambda s: (record(s, self.clock(), ok, latency_ms, self.config), True))

    def release(self, endpoint: str) -> None:
        """Give back the probe slot `admit` took for a request that ended with no outcome."""
        self._update(endpoint, lambda s: (release(s, self.clock(), self.config), True))

    def state(self, endpoint: str) -> BreakerState:
        """The endpoint's state now (OPEN past its cool-down reads as HALF_OPEN)."""
        return advance(self.load(endpoint), self.clock(), self.config).state
