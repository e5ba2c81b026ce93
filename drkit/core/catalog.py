"""Closed sets the spec is validated against: regions, serverless sizes, health-check settings.

Sources (read 2026-11): AWS General Reference, "Amazon SageMaker AI endpoints and
quotas" (regions where SageMaker AI hosting is available). A region missing here is
refused by the spec with the list of valid values, so adding one is a one-line change.
SageMaker instance types are not listed here: they come from botocore's enums
(`drkit.core.aws_limits.realtime_instance_types`), every type SageMaker sells.
"""

from __future__ import annotations

SAGEMAKER_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        "ca-central-1", "ca-west-1", "mx-central-1", "sa-east-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2",
        "eu-north-1", "eu-south-1", "eu-south-2", "il-central-1",
        "me-south-1", "me-central-1", "af-south-1",
        "ap-south-1", "ap-south-2", "ap-east-1",
        "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-7",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    }
)  # fmt: skip

# Serverless inference: memory is one of these sizes; max concurrency 1-200 per endpoint.
# Source: SageMaker AI developer guide, "Deploy models with Amazon SageMaker Serverless
# Inference" > "Memory size" and "Concurrent invocations" (read 2026-11).
SERVERLESS_MEMORY_MB: tuple[int, ...] = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200

# Route 53 health checks accept only these request intervals (seconds) and a failure
# threshold of 1-10. Source: Route 53 API reference, HealthCheckConfig (read 2026-11).
HEALTH_CHECK_INTERVALS: tuple[int, ...] = (10, 30)
HEALTH_CHECK_MAX_FAILURE_THRESHOLD = 10


def closest(value: str, choices: frozenset[str] | tuple[str, ...], limit: int = 3) -> list[str]:
    """The valid values nearest to a bad one, for "did you mean" hints."""
    import difflib

    return difflib.get_close_matches(value, sorted(choices), n=limit, cutoff=0.5)


# Planning figures for the worst-case RTO bound (drkit's assumptions, not AWS guarantees;
# AWS publishes no launch-time SLA). Observed ranges: SageMaker AI developer guide,
# "Automatic scaling ... cooldown" guidance and AWS re:Post reports of 3-5 minutes for
# CPU instances and up to 10 for large GPU ones. Override by changing these values.
INSTANCE_LAUNCH_SECONDS_CPU = 180
INSTANCE_LAUNCH_SECONDS_ACCELERATED = 300
SERVERLESS_COLD_START_SECONDS = 60
# An async endpoint at zero wakes on the HasBacklogWithoutCapacity alarm (2 x 60 s periods).
ASYNC_WAKE_ALARM_SECONDS = 120


def instance_launch_seconds(instance_type: str) -> int:
    """Planning figure for provisioning one SageMaker instance of this type."""
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    accelerated = family.startswith(("g", "p", "inf", "trn"))
    return INSTANCE_LAUNCH_SECONDS_ACCELERATED if accelerated else INSTANCE_LAUNCH_SECONDS_CPU

# DynamoDB multi-Region strong consistency (MRSC): a global table's three regions (replicas and
# witness) must lie in one Region set. AWS SDK API reference, CreateGlobalTableWitnessGroupMemberAction
# .RegionName ("US Region set: US East (N. Virginia), US East (Ohio), US West (Oregon); EU Region set:
# Europe (Ireland), Europe (London), Europe (Paris), Europe (Frankfurt); AP Region set: Asia Pacific
# (Tokyo), Asia Pacific (Seoul), Asia Pacific (Osaka)"), read 2026-11-29.
MRSC_REGION_SETS: dict[str, frozenset[str]] = {
    "US": frozenset({"us-east-1", "us-east-2", "us-west-2"}),
    "EU": frozenset({"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}),
    "AP": frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}),
}


def mrsc_region_set(regions: tuple[str, ...] | list[str]) -> str | None:
    """The name of the MRSC Region set holding every one of `regions`, or None."""
    return next((name for name, members in MRSC_REGION_SETS.items() if set(regions) <= members), None)
