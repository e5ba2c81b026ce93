"""Observability: one CloudWatch dashboard per region (metrics by model and inference type),
and the encrypted log group every component's logs go to."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True, kw_only=True)
class DashboardEndpoint:
    """One endpoint shown on the dashboard."""

    endpoint_name: str
    """Physical endpoint name."""
    model: str
    """Model name (widget title)."""
    inference_type: str
    """provisioned, serverless or async."""


@dataclass(frozen=True, kw_only=True)
class RegionalDashboardArgs:
    """Inputs of `RegionalDashboard`."""

    dashboard_name: str
    """Physical dashboard name."""
    region: str
    """Region whose metrics are shown."""
    endpoints: Sequence[DashboardEndpoint]
    """Endpoints to chart: invocations, errors, latency percentiles, async backlog."""
    table_name: str
    """The token table (replication latency, throttles)."""


def dashboard_body(args: RegionalDashboardArgs) -> str:
    """The dashboard JSON: one row per endpoint, one for the table."""
    widgets: list[dict[str, object]] = []
    for row, endpoint in enumerate(args.endpoints):
        dims = ["EndpointName", endpoint.endpoint_name, "VariantName", "AllTraffic"]
        title = f"{endpoint.model} ({endpoint.inference_type})"
        metrics: list[list[object]] = [
            ["AWS/SageMaker", "Invocations", *dims, {"stat": "Sum"}],
            ["AWS/SageMaker", "Invocation5XXErrors", *dims, {"stat": "Sum"}],
        ]
        latency = [["AWS/SageMaker", "ModelLatency", *dims, {"stat": p}] for p in ("p50", "p90", "p99")]
        if endpoint.inference_type == "async":
            metrics.append(["AWS/SageMaker", "ApproximateBacklogSize", "EndpointName", endpoint.endpoint_name, {"stat": "Average"}])
        for column, (suffix, series) in enumerate((("traffic", metrics), ("latency (µs)", latency))):
            widgets.append(
                {
                    "type": "metric",
                    "x": column * 12,
                    "y": row * 6,
                    "width": 12,
                    "height": 6,
                    "properties": {"title": f"{title} {suffix}", "region": args.region, "metrics": series, "period": 60},
                }
            )
    widgets.append(
        {
            "type": "metric",
            "x": 0,
            "y": len(args.endpoints) * 6,
            "width": 24,
            "height": 6,
            "properties": {
                "title": f"{args.table_name} replication and throttling",
                "region": args.region,
                "period": 60,
                "metrics": [
                    ["AWS/DynamoDB", "ReplicationLatency", "TableName", args.table_name, "ReceivingRegion", args.region, {"stat": "Maximum"}],
                    ["AWS/DynamoDB", "ThrottledRequests", "TableName", args.table_name, {"stat": "Sum"}],
                ],
            },
        }
    )
    return json.dumps({"widgets": widgets})


class RegionalDashboard(pulumi.ComponentResource):
    """A CloudWatch dashboard of the region's endpoints and token table."""

    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: RegionalDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:observability:RegionalDashboard", name, {}, opts)
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=dashboard_body(args),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"dashboard_name": dashboard.dashboard_name})


class LogSettings(Protocol):
    """What a component's Args say about its log groups (every Args with logs has these three fields)."""

    @property
    def kms_key_arn(self) -> pulumi.Input[str]: ...

    @property
    def log_retention_days(self) -> int: ...

    @property
    def tags(self) -> Mapping[str, str]: ...


def encrypted_log_group(
    resource_name: str, *, log_group_name: str, settings: LogSettings, opts: pulumi.ResourceOptions
) -> aws.cloudwatch.LogGroup:
    """A log group encrypted with the region's key and kept for a bounded time.

    One shape for every component, so no log group ships unencrypted or with infinite
    retention; the key's policy (drkit.components.encryption.key_policy) lets CloudWatch Logs use
    it for this account's log groups in the region.
    """
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=log_group_name,
        retention_in_days=settings.log_retention_days,
        kms_key_id=settings.kms_key_arn,
        tags=dict(settings.tags),
        opts=opts,
    )
