"""AWS's own limits on every value drkit sends, and where each one comes from.

One table owns every field limit (the deploy rules in `policies/deploy_rules.py` and the spec in
`drkit.core.spec` both read it):

- `RESOURCE_APIS`: each Pulumi resource type the stacks create → the API operation that creates
  it and, per physical name or constrained value, the input property and the API member it
  feeds. The limits themselves (min/max length, pattern, enum, number range, list size) are
  read from botocore's service models (the AWS SDK's own copy of each API's schema), the way
  cfn-lint reads CloudFormation's resource schemas: a new AWS limit arrives with botocore.
- `HAND_RULES`: limits AWS documents but the models do not carry (ACM's 64-octet first name,
  S3 bucket naming, Lambda and SNS names), and input-safety rules (traversal, control and bidi
  characters, reserved `aws:` tag keys, tag counts), each citing its AWS page.

botocore patterns are Java regexes written to be searched, not anchored (`\\p{Print}`, `\\A…\\z`):
a value passes only when the pattern matches the whole of it, using the `regex` module, which
understands the Unicode classes Python's `re` lacks.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

import regex

from drkit.core.values import is_list


class Scope(str, Enum):
    """Where a physical name must be unique."""

    GLOBAL = "global"  # every AWS account (S3 bucket names)
    ACCOUNT = "account"  # one account, every region (IAM roles, CloudWatch dashboards)
    REGION = "account-region"  # one account in one region (functions, endpoints, tables, ...)


@dataclass(frozen=True)
class Field:
    """One input property and the API member it feeds.

    Paths are dotted; `[]` steps into every item of a list: `productionVariants[].instanceType`
    (Pulumi's camelCase input) feeds `ProductionVariants[].InstanceType` (the API's member).
    """

    prop: str
    member: str


@dataclass(frozen=True)
class Unique:
    """The properties that together make a name unique within `scope`."""

    scope: Scope
    props: tuple[str, ...]


@dataclass(frozen=True)
class Api:
    """The API call that creates a resource type, and the fields it constrains."""

    service: str
    operation: str
    fields: tuple[Field, ...]
    unique: Unique | None = None


@dataclass(frozen=True)
class Unconstrained:
    """An explicit "nothing constrained" entry, and why."""

    why: str


def _api(service: str, operation: str, *pairs: tuple[str, str], unique: Unique | None = None) -> Api:
    return Api(service, operation, tuple(Field(p, m) for p, m in pairs), unique)


def _name_in(scope: Scope, *props: str) -> Unique:
    return Unique(scope, props or ("name",))


# Pulumi type token → the operation that creates it (pulumi-aws calls it with these inputs).
RESOURCE_APIS: dict[str, Api | Unconstrained] = {
    "aws:acm/certificate:Certificate": _api(
        "acm", "RequestCertificate",
        ("domainName", "DomainName"), ("subjectAlternativeNames", "SubjectAlternativeNames"),
        ("subjectAlternativeNames[]", "SubjectAlternativeNames[]"), ("validationMethod", "ValidationMethod"),
    ),
    "aws:acm/certificateValidation:CertificateValidation": Unconstrained(
        "no API call creates it: pulumi-aws waits for the certificate's DNS validation to finish"
    ),
    "aws:apigatewayv2/api:Api": _api(
        "apigatewayv2", "CreateApi", ("name", "Name"), ("protocolType", "ProtocolType"), ("description", "Description"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:apigatewayv2/apiMapping:ApiMapping": _api(
        "apigatewayv2", "CreateApiMapping", ("domainName", "DomainName"), ("stage", "Stage"), ("apiId", "ApiId")
    ),
    "aws:apigatewayv2/domainName:DomainName": _api(
        "apigatewayv2", "CreateDomainName",
        ("domainName", "DomainName"),
        ("domainNameConfiguration.endpointType", "DomainNameConfigurations[].EndpointType"),
        ("domainNameConfiguration.securityPolicy", "DomainNameConfigurations[].SecurityPolicy"),
        unique=_name_in(Scope.REGION, "domainName"),
    ),
    "aws:apigatewayv2/integration:Integration": _api(
        "apigatewayv2", "CreateIntegration",
        ("integrationType", "IntegrationType"), ("timeoutMilliseconds", "TimeoutInMillis"),
        ("payloadFormatVersion", "PayloadFormatVersion"), ("integrationUri", "IntegrationUri"),
    ),
    "aws:apigatewayv2/route:Route": _api("apigatewayv2", "CreateRoute", ("routeKey", "RouteKey"), ("target", "Target")),
    "aws:apigatewayv2/stage:Stage": _api("apigatewayv2", "CreateStage", ("name", "StageName")),
    "aws:appautoscaling/policy:Policy": _api(
        "application-autoscaling", "PutScalingPolicy",
        ("name", "PolicyName"), ("serviceNamespace", "ServiceNamespace"), ("resourceId", "ResourceId"),
        ("scalableDimension", "ScalableDimension"), ("policyType", "PolicyType"),
    ),
    "aws:appautoscaling/scheduledAction:ScheduledAction": _api(
        "application-autoscaling", "PutScheduledAction",
        ("name", "ScheduledActionName"), ("schedule", "Schedule"), ("timezone", "Timezone"),
        ("resourceId", "ResourceId"), ("serviceNamespace", "ServiceNamespace"), ("scalableDimension", "ScalableDimension"),
    ),
    "aws:appautoscaling/target:Target": _api(
        "application-autoscaling", "RegisterScalableTarget",
        ("resourceId", "ResourceId"), ("serviceNamespace", "ServiceNamespace"), ("scalableDimension", "ScalableDimension"),
        ("minCapacity", "MinCapacity"), ("maxCapacity", "MaxCapacity"),
    ),
    "aws:arcregionswitch/plan:Plan": _api(
        "arc-region-switch", "CreatePlan",
        ("name", "name"), ("regions", "regions"), ("primaryRegion", "primaryRegion"), ("executionRole", "executionRole"),
        ("recoveryTimeObjectiveMinutes", "recoveryTimeObjectiveMinutes"), ("recoveryApproach", "recoveryApproach"),
        unique=_name_in(Scope.ACCOUNT),
    ),
    "aws:cloudwatch/dashboard:Dashboard": _api(
        "cloudwatch", "PutDashboard", ("dashboardName", "DashboardName"), unique=_name_in(Scope.ACCOUNT, "dashboardName")
    ),
    "aws:cloudwatch/eventRule:EventRule": _api(
        "events", "PutRule", ("name", "Name"), ("description", "Description"), ("eventPattern", "EventPattern"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": _api(
        "events", "PutTargets", ("rule", "Rule"), ("arn", "Targets[].Arn"), ("targetId", "Targets[].Id")
    ),
    "aws:cloudwatch/logGroup:LogGroup": _api(
        "logs", "CreateLogGroup", ("name", "logGroupName"), ("kmsKeyId", "kmsKeyId"), unique=_name_in(Scope.REGION)
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _api(
        "cloudwatch", "PutMetricAlarm",
        ("name", "AlarmName"), ("metricName", "MetricName"), ("namespace", "Namespace"), ("statistic", "Statistic"),
        ("comparisonOperator", "ComparisonOperator"), ("period", "Period"), ("evaluationPeriods", "EvaluationPeriods"),
        ("treatMissingData", "TreatMissingData"), ("alarmActions", "AlarmActions"), ("alarmDescription", "AlarmDescription"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:dynamodb/table:Table": _api(
        "dynamodb", "CreateTable",
        ("name", "TableName"), ("billingMode", "BillingMode"), ("attributes[].name", "AttributeDefinitions[].AttributeName"),
        ("attributes[].type", "AttributeDefinitions[].AttributeType"),
        ("globalSecondaryIndexes[].name", "GlobalSecondaryIndexes[].IndexName"),
        ("streamViewType", "StreamSpecification.StreamViewType"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:dynamodb/tableReplica:TableReplica": Unconstrained(
        "UpdateTable ReplicaUpdates takes only the region (the provider's) and ARNs AWS produced; nothing user-named"
    ),
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": _api(
        "ecr", "PutReplicationConfiguration",
        ("replicationConfiguration.rules[].repositoryFilters[].filter", "replicationConfiguration.rules[].repositoryFilters[].filter"),
        ("replicationConfiguration.rules[].repositoryFilters[].filterType", "replicationConfiguration.rules[].repositoryFilters[].filterType"),
        ("replicationConfiguration.rules[].destinations[].region", "replicationConfiguration.rules[].destinations[].region"),
        ("replicationConfiguration.rules[].destinations[].registryId", "replicationConfiguration.rules[].destinations[].registryId"),
    ),
    "aws:fis/experimentTemplate:ExperimentTemplate": _api(
        "fis", "CreateExperimentTemplate", ("description", "description"), ("roleArn", "roleArn")
    ),
    "aws:iam/role:Role": _api(
        "iam", "CreateRole", ("name", "RoleName"), ("assumeRolePolicy", "AssumeRolePolicyDocument"), ("path", "Path"),
        ("description", "Description"), unique=_name_in(Scope.ACCOUNT),
    ),
    "aws:iam/rolePolicy:RolePolicy": _api(
        "iam", "PutRolePolicy", ("role", "RoleName"), ("name", "PolicyName"), ("policy", "PolicyDocument")
    ),
    "aws:kms/alias:Alias": _api(
        "kms", "CreateAlias", ("name", "AliasName"), ("targetKeyId", "TargetKeyId"), unique=_name_in(Scope.REGION)
    ),
    "aws:kms/key:Key": _api("kms", "CreateKey", ("policy", "Policy"), ("description", "Description")),
    "aws:lambda/function:Function": _api(
        "lambda", "CreateFunction",
        ("name", "FunctionName"), ("runtime", "Runtime"), ("handler", "Handler"), ("role", "Role"),
        ("memorySize", "MemorySize"), ("timeout", "Timeout"), ("tracingConfig.mode", "TracingConfig.Mode"),
        ("description", "Description"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _api(
        "lambda", "PutFunctionEventInvokeConfig",
        ("functionName", "FunctionName"), ("maximumRetryAttempts", "MaximumRetryAttempts"),
        ("maximumEventAgeInSeconds", "MaximumEventAgeInSeconds"),
        ("destinationConfig.onFailure.destination", "DestinationConfig.OnFailure.Destination"),
    ),
    "aws:lambda/permission:Permission": _api(
        "lambda", "AddPermission",
        ("function", "FunctionName"), ("statementId", "StatementId"), ("action", "Action"), ("principal", "Principal"),
        ("sourceArn", "SourceArn"),
    ),
    "aws:resiliencehub/resiliencyPolicy:ResiliencyPolicy": _api(
        "resiliencehub", "CreateResiliencyPolicy",
        ("name", "policyName"), ("tier", "tier"), ("dataLocationConstraint", "dataLocationConstraint"),
        ("description", "policyDescription"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:resourcegroups/group:Group": _api(
        "resource-groups", "CreateGroup",
        ("name", "Name"), ("description", "Description"), ("resourceQuery.type", "ResourceQuery.Type"),
        ("resourceQuery.query", "ResourceQuery.Query"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:route53/healthCheck:HealthCheck": _api(
        "route53", "CreateHealthCheck",
        ("type", "HealthCheckConfig.Type"), ("resourcePath", "HealthCheckConfig.ResourcePath"),
        ("fqdn", "HealthCheckConfig.FullyQualifiedDomainName"), ("port", "HealthCheckConfig.Port"),
        ("requestInterval", "HealthCheckConfig.RequestInterval"), ("failureThreshold", "HealthCheckConfig.FailureThreshold"),
        ("childHealthThreshold", "HealthCheckConfig.HealthThreshold"), ("childHealthchecks", "HealthCheckConfig.ChildHealthChecks"),
        ("searchString", "HealthCheckConfig.SearchString"),
        ("insufficientDataHealthStatus", "HealthCheckConfig.InsufficientDataHealthStatus"),
    ),
    "aws:route53/record:Record": _api(
        "route53", "ChangeResourceRecordSets",
        ("name", "ChangeBatch.Changes[].ResourceRecordSet.Name"), ("type", "ChangeBatch.Changes[].ResourceRecordSet.Type"),
        ("setIdentifier", "ChangeBatch.Changes[].ResourceRecordSet.SetIdentifier"),
        ("ttl", "ChangeBatch.Changes[].ResourceRecordSet.TTL"),
        ("healthCheckId", "ChangeBatch.Changes[].ResourceRecordSet.HealthCheckId"),
        ("latencyRoutingPolicies[].region", "ChangeBatch.Changes[].ResourceRecordSet.Region"),
        ("failoverRoutingPolicies[].type", "ChangeBatch.Changes[].ResourceRecordSet.Failover"),
        ("records[]", "ChangeBatch.Changes[].ResourceRecordSet.ResourceRecords[].Value"),
        ("zoneId", "HostedZoneId"),
        unique=Unique(Scope.GLOBAL, ("zoneId", "name", "type", "setIdentifier")),
    ),
    "aws:s3/bucket:Bucket": Api("s3", "CreateBucket", (), unique=_name_in(Scope.GLOBAL, "bucket")),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _api(
        "s3", "PutBucketLifecycleConfiguration",
        ("rules[].id", "LifecycleConfiguration.Rules[].ID"), ("rules[].status", "LifecycleConfiguration.Rules[].Status"),
    ),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": _api(
        "s3", "PutObjectLockConfiguration",
        ("objectLockEnabled", "ObjectLockConfiguration.ObjectLockEnabled"),
        ("rule.defaultRetention.mode", "ObjectLockConfiguration.Rule.DefaultRetention.Mode"),
    ),
    "aws:s3/bucketPolicy:BucketPolicy": Unconstrained(
        "PutBucketPolicy's Bucket and Policy carry no limits in the model; the bucket is checked where it is created"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Unconstrained(
        "PutPublicAccessBlock takes the bucket (checked where it is created) and four booleans"
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _api(
        "s3", "PutBucketEncryption",
        ("rules[].applyServerSideEncryptionByDefault.sseAlgorithm",
         "ServerSideEncryptionConfiguration.Rules[].ApplyServerSideEncryptionByDefault.SSEAlgorithm"),
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _api(
        "s3", "PutBucketVersioning", ("versioningConfiguration.status", "VersioningConfiguration.Status")
    ),
    # Not pulumi-aws: the field check below reads pulumi_aws's SDK. drkit's own provider checks these
    # inputs against CreateInferenceRouter's model in its Check (components/inference_router/provider.py),
    # and tests/test_inference_router.py checks every deployed name, target and ARN against botocore.
    "drkit:sagemaker:InferenceRouter": Unconstrained(
        "drkit's own provider validates routerName, routingTargets[].name and destinations against "
        "botocore's CreateInferenceRouter model in its Check"
    ),
    "aws:sagemaker/endpoint:Endpoint": _api(
        "sagemaker", "CreateEndpoint", ("name", "EndpointName"), ("endpointConfigName", "EndpointConfigName"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _api(
        "sagemaker", "CreateEndpointConfig",
        ("name", "EndpointConfigName"), ("kmsKeyArn", "KmsKeyId"), ("productionVariants", "ProductionVariants"),
        ("productionVariants[].variantName", "ProductionVariants[].VariantName"),
        ("productionVariants[].modelName", "ProductionVariants[].ModelName"),
        ("productionVariants[].instanceType", "ProductionVariants[].InstanceType"),
        ("productionVariants[].initialInstanceCount", "ProductionVariants[].InitialInstanceCount"),
        ("productionVariants[].modelDataDownloadTimeoutInSeconds", "ProductionVariants[].ModelDataDownloadTimeoutInSeconds"),
        ("productionVariants[].containerStartupHealthCheckTimeoutInSeconds",
         "ProductionVariants[].ContainerStartupHealthCheckTimeoutInSeconds"),
        ("productionVariants[].serverlessConfig.memorySizeInMb", "ProductionVariants[].ServerlessConfig.MemorySizeInMB"),
        ("productionVariants[].serverlessConfig.maxConcurrency", "ProductionVariants[].ServerlessConfig.MaxConcurrency"),
        ("productionVariants[].serverlessConfig.provisionedConcurrency",
         "ProductionVariants[].ServerlessConfig.ProvisionedConcurrency"),
        ("asyncInferenceConfig.outputConfig.s3OutputPath", "AsyncInferenceConfig.OutputConfig.S3OutputPath"),
        ("asyncInferenceConfig.outputConfig.s3FailurePath", "AsyncInferenceConfig.OutputConfig.S3FailurePath"),
        ("asyncInferenceConfig.outputConfig.kmsKeyId", "AsyncInferenceConfig.OutputConfig.KmsKeyId"),
        ("asyncInferenceConfig.clientConfig.maxConcurrentInvocationsPerInstance",
         "AsyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:sagemaker/model:Model": _api(
        "sagemaker", "CreateModel",
        ("name", "ModelName"), ("executionRoleArn", "ExecutionRoleArn"), ("primaryContainer.image", "PrimaryContainer.Image"),
        ("primaryContainer.modelDataUrl", "PrimaryContainer.ModelDataUrl"), ("primaryContainer.mode", "PrimaryContainer.Mode"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:sfn/stateMachine:StateMachine": _api(
        "stepfunctions", "CreateStateMachine",
        ("name", "name"), ("definition", "definition"), ("roleArn", "roleArn"), ("type", "type"),
        ("loggingConfiguration.level", "loggingConfiguration.level"),
        unique=_name_in(Scope.REGION),
    ),
    "aws:sqs/queue:Queue": Api("sqs", "CreateQueue", (), unique=_name_in(Scope.REGION)),
    "aws:sns/topic:Topic": Api("sns", "CreateTopic", (), unique=_name_in(Scope.REGION)),
    "aws:sns/topicSubscription:TopicSubscription": Unconstrained(
        "Subscribe's TopicArn, Protocol and Endpoint carry no limits in the model; the ARNs come from AWS"
    ),
}  # fmt: skip


# --- limits read from botocore ----------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What botocore's model says one API member accepts."""

    source: str  # "sagemaker CreateModel ModelName"
    type_name: str  # string, integer, long, float, double, list, map, structure, boolean, ...
    min: float | None = None  # length of a string, items of a list, value of a number
    max: float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()


@cache
def service_model(service: str) -> Any:
    """One botocore service model, loaded on first use and kept (the loader reads a JSON file)."""
    return _session().get_service_model(service)


@cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def _member_shape(shape: Any, path: str) -> Any:
    for step in path.split("."):
        name, many = (step[:-2], True) if step.endswith("[]") else (step, False)
        if name:
            if shape.type_name != "structure" or name not in shape.members:
                raise KeyError(f"{shape.name} has no member {name!r}")
            shape = shape.members[name]
        if many:
            if shape.type_name != "list":
                raise KeyError(f"{shape.name} is not a list")
            shape = shape.member
    return shape


@cache
def api_limits(service: str, operation: str, member: str) -> Limits:
    """The limits of one member of an operation's input, e.g. ("sagemaker", "CreateModel", "ModelName")."""
    shape = _member_shape(service_model(service).operation_model(operation).input_shape, member)
    meta = shape.metadata
    return Limits(
        source=f"{service} {operation} {member}",
        type_name=shape.type_name,
        min=meta.get("min"),
        max=meta.get("max"),
        pattern=meta.get("pattern"),
        enum=tuple(getattr(shape, "enum", None) or ()),
    )


@cache
def enum_of(service: str, shape_name: str) -> tuple[str, ...]:
    """A named enum shape, e.g. ("sagemaker", "ProductionVariantInstanceType")."""
    return tuple(service_model(service).shape_for(shape_name).enum)


_SURROGATE_PAIR = regex.compile(r"\\u(D[89AB][0-9A-Fa-f]{2})\\u(D[C-F][0-9A-Fa-f]{2})", regex.IGNORECASE)
# Java's POSIX classes are US-ASCII unless a pattern opts into Unicode; the `regex` module's are Unicode.
_JAVA_POSIX = {r"\p{Print}": r"\x20-\x7E", r"\p{Graph}": r"\x21-\x7E"}


def java_pattern(pattern: str) -> str:
    """botocore's Java pattern in the `regex` module's dialect: UTF-16 surrogate pairs written as
    `\\uD800\\uDC00` become the code point they encode, and POSIX classes stay ASCII as in Java."""

    def code_point(match: regex.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    pattern = _SURROGATE_PAIR.sub(code_point, pattern)
    for java, ascii_range in _JAVA_POSIX.items():
        pattern = pattern.replace(f"[{java}]", f"[{ascii_range}]").replace(java, f"[{ascii_range}]")
    return pattern


@cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(java_pattern(pattern))


def matches_whole(pattern: str, value: str) -> bool:
    """Whether botocore's (Java) pattern matches all of `value`, not just part of it."""
    return _compiled(pattern).fullmatch(value) is not None


# --- reading values out of properties ---------------------------------------------------------

# pulumi_policy and the Pulumi engine stand for values unknown at preview time with these strings.
UNKNOWN_SENTINELS = frozenset(
    {
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)  # fmt: skip


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def values_at(props: Mapping[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for every value at `path`; absent and unknown values are skipped.

    A path through a single object where the API takes a list (`domainNameConfiguration`) is
    read as that one object.
    """

    def walk(value: Any, steps: list[str], where: str) -> Iterator[tuple[str, Any]]:
        if value is None or is_unknown(value):
            return
        if not steps:
            yield where, value
            return
        step, rest = steps[0], steps[1:]
        name, many = (step[:-2], True) if step.endswith("[]") else (step, False)
        if name:
            if not isinstance(value, Mapping):
                return
            value = value.get(name)
            where = f"{where}.{name}" if where else name
            if value is None or is_unknown(value):
                return
        if many:
            if not is_list(value):
                return
            for index, item in enumerate(value):
                yield from walk(item, rest, f"{where}[{index}]")
        else:
            yield from walk(value, rest, where)

    yield from walk(props, path.split("."), "")


# --- the checks, one per kind of constraint ------------------------------------------------------


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def length_problem(limits: Limits, value: Any) -> str | None:
    """A string too short or too long, or a list with too few or too many items."""
    if isinstance(value, str) and limits.type_name == "string":
        size, unit = len(value), "characters"
    elif is_list(value) and limits.type_name == "list":
        size, unit = len(value), "items"
    else:
        return None
    if limits.min is not None and size < limits.min:
        return f"has {size} {unit}; {limits.source} needs at least {int(limits.min)}"
    if limits.max is not None and size > limits.max:
        return f"has {size} {unit}; {limits.source} allows at most {int(limits.max)}"
    return None


def pattern_problem(limits: Limits, value: Any) -> str | None:
    if not isinstance(value, str) or not limits.pattern or limits.type_name != "string":
        return None
    if matches_whole(limits.pattern, value):
        return None
    return f"does not match {limits.source}'s pattern {limits.pattern}"


def enum_problem(limits: Limits, value: Any) -> str | None:
    if not isinstance(value, str) or not limits.enum or value in limits.enum:
        return None
    shown = ", ".join(limits.enum[:8]) + (f", … ({len(limits.enum)} values)" if len(limits.enum) > 8 else "")
    return f"is not one of {limits.source}'s values ({shown})"


def range_problem(limits: Limits, value: Any) -> str | None:
    number = _as_number(value)
    if number is None or limits.type_name not in ("integer", "long", "float", "double"):
        return None
    if limits.min is not None and number < limits.min:
        return f"is below {limits.source}'s minimum {limits.min:g}"
    if limits.max is not None and number > limits.max:
        return f"is above {limits.source}'s maximum {limits.max:g}"
    return None


# --- documented limits the models lack, and input safety --------------------------------------

S3_BUCKET_NAMING = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
S3_OBJECT_KEYS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html"
ACM_REQUEST = "https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html"
TAGGING = "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html"
LAMBDA_CREATE = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"
SNS_CREATE = "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html"
SQS_CREATE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
DASHBOARD_PUT = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html"
SFN_CREATE = "https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html"
ROUTE53_HEALTH = "https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html"
# CreateHealthCheck's CallerReference allows 64; pulumi-aws (the Terraform provider) appends "-" and a
# 26-character unique id to reference_name, so it validates reference_name to 38
# (hashicorp/terraform-provider-aws#12873).
ROUTE53_REFERENCE = "https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHealthCheck.html"
HEALTH_CHECK_REFERENCE_MAX = 38

ACM_FIRST_NAME_MAX_OCTETS = 64
S3_KEY_MAX_BYTES = 1024
MAX_USER_TAGS = 50
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
S3_BUCKET_MIN, S3_BUCKET_MAX = 3, 63
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
LAMBDA_NAME_MAX = 64
STATE_MACHINE_NAME = r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\p{Cc}]+"


def unsafe_characters(value: str) -> list[str]:
    """Control characters and bidirectional overrides/isolates, which render one text as another."""
    found = []
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" or (category == "Cf" and unicodedata.bidirectional(char) in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI")) or char in "\u200e\u200f\u061c":
            found.append(f"U+{ord(char):04X}")
    return found


def has_traversal(value: str) -> bool:
    """A `..` path segment (or a backslash one), which resolves outside the intended prefix."""
    return any(part in ("..", ".") for part in regex.split(r"[/\\]", value))


def s3_bucket_name_problem(value: str) -> str | None:
    """S3 general purpose bucket naming rules (S3_BUCKET_NAMING)."""
    if not S3_BUCKET_MIN <= len(value) <= S3_BUCKET_MAX:
        return f"is {len(value)} characters; S3 bucket names are {S3_BUCKET_MIN}-{S3_BUCKET_MAX}"
    if not regex.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", value):
        return "must be lowercase letters, digits, '.' and '-', beginning and ending with a letter or digit"
    if ".." in value:
        return "must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(value)
        return "must not be formatted as an IP address"
    except ValueError:
        pass
    for prefix in S3_RESERVED_PREFIXES:
        if value.startswith(prefix):
            return f"must not begin with the reserved prefix {prefix!r}"
    for suffix in S3_RESERVED_SUFFIXES:
        if value.endswith(suffix):
            return f"must not end with the reserved suffix {suffix!r}"
    return None


def s3_key_problem(key: str) -> str | None:
    """Object keys: at most 1024 bytes of UTF-8, and no segments that navigate (S3_OBJECT_KEYS)."""
    size = len(key.encode("utf-8"))
    if size > S3_KEY_MAX_BYTES:
        return f"is {size} bytes of UTF-8; S3 object keys allow at most {S3_KEY_MAX_BYTES}"
    if has_traversal(key):
        return "has a '.' or '..' path segment; keys with relative-path segments are resolved away by clients and browsers"
    if key.startswith("/"):
        return "begins with '/'; the key would start with an empty segment"
    bad = unsafe_characters(key)
    return f"contains control or bidi characters ({', '.join(bad)})" if bad else None


def first_domain_problem(value: str) -> str | None:
    size = len(value.encode("utf-8"))
    if size > ACM_FIRST_NAME_MAX_OCTETS:
        return f"is {size} octets; ACM's first domain name (the certificate's CN) allows at most {ACM_FIRST_NAME_MAX_OCTETS}"
    return None


def tags_problem(tags: Any) -> str | None:
    """User tags: at most 50, keys 1-128 and values 0-256 characters, no `aws:` keys, no control or
    bidi characters (TAGGING). The allowed characters beyond that vary by service, so they are not judged."""
    if not isinstance(tags, Mapping):
        return None
    problems = []
    if len(tags) > MAX_USER_TAGS:
        problems.append(f"has {len(tags)} tags; AWS allows at most {MAX_USER_TAGS} user tags per resource")
    for key, value in tags.items():
        if is_unknown(value):
            continue
        key, value = str(key), str(value)
        if key.lower().startswith("aws:"):
            problems.append(f"tag key {key!r} uses the reserved prefix 'aws:'")
        if not 1 <= len(key) <= TAG_KEY_MAX:
            problems.append(f"tag key {key[:40]!r} is {len(key)} characters; allowed 1-{TAG_KEY_MAX}")
        if len(value) > TAG_VALUE_MAX:
            problems.append(f"tag {key[:40]!r} value is {len(value)} characters; allowed 0-{TAG_VALUE_MAX}")
        bad = unsafe_characters(key + value)
        if bad:
            problems.append(f"tag {key[:40]!r} contains control or bidi characters ({', '.join(bad)})")
    return "; ".join(problems) or None


def _regex_problem(pattern: str, lo: int, hi: int, what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        if not lo <= len(value) <= hi:
            return f"is {len(value)} characters; {what} allows {lo}-{hi}"
        if not regex.fullmatch(pattern, value):
            return f"does not match {pattern} ({what})"
        return None

    return check


def _strings(check: Callable[[str], str | None]) -> Callable[[Any], str | None]:
    return lambda value: check(value) if isinstance(value, str) else None


def _s3_url_key(url: str) -> str:
    """The key of `s3://bucket/key` (empty for anything else)."""
    return url.split("/", 3)[3] if url.startswith("s3://") and url.count("/") >= 3 else ""


@dataclass(frozen=True)
class HandRule:
    """A documented limit missing from the models, or an input-safety rule, on one property."""

    policy: str  # the pack policy that enforces it: aws-documented-limits | input-safety
    resource_type: str  # a type token, or "*" for every resource that has the property
    prop: str
    check: Callable[[Any], str | None]
    source: str  # the AWS page that documents it


DOCUMENTED = "aws-documented-limits"
SAFETY = "input-safety"

HAND_RULES: tuple[HandRule, ...] = (
    HandRule(DOCUMENTED, "aws:acm/certificate:Certificate", "domainName", _strings(first_domain_problem), ACM_REQUEST),
    HandRule(DOCUMENTED, "aws:s3/bucket:Bucket", "bucket", _strings(s3_bucket_name_problem), S3_BUCKET_NAMING),
    HandRule(
        DOCUMENTED, "aws:lambda/function:Function", "name",
        _regex_problem(r"[a-zA-Z0-9_-]+", 1, LAMBDA_NAME_MAX, "a Lambda function name"), LAMBDA_CREATE,
    ),
    HandRule(DOCUMENTED, "aws:sns/topic:Topic", "name", _regex_problem(r"[A-Za-z0-9_-]+", 1, 256, "an SNS topic name"), SNS_CREATE),
    HandRule(
        DOCUMENTED, "aws:sqs/queue:Queue", "name",
        _regex_problem(r"[A-Za-z0-9_-]+(\.fifo)?", 1, 80, "an SQS queue name"), SQS_CREATE,
    ),
    HandRule(
        DOCUMENTED, "aws:cloudwatch/dashboard:Dashboard", "dashboardName",
        _regex_problem(r"[A-Za-z0-9_-]+", 1, 255, "a CloudWatch dashboard name"), DASHBOARD_PUT,
    ),
    HandRule(
        DOCUMENTED, "aws:route53/healthCheck:HealthCheck", "referenceName",
        _regex_problem(r".*", 0, HEALTH_CHECK_REFERENCE_MAX, "reference_name (CallerReference less the provider's 27-character suffix)"),
        ROUTE53_REFERENCE,
    ),
    HandRule(DOCUMENTED, "aws:sfn/stateMachine:StateMachine", "name", _regex_problem(STATE_MACHINE_NAME, 1, 80, "a state machine name"), SFN_CREATE),
    HandRule(
        SAFETY, "aws:sagemaker/model:Model", "primaryContainer.modelDataUrl",
        _strings(lambda url: s3_key_problem(_s3_url_key(url)) if url.startswith("s3://") else None), S3_OBJECT_KEYS,
    ),
    HandRule(
        SAFETY, "aws:route53/healthCheck:HealthCheck", "resourcePath",
        _strings(lambda path: "has a '.' or '..' path segment; the health check would probe another path" if has_traversal(path) else None),
        ROUTE53_HEALTH,
    ),
    HandRule(SAFETY, "*", "tags", tags_problem, TAGGING),
)  # fmt: skip


def hand_rules_for(resource_type: str) -> list[HandRule]:
    return [r for r in HAND_RULES if r.resource_type in (resource_type, "*")]


def api_for(resource_type: str) -> Api | Unconstrained | None:
    return RESOURCE_APIS.get(resource_type)


@cache
def field_limits(resource_type: str) -> tuple[tuple[Field, Limits], ...]:
    """Each field of a resource type with the limits its API member has in botocore."""
    api = RESOURCE_APIS.get(resource_type)
    if not isinstance(api, Api):
        return ()
    return tuple((f, api_limits(api.service, api.operation, f.member)) for f in api.fields)


def warm() -> None:
    """Load every model the table names and compile every pattern, once (the pack does this in the
    background at start-up, while the first stack is still being captured)."""
    for resource_type in RESOURCE_APIS:
        for _, limits in field_limits(resource_type):
            if limits.pattern:
                _compiled(limits.pattern)


# --- what the spec takes from this table ------------------------------------------------------

# Tags drkit itself puts on resources (components/naming.py TAG_KEYS, plus "Name" on some):
# the spec's own tags get what is left of AWS's 50.
DRKIT_TAG_COUNT = 6
SPEC_MAX_TAGS = MAX_USER_TAGS - DRKIT_TAG_COUNT


def realtime_instance_types() -> tuple[str, ...]:
    """Every SageMaker hosting instance type (real-time and async endpoints), from botocore."""
    return enum_of("sagemaker", "ProductionVariantInstanceType")


def transform_instance_types() -> tuple[str, ...]:
    """Every SageMaker batch transform instance type, from botocore."""
    return enum_of("sagemaker", "TransformInstanceType")


def max_length(service: str, operation: str, member: str) -> int:
    limit = api_limits(service, operation, member).max
    if limit is None:
        raise KeyError(f"{service} {operation} {member} has no maximum length")
    return int(limit)


def image_uri_problem(uri: str) -> str | None:
    """A container image URI as CreateModel's PrimaryContainer.Image accepts it."""
    limits = api_limits("sagemaker", "CreateModel", "PrimaryContainer.Image")
    return length_problem(limits, uri) or pattern_problem(limits, uri)


def ecr_repository_problem(name: str) -> str | None:
    limits = api_limits("ecr", "CreateRepository", "repositoryName")
    return length_problem(limits, name) or pattern_problem(limits, name)


def model_data_url_problem(url: str) -> str | None:
    """The model-data URL as CreateModel's PrimaryContainer.ModelDataUrl accepts it, and its key as S3 does."""
    limits = api_limits("sagemaker", "CreateModel", "PrimaryContainer.ModelDataUrl")
    problem = length_problem(limits, url) or pattern_problem(limits, url)
    if problem:
        return problem
    key_problem = s3_key_problem(_s3_url_key(url))
    return f"key {key_problem}" if key_problem else None


def certificate_name_problem(host: str) -> str | None:
    """A name ACM's RequestCertificate takes as the certificate's first DomainName."""
    limits = api_limits("acm", "RequestCertificate", "DomainName")
    return first_domain_problem(host) or length_problem(limits, host) or pattern_problem(limits, host)


def health_path_problem(path: str) -> str | None:
    limits = api_limits("route53", "CreateHealthCheck", "HealthCheckConfig.ResourcePath")
    if has_traversal(path):
        return "has a '.' or '..' path segment; the health check would probe another path"
    return length_problem(limits, path)


def spec_tags_problem(tags: Mapping[str, str]) -> str | None:
    if len(tags) > SPEC_MAX_TAGS:
        return f"has {len(tags)} tags; at most {SPEC_MAX_TAGS} (AWS allows {MAX_USER_TAGS} per resource and drkit adds {DRKIT_TAG_COUNT})"
    return tags_problem(tags)
