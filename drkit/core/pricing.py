"""The dated pricing table drkit's cost model reads. On-demand list prices, USD.

drkit has no live price feed and nothing here was fetched from AWS's Price List API.
The us-east-1 figures are transcribed from AWS's public pricing pages (URLs beside each
group) as quoted in October 2025 (SageMaker m5.xlarge $0.269/h and g5.xlarge $1.41/h per
zircon.tech, "The real cost of running AI models on AWS SageMaker", Oct 2025; the rest
from the pages' own examples). Other regions are derived with a per-region multiplier
(below), which is an approximation: check the page for your region before budgeting.
Every figure is one line, so updating a price is a one-line change and a test diff.
"""

from __future__ import annotations

from drkit.core.errors import DrkitError

PRICES_AS_OF = "2025-10"
HOURS_PER_MONTH = 730  # AWS pricing pages and Infracost both use 730 h/month

# --- SageMaker AI real-time / async hosting, per instance-hour, us-east-1 ---------------
# https://aws.amazon.com/sagemaker/pricing/ ("Real-Time Inference" tab)
_SIZE_FACTOR = {"large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "8xlarge": 16, "12xlarge": 24, "16xlarge": 32, "24xlarge": 48}
_CPU_LARGE_HOURLY = {"m5": 0.1345, "m6i": 0.1345, "c5": 0.119, "c6i": 0.119, "r5": 0.176, "r6i": 0.176}
_FLAT_HOURLY = {
    "ml.t2.medium": 0.065, "ml.t2.large": 0.13, "ml.t2.xlarge": 0.26, "ml.t2.2xlarge": 0.52,
    "ml.g4dn.xlarge": 0.7364, "ml.g4dn.2xlarge": 0.94, "ml.g4dn.4xlarge": 1.505, "ml.g4dn.8xlarge": 2.72,
    "ml.g4dn.12xlarge": 4.89, "ml.g4dn.16xlarge": 5.44,
    "ml.g5.xlarge": 1.41, "ml.g5.2xlarge": 1.52, "ml.g5.4xlarge": 2.03, "ml.g5.8xlarge": 3.06,
    "ml.g5.12xlarge": 7.09, "ml.g5.16xlarge": 5.12, "ml.g5.24xlarge": 10.18, "ml.g5.48xlarge": 20.36,
    "ml.inf2.xlarge": 0.99, "ml.inf2.8xlarge": 2.36, "ml.inf2.24xlarge": 7.79, "ml.inf2.48xlarge": 15.58,
    "ml.p3.2xlarge": 3.825, "ml.p3.8xlarge": 14.688, "ml.p3.16xlarge": 28.152,
}  # fmt: skip

# --- SageMaker AI serverless inference, us-east-1 -----------------------------------------
# https://aws.amazon.com/sagemaker/pricing/ ("Serverless Inference"): per second of
# compute, proportional to memory; quoted per GB-second here.
SERVERLESS_GB_SECOND = 0.00002
SERVERLESS_PROVISIONED_CONCURRENCY_GB_SECOND = 0.0000048
SERVERLESS_DATA_PROCESSED_GB = 0.016

# --- DynamoDB on-demand (after the November 2024 price reduction) -------------------------
# https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_WRITE_REQUEST_UNIT = 0.625 / 1_000_000
DYNAMODB_READ_REQUEST_UNIT = 0.125 / 1_000_000
DYNAMODB_REPLICATED_WRITE_UNIT = 0.625 / 1_000_000
DYNAMODB_STORAGE_GB_MONTH = 0.25
DYNAMODB_PITR_GB_MONTH = 0.20

# --- Route 53 ------------------------------------------------------------------------------
# https://aws.amazon.com/route53/pricing/ (health checks on AWS endpoints; optional features)
HEALTH_CHECK_BASE_MONTH = 0.50
HEALTH_CHECK_OPTION_MONTH = 1.00  # each of: HTTPS, string matching, fast interval, latency measurement
QUERIES_STANDARD_PER_MILLION = 0.40
QUERIES_LATENCY_PER_MILLION = 0.60

# --- everything else a stack creates --------------------------------------------------------
STEP_FUNCTIONS_STANDARD_TRANSITION = 0.025 / 1000  # https://aws.amazon.com/step-functions/pricing/
S3_STANDARD_GB_MONTH = 0.023  # https://aws.amazon.com/s3/pricing/
S3_PUT_REQUEST = 0.005 / 1000
S3_GET_REQUEST = 0.0004 / 1000
SNS_PUBLISH = 0.50 / 1_000_000  # https://aws.amazon.com/sns/pricing/
KMS_KEY_MONTH = 1.00  # https://aws.amazon.com/kms/pricing/
KMS_REQUEST = 0.03 / 10_000
CLOUDWATCH_ALARM_MONTH = 0.10  # https://aws.amazon.com/cloudwatch/pricing/ (standard resolution)
CLOUDWATCH_DASHBOARD_MONTH = 3.00
# The next two are the well-known us-east-1 list prices, an assumption: the stored copy of
# https://aws.amazon.com/cloudwatch/pricing/ that drkit's authors could search shows the page's
# tabs but not these rates (third-party guides of Feb 2026 quote the same figures).
CLOUDWATCH_LOGS_INGEST_GB = 0.50  # Logs, Standard log class, data ingested (first tier)
CLOUDWATCH_CUSTOM_METRIC_MONTH = 0.30  # each unique namespace + metric name + dimensions, first 10,000
LAMBDA_REQUEST = 0.20 / 1_000_000  # https://aws.amazon.com/lambda/pricing/
LAMBDA_GB_SECOND = 0.0000166667
API_GATEWAY_REST_REQUEST = 3.50 / 1_000_000  # https://aws.amazon.com/api-gateway/pricing/
API_GATEWAY_HTTP_REQUEST = 1.00 / 1_000_000

# Derived, not read: the ratio of each region's SageMaker price to us-east-1's, from the
# published m5.xlarge rates; applied to every regional figure above.
REGION_MULTIPLIER = {
    "us-east-1": 1.0, "us-east-2": 1.0, "us-west-2": 1.0, "us-west-1": 1.17,
    "ca-central-1": 1.11, "eu-west-1": 1.12, "eu-west-2": 1.17, "eu-west-3": 1.18,
    "eu-central-1": 1.20, "eu-north-1": 1.07, "ap-southeast-1": 1.25, "ap-southeast-2": 1.25,
    "ap-northeast-1": 1.29, "ap-northeast-2": 1.23, "ap-south-1": 1.06, "sa-east-1": 1.59,
}  # fmt: skip
DEFAULT_REGION_MULTIPLIER = 1.25  # regions not listed: a deliberately pessimistic guess


class PricingError(DrkitError):
    """A resource needs a price the table does not have."""


def region_multiplier(region: str | None) -> float:
    return REGION_MULTIPLIER.get(region or "us-east-1", DEFAULT_REGION_MULTIPLIER)


def is_priced(instance_type: str) -> bool:
    """Whether this table has a price for the type (every SageMaker type deploys; not all are priced here)."""
    try:
        instance_hourly(instance_type, None)
    except PricingError:
        return False
    return True


def instance_hourly(instance_type: str, region: str | None) -> float:
    """On-demand SageMaker hosting price of one instance-hour in `region`."""
    if instance_type in _FLAT_HOURLY:
        base = _FLAT_HOURLY[instance_type]
    else:
        parts = instance_type.split(".")
        if len(parts) != 3 or parts[1] not in _CPU_LARGE_HOURLY or parts[2] not in _SIZE_FACTOR:
            raise PricingError(f"no price for instance type {instance_type!r}; add it to drkit/core/pricing.py")
        base = _CPU_LARGE_HOURLY[parts[1]] * _SIZE_FACTOR[parts[2]]
    return round(base * region_multiplier(region), 6)
