"""RegionalFailoverRecord: a region's Route 53 health check and its own record of the shared name.

Each region's stack owns exactly one record set of the deployment's name (set
identifier = region), so a region can be added or removed without touching the others.
Tier 1 uses latency records with health evaluation (active-active); tiers 2-3 use
failover PRIMARY / SECONDARY records (active-passive).

Route 53 facts that shape this (Route 53 developer guide, "How Route 53 determines
whether a health check is healthy", read 2026-11): a *disabled* check counts as healthy,
so drills invert checks and never disable them; HTTPS checks must connect within 4 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import pulumi
import pulumi_aws as aws

from drkit.core.catalog import HEALTH_CHECK_INTERVALS, HEALTH_CHECK_MAX_FAILURE_THRESHOLD
from drkit.core.errors import ComponentValidationError

# The provider sends CallerReference = reference_name + "-" + a 26-character unique id, and
# CallerReference allows 64 (botocore route53 CreateHealthCheck): 38 characters are ours.
REFERENCE_NAME_MAX = 38


class RecordRole(str, Enum):
    """What this region's record set does."""

    LATENCY = "LATENCY"  # active-active: answered when healthy, nearest region first
    PRIMARY = "PRIMARY"  # failover: answered while healthy
    SECONDARY = "SECONDARY"  # failover: answered only when the primary is unhealthy


@dataclass(frozen=True, kw_only=True)
class RegionalFailoverRecordArgs:
    """Inputs of `RegionalFailoverRecord`."""

    domain: str
    """The deployment's shared DNS name."""
    hosted_zone_id: str
    """Route 53 hosted zone holding `domain`."""
    region: str
    """This region; also the record's set identifier and, for latency records, its region."""
    target_host: pulumi.Input[str]
    """The regional front door's host name the record answers with and the check probes."""
    role: RecordRole
    """Latency (tier 1) or failover PRIMARY/SECONDARY (tiers 2-3)."""
    health_check_path: str = "/health"
    """Path probed over HTTPS. Default: /health."""
    request_interval: int = 30
    """Seconds between checks: 10 (fast) or 30. Default: 30."""
    failure_threshold: int = 3
    """Consecutive failures before unhealthy, 1-10. Default: 3."""
    ttl: int = 60
    """Record TTL in seconds. Default: 60."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the health check. Default: none."""
    control_check_ids: pulumi.Input[Sequence[str]] | None = None
    """Health checks an operator controls for this region: the ones ARC Region switch's Route 53
    block creates (one per plan covering the region). When given, the record's health check is a
    CALCULATED check, healthy only while the deep check and every control check are, so both a
    failing region and an executed plan move DNS. Default: None (the deep check alone)."""


def _validate(name: str, args: RegionalFailoverRecordArgs) -> None:
    if args.request_interval not in HEALTH_CHECK_INTERVALS:
        raise ComponentValidationError(
            f"RegionalFailoverRecord {name}: request_interval {args.request_interval} is invalid; Route 53 offers 10 or 30"
        )
    if not 1 <= args.failure_threshold <= HEALTH_CHECK_MAX_FAILURE_THRESHOLD:
        raise ComponentValidationError(
            f"RegionalFailoverRecord {name}: failure_threshold {args.failure_threshold} is invalid; valid: 1-10"
        )
    if args.ttl < 0:
        raise ComponentValidationError(f"RegionalFailoverRecord {name}: ttl {args.ttl} must be ≥ 0")


class RegionalFailoverRecord(pulumi.ComponentResource):
    """HTTPS health check on the region's deep /health, plus the region's record set (through a
    CALCULATED check when control checks are given)."""

    health_check_id: pulumi.Output[str]
    """The deep check's id: what drills invert."""
    record_health_check_id: pulumi.Output[str]
    """The check the record uses: the deep check, or the calculated one over it and the control checks."""
    record_fqdn: pulumi.Output[str]

    def __init__(self, name: str, args: RegionalFailoverRecordArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(name, args)
        super().__init__("drkit:failover:RegionalFailoverRecord", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        check = aws.route53.HealthCheck(
            f"{name}-health",
            type="HTTPS",
            fqdn=args.target_host,
            port=443,
            resource_path=args.health_check_path,
            request_interval=args.request_interval,
            failure_threshold=args.failure_threshold,
            measure_latency=True,
            enable_sni=True,
            invert_healthcheck=False,
            reference_name=args.region[:REFERENCE_NAME_MAX],
            tags={**args.tags, "Name": f"{args.domain} {args.region}"},
            opts=child,
        )
        record_check = check
        if args.control_check_ids is not None:
            children = pulumi.Output.all(check.id, args.control_check_ids).apply(lambda v: [v[0], *v[1]])
            record_check = aws.route53.HealthCheck(
                f"{name}-combined",
                type="CALCULATED",
                child_healthchecks=children,
                child_health_threshold=children.apply(len),  # every child healthy: any one failing moves DNS
                reference_name=f"{args.region}-combined"[:REFERENCE_NAME_MAX],
                tags={**args.tags, "Name": f"{args.domain} {args.region} (deep check and ARC)"},
                opts=child,
            )
        routing: dict[str, object] = {}
        if args.role is RecordRole.LATENCY:
            routing["latency_routing_policies"] = [{"region": args.region}]
        else:
            routing["failover_routing_policies"] = [{"type": args.role.value}]
        record = aws.route53.Record(
            f"{name}-record",
            zone_id=args.hosted_zone_id,
            name=args.domain,
            type="CNAME",
            ttl=args.ttl,
            records=[args.target_host],
            set_identifier=args.region,
            health_check_id=record_check.id,
            opts=child,
            **routing,  # type: ignore[arg-type]
        )
        self.health_check_id = check.id
        self.record_health_check_id = record_check.id
        self.record_fqdn = record.fqdn
        self.register_outputs({"health_check_id": check.id, "record_health_check_id": record_check.id, "record_fqdn": record.fqdn})
