"""Security rules every DR site needs: customer-managed KMS on every store, no wildcard IAM actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy

from drkit.policies.declare import declare
from drkit.policies.resources import (
    BUCKET,
    BUCKET_SSE,
    ENDPOINT_CONFIG,
    LOG_GROUP,
    QUEUE,
    REPLICA,
    TABLE,
    TOPIC,
    Report,
    allowed_statements,
    as_list,
    where,
)


def _kms_problem(resource_type: str, props: Mapping[str, Any]) -> str | None:
    """Why a (non-bucket) store is not encrypted with a KMS key, or None when it is."""
    if resource_type == TABLE:
        sse = props.get("serverSideEncryption") or {}
        return None if sse.get("enabled") and sse.get("kmsKeyArn") else "server_side_encryption needs enabled=True and a kms_key_arn"
    if resource_type == REPLICA:
        return None if props.get("kmsKeyArn") else "kms_key_arn is not set"
    if resource_type in (TOPIC, QUEUE):
        return None if props.get("kmsMasterKeyId") else "kms_master_key_id is not set"
    if resource_type == LOG_GROUP:
        return None if props.get("kmsKeyId") else "kms_key_id is not set"
    if resource_type == ENDPOINT_CONFIG:
        if not props.get("kmsKeyArn") and any(not v.get("serverlessConfig") for v in as_list(props.get("productionVariants"))):
            return "kms_key_arn (instance storage volumes) is not set"
        output = ((props.get("asyncInferenceConfig") or {}).get("outputConfig")) or {}
        if props.get("asyncInferenceConfig") and not output.get("kmsKeyId"):
            return "async_inference_config.output_config.kms_key_id is not set"
    return None


def _validate_kms(args: StackValidationArgs, report: Report) -> None:
    encrypted_buckets = set()
    for resource in args.resources:
        if resource.resource_type == BUCKET_SSE:
            for rule in as_list(resource.props.get("rules")):
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                if default.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and default.get("kmsMasterKeyId"):
                    encrypted_buckets.add(str(resource.props.get("bucket")))
    for resource in args.resources:
        if resource.resource_type == BUCKET:
            if str(resource.props.get("bucket")) not in encrypted_buckets:
                report(
                    f"Bucket {where(resource)} has no SSE-KMS default encryption with a customer key. "
                    "Create it with EncryptedBucket or add a BucketServerSideEncryptionConfiguration (aws:kms).",
                    resource.urn,
                )
            continue
        problem = _kms_problem(resource.resource_type, resource.props)
        if problem:
            report(f"{where(resource)} must be encrypted with this region's KMS key: {problem}.", resource.urn)


def _validate_iam_actions(args: ResourceValidationArgs, report: Report) -> None:
    for prop, statement in allowed_statements(args.resource_type, args.props):
        actions = [str(a) for a in as_list(statement.get("Action"))]
        wild = [a for a in actions if a == "*" or a.endswith(":*")]
        if wild or statement.get("NotAction"):
            sid = statement.get("Sid", "(no Sid)")
            found = ", ".join(wild) if wild else "NotAction"
            report(
                f"{where(args)} statement {sid} in `{prop}` allows {found}. "
                "List the exact actions the role needs (drkit.components.iam.Statement refuses wildcards)."
            )


POLICIES = [
    declare(
        StackValidationPolicy,
        "kms-on-every-store",
        "Checks whether every bucket, table, replica, topic, queue, log group and endpoint volume uses a KMS key.",
        _validate_kms,
    ),
    declare(
        ResourceValidationPolicy,
        "no-wildcard-iam-actions",
        "Checks whether IAM policies allow only named actions: no '*', no 'service:*', no NotAction.",
        _validate_iam_actions,
    ),
]
