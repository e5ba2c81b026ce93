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


AT_LEAST, ABOVE = "GreaterThanOrEqualToThreshold", "GreaterThanThreshold"


@dataclass(frozen=True)
class AlarmRule:
    """One alarm on an AWS/SageMaker metric of the endpoint, over 1-minute periods, missing data not breaching."""

    resource: str
    """Suffix of the alarm's Pulumi name."""
    suffix: str
    """The alarm is named `<endpoint>-<suffix>`."""
    metric_name: str
    statistic: str
    """Sum or Average, or a percentile such as p99 (CloudWatch's extended statistic)."""
    periods: int
    """Evaluation periods."""
    datapoints: int | None
    """Datapoints to alarm; None: every period (AWS's default)."""
    threshold: float
    comparison: str
    description: str
    per_variant: bool = True
    """Dimensioned by endpoint and variant; ApproximateBacklogSize is reported per endpoint only."""


def alarm_rules(args: EndpointAlarmsArgs) -> tuple[AlarmRule, ...]:
    """Errors first (the blue/green rollback alarm), then p99 latency, then the backlog of an async endpoint."""
    # resource, suffix, metric, statistic, periods, datapoints, threshold, comparison, description
    rules = [
        AlarmRule("errors", "5xx", "Invocation5XXErrors", "Sum", 2, 2, args.error_rate_threshold, AT_LEAST, "5xx invocation errors"),
        AlarmRule(
            "latency", "p99-latency", "ModelLatency", "p99", 3, 3,
            args.p99_latency_ms * 1000,  # ModelLatency is reported in microseconds
            ABOVE, f"p99 model latency above {args.p99_latency_ms} ms",
        ),  # fmt: skip
    ]
    if args.is_async:
        rules.append(
            AlarmRule(
                "backlog", "backlog", "ApproximateBacklogSize", "Average", 5, None, args.max_backlog, ABOVE,
                f"async backlog above {args.max_backlog}", per_variant=False,
            )  # fmt: skip
        )
    return tuple(rules)


class EndpointAlarms(pulumi.ComponentResource):
    """Errors, latency and (async) backlog alarms; `rollback_alarm_names` feeds blue/green."""

    rollback_alarm_names: list[str]
    alarm_names: list[str]

    def __init__(self, name: str, args: EndpointAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:alarms:EndpointAlarms", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alarm_names = []
        for rule in alarm_rules(args):
            alarm_name = f"{args.endpoint_name}-{rule.suffix}"
            percentile = rule.statistic.startswith("p")
            dimensions = {"EndpointName": args.endpoint_name}
            if rule.per_variant:
                dimensions["VariantName"] = args.variant_name
            aws.cloudwatch.MetricAlarm(
                f"{name}-{rule.resource}",
                name=alarm_name,
                alarm_description=f"{args.endpoint_name}: {rule.description}",
                namespace="AWS/SageMaker",
                metric_name=rule.metric_name,
                dimensions=dimensions,
                statistic=None if percentile else rule.statistic,
                extended_statistic=rule.statistic if percentile else None,
                period=60,
                evaluation_periods=rule.periods,
                datapoints_to_alarm=rule.datapoints,
                threshold=rule.threshold,
                comparison_operator=rule.comparison,
                treat_missing_data="notBreaching",
                tags=dict(args.tags),
                opts=child,
            )
            self.alarm_names.append(alarm_name)
        self.rollback_alarm_names = self.alarm_names[:1]
        self.register_outputs({"alarm_names": self.alarm_names})
