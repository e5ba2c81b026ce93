"""InferenceWorkflow: the Step Functions state machine that serves one region's requests.

The definition is a pure function of names known before deployment (`workflow_definition`),
so tests read and execute exactly what would be deployed:

1. `SelectModel` picks the model's endpoints in this region (unknown model: fail).
2. A redriven request carries `path` and resumes there; any other request is routed by the
   Choice states that `drkit.core.asl` compiles from `drkit.core.routing.DECISION_TABLE`.
3. Each path falls back to what this region has: a pilot-light secondary without a
   provisioned endpoint serves real-time traffic from serverless, then async.
4. Real-time and serverless call InvokeEndpoint through the SageMaker runtime SDK
   integration; serverless throttling, a cold start that is not ready, or a timeout is
   caught and falls back to async.
5. Async (InvokeEndpointAsync) and batch (CreateTransformJob) store the task token on the
   request's item in the global table with `aws-sdk:dynamodb:updateItem.waitForTaskToken`,
   conditional on the attempt (so a redriven request's old execution cannot take it back),
   and wait for the completion handler's SendTaskSuccess/Failure. If the result landed
   before the token (the handler records it), the condition fails and the workflow reads
   the recorded result instead of waiting forever.

Callers record the request first (`drkit.core.tokens.TokenStore.record`: PENDING, attempt 1);
the front door and `drkit redrive` do. The role may invoke exactly this region's endpoints,
start transform jobs named after requests, and write the token table.

What a request pays in state transitions is derived, not hand-counted: `drkit.core.asl_walk.happy_path` walks a
definition the way Step Functions executes it, and `ASYNC_REQUEST_TRANSITIONS` (priced by
`drkit.engine.cost` and the front door's per-request budgets) is that walk's length.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pulumi
import pulumi_aws as aws

from drkit.components.iam import Statement, assume_role_policy, policy_document
from drkit.components.naming import physical_name
from drkit.components.observability import encrypted_log_group
from drkit.core.asl import CHECK_SIZE, choice_states
from drkit.core.asl_walk import happy_path
from drkit.core.errors import ComponentValidationError
from drkit.core.routing import (
    ASYNC_MAX_SECONDS,
    PATH_FALLBACK,
    REALTIME_MAX_SECONDS,
    SERVERLESS_MAX_SECONDS,
    ClassInfo,
    ClassKind,
    Path,
    RoutingError,
)
from drkit.core.tokens import attach_token_task_parameters

# Errors of the SageMaker runtime SDK integration, named as Step Functions reports them
# (`ServiceName.ExceptionName`, Step Functions developer guide, "AWS SDK service
# integrations", read 2026-11); exception names from the SageMaker Runtime API reference.
SERVERLESS_FALLBACK_ERRORS = (
    "SageMakerRuntime.ModelNotReadyException",  # serverless capacity still being provisioned (cold start)
    "SageMakerRuntime.ThrottlingException",  # over the endpoint's max concurrency
    "SageMakerRuntime.ServiceUnavailableException",
    "States.Timeout",  # a cold start slower than the invocation limit
)
TRANSIENT_ERRORS = ("SageMakerRuntime.ServiceUnavailableException", "SageMakerRuntime.InternalFailureException")
# The AWS SDK integration reports DynamoDB as "DynamoDb" (moto 5.2.5 does the same); the
# optimized integration as "DynamoDB". Catch both so either integration can be used.
CONDITION_FAILED = ("DynamoDb.ConditionalCheckFailedException", "DynamoDB.ConditionalCheckFailedException")
# Batch transform has no per-request limit; a callback that never comes must still end.
BATCH_WAIT_SECONDS = 24 * 3600


def transform_job_prefix(deployment: str) -> str:
    """Prefix of this deployment's transform-job names: what its IAM grants and its EventBridge rule match.

    Job names allow 63 characters (CreateTransformJob.TransformJobName) and carry a 40-character
    request hash, so the deployment goes in as an 8-hex tag of its name rather than the name itself
    (which may be 40 characters): "drkit-<tag>-<sha1>-a<attempt>" is at most 62. A shared "drkit-*"
    would let one deployment's workflow create, and its completion function read, another's jobs.
    """
    return f"drkit-{hashlib.sha256(deployment.encode()).hexdigest()[:8]}"


@dataclass(frozen=True, kw_only=True)
class WorkflowTarget:
    """What one model has in this region; a missing mode is None."""

    model: str
    """Model name, as in the spec."""
    realtime_endpoint: str | None = None
    """Provisioned endpoint name. Default: none (the path falls back to serverless, then async)."""
    serverless_endpoint: str | None = None
    """Serverless endpoint name. Default: none (falls back to provisioned, then async)."""
    async_endpoint: str | None = None
    """Async endpoint name. Default: none (async and batch requests for this model fail clearly)."""
    batch_model_name: str | None = None
    """SageMaker model a transform job runs (the async endpoint's). Default: none (no batch)."""
    batch_output_path: str | None = None
    """s3:// prefix for transform output (the async endpoint's output bucket). Default: none."""
    batch_instance_type: str | None = None
    """Transform job instance type. Default: none."""

    def endpoints(self) -> list[str]:
        return [e for e in (self.realtime_endpoint, self.serverless_endpoint, self.async_endpoint) if e]

    def as_state(self) -> dict[str, str]:
        values = {
            "realtime": self.realtime_endpoint,
            "serverless": self.serverless_endpoint,
            "async": self.async_endpoint,
            "batch_model": self.batch_model_name,
            "batch_output": self.batch_output_path,
            "batch_instance_type": self.batch_instance_type,
        }
        return {k: v for k, v in values.items() if v}


def _fail(error: str, cause: str) -> dict[str, Any]:
    return {"Type": "Fail", "Error": error, "Cause": cause}


def _key() -> dict[str, Any]:
    return {"request_id": {"S.$": "$.request_id"}}


def _await_callback(table_name: str, path: Path, timeout_seconds: int) -> dict[str, Any]:
    """Store the task token on the request's item (TokenStore.attach_token's conditional update) and wait."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken",
        "Parameters": attach_token_task_parameters(table_name, path.value),
        "TimeoutSeconds": timeout_seconds,
        "ResultPath": "$.result",
        "Catch": [
            {"ErrorEquals": list(CONDITION_FAILED), "ResultPath": "$.callback_error", "Next": "ReadRecordedResult"},
        ],
        "Next": "Done",
    }


def _invoke(endpoint_path: str, *, timeout: int, catch_to_async: bool) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint",
        "Parameters": {"EndpointName.$": endpoint_path, "Body.$": "$.body", "ContentType.$": "$.content_type"},
        "ResultSelector": {"body.$": "$.Body", "content_type.$": "$.ContentType"},
        "ResultPath": "$.result",
        "TimeoutSeconds": timeout,
        "Retry": [{"ErrorEquals": list(TRANSIENT_ERRORS), "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2.0}],
        "Next": "Done",
    }
    if catch_to_async:
        state["Catch"] = [{"ErrorEquals": list(SERVERLESS_FALLBACK_ERRORS), "ResultPath": "$.fallback", "Next": "Path.async"}]
    return state


def workflow_definition(
    *, table_name: str, classes: Mapping[str, ClassInfo], targets: Sequence[WorkflowTarget], job_prefix: str
) -> dict[str, Any]:
    """The whole state machine as ASL. Input: request_id, model, traffic_class, payload_bytes,
    off_hours, attempt (default 1), input_location (async/batch), body + content_type
    (real-time/serverless), or `path` to resume a redriven request. `job_prefix`: transform_job_prefix(deployment)."""
    if not targets:
        raise ComponentValidationError("InferenceWorkflow: targets is empty; give at least one model's endpoints")
    present = "$.target"
    states: dict[str, Any] = {
        "SelectModel": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.model", "StringEquals": t.model, "Next": f"Target.{t.model}"} for t in targets],
            "Default": "UnknownModel",
        },
        "UnknownModel": _fail("drkit.UnknownModel", f"model must be one of: {', '.join(t.model for t in targets)}"),
    }
    for target in targets:
        states[f"Target.{target.model}"] = {
            "Type": "Pass",
            "Result": target.as_state(),
            "ResultPath": present,
            "Next": "DefaultAttempt",
        }
    states["DefaultAttempt"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.attempt", "IsPresent": True, "Next": "Resume"}],
        "Default": "FirstAttempt",
    }
    states["FirstAttempt"] = {"Type": "Pass", "Result": 1, "ResultPath": "$.attempt", "Next": "Resume"}
    states["Resume"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.path", "IsPresent": False, "Next": CHECK_SIZE},
            *({"Variable": "$.path", "StringEquals": p.value, "Next": f"Path.{p.value}"} for p in Path),
        ],
        "Default": "Route.Invalid",
    }
    try:
        states.update(
            choice_states(classes, on_path={p: f"Path.{p.value}" for p in Path}, invalid_state="Route.Invalid")
        )
    except RoutingError as exc:
        raise ComponentValidationError(f"InferenceWorkflow: {exc}") from None
    states["Route.Invalid"] = _fail(
        "drkit.RoutingError", "payload_bytes must be a byte count within the class's largest limit and traffic_class a known class"
    )

    def has(mode: str) -> dict[str, Any]:
        return {"Variable": f"{present}.{mode}", "IsPresent": True}

    # Each path tries what this region has, in PATH_FALLBACK's order. Leaving async or batch
    # for a synchronous endpoint needs the body inline (Step Functions state is at most
    # 256 KB), and nothing returns to serverless after serverless failed ($.fallback).
    inline = {"Variable": "$.body", "IsPresent": True}
    not_after_serverless = {"Variable": "$.fallback", "IsPresent": False}
    entry = {Path.REALTIME: "InvokeRealtime", Path.SERVERLESS: "InvokeServerless", Path.ASYNC: "InvokeAsync", Path.BATCH: "StartTransform"}
    key = {Path.REALTIME: "realtime", Path.SERVERLESS: "serverless", Path.ASYNC: "async", Path.BATCH: "batch_model"}
    for path in Path:
        choices = []
        for option in PATH_FALLBACK[path]:
            guards = [has(key[option])]
            if path in (Path.ASYNC, Path.BATCH) and option in (Path.REALTIME, Path.SERVERLESS):
                guards.append(inline)
            if option is Path.SERVERLESS:
                guards.append(not_after_serverless)
            choices.append({"And": guards, "Next": entry[option]} if len(guards) > 1 else {**guards[0], "Next": entry[option]})
        states[f"Path.{path.value}"] = {"Type": "Choice", "Choices": choices, "Default": "PathUnavailable"}
    states["PathUnavailable"] = _fail("drkit.PathUnavailable", "this region has no endpoint for the request's path and model")
    states["InvokeRealtime"] = _invoke(f"{present}.realtime", timeout=REALTIME_MAX_SECONDS, catch_to_async=False)
    states["InvokeServerless"] = _invoke(f"{present}.serverless", timeout=SERVERLESS_MAX_SECONDS, catch_to_async=True)
    states["InvokeAsync"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpointAsync",
        "Parameters": {
            "EndpointName.$": f"{present}.async",
            "InputLocation.$": "$.input_location",
            "InferenceId.$": "$.request_id",
            "InvocationTimeoutSeconds": ASYNC_MAX_SECONDS,
        },
        "ResultSelector": {"output_location.$": "$.OutputLocation"},
        "ResultPath": "$.invocation",
        "Retry": [{"ErrorEquals": list(TRANSIENT_ERRORS), "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}],
        "Next": "AwaitAsync",
    }
    states["AwaitAsync"] = _await_callback(table_name, Path.ASYNC, ASYNC_MAX_SECONDS + 300)
    states["StartTransform"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTransformJob",
        "Parameters": {
            # Job names allow 63 characters, request ids 64: name by hash, and tag the job with
            # the request so the completion handler can map the job's event back to it.
            "TransformJobName.$": f"States.Format('{job_prefix}-{{}}-a{{}}', States.Hash($.request_id, 'SHA-1'), $.attempt)",
            "ModelName.$": f"{present}.batch_model",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": "$.input_location"}}},
            "TransformOutput": {"S3OutputPath.$": f"{present}.batch_output"},
            "TransformResources": {"InstanceType.$": f"{present}.batch_instance_type", "InstanceCount": 1},
            "Tags": [
                {"Key": "drkit:request_id", "Value.$": "$.request_id"},
                {"Key": "drkit:attempt", "Value.$": "States.Format('{}', $.attempt)"},
            ],
        },
        "ResultPath": "$.invocation",
        "Next": "AwaitBatch",
    }
    states["AwaitBatch"] = _await_callback(table_name, Path.BATCH, BATCH_WAIT_SECONDS)
    states["ReadRecordedResult"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:getItem",
        "Parameters": {"TableName": table_name, "Key": _key(), "ConsistentRead": True},
        "ResultPath": "$.recorded",  # {"Item": ...}, or {} when the request was never recorded
        "Next": "RecordedOutcome",
    }
    states["RecordedOutcome"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.recorded.Item", "IsPresent": False, "Next": "NotRecorded"},
            {"Variable": "$.recorded.Item.status.S", "StringEquals": "SUCCEEDED", "Next": "Done"},
            {"Variable": "$.recorded.Item.status.S", "StringEquals": "FAILED", "Next": "RecordedFailure"},
        ],
        "Default": "Superseded",
    }
    states["NotRecorded"] = _fail("drkit.NotRecorded", "record the request in the token table (TokenStore.record) before starting it")
    states["RecordedFailure"] = _fail("drkit.InferenceFailed", "the endpoint reported the request as failed; see the table item")
    states["Superseded"] = _fail("drkit.Superseded", "a newer attempt owns this request (it was redriven to another region)")
    states["Done"] = {"Type": "Succeed"}
    return {
        "Comment": "drkit inference workflow (generated by drkit.components.workflow; routing compiled from drkit.core.routing)",
        "StartAt": "SelectModel",
        "States": states,
    }


# --- State transitions a request pays --------------------------------------------------------
#
# Step Functions pricing, Standard workflows (https://aws.amazon.com/step-functions/pricing/,
# quoted from the page's stored text): "Step Functions counts a state transition each time a
# step of your workflow is executed. You are charged for the total number of state
# transitions across all your state machines, including retries." So every state an
# execution enters is one transition — Choice, Pass and Succeed included — and the count of a
# request is the length of its walk (drkit.core.asl_walk.happy_path). The happy path has no
# retries and no catches.


def front_door_input(path: Path, model: str) -> dict[str, Any]:
    """The execution input the front door starts for an async or batch request (the keys the
    workflow reads; router handler `_start`, and `drkit.core.redrive.execution_input` likewise).

    The router has already routed, so `path` and `attempt` are set: `Resume` jumps straight
    to `Path.<path>` and the routing Choice states are not executed (or billed).
    """
    return {
        "request_id": "representative-request",
        "model": model,
        "path": path.value,
        "attempt": 1,
        "input_location": "s3://input/representative-request",
        "payload_bytes": 0,
        "off_hours": False,
    }


def happy_path_transitions(definition: Mapping[str, Any], path: Path, *, model: str) -> int:
    """Billed state transitions of one `path` request for `model`, started by the front door."""
    return len(happy_path(definition, front_door_input(path, model)))


REPRESENTATIVE_MODEL = "representative"


def representative_definition() -> dict[str, Any]:
    """One model with every mode and one class of each kind: every path's states are present."""
    return workflow_definition(
        table_name="drkit-representative-tokens",
        job_prefix=transform_job_prefix("representative"),
        classes={
            kind.value: ClassInfo(name=kind.value, kind=kind, timeout_seconds=ASYNC_MAX_SECONDS if kind is ClassKind.BULK else REALTIME_MAX_SECONDS)
            for kind in ClassKind
        },
        targets=[
            WorkflowTarget(
                model=REPRESENTATIVE_MODEL,
                realtime_endpoint="representative-provisioned",
                serverless_endpoint="representative-serverless",
                async_endpoint="representative-async",
                batch_model_name="representative-model",
                batch_output_path="s3://output/representative",
                batch_instance_type="ml.m5.large",
            )
        ],
    )


_REPRESENTATIVE = representative_definition()
# Transitions one request on each queued path pays (async and batch run in the workflow;
# real-time and serverless are invoked by the front door directly and never start it).
REQUEST_TRANSITIONS: Mapping[Path, int] = MappingProxyType(
    {p: happy_path_transitions(_REPRESENTATIVE, p, model=REPRESENTATIVE_MODEL) for p in (Path.ASYNC, Path.BATCH)}
)
ASYNC_REQUEST_TRANSITIONS: int = max(REQUEST_TRANSITIONS.values())
"""Standard-workflow state transitions one async or batch request pays on its happy path (the larger of the two)."""


@dataclass(frozen=True, kw_only=True)
class InferenceWorkflowArgs:
    """Inputs of `InferenceWorkflow`."""

    deployment: str
    """Deployment name; prefixes the state machine, role and log group."""
    region: str
    """Region of the workflow and of every endpoint it invokes."""
    account_id: str
    """Account of the endpoints, table and transform jobs (builds their ARNs)."""
    table_name: str
    """The global task-token table (its replica in this region)."""
    kms_key_arn: pulumi.Input[str]
    """This region's key: the table's encryption and the log group's."""
    classes: Mapping[str, ClassInfo]
    """Traffic classes the Choice states route (from the spec)."""
    targets: Sequence[WorkflowTarget]
    """Each model's endpoints in this region."""
    log_retention_days: int = 30
    """Execution log retention. Default: 30."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the state machine, role and log group. Default: none."""


def state_machine_name(deployment: str) -> str:
    """The workflow's name, identical in every region, so its ARN is known before deployment."""
    return physical_name(deployment, "inference", limit=80)


class InferenceWorkflow(pulumi.ComponentResource):
    """The region's Step Functions workflow, its least-privilege role and its encrypted log group."""

    state_machine_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: InferenceWorkflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        definition = workflow_definition(
            table_name=args.table_name, classes=args.classes, targets=args.targets, job_prefix=transform_job_prefix(args.deployment)
        )
        super().__init__("drkit:workflow:InferenceWorkflow", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        machine_name = state_machine_name(args.deployment)
        log_group = encrypted_log_group(
            f"{name}-logs", log_group_name=f"/aws/vendedlogs/states/{machine_name}", settings=args, opts=child
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=physical_name(args.deployment, "workflow", args.region, limit=64),
            assume_role_policy=assume_role_policy("states.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=policy_document(workflow_statements(args)),
            opts=child,
        )
        machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=machine_name,
            type="STANDARD",  # Express workflows support no callbacks
            role_arn=role.arn,
            definition=json.dumps(definition, sort_keys=True),
            logging_configuration={
                "level": "ERROR",
                "include_execution_data": False,  # payloads stay out of the logs
                "log_destination": log_group.arn.apply(lambda arn: f"{arn}:*"),
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        self.state_machine_arn = machine.arn
        self.role_arn = role.arn
        self.register_outputs({"state_machine_arn": machine.arn, "role_arn": role.arn})


def workflow_statements(args: InferenceWorkflowArgs) -> list[Statement]:
    """Exactly the endpoints, table, transform jobs, key and log delivery this workflow uses."""
    prefix = f"arn:aws:sagemaker:{args.region}:{args.account_id}"
    endpoints = sorted({e for t in args.targets for e in t.endpoints()})
    batch_models = sorted({t.batch_model_name for t in args.targets if t.batch_model_name})
    statements = [
        Statement("InvokeEndpoints", ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync"], [f"{prefix}:endpoint/{e}" for e in endpoints]),
        Statement(
            "TokenTable",
            ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            [f"arn:aws:dynamodb:{args.region}:{args.account_id}:table/{args.table_name}"],
        ),
        Statement("TableKey", ["kms:Decrypt", "kms:GenerateDataKey"], [args.kms_key_arn]),
        # Log delivery APIs take no resource ARN: AWS documents Resource "*" for them.
        Statement(
            "LogDelivery",
            [
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            ],
            ["*"],
        ),
    ]
    if batch_models:
        statements.append(
            Statement(
                "TransformJobs",
                ["sagemaker:CreateTransformJob", "sagemaker:AddTags"],
                [f"{prefix}:transform-job/{transform_job_prefix(args.deployment)}-*"] + [f"{prefix}:model/{m}" for m in batch_models],
            )
        )
    return statements
