"""The access contract: every AWS call a regional stack makes at run time, by whom, and whether IAM allows it.

Two sources of calls, both read from one stack's resources (their input properties, the way
a policy pack sees them, so the same code serves `drkit check` and the tests):

- our Lambda handlers (`components/functions/*`): `HANDLER_CALLS`, per handler, the calls its
  code makes (a test scans the code's boto3 calls with `ast` so none can be missing here);
- AWS services on the stack's behalf: SageMaker with each model's execution role (model data,
  image, logs, async inputs/outputs, notifications), Step Functions with the workflow role (each
  Task of the definition), Lambda with each function's role (logs, X-Ray when tracing is
  Active), SNS/EventBridge/API Gateway invoking functions (their Lambda permissions), ARC
  with its plan's role, FIS with its template's role (the report), CloudWatch Logs with the
  key, each table replica with its region's key.

Each call is evaluated by `drkit.engine.iam_eval` against the principal's identity policies
and the resource's policy (Lambda permissions, the KMS key policy). A denied call names the
principal, action, resource and the policy that lacks it.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drkit.components.frontdoor import deployed_router_config
from drkit.components.workflow import transform_job_prefix
from drkit.core.inference_router import TYPE_TOKEN as INFERENCE_ROUTER
from drkit.core.inference_router import router_arn
from drkit.core.type_tokens import ENDPOINT, ENDPOINT_CONFIG, FUNCTION, TABLE, TABLE_REPLICA
from drkit.engine.iam_eval import Decision, Policy, Request, evaluate

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PERMISSION = "aws:lambda/permission:Permission"
KEY = "aws:kms/key:Key"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
MODEL = "aws:sagemaker/model:Model"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
PLAN = "aws:arcregionswitch/plan:Plan"
EXPERIMENT = "aws:fis/experimentTemplate:ExperimentTemplate"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
QUEUE = "aws:sqs/queue:Queue"
# Lambda sends an asynchronous invocation's record to its destination with the function's role
# (Lambda developer guide, "Capturing records of asynchronous invocations").
_DESTINATION_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "lambda": "lambda:InvokeFunction", "events": "events:PutEvents"}

# What each handler's code calls (IAM action, target). Targets: `table`, `table-index`, `table-key`,
# `state-machine`, `endpoints`, `direct-endpoints`, `bucket:<role>` (+ its key), `transform-job`,
# `scalable-target`, `*`. tests/test_access.py checks this against an ast scan of the code.
HANDLER_CALLS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "router": (
        ("sagemaker:InvokeEndpoint", "direct-endpoints"),
        ("sagemaker:DescribeEndpoint", "endpoints"),
        ("dynamodb:GetItem", "table"),
        ("dynamodb:PutItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:DescribeTable", "table"),
        ("dynamodb:BatchGetItem", "table"),
        ("kms:Decrypt", "table-key"),
        ("s3:PutObject", "bucket:audit"),
        ("s3:PutObject", "bucket:inputs"),
        ("s3:GetObject", "bucket:inputs"),
        ("states:StartExecution", "state-machine"),
        ("secretsmanager:GetSecretValue", "team-key-secret"),
        # A routed model: the caller needs the router AND every destination (docs/routers.md).
        ("sagemaker:InvokeInferenceRouter", "inference-routers"),
        ("sagemaker:InvokeEndpoint", "routed-endpoints"),
    ),
    "completion": (
        ("dynamodb:GetItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("kms:Decrypt", "table-key"),
        ("states:SendTaskSuccess", "*"),
        ("states:SendTaskFailure", "*"),
        ("sagemaker:ListTags", "transform-job"),
    ),
    "redrive": (
        ("dynamodb:GetItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:Query", "table-index"),
        ("kms:Decrypt", "table-key"),
        ("states:StartExecution", "state-machine"),
    ),
    "scale_up": (
        ("sagemaker:ListEndpoints", "*"),
        ("sagemaker:ListTags", "endpoints"),
        ("sagemaker:DescribeEndpoint", "endpoints"),
        ("sagemaker:UpdateEndpointWeightsAndCapacities", "endpoints"),
        ("application-autoscaling:DescribeScalableTargets", "*"),
        ("application-autoscaling:RegisterScalableTarget", "scalable-target"),
    ),
}

# Step Functions Task resource -> IAM action (Step Functions developer guide, "IAM policies for integrated services").
_SFN_TASKS = {
    "aws-sdk:sagemakerruntime:invokeEndpoint": "sagemaker:InvokeEndpoint",
    "aws-sdk:sagemakerruntime:invokeEndpointAsync": "sagemaker:InvokeEndpointAsync",
    "aws-sdk:dynamodb:updateItem": "dynamodb:UpdateItem",
    "aws-sdk:dynamodb:putItem": "dynamodb:PutItem",
    "aws-sdk:dynamodb:getItem": "dynamodb:GetItem",
    "dynamodb:getItem": "dynamodb:GetItem",
    "dynamodb:putItem": "dynamodb:PutItem",
    "dynamodb:updateItem": "dynamodb:UpdateItem",
    "sagemaker:createTransformJob": "sagemaker:CreateTransformJob",
}
# Step Functions vended log delivery (developer guide, "IAM policies for logging to CloudWatch Logs").
_SFN_LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# pulumi's placeholder for a value known only after deploy (pulumi.runtime.rpc.UNKNOWN), as a preview shows it.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_ACCOUNT = re.compile(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")


@dataclass(frozen=True)
class Node:
    """One resource as the contract reads it: type token, logical name, input properties, region."""

    type: str
    name: str
    props: Mapping[str, Any]
    region: str | None = None


@dataclass(frozen=True)
class Call:
    """One run-time AWS call: who makes it (`caller`, with `principal`), what on what, and why."""

    caller: str
    principal: str
    action: str
    resource: str
    why: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    call: Call
    decision: Decision
    lacking: str  # the policy that would have to grant it


class _Stack:
    """Lookups over one stack's nodes."""

    def __init__(self, nodes: Sequence[Node], region: str) -> None:
        self.nodes = nodes
        self.region = region
        found = Counter(m.group(1) for n in nodes for m in _ACCOUNT.finditer(json.dumps(n.props, default=str)))
        self.account = found.most_common(1)[0][0] if found else "123456789012"
        self.keys = [n for n in nodes if n.type == KEY]
        self._identity: dict[str, list[Policy]] = {}
        self.unknown: set[str] = set()

    def of(self, type_token: str) -> list[Node]:
        return [n for n in self.nodes if n.type == type_token]

    @functools.cached_property
    def front_door_buckets(self) -> dict[str, str]:
        """The front door's buckets by role (`audit`, `inputs`), named as the router's bundled config
        names them (the names carry the account: S3 names are global), kept when the stack creates them."""
        created = {str(n.props.get("bucket")) for n in self.of(BUCKET_SSE)}
        for function in self.of(FUNCTION):
            config = deployed_router_config(function.props)
            if config is not None:
                named = {"audit": config.get("audit_bucket"), "inputs": config.get("input_bucket")}
                return {role: str(bucket) for role, bucket in named.items() if str(bucket) in created}
        return {}

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def _policy(self, name: str, value: Any) -> Policy:
        """A named document; one not known until deploy (a `pulumi preview` of a new stack) is remembered as such."""
        if isinstance(value, str) and (UNKNOWN in value or not _doc(value)):
            self.unknown.add(name)
        return Policy(name, _doc(value))

    def identity(self, role_arn: str) -> list[Policy]:
        if role_arn not in self._identity:
            self._identity[role_arn] = self._read_identity(role_arn)
        return self._identity[role_arn]

    def _read_identity(self, role_arn: str) -> list[Policy]:
        name = role_arn.rsplit("/", 1)[-1]
        policies = [self._policy(n.name, n.props.get("policy")) for n in self.of(ROLE_POLICY) if n.props.get("role") == name]
        for role in self.of(ROLE):
            if role.props.get("name") == name:
                for inline in role.props.get("inlinePolicies") or []:
                    policies.append(self._policy(f"{role.name}/{inline.get('name')}", inline.get("policy")))
        return policies

    def key_policies(self, key_arn: str) -> list[Policy]:
        # A stack's key resources do not carry their own ARN as inputs: a key of this stack's region is its key.
        if key_arn.split(":")[3:4] == [self.region] and len(self.keys) == 1:
            return [self._policy(f"{self.keys[0].name} (key policy)", self.keys[0].props.get("policy"))]
        return [Policy("default key policy (delegates to the account)", _root_policy(self.account))]

    def permissions(self, function_name: str) -> list[Policy]:
        policies = []
        for p in self.of(PERMISSION):
            if p.props.get("function") in (function_name, self.function_arn(function_name)):
                statement: dict[str, Any] = {
                    "Effect": "Allow",
                    "Principal": {"Service": p.props.get("principal")},
                    "Action": p.props.get("action"),
                    "Resource": self.function_arn(function_name),
                }
                if p.props.get("sourceArn"):
                    statement["Condition"] = {"ArnLike": {"aws:SourceArn": p.props["sourceArn"]}}
                if UNKNOWN in json.dumps(dict(p.props), default=str):
                    self.unknown.add(f"{p.name} (Lambda permission)")
                policies.append(Policy(f"{p.name} (Lambda permission)", {"Statement": [statement]}))
        return policies

    def bucket_key(self, bucket: str) -> str | None:
        for sse in self.of(BUCKET_SSE):
            if sse.props.get("bucket") == bucket:
                for rule in sse.props.get("rules") or []:
                    key = (rule.get("applyServerSideEncryptionByDefault") or {}).get("kmsMasterKeyId")
                    if key:
                        return str(key)
        return None

    def table(self) -> tuple[str, str] | None:
        """(name, KMS key ARN) of the token table in this region: the table itself, or this region's replica."""
        for table in self.of(TABLE):
            return str(table.props.get("name")), str((table.props.get("serverSideEncryption") or {}).get("kmsKeyArn") or "")
        for replica in self.of(TABLE_REPLICA):
            return str(replica.props.get("globalTableArn")).rsplit("/", 1)[-1], str(replica.props.get("kmsKeyArn") or "")
        return None


def _doc(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return value if isinstance(value, Mapping) else {}


def _root_policy(account: str) -> Mapping[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}


def handler_kind(function_name: str) -> str | None:
    """Which handler a function runs, from the name its component gives it (`…-router`, `…-scale-up`)."""
    return next((kind for kind in HANDLER_CALLS if function_name.endswith("-" + kind.replace("_", "-"))), None)


def contract(nodes: Sequence[Node], region: str) -> list[Call]:
    """Every run-time call one regional stack's resources make or receive."""
    return _contract(_Stack(nodes, region))


def _contract(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    calls += _handler_calls(stack)
    calls += _sagemaker_calls(stack)
    calls += _workflow_calls(stack)
    calls += _invocations(stack)
    calls += _destination_calls(stack)
    calls += _arc_calls(stack)
    calls += _fis_calls(stack)
    calls += _log_encryption_calls(stack)
    return calls


def evaluate_contract(nodes: Sequence[Node], region: str) -> list[Verdict]:
    """Each contract call with IAM's decision; calls resting on values unknown until deploy are left out."""
    stack = _Stack(nodes, region)
    verdicts = []
    for call in _contract(stack):
        identity = stack.identity(call.principal) if call.principal.startswith("arn:") else []
        if call.action.startswith("kms:"):
            resource = stack.key_policies(call.resource)
        elif call.action == "lambda:InvokeFunction":
            resource = stack.permissions(call.resource.rsplit(":", 1)[-1])
        else:
            resource = []
        if UNKNOWN in " ".join((call.principal, call.resource, *call.context.values())) or stack.unknown & {p.name for p in (*identity, *resource)}:
            continue  # not judged: a value it rests on is known only after deploy
        decision = evaluate(
            Request(call.principal, call.action, call.resource, call.context), identity, resource,
            account=stack.account, key_policy=call.action.startswith("kms:"),
        )
        if call.action.startswith("kms:") and resource:
            lacking = resource[0].name if not call.principal.startswith("arn:") else f"{', '.join(p.name for p in identity) or 'the role'} or {resource[0].name}"
        elif not call.principal.startswith("arn:"):
            lacking = f"the Lambda permissions of {call.resource}"
        else:
            lacking = ", ".join(p.name for p in identity) or f"the identity policies of {call.principal} (none)"
        verdicts.append(Verdict(call, decision, lacking))
    return verdicts


def denials(nodes: Sequence[Node], region: str) -> list[str]:
    """One message per denied contract call."""
    return [
        f"{v.call.caller} ({v.call.principal}) is denied {v.call.action} on {v.call.resource}, which it needs to "
        f"{v.call.why}: {v.decision.reason}. Grant it in {v.lacking}."
        for v in evaluate_contract(nodes, region)
        if not v.decision.allowed
    ]


# --- handlers ------------------------------------------------------------------------------


def _handler_calls(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    table_name, table_key = stack.table() or (None, "")
    state_machines = [str(n.props.get("name")) for n in stack.of(STATE_MACHINE)]
    async_configs = {str(c.props.get("name")) for c in stack.of(ENDPOINT_CONFIG) if c.props.get("asyncInferenceConfig")}
    endpoints = [str(e.props.get("name")) for e in stack.of(ENDPOINT)]
    direct = [str(e.props.get("name")) for e in stack.of(ENDPOINT) if e.props.get("endpointConfigName") not in async_configs]
    deployment = _deployment(stack)
    buckets = stack.front_door_buckets
    for function in stack.of(FUNCTION):
        name, role = str(function.props.get("name")), str(function.props.get("role"))
        kind = handler_kind(name)
        caller = f"{kind or 'function'} Lambda {name}"
        for action, target in HANDLER_CALLS.get(kind or "", ()):
            if target == "team-key-secret":
                resources = _team_key_secret(stack, function)
            elif target in ("inference-routers", "routed-endpoints"):
                resources = _routers(stack, destinations=target == "routed-endpoints")
            else:
                resources = _resolve(stack, target, table_name, table_key, state_machines, endpoints, direct, buckets)
            for resource in resources:
                context = _scalable_target_context(deployment) if target == "scalable-target" else {}
                calls.append(Call(caller, role, action, resource, f"run its handler ({target})", context))
                if target.startswith("bucket:"):
                    key = stack.bucket_key(resource.split(":::")[1].split("/")[0])
                    if key:
                        data_key = "kms:GenerateDataKey" if action == "s3:PutObject" else "kms:Decrypt"
                        calls.append(Call(caller, role, data_key, key, f"{action} on SSE-KMS bucket {target[7:]}"))
        log_group = f"arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws/lambda/{name}"
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            calls.append(Call(f"AWS Lambda for {name}", role, action, f"{log_group}:log-stream:2026/11/29/[$LATEST]0", "write the function's logs"))
        if (function.props.get("tracingConfig") or {}).get("mode") == "Active":
            for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
                calls.append(Call(f"AWS Lambda for {name}", role, action, "*", "trace actively (CreateFunction checks it)"))
    return calls


def _scalable_target_context(deployment: str) -> dict[str, str]:
    """What RegisterScalableTarget is evaluated with: the endpoint variant's tags and the service namespace."""
    return {"aws:ResourceTag/Deployment": deployment, "application-autoscaling:service-namespace": "sagemaker"}


def _team_key_secret(stack: _Stack, function: Node) -> list[str]:
    """The secret the router's bundled config names (none without teams; unknown if the config is unreadable)."""
    config = deployed_router_config(function.props)
    if config is None:
        return [UNKNOWN]
    secret = str(config.get("team_key_secret") or "")
    if not secret:
        return []
    # Secrets Manager appends "-" and 6 random characters to the name in the ARN.
    return [secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{stack.region}:{stack.account}:secret:{secret}-AbCdEf"]


def _deployment(stack: _Stack) -> str:
    for node in stack.nodes:
        value = (node.props.get("tags") or {}).get("Deployment")
        if value:
            return str(value)
    return "?"


def _resolve(
    stack: _Stack,
    target: str,
    table: str | None,
    table_key: str,
    state_machines: Sequence[str],
    endpoints: Sequence[str],
    direct: Sequence[str],
    buckets: Mapping[str, str],
) -> list[str]:
    prefix = f"arn:aws:{{}}:{stack.region}:{stack.account}"
    if target == "*":
        return ["*"]
    if target == "table":
        return [f"{prefix.format('dynamodb')}:table/{table}"] if table else []
    if target == "table-index":
        return [f"{prefix.format('dynamodb')}:table/{table}/index/by_home_region"] if table else []
    if target == "table-key":
        return [table_key] if table_key else []
    if target == "state-machine":
        return [f"{prefix.format('states')}:stateMachine:{n}" for n in state_machines]
    if target == "endpoints":
        return [f"{prefix.format('sagemaker')}:endpoint/{e.lower()}" for e in endpoints]
    if target == "direct-endpoints":
        return [f"{prefix.format('sagemaker')}:endpoint/{e.lower()}" for e in direct]
    if target == "transform-job":
        return [_transform_job_arn(stack)]
    if target == "scalable-target":
        return [f"{prefix.format('application-autoscaling')}:scalable-target/0123456789abcdef"]
    if target.startswith("bucket:"):
        bucket = buckets.get(target[7:])
        key = "audit/2026/11/29/r1.json" if target == "bucket:audit" else "inputs/2026/11/29/r1"
        return [f"arn:aws:s3:::{bucket}/{key}"] if bucket else []
    raise ValueError(f"unknown contract target {target!r}")


def _routers(stack: _Stack, *, destinations: bool) -> list[str]:
    """The stack's inference routers' ARNs, or every destination they list (in any region)."""
    out: list[str] = []
    for router in stack.of(INFERENCE_ROUTER):
        if destinations:
            out += [str(d) for t in router.props.get("routingTargets") or [] for d in t.get("destinations") or []]
        else:
            out.append(router_arn(str(router.props.get("region") or stack.region), stack.account, str(router.props.get("routerName"))))
    return sorted(set(out))


# --- AWS services on the stack's behalf ----------------------------------------------------------


def _sagemaker_calls(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    configs = {str(c.props.get("name")): c for c in stack.of(ENDPOINT_CONFIG)}
    models = {str(m.props.get("name")): m for m in stack.of(MODEL)}
    inputs = stack.front_door_buckets.get("inputs")
    for endpoint in stack.of(ENDPOINT):
        name = str(endpoint.props.get("name"))
        config = configs.get(str(endpoint.props.get("endpointConfigName")))
        if config is None:
            continue
        for variant in config.props.get("productionVariants") or []:
            model = models.get(str(variant.get("modelName")))
            if model is None:
                continue
            role = str(model.props.get("executionRoleArn"))
            caller = f"SageMaker for endpoint {name}"
            container = model.props.get("primaryContainer") or {}
            data = str(container.get("modelDataUrl") or "")
            if data.startswith("s3://"):
                bucket, _, key = data[5:].partition("/")
                calls.append(Call(caller, role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", "download the model data"))
                if stack.bucket_key(bucket):
                    calls.append(Call(caller, role, "kms:Decrypt", str(stack.bucket_key(bucket)), "read SSE-KMS model data"))
            image = str(container.get("image") or "")
            if ".dkr.ecr." in image:
                host, _, path = image.partition("/")
                repository = re.split(r"[@:]", path, maxsplit=1)[0]
                account, region = host.split(".")[0], host.split(".")[3]
                arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}"
                calls.append(Call(caller, role, "ecr:GetAuthorizationToken", "*", "log in to ECR"))
                for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
                    calls.append(Call(caller, role, action, arn, "pull the image"))
            group = f"arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws/sagemaker/Endpoints/{name}"
            calls.append(Call(caller, role, "logs:PutLogEvents", f"{group}:log-stream:AllTraffic/i-0", "write container logs"))
            calls.append(Call(caller, role, "cloudwatch:PutMetricData", "*", "publish endpoint metrics"))
            output = (config.props.get("asyncInferenceConfig") or {}).get("outputConfig") or {}
            if not output:
                continue
            if inputs:
                calls.append(Call(caller, role, "s3:GetObject", f"arn:aws:s3:::{inputs}/inputs/2026/11/29/r1", "read an async input the router wrote"))
                if stack.bucket_key(inputs):
                    calls.append(Call(caller, role, "kms:Decrypt", str(stack.bucket_key(inputs)), "read an SSE-KMS async input"))
            out_bucket = str(output.get("s3OutputPath") or "")[5:].split("/")[0]
            calls.append(Call(caller, role, "s3:PutObject", f"arn:aws:s3:::{out_bucket}/out/r1.out", "write an async output"))
            if output.get("kmsKeyId"):
                calls.append(Call(caller, role, "kms:GenerateDataKey", str(output["kmsKeyId"]), "encrypt an async output"))
            topics = {str(t.props.get("name")): t for t in stack.of(TOPIC)}
            for topic_arn in ((output.get("notificationConfig") or {}).get("successTopic"), (output.get("notificationConfig") or {}).get("errorTopic")):
                if not topic_arn:
                    continue
                calls.append(Call(caller, role, "sns:Publish", str(topic_arn), "notify the completion function"))
                topic = topics.get(str(topic_arn).rsplit(":", 1)[-1])
                if topic is not None and topic.props.get("kmsMasterKeyId"):
                    calls.append(Call(caller, role, "kms:GenerateDataKey", str(topic.props["kmsMasterKeyId"]), "publish to an SSE-KMS topic"))
    return calls


def _workflow_calls(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    configs = {str(c.props.get("name")): c for c in stack.of(ENDPOINT_CONFIG)}
    by_kind: dict[str, list[str]] = {"sagemaker:InvokeEndpoint": [], "sagemaker:InvokeEndpointAsync": []}
    for endpoint in stack.of(ENDPOINT):
        config = configs.get(str(endpoint.props.get("endpointConfigName")))
        is_async = bool(config and config.props.get("asyncInferenceConfig"))
        by_kind["sagemaker:InvokeEndpointAsync" if is_async else "sagemaker:InvokeEndpoint"].append(str(endpoint.props.get("name")))
    table_key = (stack.table() or ("", ""))[1]
    for machine in stack.of(STATE_MACHINE):
        role, name = str(machine.props.get("roleArn")), machine.props.get("name")
        caller = f"Step Functions {name}"
        definition = _doc(machine.props.get("definition"))
        for task in _tasks(definition.get("States") or {}):
            integration = str(task.get("Resource", "")).removeprefix("arn:aws:states:::").split(".")[0]
            action = _SFN_TASKS.get(integration)
            if action is None:
                continue
            parameters = task.get("Parameters") or {}
            if action in by_kind:
                resources = [f"arn:aws:sagemaker:{stack.region}:{stack.account}:endpoint/{e.lower()}" for e in by_kind[action]]
            elif action.startswith("dynamodb:"):
                resources = [f"arn:aws:dynamodb:{stack.region}:{stack.account}:table/{parameters.get('TableName')}"]
                if table_key:
                    calls.append(Call(caller, role, "kms:Decrypt", table_key, f"{action} on the encrypted table"))
            else:
                resources = [_transform_job_arn(stack)]
                if parameters.get("Tags"):
                    calls.append(Call(caller, role, "sagemaker:AddTags", resources[0], "tag the transform job"))
                calls += _transform_job_calls(stack)
            calls += [Call(caller, role, action, r, f"run Task {task.get('_name')}") for r in resources]
        if machine.props.get("loggingConfiguration"):
            calls += [Call(caller, role, a, "*", "deliver execution logs (vended logs)") for a in _SFN_LOG_DELIVERY]
    return calls


def _transform_job_calls(stack: _Stack) -> list[Call]:
    """A transform job runs with its model's role (the async endpoint's model): it lists and reads the
    request's input prefix in the input bucket (S3Prefix data source) and writes under the async output
    bucket's batch/ prefix (SageMaker developer guide, "CreateTransformJob API: Execution Role Permissions")."""
    calls: list[Call] = []
    models = {str(m.props.get("name")): m for m in stack.of(MODEL)}
    inputs = stack.front_door_buckets.get("inputs")
    for config in stack.of(ENDPOINT_CONFIG):
        output = ((config.props.get("asyncInferenceConfig") or {}).get("outputConfig")) or {}
        if not output:
            continue
        for variant in config.props.get("productionVariants") or []:
            model = models.get(str(variant.get("modelName")))
            if model is None:
                continue
            role, caller = str(model.props.get("executionRoleArn")), f"SageMaker transform job of model {model.props.get('name')}"
            if inputs:
                calls.append(Call(caller, role, "s3:ListBucket", f"arn:aws:s3:::{inputs}", "list the request's input prefix",
                                  {"s3:prefix": "inputs/2026/11/29/r1"}))
                calls.append(Call(caller, role, "s3:GetObject", f"arn:aws:s3:::{inputs}/inputs/2026/11/29/r1", "read the request's input"))
                if stack.bucket_key(inputs):
                    calls.append(Call(caller, role, "kms:Decrypt", str(stack.bucket_key(inputs)), "read an SSE-KMS input"))
            out_bucket = str(output.get("s3OutputPath") or "")[5:].split("/")[0]
            calls.append(Call(caller, role, "s3:PutObject", f"arn:aws:s3:::{out_bucket}/batch/r1.out", "write the transform output"))
            if stack.bucket_key(out_bucket):
                calls.append(Call(caller, role, "kms:GenerateDataKey", str(stack.bucket_key(out_bucket)), "write SSE-KMS output"))
    return calls


def _transform_job_arn(stack: _Stack) -> str:
    """A representative transform job of this deployment: "<prefix>-<sha1 of the request id>-a<attempt>"."""
    name = f"{transform_job_prefix(_deployment(stack))}-{'0' * 40}-a1"
    return f"arn:aws:sagemaker:{stack.region}:{stack.account}:transform-job/{name}"


def _tasks(states: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield {**state, "_name": name}
        for branch in state.get("Branches") or []:
            yield from _tasks(branch.get("States") or {})
        if state.get("Iterator") or state.get("ItemProcessor"):
            yield from _tasks((state.get("Iterator") or state.get("ItemProcessor") or {}).get("States") or {})


def _invocations(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    for sub in stack.of(SUBSCRIPTION):
        if sub.props.get("protocol") == "lambda":
            calls.append(
                Call("SNS", "sns.amazonaws.com", "lambda:InvokeFunction", str(sub.props.get("endpoint")),
                     "deliver a notification", {"aws:SourceArn": str(sub.props.get("topic"))})
            )
    for target in stack.of(EVENT_TARGET):
        arn = str(target.props.get("arn"))
        if ":lambda:" in arn:
            rule = f"arn:aws:events:{stack.region}:{stack.account}:rule/{target.props.get('rule')}"
            calls.append(Call("EventBridge", "events.amazonaws.com", "lambda:InvokeFunction", arn, "deliver a matched event", {"aws:SourceArn": rule}))
    stages = {str(s.props.get("apiId")): str(s.props.get("name")) for s in stack.of(STAGE)}
    for integration in stack.of(INTEGRATION):
        uri = str(integration.props.get("integrationUri") or "")
        if ":lambda:path/" not in uri:
            continue
        function = uri.split("/functions/")[1].removesuffix("/invocations")
        api = str(integration.props.get("apiId"))
        for route in stack.of(ROUTE):
            if str(route.props.get("apiId")) == api:
                method, _, path = str(route.props.get("routeKey")).partition(" ")
                source = f"arn:aws:execute-api:{stack.region}:{stack.account}:{api}/{stages.get(api, '$default')}/{method}{path}"
                calls.append(Call("API Gateway", "apigateway.amazonaws.com", "lambda:InvokeFunction", function,
                                  f"serve {route.props.get('routeKey')}", {"aws:SourceArn": source}))
    return calls


def _destination_calls(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    roles = {str(f.props.get("name")): str(f.props.get("role")) for f in stack.of(FUNCTION)}
    queues = {str(q.props.get("name")): q for q in stack.of(QUEUE)}
    for config in stack.of(INVOKE_CONFIG):
        function = str(config.props.get("functionName"))
        role = roles.get(function)
        if role is None:
            continue
        for outcome, destination in ((config.props.get("destinationConfig") or {}).items()):
            arn = str((destination or {}).get("destination") or "")
            action = _DESTINATION_ACTIONS.get(arn.split(":")[2] if arn.count(":") >= 2 else "")
            if action is None:
                continue
            caller = f"AWS Lambda for {function}"
            calls.append(Call(caller, role, action, arn, f"send an asynchronous invocation's record ({outcome})"))
            queue = queues.get(re.split(r"[:/]", arn)[-1])
            if action == "sqs:SendMessage" and queue is not None and queue.props.get("kmsMasterKeyId"):
                for key_action in ("kms:GenerateDataKey", "kms:Decrypt"):  # SQS SSE with a customer key: both, for producers
                    calls.append(Call(caller, role, key_action, str(queue.props["kmsMasterKeyId"]), "send to an SSE-KMS queue"))
    return calls


def _arc_calls(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    for plan in stack.of(PLAN):
        role = str(plan.props.get("executionRole"))
        caller = f"ARC Region switch plan {plan.props.get('name')}"
        for workflow in plan.props.get("workflows") or []:
            for step in workflow.get("steps") or []:
                for config in step.get("customActionLambdaConfigs") or []:
                    for function in config.get("lambdas") or []:
                        calls.append(Call(caller, role, "lambda:InvokeFunction", str(function.get("arn")), f"run step {step.get('name')}"))
                for config in step.get("route53HealthCheckConfigs") or []:
                    zone = f"arn:aws:route53:::hostedzone/{config.get('hostedZoneId')}"
                    calls.append(Call(caller, role, "route53:ListResourceRecordSets", zone, f"read the records of step {step.get('name')}"))
    return calls


def _fis_calls(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    for template in stack.of(EXPERIMENT):
        role = str(template.props.get("roleArn"))
        caller = f"FIS template {template.name}"
        for action in template.props.get("actions") or []:
            if action.get("actionId") == "aws:dynamodb:global-table-pause-replication":
                name = (stack.table() or (f"drkit-{_deployment(stack)}-tokens", ""))[0]
                arn = f"arn:aws:dynamodb:{stack.region}:{stack.account}:table/{name}"
                for iam_action in ("dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy", "dynamodb:GetResourcePolicy", "dynamodb:DescribeTable"):
                    calls.append(Call(caller, role, iam_action, arn, "pause replication (FIS action reference)"))
        if template.props.get("targets") or template.props.get("actions"):
            calls.append(Call(caller, role, "tag:GetResources", "*", "resolve its targets by tag"))
        if template.props.get("logConfiguration"):
            for action in ("logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"):
                calls.append(Call(caller, role, action, "*", "deliver experiment logs"))
        s3 = (((template.props.get("experimentReportConfiguration") or {}).get("outputs") or {}).get("s3Configuration")) or {}
        if s3.get("bucketName"):
            bucket = str(s3["bucketName"])
            calls.append(Call(caller, role, "s3:PutObject", f"arn:aws:s3:::{bucket}/{s3.get('prefix')}/report.pdf", "write the experiment report"))
            key = stack.bucket_key(bucket)
            if key:
                calls.append(Call(caller, role, "kms:GenerateDataKey", key, "write the report to an SSE-KMS bucket"))
    return calls


def _log_encryption_calls(stack: _Stack) -> list[Call]:
    calls: list[Call] = []
    principal = f"logs.{stack.region}.amazonaws.com"
    for group in stack.of(LOG_GROUP):
        key = group.props.get("kmsKeyId")
        if key:
            arn = f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{group.props.get('name')}"
            calls.append(Call("CloudWatch Logs", principal, "kms:GenerateDataKey", str(key), f"encrypt log group {group.props.get('name')}",
                              {"kms:EncryptionContext:aws:logs:arn": arn}))
    for replica in stack.of(TABLE_REPLICA):
        key = str(replica.props.get("kmsKeyArn") or "")
        region = replica.region or stack.region
        if key and key.split(":")[3] != region:
            calls.append(Call(f"DynamoDB replica in {region}", f"dynamodb.{region}.amazonaws.com", "kms:Decrypt", key,
                              f"use its region's key (a replica may only use a key in {region})"))
    return calls


def markdown_table(calls: Sequence[Call]) -> str:
    """The contract as a markdown table: one row per (caller, action group, resource), in contract order."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for call in calls:
        rows.setdefault((call.caller, call.resource, call.why), []).append(call.action)
    lines = ["| caller | actions | resource | why |", "|---|---|---|---|"]
    for (caller, resource, why), actions in rows.items():
        lines.append(f"| {caller} | {', '.join(dict.fromkeys(actions))} | `{resource}` | {why} |")
    return "\n".join(lines) + "\n"
