"""DR tiers and the defaults that depend on them: one pure function per default.

| tier | secondary                         | routing          | RTO    | RPO  |
|------|-----------------------------------|------------------|--------|------|
| 1    | full provisioned, active-active   | latency records  | 1 min  | 1 s  |
| 2    | provisioned at minimum, scales up | failover records | 15 min | 1 s  |
| 3    | table replica + serverless/async  | failover records | 1 h    | 1 s  |
"""

from __future__ import annotations

from enum import Enum, IntEnum


class Tier(IntEnum):
    """How much of the primary's capacity a secondary region keeps running."""

    HOT = 1
    WARM = 2
    PILOT_LIGHT = 3


class RegionRole(str, Enum):
    """A region's part in the deployment."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


class RoutingPolicy(str, Enum):
    """How the deployment's DNS name picks a region."""

    LATENCY = "latency"  # active-active: every healthy region answers, nearest first
    FAILOVER = "failover"  # active-passive: the secondary answers only when the primary is unhealthy


def default_rto_seconds(tier: Tier) -> int:
    """Target recovery time: 1 min hot, 15 min warm, 1 h pilot light."""
    return {Tier.HOT: 60, Tier.WARM: 900, Tier.PILOT_LIGHT: 3600}[tier]


def default_rpo_seconds(tier: Tier) -> float:
    """Target data loss: 1 s for every tier (global-table replication is typically sub-second)."""
    return 1.0


def routing_policy(tier: Tier) -> RoutingPolicy:
    """Tier 1 is active-active behind latency records; tiers 2-3 are active-passive."""
    return RoutingPolicy.LATENCY if tier is Tier.HOT else RoutingPolicy.FAILOVER


def default_health_check_interval(tier: Tier) -> int:
    """Route 53 "fast" (10 s) checks for tier 1, standard (30 s) otherwise."""
    return 10 if tier is Tier.HOT else 30


def default_failure_threshold(tier: Tier) -> int:
    """Consecutive failed checks before Route 53 calls an endpoint unhealthy."""
    return 3


def default_dns_ttl(tier: Tier) -> int:
    """Record TTL: short for tier 1 so clients follow a failover quickly."""
    return 30 if tier is Tier.HOT else 60


def secondary_keeps_provisioned(tier: Tier) -> bool:
    """Whether a secondary region runs provisioned (real-time) endpoints before failover."""
    return tier is not Tier.PILOT_LIGHT


def secondary_min_instances(tier: Tier, primary_min: int) -> int:
    """Instances a secondary keeps warm: all of them for tier 1, one for tier 2, none for tier 3."""
    return {Tier.HOT: primary_min, Tier.WARM: 1, Tier.PILOT_LIGHT: 0}[tier]
