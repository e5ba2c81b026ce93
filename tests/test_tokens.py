"""TokenStore lifecycle and the completion Lambda, on moto DynamoDB and Step Functions."""

from __future__ import annotations

import ast
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drkit.components.functions.completion import handler as completion
from drkit.core.routing import Path as RoutePath
from drkit.core.tokens import (
    HASH_KEY,
    HOME_REGION_INDEX,
    TTL_ATTRIBUTE,
    AttachOutcome,
    CompleteOutcome,
    Status,
    TokenStore,
    TokenStoreError,
    attach_token_task_parameters,
)
from tests.conftest import create_token_table

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
TABLE = "drkit-test-tokens"
T0 = 1_700_000_000.0


class FakeClock:
    """A settable clock: expiry is tested by moving time, never by sleeping."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """One moto for the module (starting moto costs ~0.25 s); each test gets its own table."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(aws: None, clock: FakeClock) -> TokenStore:
    client = boto3.client("dynamodb", region_name=REGION)
    name = unique(TABLE)
    create_token_table(client, name)
    return TokenStore(name, client, clock=clock)


def record(store: TokenStore, request_id: str = "req-1", home: str = REGION, ttl: int = 3600) -> None:
    store.record(request_id, home, RoutePath.ASYNC, "fraud", f"s3://in/{request_id}.json", ttl)


# --- shape and dependencies -----------------------------------------------------------------


def test_table_names_match_the_component() -> None:
    import drkit.components.table as table

    assert (HASH_KEY, HOME_REGION_INDEX, TTL_ATTRIBUTE) == (table.HASH_KEY, table.HOME_REGION_INDEX, table.TTL_ATTRIBUTE)


def test_paths_match_the_routing_engine() -> None:
    from drkit.core.tokens import PATHS

    assert tuple(p.value for p in RoutePath) == PATHS


def test_record_refuses_an_unknown_path(store: TokenStore) -> None:
    with pytest.raises(TokenStoreError, match=r"path: 'gpu' is not valid; use one of realtime, serverless, async, batch"):
        store.record("req-1", REGION, "gpu", "m", "s3://in/x", 60)


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module)
    return roots


@pytest.mark.parametrize(
    ("path", "allowed_own"),
    [("drkit/core/tokens.py", {"drkit.core.errors"}), ("components/functions/completion/handler.py", {"drkit.core.tokens"})],
)
def test_lambda_code_imports_only_stdlib_boto3_and_tokens(path: str, allowed_own: set[str]) -> None:
    """The completion Lambda ships with boto3 and tokens.py only: no pulumi, no pydantic, no rest of drkit."""
    for module in _imported_roots(ROOT / path):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or top in {"boto3", "botocore"} or module in allowed_own, f"{path} imports {module}"


# --- lifecycle ------------------------------------------------------------------------------


def test_record_creates_a_pending_item_with_ttl(store: TokenStore) -> None:
    created = store.record("req-1", REGION, RoutePath.ASYNC, "fraud", "s3://in/req-1.json", 3600)
    got = store.get("req-1")
    assert got == created
    assert (got.status, got.attempt, got.path, got.expires_at, got.task_token) == (Status.PENDING, 1, "async", int(T0) + 3600, None)
    assert not got.expired


def test_record_is_idempotent_for_the_same_request(store: TokenStore) -> None:
    record(store)
    again = store.record("req-1", REGION, RoutePath.ASYNC, "fraud", "s3://in/req-1.json", 3600)
    assert again.status is Status.PENDING


def test_record_refuses_a_different_request_under_the_same_id(store: TokenStore) -> None:
    record(store)
    with pytest.raises(TokenStoreError, match=r"request_id: 'req-1' is already recorded with different team/path/model/input_location"):
        store.record("req-1", REGION, RoutePath.BATCH, "fraud", "s3://in/other.json", 3600)


def test_record_keeps_the_team_and_its_priority_and_refuses_the_id_from_another_team(store: TokenStore) -> None:
    kept = store.record("req-t", REGION, RoutePath.ASYNC, "fraud", "s3://in/t.json", 3600, team="ops", priority="high")
    assert (kept.team, kept.priority) == ("ops", "high")
    read = store.get("req-t")
    assert read is not None and (read.team, read.priority) == ("ops", "high")
    with pytest.raises(TokenStoreError, match="already recorded with different team"):
        store.record("req-t", REGION, RoutePath.ASYNC, "fraud", "s3://in/t.json", 3600, team="other", priority="high")


@pytest.mark.parametrize("bad", ["", "has space", "x" * 73, "a/b"])
def test_record_refuses_request_ids_that_cannot_name_an_execution(store: TokenStore, bad: str) -> None:
    with pytest.raises(TokenStoreError, match=r"request_id: .* is not valid; use 1-72 characters from A-Z a-z 0-9 _ -"):
        store.record(bad, REGION, RoutePath.ASYNC, "m", "s3://in/x", 60)


def test_record_refuses_a_ttl_out_of_range(store: TokenStore) -> None:
    with pytest.raises(TokenStoreError, match=r"ttl_seconds: 0 is not valid; use 1\.\.34560000 \(400 days\)"):
        store.record("req-1", REGION, RoutePath.ASYNC, "m", "s3://in/x", 0)


def test_attach_then_complete_returns_the_token(store: TokenStore) -> None:
    record(store)
    attached = store.attach_token("req-1", "tok-1")
    assert attached.outcome is AttachOutcome.ATTACHED
    assert attached.record is not None and attached.record.status is Status.WAITING

    done = store.complete("req-1", "s3://out/req-1.out")

    assert (done.outcome, done.task_token) == (CompleteOutcome.COMPLETED, "tok-1")
    got = store.get("req-1")
    assert got is not None and (got.status, got.output_location) == (Status.SUCCEEDED, "s3://out/req-1.out")


def test_attach_twice_with_the_same_token_is_already_attached(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    assert store.attach_token("req-1", "tok-1").outcome is AttachOutcome.ALREADY_ATTACHED
    assert store.attach_token("req-1", "tok-other").outcome is AttachOutcome.SUPERSEDED


def test_attach_records_the_path_that_waits(store: TokenStore) -> None:
    store.record("req-1", REGION, RoutePath.SERVERLESS, "fraud", "s3://in/req-1.json", 3600)
    store.attach_token("req-1", "tok-1", path=RoutePath.ASYNC)  # serverless fell back to async
    assert store.get("req-1").path == "async"  # type: ignore[union-attr]


def test_attach_for_an_old_attempt_is_superseded(store: TokenStore) -> None:
    record(store)
    assert store.attach_token("req-1", "tok-1", attempt=2).outcome is AttachOutcome.SUPERSEDED
    assert store.get("req-1").status is Status.PENDING  # type: ignore[union-attr]


def test_attach_unknown_request(store: TokenStore) -> None:
    assert store.attach_token("nope", "tok").outcome is AttachOutcome.UNKNOWN


def test_fail_records_error_and_returns_the_token(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    result = store.fail("req-1", "SageMaker.AsyncInferenceFailed", "ModelError: boom")
    assert (result.outcome, result.task_token) == (CompleteOutcome.COMPLETED, "tok-1")
    got = store.get("req-1")
    assert got is not None and (got.status, got.error, got.cause) == (Status.FAILED, "SageMaker.AsyncInferenceFailed", "ModelError: boom")


def test_completion_before_token_is_kept_and_attach_reports_it(store: TokenStore) -> None:
    record(store)
    early = store.complete("req-1", "s3://out/req-1.out")
    assert (early.outcome, early.task_token) == (CompleteOutcome.COMPLETED, None)

    attached = store.attach_token("req-1", "tok-late")

    assert attached.outcome is AttachOutcome.ALREADY_COMPLETED
    assert attached.record is not None and attached.record.output_location == "s3://out/req-1.out"
    assert store.get("req-1").task_token is None  # type: ignore[union-attr]


class AttachJustBeforeTheWrite:
    """A DynamoDB client on which the workflow stores its token between complete()'s read and its write."""

    def __init__(self, client: Any, attach: Any) -> None:
        self._client, self._attach, self.fired = client, attach, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **kwargs: Any) -> Any:
        if not self.fired and kwargs["UpdateExpression"].startswith("SET #s = :new"):
            self.fired = True
            self._attach()
        return self._client.update_item(**kwargs)


def test_a_token_attached_between_completions_read_and_write_is_returned(store: TokenStore, clock: FakeClock) -> None:
    record(store)
    racing = TokenStore(store.table_name, AttachJustBeforeTheWrite(store.client, lambda: store.attach_token("req-1", "tok-racing")), clock=clock)

    result = racing.complete("req-1", "s3://out/a")

    assert (result.outcome, result.task_token) == (CompleteOutcome.COMPLETED, "tok-racing")
    assert store.get("req-1").status is Status.SUCCEEDED  # type: ignore[union-attr]


def test_duplicate_completion_returns_the_token_again_and_changes_nothing(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    store.complete("req-1", "s3://out/a")
    again = store.complete("req-1", "s3://out/a")
    assert (again.outcome, again.task_token) == (CompleteOutcome.DUPLICATE, "tok-1")


def test_a_different_result_after_completion_is_a_conflict_without_token(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    store.complete("req-1", "s3://out/a")
    late = store.fail("req-1", "E", "late failure")
    assert (late.outcome, late.task_token) == (CompleteOutcome.CONFLICT, None)
    assert store.get("req-1").status is Status.SUCCEEDED  # type: ignore[union-attr]


def test_completion_from_a_region_that_is_not_home_is_superseded(store: TokenStore) -> None:
    record(store, home="us-west-2")
    store.attach_token("req-1", "tok-1")
    result = store.complete("req-1", "s3://out/a", region=REGION)
    assert (result.outcome, result.task_token) == (CompleteOutcome.SUPERSEDED, None)
    assert store.get("req-1").status is Status.WAITING  # type: ignore[union-attr]


def test_completion_of_unknown_request(store: TokenStore) -> None:
    assert store.complete("nope", "s3://out/a").outcome is CompleteOutcome.UNKNOWN


def test_expired_items_are_expired_on_read_and_never_completed(store: TokenStore, clock: FakeClock) -> None:
    record(store, ttl=60)
    store.attach_token("req-1", "tok-1")
    clock.now += 61  # DynamoDB has not deleted it yet (TTL is lazy)

    got = store.get("req-1")
    assert got is not None and got.expired and got.status is Status.WAITING
    done = store.complete("req-1", "s3://out/a")
    assert (done.outcome, done.task_token) == (CompleteOutcome.EXPIRED, None)
    assert store.get("req-1").status is Status.WAITING  # type: ignore[union-attr]
    assert [r.expired for r in store.unfinished(REGION)] == [True]


def test_attach_after_expiry_is_refused(store: TokenStore, clock: FakeClock) -> None:
    record(store, ttl=60)
    clock.now += 61
    assert store.attach_token("req-1", "tok-1").outcome is AttachOutcome.EXPIRED


def test_unfinished_reads_every_page_of_pending_and_waiting_only(store: TokenStore) -> None:
    for i in range(23):
        record(store, f"req-{i:02d}")
    for i in range(10):
        store.attach_token(f"req-{i:02d}", f"tok-{i}")
    for i in range(5):
        store.complete(f"req-{i:02d}", "s3://out/x")
    record(store, "elsewhere", home="us-west-2")

    found = list(store.unfinished(REGION, page_size=4))

    assert sorted(r.request_id for r in found) == [f"req-{i:02d}" for i in range(5, 23)]
    assert {r.status for r in found} == {Status.PENDING, Status.WAITING}


# --- completion Lambda ----------------------------------------------------------------------


def success_message(request_id: str, output: str = "s3://out/result.out") -> dict[str, Any]:
    return {
        "awsRegion": REGION,
        "eventTime": "2025-01-01T00:00:00.000Z",
        "receivedTime": "2025-01-01T00:00:00.000Z",
        "invocationStatus": "Completed",
        "requestParameters": {"contentType": "application/json", "endpointName": "fraud-async", "inputLocation": f"s3://in/{request_id}.json"},
        "responseParameters": {"contentType": "application/json", "outputLocation": output},
        "inferenceId": request_id,
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }


def failure_message(request_id: str) -> dict[str, Any]:
    message = success_message(request_id)
    message.update(invocationStatus="Failed", failureReason="ClientError: Received server error (500) from model")
    message["responseParameters"] = {"failureLocation": f"s3://errors/{request_id}.out"}
    return message


def sns_event(*messages: dict[str, Any] | str) -> dict[str, Any]:
    return {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": m if isinstance(m, str) else json.dumps(m)}}
            for m in messages
        ]
    }


class RecordingSfn:
    """Step Functions stand-in that records callbacks and can answer like a closed task."""

    def __init__(self, error_code: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error_code = error_code

    def _call(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, kwargs))
        if self.error_code:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": self.error_code, "Message": "gone"}}, name)

    def send_task_success(self, **kwargs: Any) -> None:
        self._call("success", kwargs)

    def send_task_failure(self, **kwargs: Any) -> None:
        self._call("failure", kwargs)


def test_parse_success_and_failure_notifications() -> None:
    ok = completion.parse_notification(json.dumps(success_message("req-1")))
    assert (ok.request_id, ok.succeeded, ok.output_location, ok.input_location) == ("req-1", True, "s3://out/result.out", "s3://in/req-1.json")
    bad = completion.parse_notification(failure_message("req-2"))
    assert (bad.succeeded, bad.failure_reason) == (
        False,
        "ClientError: Received server error (500) from model (failure payload: s3://errors/req-2.out)",
    )


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", "message is not JSON"),
        ({"invocationStatus": "Completed"}, "inferenceId is missing"),
        ({"inferenceId": "r", "invocationStatus": "Running"}, "invocationStatus 'Running' is not 'Completed' or 'Failed'"),
        ({"inferenceId": "r", "invocationStatus": "Completed"}, "inference r: Completed without responseParameters.outputLocation"),
    ],
)
def test_parse_refuses_malformed_messages(message: Any, error: str) -> None:
    with pytest.raises(completion.MalformedNotificationError, match=error):
        completion.parse_notification(message)


def test_handler_completes_and_sends_task_success(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    sfn = RecordingSfn()

    results = completion.process(sns_event(success_message("req-1")), store, sfn, REGION)

    assert results == [{"request_id": "req-1", "outcome": "completed", "callback": "sent"}]
    name, kwargs = sfn.calls[0]
    assert (name, kwargs["taskToken"]) == ("success", "tok-1")
    assert json.loads(kwargs["output"]) == {"request_id": "req-1", "status": "SUCCEEDED", "output_location": "s3://out/result.out"}


def test_handler_fails_and_sends_task_failure(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    sfn = RecordingSfn()
    completion.process(sns_event(failure_message("req-1")), store, sfn, REGION)
    name, kwargs = sfn.calls[0]
    assert (name, kwargs["taskToken"], kwargs["error"]) == ("failure", "tok-1", "SageMaker.AsyncInferenceFailed")
    assert store.get("req-1").status is Status.FAILED  # type: ignore[union-attr]


def test_handler_on_duplicate_delivery_resends_and_treats_closed_task_as_done(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    completion.process(sns_event(success_message("req-1")), store, RecordingSfn(), REGION)
    closed = RecordingSfn(error_code="TaskTimedOut")

    results = completion.process(sns_event(success_message("req-1")), store, closed, REGION)

    assert results == [{"request_id": "req-1", "outcome": "duplicate", "callback": "task_gone"}]
    assert len(closed.calls) == 1
    assert store.get("req-1").output_location == "s3://out/result.out"  # type: ignore[union-attr]


def test_handler_treats_invalid_token_as_done(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    results = completion.process(sns_event(success_message("req-1")), store, RecordingSfn("InvalidToken"), REGION)
    assert results[0]["callback"] == "task_gone"


def test_handler_reraises_other_step_functions_errors_so_lambda_retries(store: TokenStore) -> None:
    from botocore.exceptions import ClientError

    record(store)
    store.attach_token("req-1", "tok-1")
    with pytest.raises(ClientError):
        completion.process(sns_event(success_message("req-1")), store, RecordingSfn("ThrottlingException"), REGION)
    # The result is recorded; the retry re-sends the callback.
    sfn = RecordingSfn()
    assert completion.process(sns_event(success_message("req-1")), store, sfn, REGION)[0]["callback"] == "sent"


def test_handler_before_token_records_result_without_callback(store: TokenStore) -> None:
    record(store)
    sfn = RecordingSfn()
    results = completion.process(sns_event(success_message("req-1")), store, sfn, REGION)
    assert results == [{"request_id": "req-1", "outcome": "completed", "callback": "none"}]
    assert sfn.calls == []
    assert store.attach_token("req-1", "tok-late").outcome is AttachOutcome.ALREADY_COMPLETED


def test_handler_skips_malformed_messages_and_processes_the_rest(store: TokenStore) -> None:
    record(store)
    results = completion.process(sns_event("garbage", success_message("req-1")), store, RecordingSfn(), REGION)
    assert [r["outcome"] for r in results] == ["malformed", "completed"]


def test_handler_entry_point_with_moto_step_functions_closes_a_real_waiting_task(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end on moto: a Standard execution stores its token with the aws-sdk updateItem
    callback built by attach_token_task_parameters, and the Lambda entry point completes it."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = unique(TABLE)
    create_token_table(ddb, table)
    store = TokenStore(table, ddb)
    store.record("req-e2e", REGION, RoutePath.ASYNC, "fraud", "s3://in/req-e2e.json", 3600)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {
        "StartAt": "StoreToken",
        "States": {
            "StoreToken": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken",
                "Parameters": attach_token_task_parameters(table, RoutePath.ASYNC),
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(
        name=unique("wf"), definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="req-e2e-a1", input=json.dumps({"request_id": "req-e2e", "attempt": 1}))
    assert _wait_for(lambda: getattr(store.get("req-e2e"), "status", None) is Status.WAITING), "the execution never stored its token"
    assert store.get("req-e2e").task_token  # type: ignore[union-attr]
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("AWS_REGION", REGION)
    completion._clients.cache_clear()

    result = completion.handler(sns_event(success_message("req-e2e")), None)

    assert result == {"results": [{"request_id": "req-e2e", "outcome": "completed", "callback": "sent"}]}
    assert _wait_for(lambda: sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "SUCCEEDED")
    completion._clients.cache_clear()


def _wait_for(condition: Any, attempts: int = 200) -> bool:
    """Poll moto's background execution thread; bounded by attempts, no timing assertion."""
    import time

    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.01)
    return False


def transform_event(status: str, *, tags: Any = None, arn: str = "arn:aws:sagemaker:eu-west-1:1:transform-job/drkit-abc-a1") -> dict[str, Any]:
    detail: dict[str, Any] = {
        "TransformJobName": "drkit-abc-a1",
        "TransformJobArn": arn,
        "TransformJobStatus": status,
        "TransformOutput": {"S3OutputPath": "s3://out/batch/"},
    }
    if status != "Completed":
        detail["FailureReason"] = "ClientError: bad input"
    if tags is not None:
        detail["Tags"] = tags
    return {"source": "aws.sagemaker", "detail-type": "SageMaker Transform Job State Change", "detail": detail}


def test_handler_completes_a_batch_request_from_its_transform_job_event(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    sfn = RecordingSfn()
    looked_up: list[str] = []

    def tags_of(arn: str) -> dict[str, str]:
        looked_up.append(arn)
        return {"drkit:request_id": "req-1", "drkit:attempt": "1"}

    results = completion.process(transform_event("Completed"), store, sfn, REGION, tags_of)

    assert results == [{"request_id": "req-1", "outcome": "completed", "callback": "sent"}]
    assert looked_up == ["arn:aws:sagemaker:eu-west-1:1:transform-job/drkit-abc-a1"]
    assert store.get("req-1").output_location == "s3://out/batch/"  # type: ignore[union-attr]


def test_a_failed_transform_job_fails_the_request_using_tags_from_the_event(store: TokenStore) -> None:
    record(store)
    store.attach_token("req-1", "tok-1")
    sfn = RecordingSfn()
    completion.process(transform_event("Failed", tags=[{"Key": "drkit:request_id", "Value": "req-1"}]), store, sfn, REGION)
    name, kwargs = sfn.calls[0]
    assert (name, kwargs["cause"]) == ("failure", "ClientError: bad input")
    assert store.get("req-1").status is Status.FAILED  # type: ignore[union-attr]


def test_a_transform_job_without_the_request_tag_is_skipped(store: TokenStore) -> None:
    results = completion.process(transform_event("Completed", tags={}), store, RecordingSfn(), REGION, lambda arn: {})
    assert results == [{"request_id": "", "outcome": "malformed", "callback": "none"}]
