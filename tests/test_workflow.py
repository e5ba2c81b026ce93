"""InferenceWorkflow: the deployed definition, executed in moto's Step Functions against a moto table.

moto cannot run the SageMaker runtime integrations, so those Task states (and only those)
are replaced by Pass states that record which endpoint would have been invoked. Everything
else — model selection, routing compiled from the decision table, per-region fallback,
the task token written with `updateItem.waitForTaskToken`, early results, superseded
attempts — runs as deployed.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drkit.components.workflow import (
    ASYNC_REQUEST_TRANSITIONS,
    REPRESENTATIVE_MODEL,
    REQUEST_TRANSITIONS,
    SERVERLESS_FALLBACK_ERRORS,
    InferenceWorkflowArgs,
    WorkflowTarget,
    front_door_input,
    happy_path_transitions,
    representative_definition,
    transform_job_prefix,
    workflow_definition,
    workflow_statements,
)
from drkit.core.asl_walk import MAX_WALK_STEPS, happy_path
from drkit.core.errors import ComponentValidationError
from drkit.core.routing import Path, classes_from
from drkit.core.tokens import Status, TokenStore
from drkit.stacks.plan import plan_region, token_table_name
from drkit.stacks.program import workflow_targets
from tests.conftest import create_token_table, example_spec

REGION = "eu-west-1"
JOB_PREFIX = transform_job_prefix("search-tier2")
ROLE = "arn:aws:iam::123456789012:role/drkit-workflow"
SAGEMAKER_TASKS = ("sagemakerruntime:invokeEndpoint", "sagemakerruntime:invokeEndpointAsync", "sagemaker:createTransformJob")


def stub_sagemaker(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition with each SageMaker Task replaced by a Pass recording what it would call."""
    states = {}
    for name, state in definition["States"].items():
        if state.get("Type") == "Task" and state["Resource"].endswith(SAGEMAKER_TASKS):
            target = state["Parameters"].get("EndpointName.$") or state["Parameters"].get("ModelName.$")
            states[name] = {
                "Type": "Pass",
                "Parameters": {"state": name, "target.$": target},
                "ResultPath": "$.called",
                "Next": state["Next"],
            }
        else:
            states[name] = state
    return {**definition, "States": states}


def search_targets(region: str) -> list[WorkflowTarget]:
    spec = example_spec("search-tier2")
    return workflow_targets(spec, plan_region(spec, region))


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    with pytest.MonkeyPatch.context() as env:
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", REGION)):
            env.setenv(key, value)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            spec = example_spec("search-tier2")
            table = token_table_name(spec)
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            create_token_table(dynamodb, table)
            sfn = boto3.client("stepfunctions", region_name=REGION)
            classes = classes_from(spec.traffic_classes)
            machines = {}
            for region in spec.regions:
                definition = workflow_definition(table_name=table, classes=classes, targets=search_targets(region), job_prefix=JOB_PREFIX)
                machines[region] = sfn.create_state_machine(
                    name=f"drkit-{region}", definition=json.dumps(stub_sagemaker(definition)), roleArn=ROLE
                )["stateMachineArn"]
            yield {"sfn": sfn, "machines": machines, "store": TokenStore(table, dynamodb), "dynamodb": dynamodb}


def start(aws: dict[str, Any], payload: dict[str, Any], region: str = REGION) -> str:
    return aws["sfn"].start_execution(stateMachineArn=aws["machines"][region], name=uuid.uuid4().hex, input=json.dumps(payload))[
        "executionArn"
    ]


def wait(aws: dict[str, Any], execution: str) -> dict[str, Any]:
    for _ in range(3000):
        described: dict[str, Any] = aws["sfn"].describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.002)
    return described


def run(aws: dict[str, Any], payload: dict[str, Any], region: str = REGION) -> dict[str, Any]:
    described = wait(aws, start(aws, payload, region))
    assert described["status"] != "RUNNING", described
    return described


def token_of(aws: dict[str, Any], request_id: str) -> str:
    for _ in range(3000):
        record = aws["store"].get(request_id)
        if record is not None and record.task_token:
            return str(record.task_token)
        time.sleep(0.002)
    raise AssertionError(f"no task token stored for {request_id}")


def request(**fields: Any) -> dict[str, Any]:
    return {"request_id": uuid.uuid4().hex, "model": "ranker", "body": "{}", "content_type": "application/json", **fields}


def test_critical_traffic_invokes_the_provisioned_endpoint(aws: dict[str, Any]) -> None:
    described = run(aws, request(traffic_class="critical", payload_bytes=2048))
    output = json.loads(described["output"])
    assert described["status"] == "SUCCEEDED"
    assert output["route"] == {"path": "realtime", "rule": "critical-realtime"}
    assert output["called"] == {"state": "InvokeRealtime", "target": "search-tier2-ranker-provisioned"}


def entered_states(aws: dict[str, Any], execution: str) -> list[str]:
    events = aws["sfn"].get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_a_region_without_the_chosen_endpoint_falls_back_in_order(aws: dict[str, Any]) -> None:
    # query-embed has no serverless endpoint: off-hours standard traffic routed to serverless
    # queues on async (PATH_FALLBACK: serverless -> async -> realtime).
    store: TokenStore = aws["store"]
    payload = request(model="query-embed", traffic_class="standard", payload_bytes=1000, off_hours=True, input_location="s3://in/f")
    store.record(payload["request_id"], REGION, "serverless", "query-embed", "s3://in/f", ttl_seconds=3600)
    execution = start(aws, payload)
    token_of(aws, payload["request_id"])
    states = entered_states(aws, execution)
    assert "Route.Rule.standard-serverless-off-hours" in states
    assert states[states.index("Path.serverless") + 1] == "InvokeAsync"
    aws["sfn"].stop_execution(executionArn=execution)


def test_async_waits_for_the_callback_with_the_token_in_the_table(aws: dict[str, Any]) -> None:
    store: TokenStore = aws["store"]
    payload = request(model="query-embed", traffic_class="bulk", payload_bytes=50_000_000, input_location="s3://in/x")
    store.record(payload["request_id"], REGION, "async", "query-embed", "s3://in/x", ttl_seconds=3600)
    execution = start(aws, payload)
    token = token_of(aws, payload["request_id"])
    assert store.get(payload["request_id"]).status is Status.WAITING
    assert aws["sfn"].describe_execution(executionArn=execution)["status"] == "RUNNING"
    result = store.complete(payload["request_id"], "s3://out/x.out", region=REGION)
    assert result.task_token == token
    aws["sfn"].send_task_success(taskToken=token, output=json.dumps({"output_location": "s3://out/x.out"}))
    described = wait(aws, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["called"] == {"state": "InvokeAsync", "target": "search-tier2-query-embed-async"}


def test_a_result_recorded_before_the_token_ends_the_wait(aws: dict[str, Any]) -> None:
    store: TokenStore = aws["store"]
    payload = request(model="query-embed", traffic_class="bulk", payload_bytes=10_000_000, input_location="s3://in/y")
    store.record(payload["request_id"], REGION, "async", "query-embed", "s3://in/y", ttl_seconds=3600)
    store.complete(payload["request_id"], "s3://out/y.out", region=REGION)  # the notification won the race
    described = run(aws, payload)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert json.loads(described["output"])["recorded"]["Item"]["output_location"] == {"S": "s3://out/y.out"}


def test_an_old_attempt_cannot_take_a_redriven_request_back(aws: dict[str, Any]) -> None:
    store: TokenStore = aws["store"]
    payload = request(model="query-embed", traffic_class="bulk", payload_bytes=10_000_000, input_location="s3://in/z")
    record = store.record(payload["request_id"], REGION, "async", "query-embed", "s3://in/z", ttl_seconds=3600)
    assert store.claim(record, to_region="eu-central-1", operator="test") is not None  # now attempt 2
    described = run(aws, {**payload, "attempt": 1})
    assert (described["status"], described.get("error")) == ("FAILED", "drkit.Superseded")


def test_a_redriven_request_resumes_on_its_recorded_path(aws: dict[str, Any]) -> None:
    store: TokenStore = aws["store"]
    payload = request(model="query-embed", input_location="s3://in/r")
    record = store.record(payload["request_id"], REGION, "async", "query-embed", "s3://in/r", ttl_seconds=3600)
    claimed = store.claim(record, to_region="eu-central-1", operator="test")
    assert claimed is not None
    execution = start(aws, {**payload, "path": "async", "attempt": claimed.attempt}, region="eu-central-1")
    token_of(aws, payload["request_id"])
    current = store.get(payload["request_id"])
    assert (current.status, current.attempt) == (Status.WAITING, 2)
    aws["sfn"].stop_execution(executionArn=execution)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"model": "nope", "traffic_class": "critical", "payload_bytes": 1}, "drkit.UnknownModel"),
        ({"model": "ranker", "traffic_class": "nope", "payload_bytes": 1}, "drkit.RoutingError"),
        ({"model": "ranker", "traffic_class": "critical", "payload_bytes": -1}, "drkit.RoutingError"),
        ({"model": "query-embed", "traffic_class": "bulk", "payload_bytes": 10_000_000, "input_location": "s3://in/n"}, "drkit.NotRecorded"),
    ],
)
def test_bad_requests_fail_with_a_named_error(aws: dict[str, Any], payload: dict[str, Any], error: str) -> None:
    described = run(aws, {"request_id": uuid.uuid4().hex, **payload})
    assert (described["status"], described.get("error")) == ("FAILED", error), described.get("cause")


def test_serverless_failures_fall_back_to_async() -> None:
    definition = workflow_definition(
        table_name="t", classes=classes_from(example_spec("search-tier2").traffic_classes), targets=search_targets(REGION),
        job_prefix=JOB_PREFIX,
    )
    (catch,) = definition["States"]["InvokeServerless"]["Catch"]
    assert catch["Next"] == "Path.async" and set(catch["ErrorEquals"]) == set(SERVERLESS_FALLBACK_ERRORS)
    assert "Catch" not in definition["States"]["InvokeRealtime"]


def test_every_transition_targets_an_existing_state() -> None:
    definition = workflow_definition(
        table_name="t", classes=classes_from(example_spec("search-tier2").traffic_classes), targets=search_targets("eu-central-1"),
        job_prefix=JOB_PREFIX,
    )
    states = definition["States"]
    targets = {definition["StartAt"]}
    for state in states.values():
        targets |= {state.get("Next"), state.get("Default")} - {None}
        targets |= {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}
    assert targets <= set(states), targets - set(states)


def test_the_role_names_exactly_this_regions_endpoints_and_table() -> None:
    spec = example_spec("search-tier2")
    args = InferenceWorkflowArgs(
        deployment=spec.deployment,
        region="eu-central-1",
        account_id=spec.account_id,
        table_name=token_table_name(spec),
        kms_key_arn="arn:aws:kms:eu-central-1:123456789012:key/k",
        classes=classes_from(spec.traffic_classes),
        targets=search_targets("eu-central-1"),
    )
    by_sid = {s.sid: s for s in workflow_statements(args)}
    assert sorted(by_sid["InvokeEndpoints"].resources) == sorted(
        f"arn:aws:sagemaker:eu-central-1:123456789012:endpoint/search-tier2-{name}"
        for name in ("query-embed-async", "query-embed-provisioned", "ranker-provisioned", "ranker-serverless")
    )
    assert by_sid["TokenTable"].resources == ["arn:aws:dynamodb:eu-central-1:123456789012:table/drkit-search-tier2-tokens"]
    # This deployment's jobs only: another deployment's prefix differs (issue 15, posture).
    prefix = transform_job_prefix("search-tier2")
    assert by_sid["TransformJobs"].resources[0] == f"arn:aws:sagemaker:eu-central-1:123456789012:transform-job/{prefix}-*"
    assert prefix != transform_job_prefix("search-tier3")


def test_transform_job_names_fit_sagemakers_limit_for_the_longest_deployment_name() -> None:
    import botocore.session

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTransformJob")
    limit = shape.input_shape.members["TransformJobName"].metadata["max"]
    longest = f"{transform_job_prefix('d' * 40)}-{'f' * 40}-a99999"  # SHA-1 hex of the request id; attempt < 10^5
    assert len(longest) <= limit


def test_a_model_without_async_serves_async_routed_requests_in_real_time_only_with_an_inline_body(aws: dict[str, Any]) -> None:
    inline = run(aws, request(model="ranker", traffic_class="bulk", payload_bytes=5_000))
    assert json.loads(inline["output"])["called"] == {"state": "InvokeRealtime", "target": "search-tier2-ranker-provisioned"}
    by_reference = run(aws, {"request_id": uuid.uuid4().hex, "model": "ranker", "traffic_class": "bulk", "payload_bytes": 5_000, "input_location": "s3://in/a"})
    assert (by_reference["status"], by_reference.get("error")) == ("FAILED", "drkit.PathUnavailable")


# --- state transitions a request pays: derived by walking the definition ----------------------

FRONT_DOOR_ASYNC = (
    "SelectModel", "Target.representative", "DefaultAttempt", "Resume", "Path.async", "InvokeAsync", "AwaitAsync", "Done",
)  # fmt: skip


def test_a_front_door_request_skips_routing_and_pays_for_each_state_it_enters() -> None:
    definition = representative_definition()
    assert happy_path(definition, front_door_input(Path.ASYNC, REPRESENTATIVE_MODEL)) == FRONT_DOOR_ASYNC
    batch = happy_path(definition, front_door_input(Path.BATCH, REPRESENTATIVE_MODEL))
    assert batch[-3:] == ("StartTransform", "AwaitBatch", "Done") and "Route.CheckSize" not in batch
    assert dict(REQUEST_TRANSITIONS) == {Path.ASYNC: len(FRONT_DOOR_ASYNC), Path.BATCH: len(batch)}
    assert max(len(FRONT_DOOR_ASYNC), len(batch)) == ASYNC_REQUEST_TRANSITIONS


def test_a_request_the_workflow_routes_itself_also_pays_for_the_routing_states() -> None:
    routed = happy_path(
        representative_definition(),
        {"request_id": "r", "model": REPRESENTATIVE_MODEL, "traffic_class": "bulk", "payload_bytes": 10**6, "input_location": "s3://in/r"},
    )
    assert routed[routed.index("Resume") + 1 : routed.index("Path.async")] == (
        "Route.CheckSize", "Route.CheckOffHours", "Route.DefaultOffHours", "Route.Class", "Route.Class.bulk", "Route.Rule.bulk-async",
    )  # fmt: skip
    assert "FirstAttempt" in routed and len(routed) == len(FRONT_DOOR_ASYNC) + 7


def test_the_count_follows_the_definition_when_it_gains_a_state() -> None:
    definition = representative_definition()
    before = {p: happy_path_transitions(definition, p, model=REPRESENTATIVE_MODEL) for p in (Path.ASYNC, Path.BATCH)}
    states = dict(definition["States"])
    states["InvokeAsync"] = {**states["InvokeAsync"], "Next": "MarkInvoked"}
    states["MarkInvoked"] = {"Type": "Pass", "Result": True, "ResultPath": "$.invoked", "Next": "AwaitAsync"}
    grown = {**definition, "States": states}
    after = {p: happy_path_transitions(grown, p, model=REPRESENTATIVE_MODEL) for p in (Path.ASYNC, Path.BATCH)}
    assert after == {Path.ASYNC: before[Path.ASYNC] + 1, Path.BATCH: before[Path.BATCH]}


def test_parallel_and_map_states_count_themselves_and_every_inner_state() -> None:
    two = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}}
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {"Type": "Parallel", "Branches": [two, two], "ResultPath": "$.fan", "Next": "Each"},
            "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": two, "ResultPath": "$.each", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    trace = happy_path(definition, {"items": [1, 2, 3]})
    assert trace[:5] == ("Fan", "Fan/A", "Fan/B", "Fan/A", "Fan/B")
    assert len(trace) == 1 + 4 + 1 + 3 * 2 + 1


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        ({"model": "nope", "path": "async", "attempt": 1}, "the walk ends in Fail state 'UnknownModel' (drkit.UnknownModel)"),
        ({"model": REPRESENTATIVE_MODEL, "path": "nowhere", "attempt": 1}, "the walk ends in Fail state 'Route.Invalid'"),
        ({"path": "async"}, "Choice state 'SelectModel' reads '$.model', which the execution's data lacks"),
    ],
    ids=["unknown-model", "unknown-path", "missing-field"],
)
def test_an_input_that_does_not_succeed_has_no_happy_path(execution_input: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentValidationError) as caught:
        happy_path(representative_definition(), execution_input)
    assert message in str(caught.value)


def test_a_success_path_that_loops_is_refused() -> None:
    looping = {"StartAt": "Again", "States": {"Again": {"Type": "Pass", "Next": "Again"}}}
    with pytest.raises(ComponentValidationError, match=f"more than {MAX_WALK_STEPS} states without reaching an end"):
        happy_path(looping, {})


@pytest.mark.parametrize("routed_by", ["front-door", "workflow"])
def test_the_walk_enters_the_same_states_as_moto_executing_the_definition(aws: dict[str, Any], routed_by: str) -> None:
    spec = example_spec("search-tier2")
    deployed = stub_sagemaker(
        workflow_definition(table_name=token_table_name(spec), classes=classes_from(spec.traffic_classes), targets=search_targets(REGION),
                            job_prefix=JOB_PREFIX)
    )
    payload = request(model="query-embed", input_location="s3://in/w")
    if routed_by == "front-door":
        payload.update(front_door_input(Path.ASYNC, "query-embed"), request_id=payload["request_id"])
    else:
        payload.update(traffic_class="bulk", payload_bytes=50_000_000)
    aws["store"].record(payload["request_id"], REGION, "async", "query-embed", "s3://in/w", ttl_seconds=3600)
    execution = start(aws, payload)
    token = token_of(aws, payload["request_id"])
    aws["store"].complete(payload["request_id"], "s3://out/w.out", region=REGION)
    aws["sfn"].send_task_success(taskToken=token, output=json.dumps({"output_location": "s3://out/w.out"}))
    assert wait(aws, execution)["status"] == "SUCCEEDED"
    entered = tuple(entered_states(aws, execution))
    assert entered == happy_path(deployed, payload)
    if routed_by == "front-door":  # what drkit.engine.cost and the front door price per request, confirmed by an engine
        assert len(entered) == REQUEST_TRANSITIONS[Path.ASYNC]
