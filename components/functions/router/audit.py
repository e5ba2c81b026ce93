"""One append-only audit record per routing decision: S3 (object-locked) and CloudWatch metrics.

The S3 key is ``audit/<region>/YYYY/MM/DD/<request_id>.json``: date-partitioned for Athena,
unique per request, and written once (the bucket has object lock, so a record cannot be
changed or deleted during its retention). Metrics go to namespace ``drkit`` with dimensions
Region, Model, Team and InferenceType (the tag names the cost reports use).

Auditing never fails a request that was served: a failed write is logged and counted
(`AuditWriter.failures`), and the caller answers the client anyway. Stdlib + boto3 only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger("drkit.router.audit")
NAMESPACE = "drkit"


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    """What was decided for one request, and why."""

    request_id: str
    at: float
    """Epoch seconds of the decision."""
    region: str
    team: str
    model: str
    traffic_class: str
    payload_bytes: int
    path: str
    """The path that served (or was to serve) the request."""
    routed_path: str
    """What the routing engine chose before breakers and budgets."""
    rule: str
    reason: str
    estimated_cost_usd: float
    outcome: str
    """served | accepted | refused | failed."""
    status_code: int
    budget_action: str = "allow"
    fallback: str = ""
    """Why the path differs from the routed one (breaker open, not deployed here), if it does."""


def audit_key(record: AuditRecord) -> str:
    """The S3 key of a record: region, then the UTC date of the decision, then the request id."""
    day = datetime.fromtimestamp(record.at, UTC).strftime("%Y/%m/%d")
    return f"audit/{record.region}/{day}/{record.request_id}.json"


def metric_data(record: AuditRecord) -> list[dict[str, Any]]:
    """The CloudWatch datapoints of one record: a request count and its estimated cost."""
    dimensions = [
        {"Name": "Region", "Value": record.region},
        {"Name": "Model", "Value": record.model},
        {"Name": "Team", "Value": record.team},
        {"Name": "InferenceType", "Value": record.path},
    ]
    at = datetime.fromtimestamp(record.at, UTC)
    data: list[dict[str, Any]] = [
        {"MetricName": "Requests", "Dimensions": dimensions, "Timestamp": at, "Value": 1.0, "Unit": "Count"},
        {
            "MetricName": "EstimatedCostUSD",
            "Dimensions": dimensions,
            "Timestamp": at,
            "Value": record.estimated_cost_usd,
            "Unit": "None",
        },
    ]
    if record.outcome in ("refused", "failed"):
        name = "Refused" if record.outcome == "refused" else "Failed"
        data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": 1.0, "Unit": "Count"})
    if record.fallback:
        data.append({"MetricName": "Fallbacks", "Dimensions": dimensions, "Timestamp": at, "Value": 1.0, "Unit": "Count"})
    return data


class AuditWriter:
    """Writes records to the audit bucket and metrics to CloudWatch, never raising."""

    def __init__(self, bucket: str, s3_client: Any, cloudwatch_client: Any) -> None:
        self.bucket = bucket
        self.s3 = s3_client
        self.cloudwatch = cloudwatch_client
        self.failures = 0

    def write(self, record: AuditRecord) -> bool:
        """Append the record; False (and logged) when either write failed."""
        ok = True
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=audit_key(record),
                Body=json.dumps(vars(record), sort_keys=True).encode(),  # flat scalars: no deep copy (asdict) needed
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",  # object-lock buckets require a checksum on PUT
            )
        except (ClientError, BotoCoreError):
            LOG.exception("audit record %s not written to s3://%s", record.request_id, self.bucket)
            ok = False
        try:
            self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=metric_data(record))
        except (ClientError, BotoCoreError):
            LOG.exception("audit metrics for %s not written", record.request_id)
            ok = False
        self.failures += not ok
        return ok
