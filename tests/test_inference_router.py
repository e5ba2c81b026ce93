"""Inference routers end to end: AWS's published limits (botocore's models are the oracle), the
spec's opt-in, what the stacks deploy and grant, the front door's routed real-time path, and what
the drill measures with and without routers."""

from __future__ import annotations

import io
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.run import DEFAULT_PACK_DIR
from drkit.commands.drill.backends.sim import SimBackend
from drkit.commands.drill.doubles import FAILING, NOT_READY, SERVED, TIMEOUT, MemoryDynamo, SimS3, SimSageMaker, SimStepFunctions
from drkit.commands.drill.engine import DrillArgs, DrillRunner
from drkit.commands.drill.fidelity import route_through_router
from drkit.commands.drill.report import markdown, report_data
from drkit.commands.drill.scenarios import Scenario
from drkit.commands.drill.topology import topology_of
from drkit.components.frontdoor import inference_router_name
from drkit.components.functions.router.config import TeamConfig, parse_config
from drkit.components.functions.router.handler import Clients, Router
from drkit.core import inference_router as ir
from drkit.core.errors import SpecError
from drkit.core.keys import key_digest
from drkit.core.spec import parse_spec
from tests.conftest import example_graph
from tests.test_policies import findings, fraud, mutate

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
RUNTIME = botocore.session.get_session().get_service_model("sagemaker-inference-router-runtime")
EXAMPLE = Path(__file__).resolve().parents[1] / "stacks" / "examples" / "fraud-tier1.yaml"
E1 = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-tier1-fraud-xgb-provisioned"
W2 = "arn:aws:sagemaker:us-west-2:123456789012:endpoint/fraud-tier1-fraud-xgb-provisioned"
EU = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/fraud-tier1-fraud-xgb-provisioned"


def _member(operation: str, *path: str) -> Any:
    shape = SAGEMAKER.operation_model(operation).input_shape
    for name in path:
        shape = shape.members[name] if shape.type_name == "structure" else shape.member.members[name]
    return shape


def _matches(shape: Any, value: str) -> bool:
    return (
        shape.metadata.get("min", 0) <= len(value) <= shape.metadata.get("max", 10**9)
        and re.fullmatch(shape.metadata["pattern"], value) is not None
    )


# -- AWS's limits, as botocore's models state them ---------------------------------------------
def test_the_limits_drkit_uses_are_the_service_models():
    create = SAGEMAKER.operation_model("CreateInferenceRouter").input_shape
    assert create.members["RoutingTargets"].metadata["max"] == ir.MAX_ROUTING_TARGETS
    assert create.members["RoutingTargets"].member.members["Destinations"].metadata["max"] == ir.MAX_DESTINATIONS
    assert create.members["InferenceRouterName"].metadata["max"] == ir.NAME_MAX
    assert ir.NAME_PATTERN.pattern == f"^{create.members['InferenceRouterName'].metadata['pattern']}$"
    assert "LocalRegionFirst" in create.members["RoutingTargets"].member.members["RoutingPreference"].enum
    invoke = RUNTIME.operation_model("InvokeInferenceRouter")
    assert invoke.input_shape.members["Body"].metadata["max"] == ir.MAX_PAYLOAD_BYTES
    docs = invoke.documentation
    assert "retries the request once on another destination" in docs and "times out on a destination isn't retried" in docs
    assert f"at least {ir.ADVISED_READ_TIMEOUT_SECONDS} seconds" in docs and f"up to {ir.ATTEMPT_SECONDS} seconds" in docs
    # RequestTimeoutException is the client's slow upload (408), not a destination's error.
    retryable = {e.name for e in invoke.error_shapes if e.metadata.get("retryable")} - {"RequestTimeoutException"}
    assert retryable == {"ThrottlingException", "ModelNotReadyException"} <= ir.RETRYABLE_DESTINATION_ERRORS


def test_every_deployed_router_name_target_and_destination_passes_the_model():
    graph = example_graph("fraud-tier1")
    routers = [r for rg in graph for r in rg.of_type(ir.TYPE_TOKEN)]
    assert len(routers) == 3  # one per region
    name = _member("CreateInferenceRouter", "InferenceRouterName")
    target = _member("CreateInferenceRouter", "RoutingTargets", "Name")
    arn = _member("CreateInferenceRouter", "RoutingTargets", "Destinations", "ResourceArn")
    for router in routers:
        assert _matches(name, router.inputs["routerName"]), router.inputs["routerName"]
        for t in router.inputs["routingTargets"]:
            assert _matches(target, t["name"])
            assert all(_matches(arn, d) for d in t["destinations"])
            assert [d.split(":")[3] for d in t["destinations"]][0] == router.inputs["region"]  # own region first
            assert sorted(d.split(":")[3] for d in t["destinations"]) == sorted(graph.spec.regions)


def test_the_longest_deployment_name_still_makes_a_valid_router_name():
    assert _matches(_member("CreateInferenceRouter", "InferenceRouterName"), inference_router_name("a" + "b-" * 19 + "c"))


def test_the_front_door_may_invoke_its_router_and_every_destination_and_nothing_more():
    for rg in example_graph("fraud-tier1"):
        policy = next(p for p in rg.of_type("aws:iam/rolePolicy:RolePolicy") if "frontdoor" in p.name)
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        router = rg.of_type(ir.TYPE_TOKEN)[0]
        assert statements["InvokeInferenceRouter"]["Action"] == ["sagemaker:InvokeInferenceRouter"]
        assert statements["InvokeInferenceRouter"]["Resource"] == [router.outputs["arn"]]
        destinations = sorted(d for t in router.inputs["routingTargets"] for d in t["destinations"])
        assert statements["InvokeRoutedEndpoints"] == {
            "Sid": "InvokeRoutedEndpoints", "Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"], "Resource": destinations}  # fmt: skip


def test_models_without_routers_deploy_no_router():
    assert all(not rg.of_type(ir.TYPE_TOKEN) for rg in example_graph("search-tier2"))


# -- the spec ------------------------------------------------------------------------------------
def _spec(**changes: Any) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(changes)
    return data


def test_tier3_refuses_routers_naming_the_model():
    data = _spec(tier=3, secondary_regions=["us-west-2"], off_hours={"timezone": "UTC", "scale_down_at": "20:00", "scale_up_at": "06:00"})
    with pytest.raises(SpecError, match=r"models\[0\]\.inference_router \(fraud-xgb\): routers are offered for tiers 1-2"):
        parse_spec(data)


def test_routers_need_a_class_that_reaches_real_time():
    data = _spec(traffic_classes=[{"name": "backfill", "kind": "bulk", "timeout_seconds": 3600}])
    with pytest.raises(SpecError, match="traffic_classes: inference_router serves real-time requests only"):
        parse_spec(data)


def test_the_spec_says_what_each_class_gains_behind_the_29_s_front_door():
    spec = parse_spec(_spec())
    assert spec.router_classes == {"authorisation": "fast-failures", "review": "fast-failures"}  # backfill is bulk: async
    assert ir.class_gain(200, front_door_seconds=300) == "two-attempts"
    assert ir.class_gain(200, front_door_seconds=ir.FRONT_DOOR_TIMEOUT_SECONDS) == "fast-failures"


# -- the front door's routed real-time path, against the runtime model -----------------------------
KEY = secrets.token_urlsafe(16)
KEY_SECRET = secrets.token_bytes(32)


def _front_door(runtime: Any) -> Router:
    config = parse_config({
        "region": "us-east-1", "regions": ["us-east-1", "us-west-2"], "table_name": "t", "audit_bucket": "a", "input_bucket": "i",
        "team_key_secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:drkit-team-keys",
        "teams": [{"name": "card-auth", "key_digest": key_digest(KEY, KEY_SECRET), "monthly_budget_usd": 1e6}],
        "classes": [{"name": "authorisation", "kind": "critical", "timeout_seconds": 2}],
        "models": {"fraud-xgb": {"endpoints": {"realtime": "fraud-rt", "serverless": "fraud-sl"},
                                 "inference_router": {"router": "fraud-tier1-router", "target": "fraud-xgb"}}},
    })  # fmt: skip
    assert config.models["fraud-xgb"].inference_router is not None
    assert isinstance(config.teams[0], TeamConfig)
    clients = Clients(
        sagemaker_runtime=_RefuseDirect(), sagemaker=SimSageMaker("us-east-1"), stepfunctions=SimStepFunctions("us-east-1"),
        dynamodb=MemoryDynamo("us-east-1", table_name="t"), s3=SimS3("us-east-1"), inference_router_runtime=runtime,
    )  # fmt: skip
    return Router(config, clients, emit_metrics=lambda _line: None, key_secret=KEY_SECRET)


class _RefuseDirect:
    """The real-time endpoint must not be called directly when a router serves it; serverless may be."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def invoke_endpoint(self, *, EndpointName: str, **_: Any) -> Any:  # noqa: N803
        self.calls.append(EndpointName)
        assert EndpointName != "fraud-rt", "the routed model's real-time endpoint was invoked directly"
        return {"Body": io.BytesIO(b'{"score": 0.1}'), "ContentType": "application/json"}


def _infer(router: Router) -> tuple[int, dict[str, Any]]:
    event = {
        "rawPath": "/v1/infer", "requestContext": {"http": {"method": "POST"}},
        "headers": {"x-drkit-key": KEY, "content-type": "application/json"},
        "body": json.dumps({"model": "fraud-xgb", "traffic_class": "authorisation", "payload": {"amount": 12}}),
    }  # fmt: skip
    result = router.handle(event)
    return result["statusCode"], json.loads(result["body"])


def _runtime() -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client(
        "sagemaker-inference-router-runtime", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


def test_a_routed_model_is_invoked_through_its_router_and_says_which_destination_served():
    client, stub = _runtime()
    body = b'{"score": 0.93}'
    stub.add_response(
        "invoke_inference_router",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json",
         "InvokedRoutedResourceArn": W2, "RoutingReason": "failover"},
        {"InferenceRouterName": "fraud-tier1-router", "RoutingTargetName": "fraud-xgb",
         "Body": b'{"amount":12}', "ContentType": "application/json"},
    )  # fmt: skip
    with stub:
        status, answer = _infer(_front_door(client))
    stub.assert_no_pending_responses()
    assert status == 200 and answer["result"] == {"score": 0.93}
    assert (answer["served_by"], answer["routing_reason"], answer["path"]) == (W2, "failover", "realtime")


def test_when_the_router_gives_up_the_request_falls_back_like_an_endpoint_failure():
    client, stub = _runtime()
    stub.add_client_error("invoke_inference_router", "ServiceUnavailableException", "no destination could serve", 503)
    with stub:
        status, answer = _infer(_front_door(client))
    assert status == 200 and answer["path"] == "serverless"
    assert "realtime endpoint fraud-rt failed" in answer["fallback"]


def test_a_timeout_through_the_router_is_not_retried_by_the_front_door_either():
    class Hangs:
        calls = 0

        def invoke_inference_router(self, **_: Any) -> Any:
            Hangs.calls += 1
            raise ReadTimeoutError(endpoint_url="https://inferencerouter-runtime.sagemaker.us-east-1.amazonaws.com/")

    status, answer = _infer(_front_door(Hangs()))
    assert Hangs.calls == 1 and answer["path"] == "serverless" and status == 200


# -- the drill's model of the router ---------------------------------------------------------------
def _route(outcomes: dict[str, str], own: str = "us-east-1", spread: int = 0) -> tuple[str, str, str, int, list[str]]:
    tried: list[str] = []

    def attempt(arn: str) -> str:
        tried.append(arn)
        return outcomes[arn]

    r = route_through_router(own, (E1, W2, EU), attempt, spread=spread, served=SERVED, timeout=TIMEOUT)
    return r.outcome, r.destination, r.reason, r.attempts, tried


def test_the_router_uses_its_own_region_first():
    assert _route({E1: SERVED, W2: SERVED, EU: SERVED}) == (SERVED, E1, "local-preferred", 1, [E1])


def test_a_retryable_error_is_retried_once_in_another_region_spread_by_caller():
    assert _route({E1: FAILING, W2: SERVED, EU: SERVED})[:4] == (SERVED, W2, "failover", 2)
    assert _route({E1: NOT_READY, W2: SERVED, EU: SERVED}, spread=1)[1] == EU
    outcome, _, _, attempts, tried = _route({E1: FAILING, W2: FAILING, EU: SERVED})
    assert (outcome, attempts, tried) == (FAILING, 2, [E1, W2])  # one retry, not two


def test_a_timeout_is_never_retried():
    assert _route({E1: TIMEOUT, W2: SERVED, EU: SERVED})[:4] == (TIMEOUT, E1, "local-preferred", 1)


# -- drills on the tier-1 example ------------------------------------------------------------------
def _drill(tmp_path: Path, scenario: Scenario) -> dict[str, Any]:
    topo = topology_of(example_graph("fraud-tier1"))
    backend = SimBackend(tmp_path, topo)
    try:
        result = DrillRunner(topo, DrillArgs(scenario=scenario, workdir=tmp_path), backend, lambda _: None).run()
    finally:
        backend.close()
    assert result.verified, result.problems
    return report_data(result)


REALTIME = ("authorisation", "review")  # the tier-1 example's classes that ride the router


def test_endpoint_failure_costs_routed_real_time_traffic_at_most_one_second(tmp_path):
    data = _drill(tmp_path, Scenario.ENDPOINT_FAILURE)
    failed, plain = data["failed_probes"], data["without_routers"]
    for name in REALTIME:
        assert failed["seconds_by_class"].get(name, 0) <= 1
        assert data["rto"]["by_class_seconds"][name] <= 1.0
        # without routers the same failure costs the whole DNS window
        assert plain["rto_by_class"][name] > 10 and plain["failed_by_class"][name] > 0
    # async stays regional: the bulk class still waits for Route 53
    assert data["rto"]["by_class_seconds"]["backfill"] == plain["rto_by_class"]["backfill"] > 10
    text = markdown(data)
    assert "The same injection without inference routers" in text


@pytest.mark.parametrize("scenario", [Scenario.ENDPOINT_TIMEOUT, Scenario.REGION_OUTAGE])
def test_routers_cannot_help_a_hung_endpoint_or_a_lost_region(tmp_path, scenario):
    data = _drill(tmp_path, scenario)
    plain = data["without_routers"]
    for name in REALTIME:
        assert data["failed_probes"]["requests_by_class"][name] > 0
        assert data["rto"]["by_class_seconds"][name] > 10
        assert data["rto"]["by_class_seconds"][name] == plain["rto_by_class"][name]


def test_cost_prices_each_router_from_a_cited_figure_marked_unconfirmed_by_aws():
    from drkit.engine.cost import deployment_cost

    cost = deployment_cost(example_graph("fraud-tier1"))
    lines = [(r, line) for r, estimate in cost.regions.items() for line in estimate.lines if line.unit == "router-month"]
    assert sorted(r for r, _ in lines) == sorted(cost.regions)
    # $0 from a third-party page, never presented as an AWS-confirmed figure
    assert all(line.unit_price_usd == 0.0 and line.sourced is False for _, line in lines)


def test_the_lambdas_router_client_reads_for_the_whole_front_door_deadline_and_leaves_retries_to_the_router(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = Clients.for_region("us-east-1").inference_router_runtime
    assert client.meta.service_model.service_name == "sagemaker-inference-router-runtime"
    assert client.meta.region_name == "us-east-1"
    assert client.meta.config.read_timeout == ir.FRONT_DOOR_TIMEOUT_SECONDS
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_the_front_door_deadline_is_the_components_lambda_timeout():
    from drkit.components.frontdoor import RegionalFrontDoorArgs

    assert RegionalFrontDoorArgs.__dataclass_fields__["timeout_seconds"].default == ir.FRONT_DOOR_TIMEOUT_SECONDS


# -- the policy pack: a router's destinations are a failover link, nothing else is ----------------
@pytest.fixture(scope="module")
def policy_pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(DEFAULT_PACK_DIR) as running:
        yield running


def _independence(pack: PolicyPackProcess, graph: Any) -> list[str]:
    return [f.message for f in findings(pack, graph) if f.policy == "regional-independence"]


def test_the_pack_accepts_a_router_that_lists_its_own_region_and_the_grant_on_its_destinations(policy_pack):
    assert _independence(policy_pack, fraud()) == []


def test_the_pack_flags_a_router_without_its_own_regions_endpoint(policy_pack):
    def drop_own(inputs: dict[str, Any]) -> None:
        for target in inputs["routingTargets"]:
            target["destinations"] = [d for d in target["destinations"] if ":us-east-1:" not in d]

    messages = _independence(policy_pack, mutate(fraud(), ir.TYPE_TOKEN, drop_own))
    assert any("references us-west-2 at `routingTargets[0].destinations[0]`" in m for m in messages), messages


def test_the_pack_flags_a_cross_region_invoke_grant_that_no_router_needs(policy_pack):
    def grant_more(inputs: dict[str, Any]) -> None:
        policy = json.loads(inputs["policy"])
        policy["Statement"].append({"Sid": "Extra", "Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"],
                                    "Resource": ["arn:aws:sagemaker:eu-west-1:123456789012:endpoint/someone-else"]})  # fmt: skip
        inputs["policy"] = json.dumps(policy)

    graph = mutate(fraud(), "aws:iam/rolePolicy:RolePolicy", grant_more, when=lambda i: "InvokeRoutedEndpoints" in str(i.get("policy")))
    messages = _independence(policy_pack, graph)
    assert any("references eu-west-1 at `policy`" in m for m in messages), messages
