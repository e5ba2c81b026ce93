"""Per-team month-to-date spend and what to do with a request once a team's budget is spent.

Spend lives in the token table, one counter item per (team, month, region):
``budget#<team>#<YYYY-MM>#<region>``, incremented with DynamoDB's atomic ``ADD``. Each
region adds only to its own item and a read sums every region's item (one BatchGetItem):
the table is a global table with last-writer-wins replication, so two regions adding to
one shared item would silently lose increments, while per-region items never conflict.
Items expire (TTL) 400 days after their month begins.

Costs are *estimates* per request, by path, computed at deploy time by
components/frontdoor.py (`request_costs`) from the dated list prices in drkit/core/pricing.py and
passed in the router config. `DEFAULT_COST_USD` is the fallback for a model without
figures: us-east-1, October 2025 list prices, derived as commented beside each line.

Decisions are pure (`decide`); the store is the only I/O. Stdlib, botocore and drkit/core/tokens.py (bundled with the router) only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from drkit.core.tokens import HASH_KEY, TTL_ATTRIBUTE

COUNTER_TTL_SECONDS = 400 * 24 * 3600

# Fallback USD per request, us-east-1 list prices as of 2025-10 (drkit/core/pricing.py):
DEFAULT_COST_USD: Mapping[str, float] = {
    # ml.m5.xlarge $0.269/h at 1000 invocations/instance/minute: 0.269 / 60 000
    "realtime": 0.0000045,
    # 2 GB serverless x 1 s x $0.00002/GB-s
    "serverless": 0.00004,
    # ml.m5.xlarge 5 s of one of 4 slots (0.269/3600*5/4 = 9.3e-5) + S3 PUT/GET + SNS (5.9e-6) + 8 Standard transitions (2e-4)
    "async": 0.000299,
    # transform job: ml.m5.xlarge 1 s per record (0.269/3600 = 7.5e-5) + 8 Standard transitions (2e-4); no idle endpoint
    "batch": 0.000275,
}


class BudgetAction(str, Enum):
    """What happens to one request given its team's spend."""

    ALLOW = "allow"  # under budget: the routed path
    DEGRADE = "degrade"  # over budget: the cheapest path that still serves the request
    REFUSE = "refuse"  # over budget: 429


@dataclass(frozen=True)
class BudgetDecision:
    """The action, the path to use (None when refused) and a sentence for the audit record."""

    action: BudgetAction
    path: str | None
    reason: str


def month_of(now: float) -> str:
    """The UTC calendar month of `now`, YYYY-MM (budgets reset on the 1st, 00:00 UTC)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def counter_key(team: str, month: str, region: str) -> str:
    """Table key of one region's spend counter for one team and month."""
    return f"budget#{team}#{month}#{region}"


def request_cost(path: str, costs: Mapping[str, float]) -> float:
    """Estimated USD of one request on `path`: the model's figure, else the default table."""
    return float(costs.get(path, DEFAULT_COST_USD[path]))


# Fastest first: what "degrade" may move a request towards (never up this list).
SPEED_ORDER = ("realtime", "serverless", "async", "batch")


def decide(
    *,
    team: str,
    budget_usd: float,
    spend_usd: float,
    over_budget: str,
    routed: str,
    candidates: Sequence[str],
    costs: Mapping[str, float],
) -> BudgetDecision:
    """Allow the routed path under budget; over it, refuse or pick the cheapest candidate.

    `candidates` are the paths that can serve this request here (deployed, within their
    payload limits, breaker not open), `routed` first. Ties keep the earlier candidate.
    """
    if spend_usd < budget_usd:
        return BudgetDecision(BudgetAction.ALLOW, routed, f"team {team} spent ${spend_usd:.2f} of ${budget_usd:.2f}")
    spent = f"team {team} spent ${spend_usd:.2f} of its ${budget_usd:.2f} monthly budget"
    if over_budget == "refuse" or not candidates:
        return BudgetDecision(BudgetAction.REFUSE, None, f"{spent}; over_budget is refuse")
    # Degrading never buys a faster path than the one routed: only the routed path or slower ones.
    slower = [p for p in candidates if SPEED_ORDER.index(p) >= SPEED_ORDER.index(routed)] or list(candidates)
    cheapest = min(slower, key=lambda p: request_cost(p, costs))
    return BudgetDecision(BudgetAction.DEGRADE, cheapest, f"{spent}; degraded to {cheapest}, the cheapest path that serves")


class BudgetStore:
    """Reads and atomic increments of spend counters in one region's copy of the table."""

    def __init__(
        self,
        table_name: str,
        region: str,
        regions: Sequence[str],
        dynamodb_client: Any,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.region = region
        self.regions = tuple(dict.fromkeys([region, *regions]))
        self.client = dynamodb_client
        self.clock = clock

    def spend(self, team: str) -> float:
        """Month-to-date USD across every region (replicated counters may lag by about a second)."""
        month = month_of(self.clock())
        keys = [{HASH_KEY: {"S": counter_key(team, month, r)}} for r in self.regions]
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ProjectionExpression": "spend_usd"}}
        total = 0.0
        for _ in range(5):  # UnprocessedKeys under throttling: retry those only
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table_name, []):
                total += float(item.get("spend_usd", {}).get("N", "0"))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        return total

    def charge(self, team: str, usd: float) -> float:
        """Add `usd` to this region's counter atomically; returns this region's new month-to-date."""
        now = self.clock()
        month = month_of(now)
        day = datetime.fromtimestamp(now, UTC)
        month_start = int(datetime(day.year, day.month, 1, tzinfo=UTC).timestamp())
        response = self.client.update_item(
            TableName=self.table_name,
            Key={HASH_KEY: {"S": counter_key(team, month, self.region)}},
            UpdateExpression="ADD spend_usd :c, requests :one SET #t = if_not_exists(#t, :ttl), kind = :kind",
            ExpressionAttributeNames={"#t": TTL_ATTRIBUTE},
            ExpressionAttributeValues={
                ":c": {"N": f"{usd:.12f}"},  # fixed-point: DynamoDB numbers are decimal strings
                ":one": {"N": "1"},
                ":ttl": {"N": str(month_start + COUNTER_TTL_SECONDS)},
                ":kind": {"S": "budget"},
            },
            ReturnValues="UPDATED_NEW",
        )
        return float(response["Attributes"]["spend_usd"]["N"])
