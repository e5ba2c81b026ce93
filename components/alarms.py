"""EndpointAlarms: the CloudWatch alarms of one SageMaker endpoint.

Errors and p99 model latency for every endpoint; backlog age for async ones. The
errors alarm is also the endpoint's blue/green auto-rollback alarm: SageMaker rolls a
deployment back only when an alarm is attached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True, kw_only=True)
class EndpointAlarmsArgs:
    """Inputs of `EndpointAlarms`."""

    endpoint_name: str
    """Physical SageMaker endpoint name (known before the endpoint exists)."""
    variant_name: str = "AllTraffic"
    """Production variant to watch. Default: AllTraffic."""
    is_async: bool = False
    """Adds the backlog alarm. Default: false."""
    error_rate_threshold: float = 5.0
    """5xx invocations per minute before alarming. Default: 5."""
    p99_latency_ms: int = 1000
    """p99 ModelLatency threshold. Default: 1000 ms."""
    max_backlog: int = 100
    """ApproximateBacklogSize threshold for async endpoints. Default: 100."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags. Default: none."""


class EndpointAlarms(pulumi.ComponentResource):
    """Errors, latency and (async) backlog alarms; `rollback_alarm_names` feeds blue/green."""

    rollback_alarm_names: list[str]
    alarm_names: list[str]

    def __init__(self, name: str, args: EndpointAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:alarms:EndpointAlarms", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        dims = {"EndpointName": args.endpoint_name, "VariantName": args.variant_name}
        errors_name = f"{args.endpoint_name}-5xx"
        aws.cloudwatch.MetricAlarm(
            f"{name}-errors",
            name=errors_name,
            alarm_description=f"{args.endpoint_name}: 5xx invocation errors",
            namespace="AWS/SageMaker",
            metric_name="Invocation5XXErrors",
            dimensions=dims,
            statistic="Sum",
            period=60,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=args.error_rate_threshold,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            tags=dict(args.tags),
            opts=child,
        )
        latency_name = f"{args.endpoint_name}-p99-latency"
        aws.cloudwatch.MetricAlarm(
            f"{name}-latency",
            name=latency_name,
            alarm_description=f"{args.endpoint_name}: p99 model latency above {args.p99_latency_ms} ms",
            namespace="AWS/SageMaker",
            metric_name="ModelLatency",
            dimensions=dims,
            extended_statistic="p99",
            period=60,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold=args.p99_latency_ms * 1000,  # ModelLatency is reported in microseconds
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            tags=dict(args.tags),
            opts=child,
        )
        self.alarm_names = [errors_name, latency_name]
        if args.is_async:
            backlog_name = f"{args.endpoint_name}-backlog"
            aws.cloudwatch.MetricAlarm(
                f"{name}-backlog",
                name=backlog_name,
                alarm_description=f"{args.endpoint_name}: async backlog above {args.max_backlog}",
                namespace="AWS/SageMaker",
                metric_name="ApproximateBacklogSize",
                dimensions={"EndpointName": args.endpoint_name},
                statistic="Average",
                period=60,
                evaluation_periods=5,
                threshold=args.max_backlog,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                tags=dict(args.tags),
                opts=child,
            )
            self.alarm_names.append(backlog_name)
        self.rollback_alarm_names = [errors_name]
        self.register_outputs({"alarm_names": self.alarm_names})
