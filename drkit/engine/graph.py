"""The offline resource graph: what one regional stack would register, captured under mocks.

This is the single input that `drkit check` (policies), `drkit cost` and `drkit drill`
read. It is built by running the real Pulumi program (`drkit.stacks.program.build_region`)
under `pulumi.runtime.set_mocks`, with a monitor that records every registration the
way the Pulumi engine receives it:

- ``Resource.type`` is the Pulumi type token (``aws:dynamodb/table:Table``);
- ``Resource.inputs`` are the resolved input properties with the engine's camelCase
  keys (``billingMode``, ``pointInTimeRecovery``) — exactly what a CrossGuard policy
  sees in ``args.props``;
- ``Resource.outputs`` are inputs plus what the mocks return (``arn``, ``id``, ...);
- ``Resource.region`` is the region of the explicit provider the resource was created
  with (``None`` for components, which create nothing in AWS);
- resource options that policies care about are kept: ``parent``, ``protect``,
  ``ignore_changes``, ``dependencies``, ``retain_on_delete``.

A `DeploymentGraph` holds one `RegionGraph` per region; the primary is captured
first and its stack outputs feed the secondaries' `StackReference`, as `pulumi up`
does in a real account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from drkit.core.spec import DeploymentSpec
from drkit.core.tiers import RegionRole, Tier


@dataclass(frozen=True)
class Resource:
    """One registered resource (custom or component) in a regional stack."""

    urn: str
    type: str
    name: str
    id: str
    custom: bool
    region: str | None
    parent: str | None
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    retain_on_delete: bool = False
    """Pulumi leaves the cloud resource in place when it deletes or replaces it (shared with other stacks)."""
    dependencies: tuple[str, ...] = ()

    @property
    def tags(self) -> Mapping[str, str]:
        return self.inputs.get("tags") or {}

    def get(self, key: str, default: Any = None) -> Any:
        """An input property, falling back to the mocked output of the same name."""
        if key in self.inputs:
            return self.inputs[key]
        return self.outputs.get(key, default)


@dataclass(frozen=True)
class RegionGraph:
    """Everything one regional stack (one `pulumi up`) registers."""

    deployment: str
    stack: str
    region: str
    role: RegionRole
    tier: Tier
    resources: tuple[Resource, ...]
    exports: Mapping[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, *types: str) -> list[Resource]:
        """Resources whose type token is one of `types`, in registration order."""
        return [r for r in self.resources if r.type in types]

    def by_urn(self, urn: str) -> Resource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def children(self, parent_urn: str) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent_urn]

    @property
    def custom_resources(self) -> list[Resource]:
        return [r for r in self.resources if r.custom and not r.type.startswith("pulumi:")]


@dataclass(frozen=True)
class DeploymentGraph:
    """All regional stacks of one deployment, primary first."""

    spec: DeploymentSpec
    regions: Mapping[str, RegionGraph]

    def __iter__(self) -> Iterator[RegionGraph]:
        return iter(self.regions.values())

    def __getitem__(self, region: str) -> RegionGraph:
        return self.regions[region]

    @property
    def primary(self) -> RegionGraph:
        return self.regions[self.spec.primary_region]

    @property
    def resource_count(self) -> int:
        return sum(len(g.custom_resources) for g in self)
