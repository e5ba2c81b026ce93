"""Reading Pulumi resources the way policies see them: type tokens, tags, regions, documents.

Policies receive engine-shaped properties (camelCase keys, numbers possibly floats from a
protobuf Struct). These helpers keep that knowledge in one place.
"""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pulumi_policy import PolicyResource

from drkit.core.tiers import Tier
from drkit.core.values import as_list as as_list  # re-exported: the rule modules read props through them
from drkit.core.values import is_list
from drkit.core.values import number as number
from drkit.core.values import plain as plain
from drkit.core.values import statements as statements

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TABLE = "aws:dynamodb/table:Table"
REPLICA = "aws:dynamodb/tableReplica:TableReplica"
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
TARGET = "aws:appautoscaling/target:Target"
SCHEDULED_ACTION = "aws:appautoscaling/scheduledAction:ScheduledAction"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
ECR_REPLICATION = "aws:ecr/replicationConfiguration:ReplicationConfiguration"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
INFERENCE_ROUTER = "drkit:sagemaker:InferenceRouter"  # drkit's own provider (drkit.core.inference_router.TYPE_TOKEN)
IAM_DOCUMENT_PROPS = {
    "aws:iam/role:Role": ("assumeRolePolicy", "inlinePolicies"),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
}
TOKEN_TABLE_HASH_KEY = "request_id"  # drkit.components.table.HASH_KEY, without importing pulumi_aws here
COST_TAGS = ("InferenceType", "DRTier", "Model", "CostCenter")

# pulumi_policy's ReportViolation, whose `urn` argument is optional at run time.
Report = Callable[..., None]


TAGGABLE_TABLE = Path(__file__).parent / "taggable.json"


@cache
def _taggable_table() -> Mapping[str, bool]:
    """`is_taggable` for every type drkit's stacks create, as `drkit reference taggable` read it
    from the pulumi-aws it names; empty when another pulumi-aws is installed."""
    try:
        table = json.loads(TAGGABLE_TABLE.read_text())
        return table["types"] if table["pulumi_aws"] == metadata.version("pulumi_aws") else {}
    except (OSError, ValueError, KeyError, metadata.PackageNotFoundError):
        return {}


@cache
def is_taggable(type_token: str) -> bool:
    """Whether pulumi-aws accepts `tags` on this resource type: from the table generated for the
    installed pulumi-aws, else from the SDK itself (loading a service module takes up to 0.3 s)."""
    known = _taggable_table().get(type_token)
    return known if known is not None else sdk_is_taggable(type_token)


def sdk_class_path(type_token: str) -> tuple[str, str] | None:
    """The pulumi-aws module and class of a type (`aws:lambda/function:Function` is
    `pulumi_aws.lambda_`, `Function`); None for a type that is not pulumi-aws's."""
    package, _, rest = type_token.partition(":")
    if package != "aws" or ":" not in rest:
        return None
    module_path, _, class_name = rest.partition(":")
    package_name = module_path.split("/")[0]
    if keyword.iskeyword(package_name):
        package_name += "_"  # pulumi_aws.lambda_: Python keywords get a trailing underscore
    return f"pulumi_aws.{package_name}", class_name


def sdk_is_taggable(type_token: str) -> bool:
    """Whether the installed pulumi-aws's class for this type has a `tags` argument."""
    path = sdk_class_path(type_token)
    if path is None:
        return False
    try:
        cls = getattr(importlib.import_module(path[0]), path[1])
    except (ImportError, AttributeError):
        return False
    return "tags" in inspect.signature(cls._internal_init).parameters


def tags(props: Mapping[str, Any]) -> Mapping[str, str]:
    return props.get("tags") or {}


def region_of(resource: Any) -> str | None:
    """The region of a resource's provider (explicit providers carry `region`)."""
    provider = getattr(resource, "provider", None)
    if provider is None:
        return None
    region = provider.props.get("region")
    return str(region) if region else None


def stack_tier(resources: Iterable[PolicyResource]) -> Tier | None:
    """The stack's DR tier, from the DRTier tag its resources carry."""
    for resource in resources:
        value = tags(resource.props).get("DRTier")
        if value is not None:
            try:
                return Tier(int(value))
            except ValueError:
                continue
    return None


def stack_label(resources: Iterable[PolicyResource]) -> str:
    """`<deployment>-<region>`, the stack's name in drkit's convention, from tags and providers."""
    deployment = region = None
    for resource in resources:
        deployment = deployment or tags(resource.props).get("Deployment")
        region = region or region_of(resource)
        if deployment and region:
            break
    return f"{deployment or '?'}-{region or '?'}"


def json_documents(value: Any) -> list[Mapping[str, Any]]:
    """IAM policy documents found in a property: JSON strings, dicts, or inline policy lists."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return []
        return [parsed] if isinstance(parsed, dict) else []
    if isinstance(value, Mapping):
        if "Statement" in value:
            return [value]
        if "policy" in value:  # one entry of a Role's inlinePolicies
            return json_documents(value["policy"])
        return []
    if is_list(value):
        return [doc for item in value for doc in json_documents(item)]
    return []


def allowed_statements(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(property, statement) for each Allow statement of the IAM documents a role or policy carries."""
    for prop in IAM_DOCUMENT_PROPS.get(resource_type, ()):
        for document in json_documents(props.get(prop)):
            for statement in statements(document):
                if statement.get("Effect", "Allow") == "Allow":
                    yield prop, statement


def ecr_destinations(props: Mapping[str, Any]) -> list[str]:
    """The regions an ECR replication configuration copies images to."""
    config = props.get("replicationConfiguration") or {}
    destinations = [d for rule in as_list(config.get("rules")) for d in as_list(rule.get("destinations"))]
    return [str(d.get("region")) for d in destinations if d.get("region")]


def endpoint_from_resource_id(resource_id: Any) -> str | None:
    """`endpoint/<name>/variant/<variant>` -> `<name>` (Application Auto Scaling resource ids)."""
    parts = str(resource_id or "").split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "endpoint" else None


def where(resource: Any) -> str:
    """How a violation names a resource: its logical name and type."""
    return f"{resource.name} ({resource.resource_type})"


