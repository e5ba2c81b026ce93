"""The router Lambda on moto: every path, breakers, budgets, audit, deep health, and every bad request.

moto gaps and how they are filled (each says so where it is used):
- sagemaker-runtime returns a fixed body and never fails, so breaker scenarios wrap moto's
  client in `ScriptedRuntime`, which fails, slows or passes calls through on a script;
- moto's endpoints are InService from creation and have no UpdateEndpoint, so "an endpoint
  leaves InService" sets the moto backend's `endpoint_status` (the value DescribeEndpoint
  reports) — the same field moto itself flips in UpdateEndpointWeightsAndCapacities;
  deleting an endpoint uses the real DeleteEndpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from drkit.components.functions.router import breakers as br
from drkit.components.functions.router.audit import AuditRecord, audit_key, metric_values
from drkit.components.functions.router.budgets import BudgetAction, BudgetStore, counter_key, decide, month_of
from drkit.components.functions.router.config import ConfigError, OffHoursConfig, is_off_hours, load_config, parse_config
from drkit.components.functions.router.handler import Clients, Router, servable_paths
from drkit.components.functions.router.health import check_breakers
from drkit.core.keys import key_digest
from tests.conftest import create_token_table

REGION = "us-east-1"
OTHER = "us-west-2"
TABLE = "drkit-fraud-tokens"
AUDIT = f"drkit-fraud-audit-{DEFAULT_ACCOUNT_ID}-{REGION}"  # as the front door names them (S3 names are global)
INPUTS = f"drkit-fraud-inputs-{DEFAULT_ACCOUNT_ID}-{REGION}"
NOW = 1_767_268_800.0  # 2026-01-01T12:00:00Z, a Thursday
KEYS = {"alpha": "alpha-secret-key", "broke": "broke-secret-key", "thrifty": "thrifty-secret-key"}
SECRET = b"team-key-secret-of-this-test-0123456789"  # what read_key_secret returns at cold start
SECRET_NAME = "drkit/fraud/team-keys"
ENDPOINTS = {"realtime": "fraud-realtime", "serverless": "fraud-serverless", "async": "fraud-async"}


class Clock:
    """Wall clock and latency timer in one, advanced only by the test (and ScriptedRuntime)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ScriptedRuntime:
    """sagemaker-runtime stand-in (moto's never fails): per endpoint, a script of 'ok', 'fail', 'cold', 'model4xx' or ('slow', ms)."""

    inner: Any
    clock: Clock
    script: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def invoke_endpoint(self, **kwargs: Any) -> Any:
        name = kwargs["EndpointName"]
        self.calls.append(name)
        steps = self.script.get(name) or ["ok"]
        step = steps.pop(0)
        if isinstance(step, tuple):
            self.clock.advance(step[1] / 1000)
        elif step == "fail":
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "scripted outage"}}, "InvokeEndpoint")
        elif step == "cold":
            raise ClientError({"Error": {"Code": "ModelNotReadyException", "Message": "cold start"}}, "InvokeEndpoint")
        elif step == "model4xx":
            raise ClientError(
                {"Error": {"Code": "ModelError", "Message": "bad feature vector"}, "OriginalStatusCode": 400}, "InvokeEndpoint"
            )
        return self.inner.invoke_endpoint(**kwargs)


def config_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "region": REGION,
        "regions": [REGION, OTHER],
        "table_name": TABLE,
        "audit_bucket": AUDIT,
        "input_bucket": INPUTS,
        "team_key_secret": SECRET_NAME,
        "state_machine_arn": f"arn:aws:states:{REGION}:{DEFAULT_ACCOUNT_ID}:stateMachine:fraud-workflow",
        "teams": [
            {"name": "alpha", "key_digest": key_digest(KEYS["alpha"], SECRET), "monthly_budget_usd": 100.0, "priority": "high"},
            {"name": "broke", "key_digest": key_digest(KEYS["broke"], SECRET), "monthly_budget_usd": 0.0, "over_budget": "refuse"},
            {"name": "thrifty", "key_digest": key_digest(KEYS["thrifty"], SECRET), "monthly_budget_usd": 0.0, "over_budget": "degrade"},
        ],
        "classes": [
            {"name": "payments", "kind": "critical", "timeout_seconds": 5},
            {"name": "interactive", "kind": "standard", "timeout_seconds": 30},
            {"name": "reports", "kind": "bulk", "timeout_seconds": 900},
            {"name": "nightly", "kind": "bulk", "timeout_seconds": 7200},
        ],
        "models": {
            "fraud": {
                "endpoints": dict(ENDPOINTS),
                "batch": True,
                "costs_usd": {"realtime": 0.00001, "serverless": 0.00004, "async": 0.00002, "batch": 0.00003},
            },
            "tiny": {"endpoints": {"serverless": ENDPOINTS["serverless"], "async": ENDPOINTS["async"]}},
        },
        "max_inline_bytes": 1024,
        "breaker": {"min_requests": 4, "error_rate": 0.5, "cool_down_seconds": 30, "half_open_probes": 2, "latency_ms": 500},
    }
    data.update(overrides)
    return data


def _create_endpoint(sagemaker: Any, name: str) -> None:
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sm",
        PrimaryContainer={"Image": f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/fraud@sha256:{'a' * 64}"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": f"{name}-model", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1}
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


@dataclass
class World:
    clock: Clock
    runtime: ScriptedRuntime
    clients: Clients
    config_data: dict[str, Any]
    metrics: list[str] = field(default_factory=list)
    """The embedded-metric log lines the routers emitted."""

    @property
    def table(self) -> str:
        return str(self.config_data["table_name"])

    @property
    def inputs(self) -> str:
        return str(self.config_data["input_bucket"])

    def router(self, **kwargs: Any) -> Router:
        kwargs.setdefault("emit_metrics", self.metrics.append)
        kwargs.setdefault("key_secret", SECRET)
        return Router(parse_config(self.config_data), self.clients, clock=self.clock, timer=self.clock, **kwargs)

    def set_endpoint_status(self, endpoint: str, status: str) -> None:
        # moto has no UpdateEndpoint: set the status DescribeEndpoint reports (see module docstring).
        sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[endpoint].endpoint_status = status


@pytest.fixture(scope="module")
def aws() -> Iterator[Clients]:
    """One moto account for the module: clients, endpoints (slow to create) made once."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            patch.setenv(name, value)
        with mock_aws():
            sagemaker = boto3.client("sagemaker", region_name=REGION)
            for endpoint in ENDPOINTS.values():
                _create_endpoint(sagemaker, endpoint)
            yield Clients(
                *(
                    boto3.client(s, region_name=REGION)
                    for s in ("sagemaker-runtime", "sagemaker", "stepfunctions", "dynamodb", "s3")
                )
            )


@pytest.fixture
def world(aws: Clients, request: pytest.FixtureRequest) -> Iterator[World]:
    """A fresh table, buckets and state machine per test (unique names), endpoints back InService."""
    suffix = f"{abs(hash(request.node.nodeid)) % 10**8:08d}"
    table, audit, inputs, machine = f"{TABLE}-{suffix}", f"{AUDIT}-{suffix}", f"{INPUTS}-{suffix}", f"fraud-workflow-{suffix}"
    create_token_table(aws.dynamodb, table)
    aws.s3.create_bucket(Bucket=audit, ObjectLockEnabledForBucket=True)
    aws.s3.create_bucket(Bucket=inputs)
    arn = aws.stepfunctions.create_state_machine(
        name=machine,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sfn",
    )["stateMachineArn"]
    live = {e["EndpointName"] for e in aws.sagemaker.list_endpoints()["Endpoints"]}
    for endpoint in ENDPOINTS.values():
        if endpoint not in live:
            aws.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")
        sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[endpoint].endpoint_status = "InService"
    clock = Clock()
    runtime = ScriptedRuntime(aws.sagemaker_runtime, clock)
    clients = replace(aws, sagemaker_runtime=runtime)
    data = config_data(table_name=table, audit_bucket=audit, input_bucket=inputs, state_machine_arn=arn)
    yield World(clock, runtime, clients, data)


def infer(
    router: Router, body: Any, key: str | None = KEYS["alpha"], *, raw: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"X-Drkit-Key": key} if key is not None else {}
    event = {
        "rawPath": "/v1/infer",
        "requestContext": {"http": {"method": "POST"}},
        "headers": headers,
        "body": raw if raw is not None else json.dumps(body),
    }
    result = router.handle(event)
    return result["statusCode"], json.loads(result["body"]), result["headers"]


def get(router: Router, path: str, key: str | None = KEYS["alpha"]) -> tuple[int, dict[str, Any]]:
    headers = {"x-drkit-key": key} if key else {}
    result = router.handle({"rawPath": path, "requestContext": {"http": {"method": "GET"}}, "headers": headers})
    return result["statusCode"], json.loads(result["body"])


def audit_records(world: World) -> list[dict[str, Any]]:
    s3, bucket = world.clients.s3, world.config_data["audit_bucket"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]


# --- every path through the router ------------------------------------------------------------------


def test_critical_request_is_served_realtime_charged_and_audited(world: World) -> None:
    router = world.router()
    status, body, headers = infer(
        router, {"model": "fraud", "traffic_class": "payments", "payload": {"amount": 12}, "request_id": "r1"}
    )
    assert status == 200, body
    assert (body["path"], body["rule"], headers["x-drkit-path"]) == ("realtime", "critical-realtime", "realtime")
    assert world.runtime.calls == ["fraud-realtime"]
    assert BudgetStore(world.table, REGION, [OTHER], world.clients.dynamodb, clock=world.clock).spend("alpha") == pytest.approx(
        0.00001
    )
    [record] = audit_records(world)
    assert record | {"at": 0} == record | {
        "at": 0, "request_id": "r1", "region": REGION, "team": "alpha", "model": "fraud", "path": "realtime",
        "rule": "critical-realtime", "estimated_cost_usd": 0.00001, "outcome": "served", "status_code": 200,
    }  # fmt: skip
    keys = world.clients.s3.list_objects_v2(Bucket=world.config_data["audit_bucket"])["Contents"]
    assert keys[0]["Key"] == f"audit/{REGION}/2026/01/01/r1.json"
    # One embedded-metric-format line: CloudWatch Logs extracts each named metric with these dimensions.
    [line] = [json.loads(emitted) for emitted in world.metrics]
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert (directive["Namespace"], directive["Dimensions"]) == ("drkit", [["Region", "Model", "Team", "InferenceType"]])
    assert {m["Name"] for m in directive["Metrics"]} == {"Requests", "EstimatedCostUSD"}
    assert {k: line[k] for k in ("Region", "Model", "Team", "InferenceType", "Requests", "EstimatedCostUSD")} == {
        "Region": REGION, "Model": "fraud", "Team": "alpha", "InferenceType": "realtime", "Requests": 1.0, "EstimatedCostUSD": 0.00001,
    }  # fmt: skip


def test_standard_request_off_hours_is_served_serverless(world: World) -> None:
    world.config_data["off_hours"] = {"timezone": "UTC", "start": "11:00", "end": "13:00"}
    status, body, _ = infer(world.router(), {"model": "fraud", "traffic_class": "interactive", "payload": "x"})
    assert (status, body["path"], body["rule"]) == (200, "serverless", "standard-serverless-off-hours")
    assert world.runtime.calls == ["fraud-serverless"]


def test_bulk_request_is_recorded_and_started_async_then_readable(world: World) -> None:
    router = world.router()
    status, body, _ = infer(router, {"model": "fraud", "traffic_class": "reports", "payload": [1, 2, 3], "request_id": "bulk-1"})
    assert status == 202, body
    assert (body["request_id"], body["path"], body["status"], body["status_url"]) == (
        "bulk-1",
        "async",
        "PENDING",
        "/v1/requests/bulk-1",
    )
    assert world.runtime.calls == []
    [execution] = world.clients.stepfunctions.list_executions(stateMachineArn=world.config_data["state_machine_arn"])[
        "executions"
    ]
    assert execution["name"] == "alpha_bulk-1-a1"  # the id is the team's own: stored as <team>_<id>
    sent = json.loads(world.clients.stepfunctions.describe_execution(executionArn=execution["executionArn"])["input"])
    assert (sent["path"], sent["home_region"], sent["payload_bytes"]) == ("async", REGION, 7)
    key = "teams/alpha/inline/2026/01/01/bulk-1"
    assert world.clients.s3.get_object(Bucket=world.inputs, Key=key)["Body"].read() == b"[1,2,3]"
    assert (sent["input_location"], sent["request_id"]) == (f"s3://{world.inputs}/{key}", "alpha_bulk-1")

    status, record = get(router, "/v1/requests/bulk-1")
    assert status == 200
    assert (record["status"], record["path"], record["home_region"], record["attempt"]) == ("PENDING", "async", REGION, 1)


def test_a_request_is_readable_only_by_the_team_that_sent_it(world: World) -> None:
    router = world.router()
    assert infer(router, {"model": "fraud", "traffic_class": "reports", "payload": "x", "request_id": "mine-1"})[0] == 202
    stored = router.tokens.get("alpha_mine-1")
    assert stored is not None and (stored.team, stored.priority) == ("alpha", "high")
    assert get(router, "/v1/requests/mine-1")[0] == 200
    other = get(router, "/v1/requests/mine-1", key=KEYS["thrifty"])
    missing = get(router, "/v1/requests/never-sent", key=KEYS["thrifty"])
    # Another team's request is answered exactly like a missing one: ids reveal nothing.
    assert other[0] == missing[0] == 404
    assert other[1]["error"] == missing[1]["error"] == "unknown_request"
    # The same id from another team is that team's own request: accepted, and nothing of alpha's is touched.
    status, body, _ = infer(
        router, {"model": "fraud", "traffic_class": "reports", "payload": "y", "request_id": "mine-1"}, key=KEYS["thrifty"]
    )
    assert (status, body["request_id"]) == (202, "mine-1")
    assert get(router, "/v1/requests/mine-1", key=KEYS["thrifty"])[0] == 200
    alpha_input = world.clients.s3.get_object(Bucket=world.inputs, Key="teams/alpha/inline/2026/01/01/mine-1")
    assert alpha_input["Body"].read() == b"x"


# --- a hostile team: the cross-team sequence of issue 15 ----------------------------------------------------


def _executions(world: World) -> list[str]:
    return sorted(e["name"] for e in world.clients.stepfunctions.list_executions(
        stateMachineArn=world.config_data["state_machine_arn"])["executions"])  # fmt: skip


def test_a_team_reusing_another_teams_queued_id_neither_overwrites_its_input_nor_learns_it_exists(world: World) -> None:
    router = world.router()
    queued = {"model": "fraud", "traffic_class": "reports", "payload": {"order": "A"}, "request_id": "order-1001"}
    assert infer(router, queued, key=KEYS["alpha"])[0] == 202
    a_key = "teams/alpha/inline/2026/01/01/order-1001"

    # B sends the same id: B's own request, answered exactly as for an id nobody used.
    fresh = infer(router, {**queued, "payload": {"order": "B"}, "request_id": "order-2002"}, key=KEYS["thrifty"])
    reused = infer(router, {**queued, "payload": {"order": "B"}}, key=KEYS["thrifty"])
    assert (reused[0], reused[1]["status"], reused[1]["path"]) == (fresh[0], fresh[1]["status"], fresh[1]["path"]) == (202, "PENDING", "async")
    assert world.clients.s3.get_object(Bucket=world.inputs, Key=a_key)["Body"].read() == b'{"order":"A"}'
    alpha = router.tokens.get("alpha_order-1001")
    assert alpha is not None and (alpha.team, alpha.input_location) == ("alpha", f"s3://{world.inputs}/{a_key}")
    assert _executions(world) == ["alpha_order-1001-a1", "thrifty_order-1001-a1", "thrifty_order-2002-a1"]


def test_a_team_cannot_name_another_teams_input_location(world: World) -> None:
    router = world.router()
    assert infer(router, {"model": "fraud", "traffic_class": "reports", "payload": "A", "request_id": "order-1001"})[0] == 202
    a_location = f"s3://{world.inputs}/teams/alpha/inline/2026/01/01/order-1001"
    guesses = [
        a_location,
        f"s3://{world.inputs}/teams/thrifty/../alpha/inline/2026/01/01/order-1001",  # traversal out of its own prefix
        f"s3://{world.inputs}/teams/thrifty//../../teams/alpha/inline/2026/01/01/order-1001",
        f"s3://{world.inputs}/teams/thrifty/./x",
        f"s3://{world.inputs}/teams/thrifty/x\n",  # a trailing newline "$" would have accepted
        f"s3://{world.inputs}/teams/thrifty/" + "k" * 1020,  # past S3's 1024-byte key limit
    ]
    for guess in guesses:
        status, body, _ = infer(
            router, {"model": "fraud", "traffic_class": "payments", "input_location": guess}, key=KEYS["thrifty"]
        )
        assert (status, body["error"]) == (400, "malformed_body"), guess
    # the refusal for A's real object is word for word the one for an object that does not exist
    absent = infer(router, {"model": "fraud", "traffic_class": "payments",
                            "input_location": f"s3://{world.inputs}/teams/alpha/nothing"}, key=KEYS["thrifty"])  # fmt: skip
    real = infer(router, {"model": "fraud", "traffic_class": "payments", "input_location": a_location}, key=KEYS["thrifty"])
    assert real[:2] == absent[:2]
    assert world.runtime.calls == []  # nothing of A's was read, measured or sent to an endpoint


def test_a_team_reading_another_teams_id_gets_the_answer_for_an_unknown_id(world: World) -> None:
    router = world.router()
    assert infer(router, {"model": "fraud", "traffic_class": "reports", "payload": "A", "request_id": "order-1001"})[0] == 202
    assert get(router, "/v1/requests/order-1001")[0] == 200
    theirs = get(router, "/v1/requests/order-1001", key=KEYS["thrifty"])
    unknown = get(router, "/v1/requests/order-9999", key=KEYS["thrifty"])
    assert theirs[0] == unknown[0] == 404
    assert theirs[1]["message"].replace("order-1001", "ID") == unknown[1]["message"].replace("order-9999", "ID")
    # nor through the stored form of A's id
    assert get(router, "/v1/requests/alpha_order-1001", key=KEYS["thrifty"])[0] == 404


def test_a_repeated_request_never_overwrites_its_first_input_and_a_changed_one_is_a_conflict(world: World) -> None:
    router = world.router()
    first = {"model": "fraud", "traffic_class": "reports", "payload": "first", "request_id": "r-7"}
    assert infer(router, first)[0] == 202
    assert infer(router, {**first, "payload": "second"})[0] == 202  # a retry: the first write wins
    key = "teams/alpha/inline/2026/01/01/r-7"
    assert world.clients.s3.get_object(Bucket=world.inputs, Key=key)["Body"].read() == b"first"
    status, body, _ = infer(router, {**first, "traffic_class": "nightly"})  # same id, another path (batch)
    assert (status, body["error"]) == (409, "request_id_conflict")
    assert body["message"].startswith("request_id: 'r-7' is already used by one of your team's requests")
    assert _executions(world) == ["alpha_r-7-a1"]


def test_an_inline_input_is_never_written_over_an_existing_object(world: World) -> None:
    # The object exists but no record does (a crash between the two writes, or a team's own upload):
    # S3's If-None-Match: * refuses the write, and the request is a conflict, not an overwrite.
    key = "teams/alpha/inline/2026/01/01/r-8"
    world.clients.s3.put_object(Bucket=world.inputs, Key=key, Body=b"already here")
    status, body, _ = infer(world.router(), {"model": "fraud", "traffic_class": "reports", "payload": "new", "request_id": "r-8"})
    assert (status, body["error"]) == (409, "request_id_conflict")
    assert world.clients.s3.get_object(Bucket=world.inputs, Key=key)["Body"].read() == b"already here"


def test_request_ids_are_limited_so_the_stored_id_fits_the_async_inference_id(world: World) -> None:
    import botocore.session

    limit = botocore.session.get_session().get_service_model("sagemaker-runtime").operation_model(
        "InvokeEndpointAsync").input_shape.members["InferenceId"].metadata["max"]  # fmt: skip
    router = world.router()
    longest = "x" * (limit - len("alpha_"))
    status, body, _ = infer(router, {"model": "fraud", "traffic_class": "reports", "payload": "x", "request_id": longest})
    assert status == 202 and len(f"alpha_{longest}") == limit
    status, body, _ = infer(router, {"model": "fraud", "traffic_class": "reports", "payload": "x", "request_id": longest + "x"})
    assert (status, body["message"]) == (400, f"request_id: '{longest}x' is not valid; use 1-{limit - 6} characters from A-Z a-z 0-9 _ -")


def test_an_unknown_team_priority_is_a_config_error_naming_the_valid_ones(world: World) -> None:
    world.config_data["teams"][0]["priority"] = "urgent"
    with pytest.raises(ConfigError, match=r"config.teams\[0\].priority: 'urgent' is not valid; valid: high, normal, low"):
        parse_config(world.config_data)


def test_repeated_request_id_starts_one_execution(world: World) -> None:
    router = world.router()
    body = {"model": "fraud", "traffic_class": "reports", "payload": "x", "request_id": "dup-1"}
    assert infer(router, body)[0] == 202
    assert infer(router, body)[0] == 202
    assert (
        len(world.clients.stepfunctions.list_executions(stateMachineArn=world.config_data["state_machine_arn"])["executions"])
        == 1
    )


def test_long_bulk_request_runs_as_batch(world: World) -> None:
    status, body, _ = infer(world.router(), {"model": "fraud", "traffic_class": "nightly", "payload": "x"})
    assert (status, body["path"], body["rule"]) == (202, "batch", "bulk-batch")


def test_input_location_is_measured_in_s3_and_served(world: World) -> None:
    world.clients.s3.put_object(Bucket=world.inputs, Key="teams/alpha/up/big.csv", Body=b"1,2,3")
    status, body, _ = infer(
        world.router(),
        {"model": "fraud", "traffic_class": "payments", "input_location": f"s3://{world.inputs}/teams/alpha/up/big.csv"},
    )
    assert (status, body["path"]) == (200, "realtime")


def test_realtime_not_deployed_here_falls_back_to_serverless(world: World) -> None:
    status, body, _ = infer(world.router(), {"model": "tiny", "traffic_class": "payments", "payload": "x"})
    assert (status, body["routed_path"], body["path"]) == (200, "realtime", "serverless")
    assert world.runtime.calls == ["fraud-serverless"]


def test_model_rejecting_input_is_424_and_not_an_endpoint_fault(world: World) -> None:
    world.runtime.script = {"fraud-realtime": ["model4xx"] * 6}
    router = world.router()
    for _ in range(6):
        status, body, _ = infer(router, {"model": "fraud", "traffic_class": "payments", "payload": "x"})
        assert (status, body["error"], body["model_status"]) == (424, "model_rejected_input", 400)
    assert router.breakers is not None and router.breakers.state("fraud-realtime") is br.BreakerState.CLOSED


def test_failed_serverless_invocation_falls_back_to_async(world: World) -> None:
    world.config_data["off_hours"] = {"timezone": "UTC", "start": "11:00", "end": "13:00"}
    world.runtime.script = {"fraud-serverless": ["fail"]}
    status, body, _ = infer(world.router(), {"model": "fraud", "traffic_class": "interactive", "payload": "x"})
    assert (status, body["path"], body["fallback"]) == (202, "async", "serverless endpoint fraud-serverless failed")


# --- breakers ----------------------------------------------------------------------------------------


def test_breaker_opens_half_opens_and_closes_under_a_scripted_failure_sequence(world: World) -> None:
    router = world.router()
    payments = {"model": "fraud", "traffic_class": "payments", "payload": "x"}
    world.runtime.script = {"fraud-realtime": ["ok", "fail", "fail", "fail"]}  # 3 of 4 failed ≥ 50 %: trips on the 4th
    paths = [infer(router, payments)[1].get("path") for _ in range(4)]
    # Failed real-time calls fall back along realtime → serverless (which succeeds).
    assert paths == ["realtime", "serverless", "serverless", "serverless"]
    assert router.breakers is not None
    assert router.breakers.state("fraud-realtime") is br.BreakerState.OPEN

    # While open: no call reaches the real-time endpoint; the fallback says why.
    world.runtime.calls.clear()
    status, body, _ = infer(router, payments)
    assert (status, body["path"], body["fallback"]) == (200, "serverless", "breaker open on fraud-realtime")
    assert world.runtime.calls == ["fraud-serverless"]

    # The state survives a restart: a new Router (cold start) reads it from the table.
    restarted = world.router()
    assert restarted.breakers is not None and restarted.breakers.state("fraud-realtime") is br.BreakerState.OPEN

    # After the cool-down: half-open, two probes pass through; both succeed → closed.
    world.clock.advance(30)
    assert restarted.breakers.state("fraud-realtime") is br.BreakerState.HALF_OPEN
    assert [infer(restarted, payments)[1]["path"] for _ in range(2)] == ["realtime", "realtime"]
    assert restarted.breakers.state("fraud-realtime") is br.BreakerState.CLOSED


def test_half_open_probe_failure_reopens_and_excess_requests_fall_back(world: World) -> None:
    router = world.router()
    payments = {"model": "fraud", "traffic_class": "payments", "payload": "x"}
    world.runtime.script = {"fraud-realtime": ["fail"] * 4}
    for _ in range(4):
        infer(router, payments)
    world.clock.advance(31)
    world.runtime.script = {"fraud-realtime": [("slow", 900)]}  # the probe answers, but slower than latency_ms=500
    assert infer(router, payments)[1]["path"] == "realtime"
    assert router.breakers is not None and router.breakers.state("fraud-realtime") is br.BreakerState.OPEN


def test_a_cold_start_falls_back_without_opening_the_breaker(world: World) -> None:
    # ModelNotReadyException is capacity still coming, not a broken endpoint: counting it would open
    # the breakers of a standby region during the cold start its failover causes.
    router = world.router()
    payments = {"model": "fraud", "traffic_class": "payments", "payload": "x"}
    world.runtime.script = {"fraud-realtime": ["cold"] * 8}
    paths = [infer(router, payments)[1]["path"] for _ in range(8)]
    assert paths == ["serverless"] * 8
    assert router.breakers is not None and router.breakers.state("fraud-realtime") is br.BreakerState.CLOSED
    world.runtime.script = {"fraud-realtime": ["fail"] * 8}
    for _ in range(8):
        infer(router, payments)
    assert router.breakers.state("fraud-realtime") is br.BreakerState.OPEN  # real failures still trip it


def test_open_serverless_breaker_falls_back_to_async(world: World) -> None:
    world.config_data["off_hours"] = {"timezone": "UTC", "start": "11:00", "end": "13:00"}
    router = world.router()
    assert router.breakers is not None
    for _ in range(4):
        router.breakers.record("fraud-serverless", False, 10)
    status, body, _ = infer(router, {"model": "fraud", "traffic_class": "interactive", "payload": "x"})
    assert (status, body["path"], body["fallback"]) == (202, "async", "breaker open on fraud-serverless")


CFG = br.BreakerConfig(
    min_requests=4, error_rate=0.5, latency_ms=100, latency_percentile=0.75, cool_down_seconds=10, half_open_probes=2
)


def _feed(outcomes: list[tuple[bool, float]], start: float = 0.0, step: float = 1.0) -> br.BreakerSnapshot:
    snapshot = br.BreakerSnapshot(endpoint="e")
    for i, (ok, ms) in enumerate(outcomes):
        snapshot = br.record(snapshot, start + i * step, ok, ms, CFG)
    return snapshot


def test_breaker_does_not_trip_below_min_requests() -> None:
    assert _feed([(False, 1)] * 3).state is br.BreakerState.CLOSED


def test_breaker_trips_on_error_rate_with_reason() -> None:
    snapshot = _feed([(True, 1), (False, 1), (True, 1), (False, 1)])
    assert (snapshot.state, snapshot.reason) == (br.BreakerState.OPEN, "error rate 2/4 ≥ 50%")


def test_breaker_trips_on_percentile_latency_not_on_one_slow_call() -> None:
    assert _feed([(True, 500), (True, 1), (True, 1), (True, 1)]).state is br.BreakerState.CLOSED  # 1/4 = 25 %, not > 25 %
    snapshot = _feed([(True, 500), (True, 500), (True, 1), (True, 1)])
    assert (snapshot.state, snapshot.reason) == (br.BreakerState.OPEN, "p75 latency > 100 ms (2/4 slower)")


def test_breaker_forgets_failures_older_than_the_window() -> None:
    snapshot = _feed([(False, 1)] * 3, step=1)
    snapshot = br.record(snapshot, 200.0, False, 1, CFG)  # the first three left the 60 s window
    assert snapshot.state is br.BreakerState.CLOSED
    assert br.totals(snapshot, 200.0, CFG).requests == 1


def test_half_open_admits_only_the_configured_probes() -> None:
    opened = _feed([(False, 1)] * 4)
    assert not br.admit(opened, 5.0, CFG).allowed
    first = br.admit(opened, 20.0, CFG)
    second = br.admit(first.snapshot, 20.0, CFG)
    third = br.admit(second.snapshot, 20.0, CFG)
    assert (first.allowed, second.allowed, third.allowed) == (True, True, False)


def test_probe_lost_with_its_lambda_is_reissued_after_a_cool_down() -> None:
    opened = _feed([(False, 1)] * 4)  # opened at t=3
    first = br.admit(opened, 20.0, CFG)
    second = br.admit(first.snapshot, 20.0, CFG)  # both probes admitted; neither ever reports
    assert not br.admit(second.snapshot, 29.0, CFG).allowed
    assert br.admit(second.snapshot, 30.0, CFG).allowed


def test_breaker_item_round_trips_and_is_keyed_by_region() -> None:
    snapshot = replace(_feed([(True, 1), (False, 300)]), version=3)
    item = br.to_item(REGION, snapshot)
    assert item["request_id"] == {"S": "breaker#us-east-1#e"} and "home_region" not in item
    assert br.from_item("e", item) == snapshot


def test_breaker_store_rejects_a_stale_write(world: World) -> None:
    store = br.BreakerStore(world.table, REGION, world.clients.dynamodb, CFG, clock=world.clock)
    store.record("e", False, 1)
    stale = store.load("e")
    store.record("e", False, 1)
    assert not store._save(stale)  # another writer moved the version on
    assert store.load("e").version == 2
    assert br.totals(store.load("e"), world.clock(), CFG).errors == 2


def test_unknown_breaker_setting_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"breaker.cooldown: unknown setting; valid: .*cool_down_seconds"):
        br.BreakerConfig.from_mapping({"cooldown": 3})


# --- budgets -----------------------------------------------------------------------------------------


def test_team_over_budget_with_refuse_gets_429_naming_team_budget_and_spend(world: World) -> None:
    status, body, _ = infer(world.router(), {"model": "fraud", "traffic_class": "payments", "payload": "x"}, KEYS["broke"])
    assert status == 429
    assert (body["error"], body["team"], body["monthly_budget_usd"], body["month_to_date_usd"]) == (
        "over_budget",
        "broke",
        0.0,
        0.0,
    )
    assert body["message"] == "team broke spent $0.00 of its $0.00 monthly budget; over_budget is refuse"
    assert world.runtime.calls == []
    [record] = audit_records(world)
    assert (record["outcome"], record["budget_action"], record["estimated_cost_usd"]) == ("refused", "refuse", 0.0)


def test_team_over_budget_with_degrade_gets_the_cheapest_path_that_serves(world: World) -> None:
    # Off-hours standard traffic routes serverless ($0.00004); async ($0.00002) is cheaper and serves it.
    world.config_data["off_hours"] = {"timezone": "UTC", "start": "11:00", "end": "13:00"}
    status, body, _ = infer(world.router(), {"model": "fraud", "traffic_class": "interactive", "payload": "x"}, KEYS["thrifty"])
    assert (status, body["routed_path"], body["path"]) == (202, "serverless", "async")
    assert "degraded to async" in body["reason"]
    [record] = audit_records(world)
    assert (record["budget_action"], record["estimated_cost_usd"]) == ("degrade", 0.00002)


def test_spend_sums_every_regions_counter(world: World) -> None:
    here = BudgetStore(world.table, REGION, [REGION, OTHER], world.clients.dynamodb, clock=world.clock)
    there = BudgetStore(world.table, OTHER, [REGION, OTHER], world.clients.dynamodb, clock=world.clock)
    assert here.charge("alpha", 1.25) == 1.25
    assert here.charge("alpha", 0.5) == 1.75
    there.charge("alpha", 2.0)
    assert here.spend("alpha") == pytest.approx(3.75)
    item = world.clients.dynamodb.get_item(
        TableName=world.table, Key={"request_id": {"S": counter_key("alpha", "2026-01", REGION)}}
    )["Item"]
    assert (item["requests"]["N"], "home_region" in item) == ("2", False)


def test_spend_resets_with_the_utc_month(world: World) -> None:
    store = BudgetStore(world.table, REGION, [REGION], world.clients.dynamodb, clock=world.clock)
    store.charge("alpha", 5.0)
    world.clock.advance(31 * 24 * 3600)
    assert (month_of(world.clock()), store.spend("alpha")) == ("2026-02", 0.0)


def test_budget_decisions() -> None:
    common: dict[str, Any] = dict(
        team="t", routed="serverless", candidates=["serverless", "async"], costs={"serverless": 2.0, "async": 1.0}
    )
    assert decide(budget_usd=10, spend_usd=9.99, over_budget="refuse", **common).action is BudgetAction.ALLOW
    assert decide(budget_usd=10, spend_usd=10, over_budget="refuse", **common).path is None
    assert decide(budget_usd=10, spend_usd=10, over_budget="degrade", **common).path == "async"
    assert (
        decide(budget_usd=10, spend_usd=10, over_budget="degrade", **{**common, "candidates": []}).action is BudgetAction.REFUSE
    )


# --- deep health ---------------------------------------------------------------------------------------


def test_health_is_200_when_everything_serves(world: World) -> None:
    status, body = get(world.router(), "/health", key=None)
    assert (status, body["status"], body["failed"]) == (200, "ok", [])
    assert {c["name"] for c in body["checks"]} == {
        *(f"endpoint:{e}" for e in ENDPOINTS.values()),
        f"table:{world.table}",
        "breakers",
    }


def test_health_is_503_when_an_endpoint_leaves_in_service(world: World) -> None:
    world.set_endpoint_status("fraud-realtime", "Updating")
    status, body = get(world.router(), "/health", key=None)
    assert (status, body["status"], body["failed"]) == (503, "unhealthy", ["endpoint:fraud-realtime"])
    assert {"name": "endpoint:fraud-realtime", "ok": False, "detail": "Updating"} in body["checks"]


def test_health_is_503_when_an_endpoint_is_deleted(world: World) -> None:
    world.clients.sagemaker.delete_endpoint(EndpointName="fraud-async")
    status, body = get(world.router(), "/health", key=None)
    assert (status, body["failed"]) == (503, ["endpoint:fraud-async"])


def test_health_is_503_when_the_table_is_unreachable(world: World) -> None:
    world.clients.dynamodb.delete_table(TableName=world.table)
    status, body = get(world.router(), "/health", key=None)
    assert status == 503 and f"table:{world.table}" in body["failed"]


def test_health_is_503_once_a_model_has_every_direct_breaker_open(world: World) -> None:
    router = world.router()
    assert router.breakers is not None
    for _ in range(4):
        router.breakers.record("fraud-realtime", False, 1)
    assert get(router, "/health", key=None)[0] == 200  # fraud still has its serverless endpoint
    for _ in range(4):
        router.breakers.record("fraud-serverless", False, 1)
    status, body = get(router, "/health", key=None)
    assert (status, body["failed"]) == (503, ["breakers"])
    assert check_breakers({}).ok


def test_health_is_503_when_one_of_several_models_has_no_path_left(world: World) -> None:
    """A hung endpoint stays InService and only its breaker sees it: while another model's endpoint
    still answers, the region must still leave DNS, or the hung model's requests fail there forever."""
    world.config_data["models"] = {
        "fraud": {"endpoints": {"realtime": ENDPOINTS["realtime"]}},
        "tiny": {"endpoints": {"serverless": ENDPOINTS["serverless"]}},
    }
    router = world.router()
    assert router.breakers is not None
    for _ in range(4):
        router.breakers.record("fraud-realtime", False, 1)
    status, body = get(router, "/health", key=None)
    assert (status, body["failed"]) == (503, ["breakers"])
    (breakers,) = (c for c in body["checks"] if c["name"] == "breakers")
    assert breakers["detail"] == "1/2 open: fraud-realtime; no inline path left for fraud"


def test_health_probes_a_half_open_endpoint_and_the_region_returns_only_once_it_answers(world: World) -> None:
    """Out of DNS, the region gets no request to test a half-open breaker with: /health sends the
    model's probe instead, so a hung endpoint keeps its region out until it answers again."""
    world.config_data["models"] = {
        "fraud": {"endpoints": {"realtime": ENDPOINTS["realtime"]}, "health_probe": {"body": '{"features": [0]}'}},
    }
    router = world.router()
    assert router.breakers is not None
    for _ in range(4):
        router.breakers.record("fraud-realtime", False, 1)
    assert get(router, "/health", key=None)[0] == 503
    assert world.runtime.calls == []  # open: nothing to learn until the cool-down ends
    world.clock.advance(30)
    world.runtime.script["fraud-realtime"] = ["fail"]
    assert get(router, "/health", key=None)[0] == 503  # half-open, probed, failed: open again
    assert world.runtime.calls == ["fraud-realtime"]
    world.clock.advance(30)
    world.runtime.script["fraud-realtime"] = [("slow", 600)]  # over the breaker's 500 ms: still not well
    assert get(router, "/health", key=None)[0] == 503
    world.clock.advance(30)
    # Half-open is not yet well: the region returns once half_open_probes (2 here) probes answered.
    assert [get(router, "/health", key=None)[0] for _ in range(2)] == [503, 200]
    assert router.breakers.state("fraud-realtime") is br.BreakerState.CLOSED
    assert len(world.runtime.calls) == 4


def _half_open(world: World, *endpoints: str) -> Router:
    world.config_data["models"] = {
        "fraud": {"endpoints": {"realtime": ENDPOINTS["realtime"], "serverless": ENDPOINTS["serverless"]}, "health_probe": {"body": "1.0"}},
    }
    router = world.router()
    assert router.breakers is not None
    for endpoint in endpoints:
        for _ in range(4):
            router.breakers.record(endpoint, False, 1)
    world.clock.advance(30)
    return router


def test_health_sends_one_probe_per_call_so_it_answers_within_route53s_two_seconds(world: World) -> None:
    router = _half_open(world, "fraud-realtime", "fraud-serverless")
    world.runtime.script.update({"fraud-realtime": [("slow", 400)], "fraud-serverless": [("slow", 400)]})
    started = world.clock()
    assert get(router, "/health", key=None)[0] == 503
    assert (world.runtime.calls, world.clock() - started) == (["fraud-realtime"], pytest.approx(0.4))


def test_a_probe_that_meets_a_cold_endpoint_gives_its_slot_back(world: World) -> None:
    router = _half_open(world, "fraud-realtime", "fraud-serverless")
    world.runtime.script["fraud-realtime"] = ["cold", "cold", "cold"]
    assert [get(router, "/health", key=None)[0] for _ in range(3)] == [503, 503, 503]  # nothing proven yet
    assert router.breakers is not None and router.breakers.admit("fraud-realtime")  # a request still gets a slot


def test_health_answers_with_its_report_when_the_probe_path_fails(world: World) -> None:
    router = _half_open(world, "fraud-realtime", "fraud-serverless")
    assert router.breakers is not None

    def throttled(endpoint: str) -> bool:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem")

    router.breakers.admit = throttled  # type: ignore[method-assign]
    status, body = get(router, "/health", key=None)
    assert (status, body["failed"]) == (503, ["breakers"])


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        ("{}", "config.models.fraud.health_probe: '{}' is not valid; expected an object with body and content_type"),
        ({"content_type": "text/plain"}, "config.models.fraud.health_probe.body: None is not valid; expected str"),
    ],
)
def test_a_bad_health_probe_is_a_cold_start_error_naming_it(probe: Any, message: str) -> None:
    data = config_data()
    data["models"]["fraud"]["health_probe"] = probe
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert str(caught.value).startswith(message)


def test_health_probe_is_not_sent_while_the_breaker_is_closed_or_without_a_probe(world: World) -> None:
    router = world.router()  # the default config's models have no health_probe
    assert router.breakers is not None
    for _ in range(4):
        router.breakers.record("fraud-realtime", False, 1)
    world.clock.advance(30)
    get(router, "/health", key=None)
    assert world.runtime.calls == []
    world.config_data["models"]["fraud"]["health_probe"] = {"body": "{}"}
    get(world.router(), "/health", key=None)
    assert world.runtime.calls == ["fraud-realtime"]  # only the half-open endpoint, not fraud-serverless


# --- bad requests: always a 4xx JSON body, never a 500 ----------------------------------------------------

BAD_REQUESTS = [
    ("no key", None, {"model": "fraud", "traffic_class": "payments", "payload": "x"}, None, 401, "missing_key"),
    ("unknown key", "nope", {"model": "fraud", "traffic_class": "payments", "payload": "x"}, None, 403, "unknown_key"),
    ("malformed JSON", KEYS["alpha"], None, "{not json", 400, "malformed_json"),
    ("body not an object", KEYS["alpha"], [1, 2], None, 400, "malformed_body"),
    ("unknown model", KEYS["alpha"], {"model": "nope", "traffic_class": "payments", "payload": "x"}, None, 400, "unknown_model"),
    ("missing class", KEYS["alpha"], {"model": "fraud", "payload": "x"}, None, 400, "unknown_traffic_class"),
    ("unknown class", KEYS["alpha"], {"model": "fraud", "traffic_class": "vip", "payload": "x"}, None, 400, "unknown_traffic_class"),
    ("no payload", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments"}, None, 400, "malformed_body"),
    ("both payloads", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "payload": "x", "input_location": f"s3://{INPUTS}/k"}, None, 400, "malformed_body"),
    ("oversized inline", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "payload": "x" * 1025}, None, 413, "payload_too_large"),
    ("oversized body", KEYS["alpha"], None, "x" * 100_000, 413, "payload_too_large"),
    ("not s3", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "input_location": "https://x/y"}, None, 400, "malformed_body"),
    ("foreign bucket", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "input_location": "s3://other-bucket/k"}, None, 400, "malformed_body"),
    ("missing object", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "input_location": f"s3://{INPUTS}/teams/alpha/absent"}, None, 400, "input_not_found"),
    ("outside the team prefix", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "input_location": f"s3://{INPUTS}/absent"}, None, 400, "malformed_body"),
    ("bad request id", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "payload": "x", "request_id": "a/b"}, None, 400, "malformed_body"),
    ("bad content type", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "payload": "x", "content_type": 7}, None, 400, "malformed_body"),
    # found by tests/test_router_fuzz.py; each was accepted or a 500 before
    ("request id with a trailing newline", KEYS["alpha"], {"model": "fraud", "traffic_class": "reports", "payload": "x", "request_id": "r1\n"}, None, 400, "malformed_body"),
    ("empty request id", KEYS["alpha"], {"model": "fraud", "traffic_class": "reports", "payload": "x", "request_id": ""}, None, 400, "malformed_body"),
    ("CR/LF in content type", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "payload": "x", "content_type": "text/plain\r\nx-a: b"}, None, 400, "malformed_body"),
    ("lone surrogate in payload", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "payload": "a\ud800"}, None, 400, "malformed_body"),
    ("lone surrogate inside a JSON payload", KEYS["alpha"], {"model": "fraud", "traffic_class": "payments", "payload": {"k": "\udfff"}}, None, 400, "malformed_body"),
    ("NaN", KEYS["alpha"], None, '{"model": "fraud", "traffic_class": "payments", "payload": NaN}', 400, "malformed_json"),
    ("5000-digit number", KEYS["alpha"], None, '{"model": "fraud", "traffic_class": "payments", "payload": ' + "9" * 5000 + "}", 400, "malformed_json"),
    ("deep nesting", KEYS["alpha"], None, "[" * 100_000, 413, "payload_too_large"),
    ("deep nesting within the size limit", KEYS["alpha"], None, "[" * 2000, 400, "malformed_json"),
    ("key with a lone surrogate", "alpha-secret-key\ud800", {"model": "fraud", "traffic_class": "payments", "payload": "x"}, None, 403, "unknown_key"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"rawPath": "/v1/infer", "requestContext": {"http": {"method": "POST"}}, "headers": {"x-drkit-key": KEYS["alpha"]},
          "body": {"model": "fraud"}}, "malformed_body"),
        ({"rawPath": "/v1/infer", "requestContext": {"http": {"method": "POST"}}, "headers": ["x-drkit-key"]}, "malformed_event"),
        ({"rawPath": 7, "requestContext": "x"}, "malformed_event"),
        ({"rawPath": "/v1/infer", "requestContext": {"http": {"method": "POST"}}, "headers": {"x-drkit-key": KEYS["alpha"]},
          "isBase64Encoded": True, "body": "é"}, "malformed_body"),
        ({"rawPath": "/v1/infer", "requestContext": {"http": {"method": "POST"}}, "headers": {"x-drkit-key": KEYS["alpha"]},
          "isBase64Encoded": True, "body": base64.b64encode(json.dumps({"model": "fraud", "traffic_class": "payments",
                                                                       "payload": "x"}).encode("utf-16")).decode()}, "malformed_json"),
        ("not an event", "malformed_event"),
    ],
    ids=["body not a string", "headers not an object", "path not a string", "base64 flag on non-ASCII", "UTF-16 body", "event not an object"],
)
def test_malformed_events_are_a_400_not_a_500(world: World, event: Any, code: str) -> None:
    result = world.router().handle(event)
    assert (result["statusCode"], json.loads(result["body"])["error"]) == (400, code)


@pytest.mark.parametrize(
    ("key", "body", "raw", "status", "code"), [case[1:] for case in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_request_is_a_clear_4xx(world: World, key: str | None, body: Any, raw: str | None, status: int, code: str) -> None:
    body = json.loads(json.dumps(body).replace(INPUTS, world.inputs))  # this test's input bucket
    got, answer, _ = infer(world.router(), body, key, raw=raw)
    assert (got, answer["error"]) == (status, code), answer
    assert answer["message"]
    assert world.runtime.calls == []


def test_unknown_class_message_lists_the_valid_classes(world: World) -> None:
    _, body, _ = infer(world.router(), {"model": "fraud", "traffic_class": "vip", "payload": "x"})
    assert (
        body["message"]
        == "traffic_class: 'vip' is not a class of this deployment; valid: interactive, nightly, payments, reports"
    )
    assert body["valid_traffic_classes"] == ["interactive", "nightly", "payments", "reports"]


def test_routing_error_from_the_engine_is_a_400(world: World) -> None:
    from drkit.core.routing import RoutingError

    def refuse(*_: Any, **__: Any) -> Any:
        raise RoutingError("payload_bytes: 2 TiB exceeds every path")

    _, body, _ = infer(world.router(route=refuse), {"model": "fraud", "traffic_class": "payments", "payload": "x"})
    assert (body["error"], body["message"]) == ("unroutable", "payload_bytes: 2 TiB exceeds every path")


@pytest.mark.parametrize(
    ("method", "path", "key", "status", "code"),
    [
        ("GET", "/v1/requests/nope", KEYS["alpha"], 404, "unknown_request"),
        ("GET", "/v1/requests/a%2Fb", KEYS["alpha"], 400, "malformed_request_id"),
        ("GET", "/v1/requests/r1", None, 401, "missing_key"),
        ("GET", "/v1/infer", KEYS["alpha"], 405, "method_not_allowed"),
        ("DELETE", "/health", None, 405, "method_not_allowed"),
        ("GET", "/admin", None, 404, "not_found"),
    ],
)
def test_bad_routes_are_clear_4xx(world: World, method: str, path: str, key: str | None, status: int, code: str) -> None:
    headers = {"x-drkit-key": key} if key else {}
    result = world.router().handle({"rawPath": path, "requestContext": {"http": {"method": method}}, "headers": headers})
    assert (result["statusCode"], json.loads(result["body"])["error"]) == (status, code)


def test_audit_failure_does_not_fail_a_served_request(world: World) -> None:
    world.config_data["audit_bucket"] = "no-such-bucket"
    router = world.router()
    status, _, _ = infer(router, {"model": "fraud", "traffic_class": "payments", "payload": "x"})
    assert status == 200 and router.audit.failures == 1


# --- entry point, config and pure helpers ---------------------------------------------------------------------


def test_lambda_entry_point_reads_config_from_the_environment(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from drkit.components.functions.router import handler as module

    secrets = boto3.client("secretsmanager", region_name=REGION)
    name = f"{SECRET_NAME}-{world.table}"
    secrets.create_secret(Name=name, SecretString=SECRET.decode())
    world.config_data["team_key_secret"] = name
    monkeypatch.setenv("ROUTER_CONFIG", json.dumps(world.config_data))
    monkeypatch.setattr(module, "_ROUTER", None)
    result = module.handler({"rawPath": "/health", "requestContext": {"http": {"method": "GET"}}}, None)
    assert result["statusCode"] == 200
    # The cold start read the secret: the team's key (HMAC under it) is recognised.
    event = {"rawPath": "/v1/requests/never-sent", "requestContext": {"http": {"method": "GET"}}, "headers": {"x-drkit-key": KEYS["alpha"]}}
    assert json.loads(module.handler(event, None)["body"])["error"] == "unknown_request"


def test_a_short_or_missing_team_key_secret_stops_the_cold_start(world: World) -> None:
    from drkit.components.functions.router.handler import read_key_secret

    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name=f"short-{world.table}", SecretString="too-short")
    with pytest.raises(ConfigError, match=f"team_key_secret 'short-{world.table}': the team-key secret has 9 bytes; use at least 32"):
        read_key_secret(secrets, f"short-{world.table}")
    with pytest.raises(ConfigError, match=f"team_key_secret 'absent-{world.table}': ResourceNotFoundException"):
        read_key_secret(secrets, f"absent-{world.table}")
    with pytest.raises(ConfigError, match="the router has teams but no key_secret"):
        world.router(key_secret=None)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="neither ROUTER_CONFIG nor ROUTER_CONFIG_PATH"):
        load_config({})
    bad = config_data()
    bad["teams"][0]["key_digest"] = "alpha-secret-key"
    with pytest.raises(ConfigError, match=r"config.teams\[0\].key_digest: not a lowercase hex HMAC-SHA256 digest"):
        parse_config(bad)
    bad = config_data()
    del bad["team_key_secret"]
    with pytest.raises(ConfigError, match="config.team_key_secret: missing; teams need the secret that keys their digests"):
        parse_config(bad)
    bad = config_data()
    bad["teams"][0]["name"] = "Alpha_1"
    with pytest.raises(ConfigError, match=r"config.teams\[0\].name: 'Alpha_1' is not valid"):
        parse_config(bad)
    bad = config_data()
    bad["teams"][1]["over_budget"] = "ignore"
    with pytest.raises(ConfigError, match=r"config.teams\[1\].over_budget: 'ignore' is not valid; valid: refuse, degrade"):
        parse_config(bad)
    bad = config_data()
    bad["classes"][2]["kind"] = "urgent"  # parsed into drkit.core.routing.ClassInfo, whose RoutingError becomes a ConfigError
    with pytest.raises(ConfigError, match=r"config.classes\[2\]: traffic class 'reports': kind 'urgent' is unknown; valid: critical, standard, bulk"):
        parse_config(bad)


def test_config_never_holds_a_key() -> None:
    text = json.dumps(config_data())
    assert not any(key in text for key in KEYS.values())
    # RFC 2104 HMAC over SHA-256, computed by the standard library's reference implementation.
    assert key_digest("k", SECRET) == hmac.new(SECRET, b"k", hashlib.sha256).hexdigest()
    assert key_digest("k", SECRET) != hashlib.sha256(b"k").hexdigest()


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-01-01T21:00", True),
        ("2026-01-02T06:59", True),
        ("2026-01-02T07:00", False),
        ("2026-01-03T21:00", False),
        ("2026-01-04T02:00", False),
    ],
)
def test_off_hours_window_wraps_midnight_and_respects_days(iso: str, expected: bool) -> None:
    from datetime import datetime

    window = OffHoursConfig(timezone="UTC", start="20:00", end="07:00", days=("MON", "TUE", "WED", "THU", "FRI"))
    assert is_off_hours(datetime.fromisoformat(iso), window) is expected


def test_servable_paths_skip_undeployed_and_oversized_paths() -> None:
    model = parse_config(config_data()).models["tiny"]
    assert servable_paths("realtime", model, 10) == ["serverless", "async"]
    assert servable_paths("realtime", model, 5 * 1024 * 1024) == ["async"]


def test_audit_key_and_metrics_are_partitioned_by_date_and_dimensioned() -> None:
    record = AuditRecord(
        request_id="r", at=NOW, region=REGION, team="t", model="m", traffic_class="c", payload_bytes=1, path="async",
        routed_path="serverless", rule="x", reason="y", estimated_cost_usd=0.1, outcome="accepted", status_code=202, fallback="breaker",
    )  # fmt: skip
    assert audit_key(record) == "audit/us-east-1/2026/01/01/r.json"
    assert list(metric_values(record)) == ["Requests", "EstimatedCostUSD", "Fallbacks"]
