"""Declaring a policy of the pack: its kind, name, what it checks, its validator, level and settings.

Every rule module ends with a `POLICIES` table of these. A policy is mandatory unless it says
otherwise (only rules that save money without touching recovery are advisory); one that reads
settings declares them as JSON-schema properties, which Pulumi checks the policy config against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ResourceValidationPolicy, StackValidationPolicy

# StackValidationPolicy judges the whole stack at once, ResourceValidationPolicy one resource at a time.
Kind = TypeVar("Kind", StackValidationPolicy, ResourceValidationPolicy)
Settings = Mapping[str, dict[str, Any]]


def declare(
    kind: type[Kind],
    name: str,
    description: str,
    validate: Callable[..., None],
    *,
    level: EnforcementLevel = EnforcementLevel.MANDATORY,
    settings: Settings | None = None,
) -> Kind:
    schema = None if settings is None else PolicyConfigSchema(properties=dict(settings))
    return kind(name=name, description=description, enforcement_level=level, validate=validate, config_schema=schema)


def setting(kind: str, *, default: Any, description: str, **constraints: Any) -> dict[str, Any]:
    """One property of a policy's config schema: its JSON type, constraints (`minimum`, `items`, ...), default and description."""
    return {"type": kind, **constraints, "default": default, "description": description}


def keyed(values: dict[str, Any], description: str) -> dict[str, Any]:
    """A setting that maps names (stacks, deployments, models) to values of schema `values`; none by default."""
    return setting("object", additionalProperties=values, default={}, description=description)
