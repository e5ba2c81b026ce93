"""Drills send their synthetic traffic through the real router; its AWS doubles agree with moto."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from drkit.commands.drill.doubles import MemoryDynamo, UnsupportedCallError
from drkit.commands.drill.frontdoor import DRILL_TEAM, HEALTH_PROBE_CLIENT, FrontDoors, payload_client, probe_payload
from drkit.commands.drill.scenarios import Scenario
from drkit.commands.drill.topology import topology_of
from drkit.commands.drill.traffic import DeploymentSim, SimSettings
from drkit.components.frontdoor import args_from_spec, router_config
from drkit.components.functions.router.breakers import BreakerConfig, BreakerState, BreakerStore
from drkit.components.functions.router.budgets import BudgetStore
from drkit.components.functions.router.health import check_table
from drkit.core.errors import DrillSafetyError
from drkit.core.keys import key_digest
from drkit.core.tokens import TokenStore, TokenStoreError
from drkit.stacks.plan import plan_region, token_table_name
from tests.conftest import create_token_table, example_graph, example_spec
from tests.test_drill import run_drill, simulate

TABLE, REGION = "drill-tokens", "us-east-1"
CFG = BreakerConfig(min_requests=4, error_rate=0.5, cool_down_seconds=10, half_open_probes=2)


def _script(client: Any, clock: list[float]) -> list[Any]:
    """The breaker, budget, token and health calls the router makes, with every answer kept."""
    now = lambda: clock[0]  # noqa: E731
    breakers = BreakerStore(TABLE, REGION, client, CFG, clock=now)
    budgets = BudgetStore(TABLE, REGION, [REGION, "us-west-2"], client, clock=now)
    tokens = TokenStore(TABLE, client, clock=now)
    seen: list[Any] = []
    for ok in (True, False, False, False, False):
        seen.append(breakers.admit("ep"))
        seen.append(breakers.record("ep", ok, 12.0).state)
    seen.append(breakers.state("ep"))
    clock[0] += 11
    seen += [breakers.state("ep"), breakers.admit("ep"), breakers.admit("ep"), breakers.admit("ep")]
    seen.append(breakers.record("ep", True, 5.0).state)
    seen += [budgets.charge("team", 0.25), budgets.charge("team", 0.5), budgets.spend("team"), budgets.spend("nobody")]
    first = tokens.record("req-1", REGION, "async", "m", "s3://in/req-1", 3600)
    seen += [first.status, tokens.record("req-1", REGION, "async", "m", "s3://in/req-1", 3600).attempt]
    try:
        tokens.record("req-1", REGION, "batch", "m", "s3://in/req-1", 3600)
    except TokenStoreError as exc:
        seen.append(str(exc))
    got = tokens.get("req-1")
    seen += [got and (got.status, got.path, got.attempt), tokens.get("req-2")]
    seen.append(check_table(client, TABLE).ok)
    seen.append(check_table(client, "no-such-table").detail.split(":")[0])
    return seen


def test_the_drills_table_answers_the_routers_calls_exactly_as_moto_does() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_token_table(client, TABLE)
        on_moto = _script(client, [1_767_794_400.0])
    in_memory = _script(MemoryDynamo(REGION, table_name=TABLE), [1_767_794_400.0])
    assert in_memory == on_moto
    assert BreakerState.OPEN in on_moto and BreakerState.CLOSED in on_moto  # the script crossed every state


def test_the_drills_table_refuses_a_call_it_does_not_implement_by_name() -> None:
    table = MemoryDynamo(REGION, table_name=TABLE)
    with pytest.raises(UnsupportedCallError, match="attribute_exists"):
        table.put_item(TableName=TABLE, Item={"request_id": {"S": "k"}}, ConditionExpression="attribute_exists(request_id)")
    with pytest.raises(UnsupportedCallError, match="REMOVE"):
        table.update_item(TableName=TABLE, Key={"request_id": {"S": "k"}}, UpdateExpression="REMOVE spend_usd")


def test_a_region_that_is_down_refuses_every_call_like_boto3() -> None:
    down = [False]
    table = MemoryDynamo(REGION, lambda: down[0], table_name=TABLE)
    table.describe_table(TableName=TABLE)
    down[0] = True
    with pytest.raises(EndpointConnectionError):
        table.get_item(TableName=TABLE, Key={"request_id": {"S": "k"}})
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        MemoryDynamo(REGION, table_name=TABLE).describe_table(TableName="other")


# -- the deployed config -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fraud-tier1", "docs-tier3"])
def test_each_regions_router_config_is_read_from_the_graph_as_deployed(name: str) -> None:
    topo = topology_of(example_graph(name))
    spec = example_spec(name)
    for region, facts in topo.regions.items():
        deployed = dict(facts.router_config)
        arn = deployed.pop("state_machine_arn")
        assert arn.startswith(f"arn:aws:states:{region}:") and arn.endswith(":stateMachine:" + f"{spec.deployment}-inference")
        plan = plan_region(spec, region)
        args = args_from_spec(
            spec, region, deployed=[(e.model, e.mode) for e in plan.endpoints], table_name=token_table_name(spec),
            table_arn="unused", kms_key_arn="unused", state_machine_arn=None,
        )  # fmt: skip
        assert deployed == json.loads(json.dumps(router_config(args)))  # as the config file holds it


def test_a_graph_without_a_front_door_is_refused_before_the_drill_starts() -> None:
    topo = topology_of(example_graph("docs-tier3"))
    region = topo.primary
    bare = replace(topo, regions={**topo.regions, region: replace(topo.regions[region], router_config={})})
    with pytest.raises(DrillSafetyError, match=f"{region}: the deployment graph has no front door"):
        DeploymentSim(bare)


# -- drills through the front door --------------------------------------------------------------------
def test_the_drill_authenticates_as_its_own_team_and_real_teams_are_untouched() -> None:
    topo = topology_of(example_graph("fraud-tier1"))
    doors = FrontDoors(topo, _HealthyWorld(), clock=lambda: 1_767_794_400.0)
    router = doors.routers[topo.primary]
    teams = {t.name: t for t in router.config.teams}
    assert teams[DRILL_TEAM].key_digest == key_digest(doors.key, doors.key_secret)
    assert {t.name for t in router.config.teams} - {DRILL_TEAM} == {"card-auth", "disputes"}
    answer = doors.infer(topo.primary, client=0, model=topo.models[0], traffic_class="authorisation", payload_bytes=2048,
                         request_id="probe-1")  # fmt: skip
    assert (answer.status, answer.path, answer.served) == (200, "realtime", True)
    assert doors.audited(topo.primary) == 1


def test_a_region_outage_drill_is_served_by_the_takeover_routers_and_every_answer_is_audited(tmp_path: Any) -> None:
    result, _ = run_drill(tmp_path, name="docs-tier3", scenario=Scenario.REGION_OUTAGE)
    assert result.verified, result.problems
    doors = result.measurement.front_door
    assert set(doors) == {result.takeover}  # the primary is down: no request reached its front door
    takeover = doors[result.takeover]
    assert takeover["requests"] == takeover["audit_records"] > 0
    assert takeover["fallbacks"] > 0  # serverless cold start → async while capacity comes up
    assert any(key.startswith("200 serverless") for key in takeover["answers"])


def test_a_cold_start_in_the_takeover_region_never_opens_its_breakers_or_fails_its_health() -> None:
    # Regression found by this drill: cold-start errors opened the standby's only breaker, its deep
    # health then answered 503 and the drill stopped with "takeover region cannot serve".
    topo = topology_of(example_graph("docs-tier3"))
    sim = DeploymentSim(topo, SimSettings(in_flight=50))
    sim.submit_in_flight()
    sim.cut(outage={topo.primary}, inverted=set(), failed=set())
    router = sim.front.routers[sim.takeover]
    serverless = next(e.name for e in topo.regions[sim.takeover].endpoints if e.mode == "serverless")
    states, health = set(), set()
    while not sim.served(120):
        sim.tick()
        assert router.breakers is not None
        states.add(router.breakers.state(serverless))
        health.add(sim.deep_health(sim.takeover))
    assert any("cold start" in event for _, event in sim.m.timeline)
    assert states == {BreakerState.CLOSED} and health == {True}


def test_an_endpoint_failure_turns_the_primarys_router_health_503_and_route53_moves_traffic() -> None:
    sim = simulate("search-tier2", Scenario.ENDPOINT_FAILURE, in_flight=50)
    report = sim.front.routers[sim.topo.primary].health_report()
    assert not report.healthy
    assert any(name.startswith("endpoint:") for name in report.body()["failed"])
    assert not sim.checkers[sim.topo.primary].reported_healthy
    assert sum(sim.front.answers[sim.takeover].values()) > 0


class _HealthyWorld:
    """Every endpoint InService and warm (for config-level tests)."""

    def region_down(self, region: str) -> bool:
        return False

    def invoke(self, region: str, endpoint: str, body: bytes) -> str:
        return "served"

    def invoke_router(self, region: str, router: str, target: str, body: bytes) -> tuple[str, str, str]:
        return "served", f"arn:aws:sagemaker:{region}:123456789012:endpoint/{target}", "local-preferred"

    def endpoint_status(self, region: str, endpoint: str) -> str | None:
        return "InService"

    def workflow_started(self, region: str, execution_input: Any) -> None:
        return None


@pytest.mark.parametrize("body", [b'{"features": [0.0]}', b"1.0,2.0", b"[0.0]", b"\x00\xff"])
def test_a_health_probe_in_any_format_is_nobodys_request(body: bytes) -> None:
    """A CSV probe (natural for an XGBoost model) once crashed the simulator's capacity model."""
    assert payload_client(body) == HEALTH_PROBE_CLIENT
    assert payload_client(json.dumps(probe_payload(3, 200)).encode()) == 3
