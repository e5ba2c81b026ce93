"""The front door in the simulated account: each region's real router, serving the drill's traffic.

Every synthetic request of a drill and every Route 53 probe of `/health` goes through
`drkit.components.functions.router.handler.Router` — the code the router Lambda runs — built from
the config the region's stack deploys (read from the graph by `topology`). So the drill
exercises routing, fallback, circuit breakers, budgets, the audit trail and deep health
as a real failover would. What the router's AWS clients would reach is answered by the
simulation through `doubles`.

The drill authenticates as its own team, `drkit-drill`, added to each region's config with
a key made for this drill and a budget it cannot exhaust, so its requests are audited under
their own name and never spend a real team's budget. The simulated account's team-key secret is
made for the drill too (the operator's secret never leaves Secrets Manager): the deployed teams'
digests then match no key, and only the drill's team can call.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol

from drkit.commands.drill.doubles import (
    MemoryDynamo,
    MetricLog,
    SimInferenceRouterRuntime,
    SimS3,
    SimSageMaker,
    SimSageMakerRuntime,
    SimStepFunctions,
)
from drkit.commands.drill.topology import Topology
from drkit.components.functions.router.config import WORKFLOW_PATHS, TeamConfig, parse_config
from drkit.components.functions.router.handler import Clients, Router
from drkit.core.errors import DrillSafetyError
from drkit.core.keys import key_digest

ROUTER_LOGGER = "drkit.router"  # components/functions/router/handler.py LOG
DRILL_TEAM = "drkit-drill"
DRILL_BUDGET_USD = 1e9  # the drill's traffic is never refused or degraded for budget


class World(Protocol):
    """What the router's AWS calls reach: the simulated regions."""

    def region_down(self, region: str) -> bool: ...
    def invoke(self, region: str, endpoint: str, body: bytes) -> str: ...
    def invoke_router(self, region: str, router: str, target: str, body: bytes) -> tuple[str, str, str]: ...
    def endpoint_status(self, region: str, endpoint: str) -> str | None: ...
    def workflow_started(self, region: str, execution_input: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Answer:
    """What one synthetic request got back from a region's front door."""

    region: str
    status: int
    path: str  # the path that answered ("" when the request never reached a path)
    routed_path: str  # the routing engine's decision
    fallback: str  # why the router left the routed path, if it did
    served_by: str = ""  # the inference router's destination that served it, when one did

    @property
    def serving_region(self) -> str:
        """The region whose endpoint answered: the router's destination's, else the front door's."""
        return self.served_by.split(":")[3] if self.served_by.count(":") >= 5 else self.region

    @property
    def served(self) -> bool:
        return class_served(self.status, self.routed_path)


def class_served(status: int, routed_path: str) -> bool:
    """Answered as its class needs: a result (200), or accepted (202) when it was routed to a queue."""
    return status == 200 or (status == 202 and routed_path in WORKFLOW_PATHS)


class FrontDoors:
    """One router per region of `topo`, with the drill's team and clients bound to `world`."""

    def __init__(self, topo: Topology, world: World, clock: Callable[[], float]) -> None:
        # Every failed invocation is a router warning, thousands per drill: the report counts
        # fallbacks instead, so the routers' own log stays quiet in this process.
        logging.getLogger(ROUTER_LOGGER).setLevel(logging.ERROR)
        self.key = secrets.token_urlsafe(24)
        self.key_secret = secrets.token_bytes(32)
        team = TeamConfig(name=DRILL_TEAM, key_digest=key_digest(self.key, self.key_secret), monthly_budget_usd=DRILL_BUDGET_USD)
        self.routers: dict[str, Router] = {}
        self.answers: dict[str, Counter] = {}
        self.metrics: dict[str, MetricLog] = {}
        for region, facts in topo.regions.items():
            if not facts.router_config:
                raise DrillSafetyError(
                    f"{region}: the deployment graph has no front door (router function with router_config.json); "
                    "drills send their traffic through it — rebuild the stacks with this drkit version"
                )
            config = parse_config(facts.router_config)
            config = replace(config, teams=(*config.teams, team))
            down = partial(world.region_down, region)
            clients = Clients(
                sagemaker_runtime=SimSageMakerRuntime(region, down, invoke=partial(world.invoke, region)),
                sagemaker=SimSageMaker(region, down, status=partial(world.endpoint_status, region)),
                stepfunctions=SimStepFunctions(region, down, started=partial(world.workflow_started, region)),
                dynamodb=MemoryDynamo(region, down, table_name=config.table_name),
                s3=SimS3(region, down),
                inference_router_runtime=SimInferenceRouterRuntime(region, down, invoke=partial(world.invoke_router, region)),
            )
            self.metrics[region] = MetricLog()
            self.routers[region] = Router(
                config, clients, clock=clock, timer=clock, new_id=lambda: secrets.token_hex(8), emit_metrics=self.metrics[region],
                key_secret=self.key_secret,
            )
            self.answers[region] = Counter()

    def infer(self, region: str, *, client: int, model: str, traffic_class: str, payload_bytes: int, request_id: str) -> Answer:
        """POST /v1/infer from synthetic client `client` with a payload of about `payload_bytes`."""
        body = {
            "model": model,
            "traffic_class": traffic_class,
            "request_id": request_id,
            "payload": probe_payload(client, payload_bytes),
        }
        event = {
            "rawPath": "/v1/infer",
            "requestContext": {"http": {"method": "POST"}},
            "headers": {"x-drkit-key": self.key, "content-type": "application/json"},
            "body": json.dumps(body),
        }
        result = self.routers[region].handle(event)
        answer_body = json.loads(result["body"])
        answer = Answer(
            region=region,
            status=result["statusCode"],
            path=result["headers"].get("x-drkit-path", ""),
            routed_path=str(answer_body.get("routed_path", result["headers"].get("x-drkit-path", ""))),
            fallback=str(answer_body.get("fallback", "")),
            served_by=str(answer_body.get("served_by", "")),
        )
        self.answers[region][(answer.status, answer.path)] += 1
        return answer

    def healthy(self, region: str) -> bool:
        """GET /health answered 200: what Route 53's probe of this region sees (it reads only the status)."""
        event = {"rawPath": "/health", "requestContext": {"http": {"method": "GET"}}, "headers": {}}
        return bool(self.routers[region].handle(event)["statusCode"] == 200)

    def audited(self, region: str) -> int:
        """Audit records the region's router wrote to its object-locked bucket."""
        s3: Any = self.routers[region].clients.s3
        return sum(1 for bucket, _ in s3.objects if bucket == self.routers[region].config.audit_bucket)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per region that was sent requests: answers by status and path, fallbacks and audit records."""
        out: dict[str, dict[str, Any]] = {}
        for region in self.routers:
            answers = self.answers[region]
            if not answers:
                continue
            out[region] = {
                "answers": {f"{status} {path or '-'}": n for (status, path), n in sorted(answers.items())},
                "requests": sum(answers.values()),
                "fallbacks": int(self.metrics[region].totals["Fallbacks"]),
                "audit_records": self.audited(region),
            }
        return out


def probe_payload(client: int, size: int) -> dict[str, Any]:
    """A JSON payload of about `size` bytes that names its client (the sim's capacity is per caller)."""
    return {"client": client, "pad": "x" * max(0, size - 32)}


HEALTH_PROBE_CLIENT = -2  # a deep-health probe (spec.models[].health_probe) names no client


def payload_client(body: bytes) -> int:
    """The synthetic client a payload came from (see `probe_payload`); a health probe's body, in any format, names none."""
    try:
        data = json.loads(body)
    except ValueError:
        return HEALTH_PROBE_CLIENT
    return int(data["client"]) if isinstance(data, dict) and "client" in data else HEALTH_PROBE_CLIENT
