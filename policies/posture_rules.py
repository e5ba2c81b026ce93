"""Posture rules: what an attacker or a lost event would exploit, as AWS's own guidance states it.

- every asynchronously invoked Lambda keeps its failed events (an on-failure destination or a DLQ):
  Lambda retries an async event twice, then drops it unless told where to send it (Lambda
  Developer Guide, "Asynchronous invocation");
- every bucket refuses plain HTTP with a policy denying ``aws:SecureTransport`` false (S3 User
  Guide, "Security best practices": enforce encryption of data in transit);
- every ARN an IAM policy allows names its account and region, and a wildcard in a resource name
  stays inside the deployment (no ``arn:aws:dynamodb:*:*:…``, no ``transform-job/drkit-*`` that
  matches every deployment's jobs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs, StackValidationPolicy

from drkit.components.workflow import transform_job_prefix
from drkit.policies.declare import declare
from drkit.policies.resources import BUCKET, Report, allowed_statements, as_list, json_documents, statements, tags, where

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

# Services that invoke Lambda asynchronously (Lambda Developer Guide, "Invoking Lambda with events
# from other AWS services": SNS, EventBridge, S3, SES, CloudWatch Logs, IoT, CodeCommit, Config, …).
ASYNC_PRINCIPALS = frozenset({
    "sns.amazonaws.com", "events.amazonaws.com", "s3.amazonaws.com", "ses.amazonaws.com", "logs.amazonaws.com",
    "iot.amazonaws.com", "codecommit.amazonaws.com", "config.amazonaws.com", "scheduler.amazonaws.com",
})  # fmt: skip


def _refers_to(reference: Any, function_name: str) -> bool:
    """A function reference (name, ARN, or qualified ARN) names `function_name`."""
    text = str(reference or "")
    return text == function_name or text.endswith(f":function:{function_name}") or f":function:{function_name}:" in text


def async_callers(resources: Iterable[PolicyResource], function_name: str) -> list[str]:
    """How `function_name` is invoked asynchronously in this stack (empty when it is not)."""
    found = []
    for r in resources:
        if r.resource_type == PERMISSION and r.props.get("principal") in ASYNC_PRINCIPALS and _refers_to(r.props.get("function"), function_name):
            found.append(f"{r.props['principal']} ({r.name})")
        elif r.resource_type == SUBSCRIPTION and r.props.get("protocol") == "lambda" and _refers_to(r.props.get("endpoint"), function_name):
            found.append(f"SNS subscription {r.name}")
        elif r.resource_type == EVENT_TARGET and _refers_to(r.props.get("arn"), function_name):
            found.append(f"EventBridge target {r.name}")
    return sorted(set(found))


def keeps_failed_events(resources: Iterable[PolicyResource], function: PolicyResource) -> bool:
    """The function has a dead-letter queue, or an event-invoke config with an on-failure destination."""
    if ((function.props.get("deadLetterConfig") or {}).get("targetArn")):
        return True
    name = str(function.props.get("name") or "")
    return any(
        r.resource_type == INVOKE_CONFIG
        and _refers_to(r.props.get("functionName"), name)
        and (((r.props.get("destinationConfig") or {}).get("onFailure") or {}).get("destination"))
        for r in resources
    )


def _validate_async_failures(args: StackValidationArgs, report: Report) -> None:
    for function in args.resources:
        if function.resource_type != FUNCTION:
            continue
        callers = async_callers(args.resources, str(function.props.get("name") or ""))
        if callers and not keeps_failed_events(args.resources, function):
            report(
                f"{where(function)} is invoked asynchronously by {', '.join(callers)} but has no on-failure destination "
                "or dead-letter queue, so an event that fails every retry is dropped. Add a FunctionEventInvokeConfig "
                "with destination_config.on_failure (an SQS queue) or a dead_letter_config.",
                function.urn,
            )


def _principal_is_everyone(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS")))


def denies_plain_http(document: Mapping[str, Any], bucket: str) -> bool:
    """A statement denies every principal every S3 action on the bucket and its objects without TLS."""
    arn = f"arn:aws:s3:::{bucket}"
    for statement in statements(document):
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        resources = {str(r) for r in as_list(statement.get("Resource"))}
        if (
            statement.get("Effect") == "Deny"
            and _principal_is_everyone(statement.get("Principal"))
            and {"s3:*", "*"} & {str(a) for a in as_list(statement.get("Action"))}
            and str(condition.get("aws:SecureTransport")).lower() == "false"
            and {arn, f"{arn}/*"} <= resources
        ):
            return True
    return False


def _validate_tls_only(args: StackValidationArgs, report: Report) -> None:
    policies: dict[str, list[Mapping[str, Any]]] = {}
    for resource in args.resources:
        if resource.resource_type == BUCKET_POLICY:
            policies.setdefault(str(resource.props.get("bucket")), []).extend(json_documents(resource.props.get("policy")))
    for bucket in args.resources:
        if bucket.resource_type != BUCKET:
            continue
        name = str(bucket.props.get("bucket"))
        if not any(denies_plain_http(document, name) for document in policies.get(name, [])):
            report(
                f"Bucket {where(bucket)} accepts plain HTTP: no bucket policy denies requests with aws:SecureTransport "
                "false on the bucket and its objects. Create it with EncryptedBucket (drkit.components.storage), "
                "which adds that policy.",
                bucket.urn,
            )


BEYOND_DEPLOYMENT = "matches names beyond this deployment's"


def arn_scope_problem(arn: str, scopes: Iterable[str]) -> str | None:
    """Why an allowed resource ARN reaches beyond one account and deployment, or None.

    The account and region fields must be literal (S3 and other global ARNs leave them empty).
    A `*` in the resource name must come after a name that belongs to the deployment (one of
    `scopes`) or after a complete name (`bucket/*`, `log-group:NAME:*`, `table/T/index/*`).
    `?` matches one character: Secrets Manager's documented `NAME-??????` suffix stays in scope.
    """
    if arn == "*" or not arn.startswith("arn:"):
        return None  # "*" is a separate concern (actions that take no resource)
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "is not a complete ARN"
    _, _, service, region, account, resource = parts
    if "*" in account or "?" in account:
        return "is open to any account"
    if "*" in region or "?" in region:
        return "is open to any region"
    if "*" not in resource:
        return None
    head = resource.split("*", 1)[0]
    if service == "s3":
        return None if "/" in head else "matches buckets by a name pattern"
    if service == "logs" and head.startswith("log-group:") and head.count(":") >= 2:
        return None  # log-group:NAME:* — the streams of one named group
    named = head.split("/", 1)[1] if "/" in head else head.split(":", 1)[1] if ":" in head else ""
    if "/" in named:
        return None  # a sub-resource of one named resource, e.g. table/T/index/*
    if any(scope in named for scope in scopes):
        return None
    return BEYOND_DEPLOYMENT


def deployment_scopes(resources: Iterable[PolicyResource]) -> set[str]:
    """What a resource name of this stack's deployment contains: its name, and its transform-job prefix."""
    scopes = set()
    for resource in resources:
        deployment = tags(resource.props).get("Deployment")
        if deployment:
            scopes |= {str(deployment), transform_job_prefix(str(deployment))}
    return scopes


def _validate_arn_scope(args: StackValidationArgs, report: Report) -> None:
    scopes = deployment_scopes(args.resources)
    for resource in args.resources:
        for _, statement in allowed_statements(resource.resource_type, resource.props):
            # Resources named by generated ids (scalable targets) are scoped by the deployment's tag instead.
            tagged = ((statement.get("Condition") or {}).get("StringEquals") or {}).get("aws:ResourceTag/Deployment")
            for arn in as_list(statement.get("Resource")):
                problem = arn_scope_problem(str(arn), scopes)
                if problem == BEYOND_DEPLOYMENT and tagged in scopes:
                    continue
                if problem:
                    sid = statement.get("Sid", "(no Sid)")
                    report(
                        f"{where(resource)} statement {sid} allows {arn}, which {problem}. "
                        "Name the account, region and this deployment's resources in the ARN.",
                        resource.urn,
                    )


POLICIES = [
    declare(
        StackValidationPolicy,
        "async-functions-keep-failed-events",
        "Checks whether every asynchronously invoked Lambda function has an on-failure destination or a DLQ.",
        _validate_async_failures,
    ),
    declare(
        StackValidationPolicy,
        "tls-only-buckets",
        "Checks whether every S3 bucket has a policy denying requests not made over TLS.",
        _validate_tls_only,
    ),
    declare(
        StackValidationPolicy,
        "iam-arns-scoped",
        "Checks whether every ARN an IAM policy allows names its account and region and stays inside the deployment.",
        _validate_arn_scope,
    ),
]
