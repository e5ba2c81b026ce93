"""Deep health: can this region serve? The answer Route 53's health check acts on.

A region is healthy when every one of its endpoints is InService, its copy of the token
table is ACTIVE and readable, and every model it serves inline has a real-time or serverless
endpoint whose breaker is not open (the router reports half-open as open where a health probe can
prove it). DNS moves whole regions, so a region that can no longer serve one of its models inline
leaves it (a hung endpoint stays InService: only its breaker sees it). Shallow
"the Lambda ran" checks would keep DNS on a region whose endpoints are gone; this one turns
a region's failure into a 503 within one health-check interval.

Each check is one AWS call and never raises: a failed call is a failed check with its error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .breakers import BreakerState

HEALTH_PROBE_KEY = "health#probe"  # read, never written: a GetItem of a missing key proves reachability


@dataclass(frozen=True)
class Check:
    """One named check and what it found."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    """All checks; healthy only when every one passed."""

    region: str
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def status_code(self) -> int:
        return 200 if self.healthy else 503

    def body(self) -> dict[str, Any]:
        """JSON body: status, region, the failed checks first, then every check."""
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "region": self.region,
            "failed": [c.name for c in self.checks if not c.ok],
            "checks": [asdict(c) for c in self.checks],
        }


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def check_endpoint(sagemaker: Any, endpoint: str) -> Check:
    """InService, else the status (Updating, Failed, …) or the error (endpoint gone)."""
    name = f"endpoint:{endpoint}"
    try:
        status = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
    except (ClientError, BotoCoreError) as exc:
        return Check(name, False, _error(exc))
    return Check(name, status == "InService", status)


def check_table(dynamodb: Any, table_name: str, hash_key: str = "request_id") -> Check:
    """The table is ACTIVE here and answers a strongly consistent read."""
    name = f"table:{table_name}"
    try:
        status = dynamodb.describe_table(TableName=table_name)["Table"]["TableStatus"]
        dynamodb.get_item(TableName=table_name, Key={hash_key: {"S": HEALTH_PROBE_KEY}}, ConsistentRead=True)
    except (ClientError, BotoCoreError) as exc:
        return Check(name, False, _error(exc))
    return Check(name, status == "ACTIVE", status)


def check_breakers(states: Mapping[str, Sequence[tuple[str, BreakerState]]]) -> Check:
    """Fails when some model has every direct endpoint's breaker open (no inline path left for it here)."""
    if not states:
        return Check("breakers", True, "no direct endpoints")
    stuck = [model for model, endpoints in states.items() if all(s is BreakerState.OPEN for _, s in endpoints)]
    open_ = [e for endpoints in states.values() for e, s in endpoints if s is BreakerState.OPEN]
    total = sum(len(endpoints) for endpoints in states.values())
    detail = f"{len(open_)}/{total} open" + (f": {', '.join(open_)}" if open_ else "")
    if stuck:
        detail += f"; no inline path left for {', '.join(stuck)}"
    return Check("breakers", not stuck, detail)


def deep_health(
    *,
    region: str,
    endpoints: Sequence[str],
    direct_endpoints: Mapping[str, Sequence[str]],
    table_name: str,
    sagemaker: Any,
    dynamodb: Any,
    breaker_state: Callable[[str], BreakerState],
) -> HealthReport:
    """Run every check; `direct_endpoints` lists each model's real-time and serverless endpoints and
    `breaker_state` reads one endpoint's breaker (errors fail that check)."""
    checks = [check_endpoint(sagemaker, e) for e in endpoints]
    checks.append(check_table(dynamodb, table_name))
    try:
        states = {model: [(e, breaker_state(e)) for e in names] for model, names in direct_endpoints.items() if names}
        checks.append(check_breakers(states))
    except (ClientError, BotoCoreError) as exc:
        checks.append(Check("breakers", False, _error(exc)))
    return HealthReport(region, tuple(checks))
