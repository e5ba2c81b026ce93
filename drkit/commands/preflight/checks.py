"""The preflight checks: read-only boto3 calls in one region, judged against `RegionNeeds`.

Side effects stay at the edge: each `check_*` takes a boto3 client, makes exactly the calls
`planned_calls` lists, and returns `Finding`s; the decisions (is this a whole-object SHA-256?
is the quota enough?) are pure functions the tests call with AWS-shaped responses.

AWS facts used (read 2026-11-29):
- ECR: "Only repository content pushed to a repository after replication is configured is
  replicated. Any preexisting content in a repository isn't replicated." and "A replication
  action only occurs once per image push."
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html). An image whose
  ``imageStatus`` is ARCHIVED must be restored (UpdateImageStorageClass) before it can be pulled.
- S3 HeadObject ``ChecksumSHA256``: "only present if the checksum was uploaded with the object";
  for a multipart upload it "may not be a direct checksum value of the full object" but one
  computed from the parts (botocore's s3 model, HeadObject output). A multipart object's ETag
  ends in ``-<parts>``; ``ChecksumType`` COMPOSITE marks a checksum of part checksums.
- Service Quotas ListServiceQuotas: "If the applied quota value is not available for a quota,
  the quota is not retrieved" — so the Region's quota list comes from ListAWSDefaultServiceQuotas
  and applied values override the defaults.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from drkit.commands.preflight.needs import SAGEMAKER_QUOTAS, ImageNeed, ModelDataNeed, RegionNeeds
from drkit.core.errors import DrkitError
from drkit.core.tiers import RegionRole

HASH_CHUNK_BYTES = 1024 * 1024
_MULTIPART_ETAG = re.compile(r'-\d+"?$')


class Status(str, Enum):
    """How one check came out; only FINDING fails the preflight."""

    OK = "ok"
    FINDING = "finding"
    NOTE = "note"


@dataclass(frozen=True)
class Finding:
    """One checked thing: what was needed, what AWS answered, and how to fix it."""

    check: str
    """account, image, model-data, instance-type or quota."""
    subject: str
    status: Status
    detail: str
    fix: str = ""


def _error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


# --- account ------------------------------------------------------------------------------------


def check_account(sts: Any, needs: RegionNeeds) -> list[Finding]:
    """The credentials must belong to the spec's account: the registry and buckets are its."""
    try:
        account = sts.get_caller_identity()["Account"]
    except ClientError as exc:
        code, message = _error(exc)
        raise DrkitError(f"preflight: AWS refused the credentials ({code}: {message}); nothing was checked") from None
    if account == needs.account_id:
        return [Finding("account", account, Status.OK, "credentials belong to the spec's account_id")]
    return [
        Finding(
            "account",
            account,
            Status.FINDING,
            f"credentials belong to account {account}, the spec's account_id is {needs.account_id}",
            f"use credentials for account {needs.account_id}",
        )
    ]


# --- deploy order: what the primary's stack must have created ----------------------------------


def check_primary_deployed(dynamodb: Any, needs: RegionNeeds) -> Finding:
    """A secondary deploys after the primary: its replica and StackReference need the primary's table."""
    subject = f"{needs.token_table} in {needs.primary_region}"
    fix = f"deploy {needs.deployment}-{needs.primary_region} first: `pulumi up` on the primary's stack"
    try:
        dynamodb.describe_table(TableName=needs.token_table)
    except ClientError as exc:
        code, message = _error(exc)
        if code == "ResourceNotFoundException":
            return Finding(
                "deploy-order", subject, Status.FINDING, "the primary's global table does not exist: its stack has not run", fix
            )
        return Finding(
            "deploy-order",
            subject,
            Status.FINDING,
            f"could not check: {code}: {message}",
            "grant dynamodb:DescribeTable on the table",
        )
    return Finding("deploy-order", subject, Status.OK, "the primary's stack has created the global table")


def replicated_repositories(registry: Mapping[str, Any], region: str, account_id: str, repositories: Iterable[str]) -> set[str]:
    """The repositories a registry's replication rules copy to (region, account_id).

    A rule matches a repository when one of its PREFIX_MATCH filters is a prefix of the name, or
    when it has no filters ("If no filters are added, the contents of all repositories are
    replicated", ECR API reference, RepositoryFilter).
    """
    covered: set[str] = set()
    for rule in (registry.get("replicationConfiguration") or {}).get("rules", []):
        if not any(d.get("region") == region and d.get("registryId") == account_id for d in rule.get("destinations", [])):
            continue
        filters = [f["filter"] for f in rule.get("repositoryFilters", []) if f.get("filterType") == "PREFIX_MATCH"]
        covered |= {r for r in repositories if not rule.get("repositoryFilters") or any(r.startswith(f) for f in filters)}
    return covered


def check_replication(ecr_primary: Any, needs: RegionNeeds) -> Finding:
    """Whether new pushes in the primary reach this region; the image check decides about today's image."""
    repositories = sorted({image.repository for image in needs.images})
    subject = f"{needs.primary_region} → {needs.region}"
    try:
        registry = ecr_primary.describe_registry()
    except ClientError as exc:
        code, message = _error(exc)
        return Finding(
            "replication", subject, Status.NOTE, f"could not read {needs.primary_region}'s registry: {code}: {message}"
        )
    missing = [
        r for r in repositories if r not in replicated_repositories(registry, needs.region, needs.account_id, repositories)
    ]
    if missing:
        return Finding(
            "replication",
            subject,
            Status.NOTE,
            f"{needs.primary_region}'s registry does not replicate {', '.join(missing)} to {needs.region}: later pushes will not arrive",
            f"`pulumi up` the primary's stack ({needs.deployment}-{needs.primary_region}), which owns the replication rule",
        )
    return Finding("replication", subject, Status.OK, f"new pushes of {', '.join(repositories)} replicate to {needs.region}")


# --- images -------------------------------------------------------------------------------------


def image_fix(needs: RegionNeeds, image: ImageNeed) -> str:
    """How to get a missing image into this region's registry, pinned by the same digest."""
    if needs.role is RegionRole.PRIMARY:
        return f"push the image to {image.uri.split('@')[0]} (the spec pins {image.digest})"
    source = image.uri.replace(f".{needs.region}.", f".{needs.primary_region}.")
    return (
        f"ECR replication copies only pushes made after the primary's stack created the rule: push the image "
        f"again in {needs.primary_region} (a new push, e.g. a new tag, replicates it), or copy it by digest, "
        f"e.g. `crane copy {source} {image.uri.split('@')[0]}`"
    )


def check_image(ecr: Any, needs: RegionNeeds, image: ImageNeed) -> Finding:
    subject = f"{image.repository}@{image.digest[:19]}…"
    try:
        details = ecr.describe_images(
            registryId=needs.account_id, repositoryName=image.repository, imageIds=[{"imageDigest": image.digest}]
        )["imageDetails"]
    except ClientError as exc:
        code, message = _error(exc)
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            what = "repository" if code == "RepositoryNotFoundException" else "image digest"
            return Finding(
                "image", subject, Status.FINDING, f"{what} not in {needs.region}'s registry ({code})", image_fix(needs, image)
            )
        return Finding(
            "image", subject, Status.FINDING, f"could not check: {code}: {message}", "grant ecr:DescribeImages on the repository"
        )
    status = next((d.get("imageStatus") for d in details if d.get("imageDigest") == image.digest), None) if details else None
    if not details:
        return Finding(
            "image", subject, Status.FINDING, f"image digest not in {needs.region}'s registry", image_fix(needs, image)
        )
    if status not in (None, "ACTIVE"):
        return Finding(
            "image",
            subject,
            Status.FINDING,
            f"image is {status}; SageMaker can pull only an ACTIVE image",
            f"restore it: aws ecr update-image-storage-class --region {needs.region} --repository-name {image.repository} "
            f"--image-id imageDigest={image.digest} --target-storage-class STANDARD",
        )
    return Finding("image", subject, Status.OK, f"in {needs.region}'s registry ({', '.join(image.models)})")


# --- model data ---------------------------------------------------------------------------------


def whole_object_sha256(head: Mapping[str, Any]) -> str | None:
    """The object's SHA-256 (hex) when S3 keeps one of the whole object, else None.

    A checksum is of the whole object only for a single-part upload made with SHA-256: a
    multipart object's ChecksumSHA256 is computed from its parts (ChecksumType COMPOSITE,
    a ``-<parts>`` suffix, an ETag ending ``-<parts>``), and then nothing short of reading
    the object gives its digest.
    """
    value = head.get("ChecksumSHA256")
    if not value or "-" in value or head.get("ChecksumType") == "COMPOSITE":
        return None
    if _MULTIPART_ETAG.search(str(head.get("ETag", ""))):
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == 32 else None


def stream_sha256(chunks: Iterable[bytes]) -> tuple[str, int]:
    """SHA-256 (hex) and byte count of a stream, one chunk in memory at a time."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def model_data_fix(needs: RegionNeeds, obj: ModelDataNeed) -> str:
    upload = (
        f"aws s3api put-object --region {needs.region} --bucket {obj.bucket} --key {obj.key} --body model.tar.gz "
        f"--checksum-algorithm SHA256 (one part, ≤ 5 GB: S3 then keeps its SHA-256 and preflight reads no data)"
    )
    if needs.role is RegionRole.PRIMARY:
        return f"upload the artifact whose SHA-256 is the spec's: {upload}"
    return f"copy the artifact from {needs.primary_region} into this region's own bucket: {upload}"


def check_model_data(s3: Any, needs: RegionNeeds, obj: ModelDataNeed) -> Finding:
    """Present, and its SHA-256 is the spec's: from S3's checksum when whole-object, else by reading it."""
    owner = {"ExpectedBucketOwner": needs.account_id}
    try:
        head = s3.head_object(Bucket=obj.bucket, Key=obj.key, ChecksumMode="ENABLED", **owner)
    except ClientError as exc:
        code, message = _error(exc)
        if code in ("404", "NoSuchKey", "NoSuchBucket"):
            first = (
                f"the bucket is created by {needs.stack}'s own stack: if it does not exist yet, create it first with a "
                f"targeted `pulumi up` (docs/deploying.md); then "
            )
            return Finding("model-data", obj.url, Status.FINDING, f"not found ({code})", first + model_data_fix(needs, obj))
        return Finding(
            "model-data",
            obj.url,
            Status.FINDING,
            f"could not check: {code or 'error'}: {message or 'access denied or bucket owned by another account'}",
            f"grant s3:GetObject on {obj.url} and kms:Decrypt on the bucket's key; S3 also answers 403 for a missing "
            f"object when the caller lacks s3:ListBucket on {obj.bucket}",
        )
    found = whole_object_sha256(head)
    how = "S3's whole-object SHA-256"
    if found is None:
        try:
            body = s3.get_object(Bucket=obj.bucket, Key=obj.key, **owner)["Body"]
            found, size = stream_sha256(body.iter_chunks(chunk_size=HASH_CHUNK_BYTES))
        except ClientError as exc:
            code, message = _error(exc)
            return Finding(
                "model-data",
                obj.url,
                Status.FINDING,
                f"present, but S3 keeps no whole-object SHA-256 and reading it failed: {code}: {message}",
                f"grant s3:GetObject on {obj.url} and kms:Decrypt on the bucket's key to the caller",
            )
        how = f"read and hashed {size:,} bytes (no whole-object SHA-256 kept)"
    if found != obj.sha256:
        return Finding(
            "model-data",
            obj.url,
            Status.FINDING,
            f"SHA-256 {found} ({how}) is not the spec's {obj.sha256}",
            model_data_fix(needs, obj),
        )
    return Finding("model-data", obj.url, Status.OK, f"SHA-256 matches the spec ({how})")


# --- instance types and quotas ------------------------------------------------------------------


def _all_quotas(paginate: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    quotas: dict[str, dict[str, Any]] = {}
    for page in paginate(ServiceCode=SAGEMAKER_QUOTAS):
        for quota in page.get("Quotas", []):
            quotas[quota["QuotaName"]] = quota
    return quotas


def judge_quotas(
    needs: RegionNeeds, defaults: Mapping[str, Mapping[str, Any]], applied: Mapping[str, Mapping[str, Any]]
) -> list[Finding]:
    """Each needed quota against the Region's list: offered at all, and enough for the stack's ceiling."""
    findings: list[Finding] = []
    for need in needs.quotas:
        quota = applied.get(need.quota_name) or defaults.get(need.quota_name)
        uses = "; ".join(need.why)
        if quota is None:
            if need.instance_type is None:
                findings.append(
                    Finding(
                        "quota",
                        need.quota_name,
                        Status.NOTE,
                        f"not listed by Service Quotas in {needs.region}; check it by hand (needs {need.needed}: {uses})",
                    )
                )
                continue
            findings.append(
                Finding(
                    "instance-type",
                    need.instance_type,
                    Status.FINDING,
                    f"not offered in {needs.region}: Service Quotas lists no {need.quota_name!r} quota there "
                    f"(SageMaker has no offered-types API; the quota list is the Region's own answer)",
                    "choose an instance type offered in every region of the deployment",
                )
            )
            continue
        value = float(quota.get("Value", 0))
        source = "applied" if need.quota_name in applied else "default"
        code = quota.get("QuotaCode", "")
        increase = (
            f"aws service-quotas request-service-quota-increase --region {needs.region} --service-code {SAGEMAKER_QUOTAS} "
            f"--quota-code {code} --desired-value {{}}"
        )
        if value < need.needed:
            findings.append(
                Finding(
                    "quota",
                    need.quota_name,
                    Status.FINDING,
                    f"{source} quota {value:g} < {need.needed} the stack may run ({uses}); the account's other endpoints share it",
                    increase.format(need.needed),
                )
            )
        elif need.blue_green and value < 2 * need.needed:
            findings.append(
                Finding(
                    "quota",
                    need.quota_name,
                    Status.NOTE,
                    f"{source} quota {value:g} ≥ {need.needed} ({uses}), but a blue/green update at that scale runs "
                    f"both fleets: {2 * need.needed}",
                    increase.format(2 * need.needed),
                )
            )
        else:
            findings.append(Finding("quota", need.quota_name, Status.OK, f"{source} quota {value:g} ≥ {need.needed} ({uses})"))
    return findings


def check_quotas(quotas_client: Any, needs: RegionNeeds) -> list[Finding]:
    try:
        defaults = _all_quotas(quotas_client.get_paginator("list_aws_default_service_quotas").paginate)
        applied = _all_quotas(quotas_client.get_paginator("list_service_quotas").paginate)
    except ClientError as exc:
        code, message = _error(exc)
        return [
            Finding(
                "quota",
                SAGEMAKER_QUOTAS,
                Status.FINDING,
                f"could not list SageMaker quotas in {needs.region}: {code}: {message}",
                "grant servicequotas:ListAWSDefaultServiceQuotas and servicequotas:ListServiceQuotas",
            )
        ]
    return judge_quotas(needs, defaults, applied)


# --- all of it ----------------------------------------------------------------------------------


def run_checks(clients: Callable[[str, str], Any], needs: RegionNeeds) -> list[Finding]:
    """Every check for one region; `clients(service, region)` returns a boto3 client."""
    region = needs.region
    findings = check_account(clients("sts", region), needs)
    if needs.role is RegionRole.SECONDARY:
        findings.append(check_primary_deployed(clients("dynamodb", needs.primary_region), needs))
        findings.append(check_replication(clients("ecr", needs.primary_region), needs))
    ecr = clients("ecr", region)
    findings += [check_image(ecr, needs, image) for image in needs.images]
    s3 = clients("s3", region)
    findings += [check_model_data(s3, needs, obj) for obj in needs.model_data]
    if needs.quotas:
        findings += check_quotas(clients("service-quotas", region), needs)
    return findings
