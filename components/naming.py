"""Physical names and tags shared by every component."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from drkit.core.errors import ComponentValidationError

TAG_KEYS = ("InferenceType", "DRTier", "Model", "CostCenter", "Deployment")


def physical_name(*parts: str, limit: int = 63) -> str:
    """Join parts with '-', shortening with a stable hash suffix to fit AWS name limits."""
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def s3_bucket_name(*parts: str, account_id: str, region: str) -> str:
    """A bucket drkit creates: `parts`, then the deploying account and the region, as AWS CDK names
    its bootstrap bucket (cdk-<qualifier>-assets-<account>-<region>).

    S3 bucket names are unique across every AWS account, so a name made only of the deployment and
    region collides when the same spec deploys to a second account (staging and prod). A name too
    long for S3 keeps its uniqueness through physical_name's digest of the full name.
    """
    if not re.fullmatch(r"[0-9]{12}", account_id):
        raise ComponentValidationError(f"bucket {physical_name(*parts)}: account_id {account_id!r} is not a 12-digit AWS account id")
    return physical_name(*parts, account_id, region)


def content_hash(*values: object, length: int = 8) -> str:
    """Short digest of whatever defines a resource's content, for names that must change with it."""
    return hashlib.sha256(repr(values).encode()).hexdigest()[:length]


def standard_tags(
    *,
    deployment: str,
    tier: int,
    cost_center: str,
    inference_type: str,
    model: str = "shared",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The five cost/DR tags every taggable resource carries, plus the spec's extra tags."""
    tags = dict(extra or {})
    tags.update(
        {
            "InferenceType": inference_type,
            "DRTier": str(int(tier)),
            "Model": model,
            "CostCenter": cost_center,
            "Deployment": deployment,
        }
    )
    return tags


def with_inference_type(tags: Mapping[str, str], inference_type: str, model: str | None = None) -> dict[str, str]:
    """A copy of `tags` for a resource of a given inference type (and model)."""
    out = dict(tags)
    out["InferenceType"] = inference_type
    if model is not None:
        out["Model"] = model
    return out
