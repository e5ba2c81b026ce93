"""The compiled ASL and `route()` agree: a property test runs both, the ASL in moto's Step Functions."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from drkit.core.asl import CHECK_SIZE, ROUTING_ERROR, choice_states, routing_only_definition
from drkit.core.routing import (
    ASYNC_MAX_PAYLOAD_BYTES,
    DECISION_TABLE,
    MAX_PAYLOAD_BYTES,
    REALTIME_MAX_PAYLOAD_BYTES,
    SERVERLESS_MAX_PAYLOAD_BYTES,
    Path,
    RoutingError,
    classes_from,
    route,
)

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/drkit-routing-test"

# Every kind, with timeouts on both sides of each time limit, so every table row is reachable.
CLASSES = classes_from(
    [
        SimpleNamespace(name="auth", kind="critical", timeout_seconds=2),
        SimpleNamespace(name="auth-slow", kind="critical", timeout_seconds=61),
        SimpleNamespace(name="review", kind="standard", timeout_seconds=60),
        SimpleNamespace(name="review-slow", kind="standard", timeout_seconds=600),
        SimpleNamespace(name="backfill", kind="bulk", timeout_seconds=3600),
        SimpleNamespace(name="backfill-long", kind="bulk", timeout_seconds=7200),
    ]
)

LIMITS = (0, SERVERLESS_MAX_PAYLOAD_BYTES, REALTIME_MAX_PAYLOAD_BYTES, ASYNC_MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES)
# Sizes cluster at each limit (-1, exact, +1) where an off-by-one would hide; some anywhere.
sizes = st.one_of(
    st.sampled_from(LIMITS).flatmap(lambda limit: st.sampled_from((limit - 1, limit, limit + 1))),
    st.integers(min_value=0, max_value=MAX_PAYLOAD_BYTES + 1),
    st.integers(min_value=-(10**3), max_value=-1),
    st.just(10**15),
)
class_names = st.sampled_from([*CLASSES, "unknown", ""])


def _run(sfn: Any, arn: str, payload: dict[str, Any]) -> dict[str, Any]:
    execution = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(payload))["executionArn"]
    for _ in range(2000):
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.002)
    raise AssertionError(f"execution {execution} still RUNNING for input {payload}")


@pytest.fixture(scope="module")
def machine() -> Iterator[tuple[Any, str]]:
    # moto logs every Fail state at ERROR; here failing is the expected outcome for bad input.
    parser_log = logging.getLogger("moto.stepfunctions.parser")
    level = parser_log.level
    parser_log.setLevel(logging.CRITICAL)
    with pytest.MonkeyPatch.context() as env:
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", REGION)):
            env.setenv(key, value)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            sfn = boto3.client("stepfunctions", region_name=REGION)
            definition = json.dumps(routing_only_definition(CLASSES))
            arn = sfn.create_state_machine(name="drkit-routing", definition=definition, roleArn=ROLE)["stateMachineArn"]
            yield sfn, arn
    parser_log.setLevel(level)


def asl_decision(machine: tuple[Any, str], payload: dict[str, Any]) -> tuple[str, str] | None:
    """(path, rule) from the compiled ASL, or None when it failed as a routing error."""
    sfn, arn = machine
    described = _run(sfn, arn, payload)
    if described["status"] == "FAILED":
        assert described.get("error") == ROUTING_ERROR, described
        return None
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    return output["path"], output["rule"]


def python_decision(size: int, cls: str, off_hours: bool) -> tuple[str, str] | None:
    try:
        decision = route(size, cls, classes=CLASSES, off_hours=off_hours)
    except RoutingError:
        return None
    return decision.path.value, decision.rule


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=sizes, cls=class_names, off_hours=st.booleans())
def test_compiled_asl_chooses_the_same_path_and_rule_as_route(machine: tuple[Any, str], size: int, cls: str, off_hours: bool) -> None:
    payload = {"payload_bytes": size, "traffic_class": cls, "off_hours": off_hours}
    assert asl_decision(machine, payload) == python_decision(size, cls, off_hours), payload


def test_every_rule_fires_in_the_asl(machine: tuple[Any, str]) -> None:
    cases = {
        "critical-realtime": (10, "auth", False),
        "critical-async": (10, "auth-slow", False),
        "standard-serverless-off-hours": (10, "review", True),
        "standard-realtime": (10, "review", False),
        "standard-async": (10, "review-slow", False),
        "bulk-async": (10, "backfill", False),
        "bulk-batch": (10, "backfill-long", False),
    }
    assert set(cases) == {rule.name for rule in DECISION_TABLE}
    for rule, (size, cls, off_hours) in cases.items():
        decision = asl_decision(machine, {"payload_bytes": size, "traffic_class": cls, "off_hours": off_hours})
        assert decision is not None and decision[1] == rule
        assert decision == python_decision(size, cls, off_hours)


def test_absent_off_hours_means_business_hours_as_in_route(machine: tuple[Any, str]) -> None:
    assert asl_decision(machine, {"payload_bytes": 10, "traffic_class": "review"}) == ("realtime", "standard-realtime")


@pytest.mark.parametrize(
    "payload",
    [
        {"traffic_class": "auth"},
        {"payload_bytes": 10},
        {"payload_bytes": "10", "traffic_class": "auth"},
        {"payload_bytes": True, "traffic_class": "auth"},
        {"payload_bytes": None, "traffic_class": "auth"},
        {"payload_bytes": 10, "traffic_class": 7},
        {"payload_bytes": 10, "traffic_class": "review", "off_hours": "yes"},
    ],
)
def test_malformed_input_fails_with_the_routing_error(machine: tuple[Any, str], payload: dict[str, Any]) -> None:
    assert asl_decision(machine, payload) is None


def test_choice_states_record_the_rule_and_continue_to_the_path_state(machine: tuple[Any, str]) -> None:
    sfn, _ = machine
    on_path = {path: f"Invoke.{path.value}" for path in Path}
    states = choice_states(CLASSES, on_path=on_path, invalid_state="Reject")
    states.update({name: {"Type": "Pass", "Result": name, "ResultPath": "$.next", "End": True} for name in on_path.values()})
    states["Reject"] = {"Type": "Fail", "Error": "Rejected"}
    arn = sfn.create_state_machine(
        name="drkit-routing-wired", definition=json.dumps({"StartAt": CHECK_SIZE, "States": states}), roleArn=ROLE
    )["stateMachineArn"]
    done = _run(sfn, arn, {"payload_bytes": REALTIME_MAX_PAYLOAD_BYTES + 1, "traffic_class": "auth", "request_id": "r-1"})
    output = json.loads(done["output"])
    assert output["route"] == {"path": "async", "rule": "critical-async"}
    assert (output["next"], output["request_id"]) == ("Invoke.async", "r-1")
    assert _run(sfn, arn, {"payload_bytes": -1, "traffic_class": "auth"})["error"] == "Rejected"


def test_every_transition_targets_a_state_that_exists() -> None:
    definition = routing_only_definition(CLASSES)
    states = definition["States"]
    targets = {definition["StartAt"]}
    for state in states.values():
        targets.update(choice["Next"] for choice in state.get("Choices", ()))
        targets.update(state[key] for key in ("Default", "Next") if key in state)
    assert targets <= set(states)


def test_choice_states_refuse_a_missing_path_state() -> None:
    with pytest.raises(RoutingError) as caught:
        choice_states(CLASSES, on_path={Path.REALTIME: "Invoke"}, invalid_state="Reject")
    assert str(caught.value) == "on_path: no state for path async, batch, serverless; the classes given can route there"


def test_routing_only_definition_refuses_no_classes() -> None:
    with pytest.raises(RoutingError, match=r"^traffic_classes: none given"):
        routing_only_definition({})


def test_only_the_rules_a_class_can_reach_are_compiled() -> None:
    only_critical = {"auth": CLASSES["auth"]}
    states = routing_only_definition(only_critical)["States"]
    assert {name for name in states if name.startswith("Route.Rule.")} == {"Route.Rule.critical-realtime", "Route.Rule.critical-async"}
