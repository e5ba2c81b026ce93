"""One append-only audit record per routing decision: S3 (object-locked) and CloudWatch metrics.

The S3 key is ``audit/<region>/YYYY/MM/DD/<request_id>.json``: date-partitioned for Athena,
unique per request, and written once (the bucket has object lock, so a record cannot be
changed or deleted during its retention). Metrics go to namespace ``drkit`` with dimensions
Region, Model, Team and InferenceType (the tag names the cost reports use), written as
embedded-metric-format log lines rather than PutMetricData calls.

Auditing never fails a request that was served: a failed write is logged and counted
(`AuditWriter.failures`), and the caller answers the client anyway. Stdlib + boto3 only.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
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


DIMENSIONS = ("Region", "Model", "Team", "InferenceType")


def metric_values(record: AuditRecord) -> dict[str, tuple[float, str]]:
    """The CloudWatch metrics of one record, name → (value, unit): a request count, its estimated
    cost, and a count when it was refused, failed or fell back."""
    values: dict[str, tuple[float, str]] = {"Requests": (1.0, "Count"), "EstimatedCostUSD": (record.estimated_cost_usd, "None")}
    if record.outcome in ("refused", "failed"):
        values["Refused" if record.outcome == "refused" else "Failed"] = (1.0, "Count")
    if record.fallback:
        values["Fallbacks"] = (1.0, "Count")
    return values


def emf_line(record: AuditRecord) -> str:
    """The record's metrics as one CloudWatch embedded-metric-format log line (CloudWatch User
    Guide, "Specification: Embedded metric format"): CloudWatch Logs turns it into metrics, so
    the router makes no PutMetricData call (an API request per request, and its latency)."""
    values = metric_values(record)
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(record.at * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [list(DIMENSIONS)],
                        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                    }
                ],
            },
            "Region": record.region, "Model": record.model, "Team": record.team, "InferenceType": record.path,
            "request_id": record.request_id,
            **{name: value for name, (value, _) in values.items()},
        },  # fmt: skip
        separators=(",", ":"),
    )


def to_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")  # Lambda sends stdout to the function's log group


class AuditWriter:
    """Writes records to the audit bucket and their metrics as embedded-metric log lines, never raising."""

    def __init__(self, bucket: str, s3_client: Any, emit: Callable[[str], None] = to_stdout) -> None:
        self.bucket = bucket
        self.s3 = s3_client
        self.emit = emit
        self.failures = 0

    def write(self, record: AuditRecord) -> bool:
        """Append the record and emit its metrics; False (and logged) when the S3 write failed."""
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
        self.emit(emf_line(record))
        self.failures += not ok
        return ok
