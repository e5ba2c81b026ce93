"""Completion Lambda: SageMaker async inference notifications and transform-job state
changes → token table → Step Functions callback.

Subscribed to the async endpoint's success and error SNS topics in one region. For each
notification it records the result in the token table (`drkit.core.tokens.TokenStore`), then
sends SendTaskSuccess/SendTaskFailure with the token the table returns. It is safe to run
twice on the same notification (SNS delivers at least once and Lambda retries): a duplicate
finds the result already recorded and re-sends the callback, which Step Functions answers
with TaskTimedOut/InvalidToken once the task is closed — both are treated as done.

Message format (SageMaker developer guide, "Check prediction results", read 2025):
``{"invocationStatus": "Completed" | "Failed", "inferenceId": ..., "failureReason": ...,
"requestParameters": {"inputLocation": ..., "endpointName": ...},
"responseParameters": {"outputLocation": ..., "failureLocation": ...}, ...}``.
The workflow invokes the endpoint with InferenceId = request_id.

Dependencies: boto3 + standard library + drkit/core/tokens.py, which is packaged with this file.
Environment: TABLE_NAME, AWS_REGION.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import boto3
from botocore.exceptions import ClientError

from drkit.core.tokens import CompleteOutcome, CompleteResult, TokenStore

LOG = logging.getLogger("drkit.completion")
LOG.setLevel(logging.INFO)

SUCCESS_STATUS = "Completed"
FAILURE_STATUS = "Failed"
FAILURE_ERROR = "SageMaker.AsyncInferenceFailed"
# A callback for a closed or unknown task: the workflow has already moved on.
GONE_TASK_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
# SendTaskFailure limits (Step Functions API reference): error 256, cause 32768 characters.
MAX_ERROR, MAX_CAUSE = 256, 32768


@dataclass(frozen=True)
class Notification:
    """One SageMaker async inference result, as the handler needs it."""

    request_id: str
    succeeded: bool
    output_location: str = ""
    failure_reason: str = ""
    input_location: str = ""


class MalformedNotificationError(ValueError):
    """An SNS message that is not a SageMaker async inference notification."""


def parse_notification(message: Any) -> Notification:
    """The notification inside one SNS message body (a JSON string or an already-decoded dict)."""
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except json.JSONDecodeError as exc:
            raise MalformedNotificationError(f"message is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MalformedNotificationError(f"message is a {type(message).__name__}, expected an object")
    request_id = message.get("inferenceId")
    status = message.get("invocationStatus")
    if not isinstance(request_id, str) or not request_id:
        raise MalformedNotificationError("inferenceId is missing")
    if status not in (SUCCESS_STATUS, FAILURE_STATUS):
        raise MalformedNotificationError(f"invocationStatus {status!r} is not {SUCCESS_STATUS!r} or {FAILURE_STATUS!r}")
    response = message.get("responseParameters") or {}
    request = message.get("requestParameters") or {}
    output = str(response.get("outputLocation") or "")
    if status == SUCCESS_STATUS and not output:
        raise MalformedNotificationError(f"inference {request_id}: Completed without responseParameters.outputLocation")
    reason = str(message.get("failureReason") or "")
    if status == FAILURE_STATUS and response.get("failureLocation"):
        reason = f"{reason} (failure payload: {response['failureLocation']})".strip()
    return Notification(
        request_id=request_id,
        succeeded=status == SUCCESS_STATUS,
        output_location=output,
        failure_reason=reason or "no failureReason given",
        input_location=str(request.get("inputLocation") or ""),
    )


TRANSFORM_EVENT = "SageMaker Transform Job State Change"
REQUEST_TAG = "drkit:request_id"  # set by the workflow's CreateTransformJob (components/workflow.py)


def _tag_map(tags: Any) -> dict[str, str]:
    """Tags as {key: value}, from either a map or a [{Key, Value}] list."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t.get("Key")): str(t.get("Value")) for t in tags or [] if isinstance(t, dict)}


def transform_notification(detail: dict[str, Any], tags_of: Callable[[str], dict[str, str]]) -> Notification:
    """A batch request's result from a transform-job state change (EventBridge `detail`)."""
    name = str(detail.get("TransformJobName") or "")
    status = detail.get("TransformJobStatus")
    if not name or status not in ("Completed", "Failed", "Stopped"):
        raise MalformedNotificationError(f"transform job {name!r}: status {status!r} is not a final state")
    tags = _tag_map(detail.get("Tags")) or tags_of(str(detail.get("TransformJobArn") or ""))
    request_id = tags.get(REQUEST_TAG)
    if not request_id:
        raise MalformedNotificationError(f"transform job {name}: no {REQUEST_TAG} tag, so it is not a drkit request")
    output = str((detail.get("TransformOutput") or {}).get("S3OutputPath") or "")
    return Notification(
        request_id=request_id,
        succeeded=status == "Completed",
        output_location=output,
        failure_reason=str(detail.get("FailureReason") or f"transform job {name} {str(status).lower()}"),
    )


def sns_messages(event: dict[str, Any]) -> list[Any]:
    """The message bodies of an SNS-triggered Lambda event (a bare notification is accepted too)."""
    if "invocationStatus" in event:
        return [event]
    return [record.get("Sns", {}).get("Message") for record in event.get("Records", [])]


def send_callback(sfn: Any, token: str, notification: Notification) -> str:
    """SendTaskSuccess/Failure; 'sent', or 'task_gone' when Step Functions no longer knows the task."""
    try:
        if notification.succeeded:
            output = {"request_id": notification.request_id, "status": "SUCCEEDED", "output_location": notification.output_location}
            sfn.send_task_success(taskToken=token, output=json.dumps(output))
        else:
            sfn.send_task_failure(taskToken=token, error=FAILURE_ERROR[:MAX_ERROR], cause=notification.failure_reason[:MAX_CAUSE])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in GONE_TASK_ERRORS:
            LOG.info("request %s: task already closed (%s)", notification.request_id, code)
            return "task_gone"
        raise
    return "sent"


def _notifications(event: dict[str, Any], tags_of: Callable[[str], dict[str, str]] | None) -> list[Callable[[], Notification]]:
    """One parser per result in the event: an EventBridge transform-job change, or SNS messages."""
    if event.get("detail-type") == TRANSFORM_EVENT:
        lookup: Callable[[str], dict[str, str]] = tags_of or _no_tags
        return [partial(transform_notification, event.get("detail") or {}, lookup)]
    return [partial(parse_notification, message) for message in sns_messages(event)]


def _no_tags(arn: str) -> dict[str, str]:
    return {}


def process(
    event: dict[str, Any], store: TokenStore, sfn: Any, region: str, tags_of: Callable[[str], dict[str, str]] | None = None
) -> list[dict[str, str]]:
    """Handle every result in `event`; one summary per result. Raises only on AWS errors worth a retry."""
    summaries: list[dict[str, str]] = []
    for parse in _notifications(event, tags_of):
        try:
            notification = parse()
        except MalformedNotificationError as exc:
            # Retrying cannot fix a malformed message; log it rather than poison the queue.
            LOG.error("skipping notification: %s", exc)
            summaries.append({"request_id": "", "outcome": "malformed", "callback": "none"})
            continue
        result: CompleteResult
        if notification.succeeded:
            result = store.complete(notification.request_id, notification.output_location, region=region)
        else:
            result = store.fail(notification.request_id, FAILURE_ERROR, notification.failure_reason, region=region)
        callback = "none"
        if result.task_token and result.outcome in (CompleteOutcome.COMPLETED, CompleteOutcome.DUPLICATE):
            callback = send_callback(sfn, result.task_token, notification)
        LOG.info("request %s: %s, callback %s", notification.request_id, result.outcome.value, callback)
        summaries.append({"request_id": notification.request_id, "outcome": result.outcome.value, "callback": callback})
    return summaries


@cache
def _clients(table_name: str, region: str) -> tuple[TokenStore, Any]:
    """Clients reused across warm invocations."""
    dynamodb = boto3.client("dynamodb", region_name=region)
    return TokenStore(table_name, dynamodb), boto3.client("stepfunctions", region_name=region)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    region = os.environ["AWS_REGION"]
    store, sfn = _clients(os.environ["TABLE_NAME"], region)

    def tags_of(arn: str) -> dict[str, str]:
        if not arn:
            return {}
        return _tag_map(boto3.client("sagemaker", region_name=region).list_tags(ResourceArn=arn).get("Tags"))

    return {"results": process(event, store, sfn, region, tags_of)}
