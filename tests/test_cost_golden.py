"""Golden set: monthly figures worked out by hand from unit prices written here, not read from
drkit/core/prices.json, so a wrong entry or a wrong formula in the cost model fails a test.

Unit prices (USD, on-demand), each with its date and source:
- SageMaker hosting ml.m5.xlarge, us-east-1: $0.23/h. AWS Price List API, usage type
  USE1-Host:ml.m5.xlarge (SKU JDZQJFUVUR8SUWHS), as quoted from a live GetProducts call of 2026-06-27.
- SageMaker hosting ml.c6i.xlarge $0.204/h, ml.g5.xlarge $1.408/h, ml.g4dn.xlarge $0.7364/h, us-east-1
  and us-west-2 (AWS publishes one rate for both): https://aws.amazon.com/sagemaker/pricing/, as
  drkit's authors know it (2026-11); not read from a fetched page: marked unsourced in prices.json too.
- SageMaker serverless $0.0000200 per GB-second, provisioned concurrency $0.0000048 per GB-second,
  data processed $0.016 per GB: https://aws.amazon.com/sagemaker/pricing/ (2025-10); $0.016/GB in
  EU (Ireland) also on a December 2023 bill in aws-samples/sagemaker-ssh-helper Sample_Costs.md.
- DynamoDB on-demand $0.625 per million WRU, $0.125 per million RRU, storage $0.25/GB-month, PITR
  $0.20/GB-month: https://aws.amazon.com/dynamodb/pricing/on-demand/ (after November 2024).
- Route 53 health check on an AWS endpoint $0.50/month, each option $1.00/month; standard queries
  $0.40 per million: https://aws.amazon.com/route53/pricing/ (2025-10).
- KMS key $1/month (https://aws.amazon.com/kms/pricing/), CloudWatch alarm $0.10/month
  (https://aws.amazon.com/cloudwatch/pricing/), 2025-10.
"""

from __future__ import annotations

from typing import Any

import pytest

from drkit.core.usage import UsageProfile
from drkit.engine.cost import monthly_cost

Triple = tuple[str, dict[str, Any], str | None]
EP, CFG, TARGET, SCHED = (
    "aws:sagemaker/endpoint:Endpoint",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/scheduledAction:ScheduledAction",
)


def endpoint(name: str, region: str, mode: str, variant: dict[str, Any], minimum: int = 1, maximum: int = 1, **config: Any) -> list[Triple]:
    out: list[Triple] = [
        (EP, {"name": name, "endpointConfigName": f"{name}-config", "tags": {"Model": "m", "InferenceType": mode}}, region),
        (CFG, {"name": f"{name}-config", "productionVariants": [variant], **config}, region),
    ]
    if mode != "serverless":
        out.append((TARGET, {"resourceId": f"endpoint/{name}/variant/AllTraffic", "minCapacity": minimum, "maxCapacity": maximum}, region))
    return out


def failover_record(region: str, role: str) -> Triple:
    return ("aws:route53/record:Record", {"name": "x.example.com", "failoverRoutingPolicies": [{"type": role}], "setIdentifier": region}, region)


def flat(per_hour: float, kind: str, **fields: Any) -> UsageProfile:
    return UsageProfile(requests_per_hour=(per_hour,) * 24, traffic_mix={kind: 1.0}, mean_payload_kb=4, **fields)


# A flat 3,600 requests an hour: 3,600 × 730 = 2,628,000 a month. Data processed, in + out at 4 KB:
# 2,628,000 × 8 KB ÷ 1,048,576 = 20.0500 GB × $0.016 = $0.3208.
GOLDEN: list[tuple[str, list[Triple], UsageProfile | None, float | None, float]] = [
    (
        # tier 2 primary, CPU, us-east-1: min 2 covers 3,600/h ÷ (60 × 100/min) = 0.6 → 2 instances all month
        # 2 × 730 h × $0.23 = $335.80; data processed $0.3208; DNS 2,628,000 × $0.40/M = $1.0512 → $337.17
        "cpu-provisioned-tier2-primary-us-east-1",
        [*endpoint("a", "us-east-1", "provisioned", {"instanceType": "ml.m5.xlarge"}, 2, 4), failover_record("us-east-1", "PRIMARY")],
        flat(3600, "critical"), None, 335.80 + 0.3208 + 1.0512,
    ),
    (
        # tier 2 secondary, CPU, us-west-2: no traffic, idles at min 1: 730 × $0.204 = $148.92; no queries
        "cpu-provisioned-tier2-secondary-us-west-2",
        [*endpoint("b", "us-west-2", "provisioned", {"instanceType": "ml.c6i.xlarge"}, 1, 4), failover_record("us-west-2", "SECONDARY")],
        flat(3600, "critical"), None, 148.92,
    ),
    (
        # GPU, us-east-1, no usage profile: 1 × 730 h × $1.408 = $1,027.84
        "gpu-provisioned-us-east-1",
        endpoint("c", "us-east-1", "provisioned", {"instanceType": "ml.g5.xlarge"}, 1, 1),
        None, None, 1027.84,
    ),
    (
        # GPU, us-west-2, off-hours every day: 2 instances 08:00-20:00, 1 overnight = 36 instance-hours a day;
        # 36 × 730 ÷ 24 = 1,095 h × $0.7364 = $806.36
        "gpu-provisioned-off-hours-us-west-2",
        [
            *endpoint("d", "us-west-2", "provisioned", {"instanceType": "ml.g4dn.xlarge"}, 2, 2),
            (SCHED, {"resourceId": "endpoint/d/variant/AllTraffic", "schedule": "cron(0 20 ? * MON-SUN *)", "scalableTargetAction": {"minCapacity": 1}}, "us-west-2"),
            (SCHED, {"resourceId": "endpoint/d/variant/AllTraffic", "schedule": "cron(0 8 ? * MON-SUN *)", "scalableTargetAction": {"minCapacity": 2}}, "us-west-2"),
        ],
        None, None, 1095 * 0.7364,
    ),
    (
        # serverless 3 GB, us-east-1, standard traffic at 0.2 s: 2,628,000 × 0.2 s × 3 GB = 1,576,800 GB-s
        # × $0.00002 = $31.536; data processed $0.3208 → $31.8568
        "serverless-us-east-1",
        endpoint("e", "us-east-1", "serverless", {"serverlessConfig": {"memorySizeInMb": 3072, "maxConcurrency": 10}}),
        flat(3600, "standard"), None, 31.536 + 0.3208,
    ),
    (
        # serverless with 2 provisioned concurrency at 2 GB, eu-west-1 (the us-east-1 rate, unsourced for
        # eu-west-1 in prices.json): 2 × 2 GB × 730 h × 3600 s = 10,512,000 GB-s × $0.0000048 = $50.4576
        "serverless-provisioned-concurrency-eu-west-1",
        endpoint("f", "eu-west-1", "serverless", {"serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 10, "provisionedConcurrency": 2}}),
        None, None, 50.4576,
    ),
    (
        # async us-east-1, bulk at 20 s, 4 concurrent per instance: 3,600 × 20 ÷ 3600 ÷ 4 = 5 → capped at max 2:
        # 2 × 730 × $0.23 = $335.80; data processed $0.3208 → $336.1208
        "async-at-its-ceiling-us-east-1",
        endpoint("g", "us-east-1", "async", {"instanceType": "ml.m5.xlarge"}, 0, 2, asyncInferenceConfig={"clientConfig": {"maxConcurrentInvocationsPerInstance": 4}}),
        flat(3600, "bulk"), None, 335.80 + 0.3208,
    ),
    (
        # async us-west-2, 360 bulk/h at 20 s: 360 × 20 ÷ 3600 ÷ 4 = 0.5 → 1 instance whenever traffic flows (all month):
        # 730 × $0.204 = $148.92; data 262,800 × 8 KB ÷ 1,048,576 = 2.0050 GB × $0.016 = $0.03208 → $148.95
        "async-scaling-us-west-2",
        endpoint("h", "us-west-2", "async", {"instanceType": "ml.c6i.xlarge"}, 0, 2, asyncInferenceConfig={"clientConfig": {"maxConcurrentInvocationsPerInstance": 4}}),
        flat(360, "bulk"), None, 148.92 + 0.03208,
    ),
    (
        # tier 1, one of 3 latency regions (share 1/3), us-east-1: 36,000/h ÷ 3 = 12,000/h ÷ 6,000 per instance-hour
        # = 2 instances: 2 × 730 × $0.23 = $335.80; data 8,760,000 × 8 KB ÷ 1,048,576 = 66.833 GB × $0.016 = $1.0693
        "cpu-provisioned-tier1-third-of-traffic-us-east-1",
        endpoint("i", "us-east-1", "provisioned", {"instanceType": "ml.m5.xlarge"}, 2, 6),
        flat(36000, "critical"), 1 / 3, 335.80 + 1.0693,
    ),
    (
        # tier 3 primary's token table, us-east-1, 3,600 requests/h, no endpoint: 2,628,000 budget-counter writes
        # × $0.625/M = $1.6425; 2,628,000 × 0.5 RRU budget reads (1 region) × $0.125/M = $0.16425;
        # storage 1 GB × $0.25 + PITR 1 GB × $0.20 → $2.25675
        "token-table-tier3-primary-us-east-1",
        [("aws:dynamodb/table:Table", {"name": "t"}, "us-east-1")],
        flat(3600, "critical", table_gb=1), None, 1.6425 + 0.16425 + 0.25 + 0.20,
    ),
    (
        # HTTPS health check, 10 s interval, latency measurement: $0.50 + 3 options × $1.00; a KMS key $1;
        # an alarm $0.10 → $4.60
        "fixed-monthly-us-east-1",
        [
            ("aws:route53/healthCheck:HealthCheck", {"type": "HTTPS", "requestInterval": 10, "measureLatency": True}, "us-east-1"),
            ("aws:kms/key:Key", {}, "us-east-1"),
            ("aws:cloudwatch/metricAlarm:MetricAlarm", {"name": "a"}, "us-east-1"),
        ],
        None, None, 4.60,
    ),
]


@pytest.mark.parametrize(("name", "resources", "usage", "share", "by_hand"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_configuration_within_5_percent_of_the_hand_figure(
    name: str, resources: list[Triple], usage: UsageProfile | None, share: float | None, by_hand: float
) -> None:
    estimate = monthly_cost(resources, usage, traffic_share=share)
    assert not estimate.gaps, name
    assert estimate.total_usd == pytest.approx(by_hand, rel=0.05), [(line.description, line.monthly_usd) for line in estimate.lines]


def test_the_golden_set_covers_cpu_gpu_serverless_async_every_tier_and_three_regions() -> None:
    names = " ".join(g[0] for g in GOLDEN)
    assert len(GOLDEN) >= 10
    for part in ("cpu", "gpu", "serverless", "async", "tier1", "tier2", "tier3", "us-east-1", "us-west-2", "eu-west-1"):
        assert part in names, part
