"""The drill scenarios and the account changes each one injects."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any

from drkit.commands.drill.topology import Topology
from drkit.components.functions.router.breakers import BreakerConfig
from drkit.core.rto import RtoBound


class Scenario(str, Enum):
    """What a drill breaks."""

    REGION_OUTAGE = "region-outage"
    """The primary region stops answering (sim only: a real region cannot be switched off)."""
    HEALTH_CHECK_FAILOVER = "health-check-failover"
    """Invert the primary's health check: the safe drill for production."""
    ENDPOINT_FAILURE = "endpoint-failure"
    """One model's endpoints in the primary region stop serving: every call fails fast (sim only)."""
    ENDPOINT_TIMEOUT = "endpoint-timeout"
    """One model's endpoints in the primary region hang: calls time out and DescribeEndpoint still
    says InService (sim only). An inference router does not retry a timeout."""
    FIS_REPLICATION_PAUSE = "fis-replication-pause"
    """Start the deployment's FIS template pausing token-table replication into the takeover
    region (aws only: FIS acts on a real account; its alarms stop it)."""


def worst_case(topology: Topology, takeover: str, scenario: Scenario) -> RtoBound:
    """The takeover region's computed RTO bound for `scenario`. A hung endpoint still reads InService,
    so the health check sees it only once the front door's breakers have tripped: that needs
    `min_requests` failures inside one breaker window, so up to a window more, given that many
    requests reach it per window (with fewer, the breakers never trip and nothing fails over)."""
    bound = topology.regions[takeover].bound
    if scenario is Scenario.ENDPOINT_TIMEOUT:
        return replace(bound, breaker_seconds=float(BreakerConfig().window_seconds))
    return bound


class ActionKind(str, Enum):
    """A change to the account that the journal records and `recover` undoes."""

    INVERT_HEALTH_CHECK = "invert-health-check"
    REGION_OUTAGE = "region-outage"
    ENDPOINT_FAILURE = "endpoint-failure"
    ENDPOINT_TIMEOUT = "endpoint-timeout"
    FIS_EXPERIMENT = "fis-experiment"


# The FIS template a scenario starts, by its Name tag suffix (components/fis.py names them
# `<deployment>-<scenario>`).
FIS_TEMPLATES = {Scenario.FIS_REPLICATION_PAUSE: "pause-token-replication"}
# Scenarios the sim backend can play (FIS experiments need a real account).
SIM_SCENARIOS = tuple(s for s in Scenario if s not in FIS_TEMPLATES)


@dataclass(frozen=True, kw_only=True)
class Action:
    """Set one switch of the account to `value`; its undo sets it to the snapshot's value."""

    kind: ActionKind
    region: str
    target: str
    value: bool

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Action:
        return cls(kind=ActionKind(data["kind"]), region=data["region"], target=data["target"], value=bool(data["value"]))

    def describe(self) -> str:
        verb = "set" if self.value else "clear"
        return f"{verb} {self.kind.value} on {self.target} ({self.region})"


# The AWS call the aws backend makes to set each kind of switch (value True) and to put it back (False).
AWS_CALLS: dict[ActionKind, tuple[str, str]] = {
    ActionKind.INVERT_HEALTH_CHECK: (
        "route53.update_health_check(HealthCheckId={check}, Inverted=True)",
        "route53.update_health_check(HealthCheckId={check}, Inverted=False)",
    ),
    ActionKind.FIS_EXPERIMENT: (
        "fis.start_experiment(experimentTemplateId={template}) in {region}",
        "fis.stop_experiment(id={experiment}) in {region}",
    ),
}


def aws_call(kind: ActionKind, value: bool, **names: str) -> str:
    """The call that sets (`value` True) or puts back a switch, with the ids it names filled in."""
    return AWS_CALLS[kind][0 if value else 1].format(**names)


def injection(scenario: Scenario, topo: Topology) -> list[Action]:
    """The account changes a scenario makes, in order."""
    primary = topo.regions[topo.primary]
    if scenario is Scenario.HEALTH_CHECK_FAILOVER:
        return [Action(kind=ActionKind.INVERT_HEALTH_CHECK, region=topo.primary, target=primary.fqdn, value=True)]
    if scenario in FIS_TEMPLATES:
        takeover = topo.secondaries[0]
        return [Action(kind=ActionKind.FIS_EXPERIMENT, region=takeover, target=FIS_TEMPLATES[scenario], value=True)]
    if scenario is Scenario.REGION_OUTAGE:
        return [Action(kind=ActionKind.REGION_OUTAGE, region=topo.primary, target=topo.primary, value=True)]
    model = topo.models[0]
    kind = ActionKind.ENDPOINT_TIMEOUT if scenario is Scenario.ENDPOINT_TIMEOUT else ActionKind.ENDPOINT_FAILURE
    return [
        Action(kind=kind, region=topo.primary, target=e.name, value=True)
        for e in primary.endpoints_for(model)
    ]
