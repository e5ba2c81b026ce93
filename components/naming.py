"""Physical names and tags shared by every component."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

TAG_KEYS = ("InferenceType", "DRTier", "Model", "CostCenter", "Deployment")


def physical_name(*parts: str, limit: int = 63) -> str:
    """Join parts with '-', shortening with a stable hash suffix to fit AWS name limits."""
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


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
