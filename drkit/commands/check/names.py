"""The cross-deployment check: no two stacks may create a name AWS keeps unique per account or globally.

A policy pack sees one stack at a time, so this runs after the pack, over every stack `drkit
check` was given (one deployment's regions, or several deployments' specs). Which names are
unique, and where, is `drkit.core.aws_limits.RESOURCE_APIS`' `unique` entries: S3 buckets
globally; IAM roles, ARC plans and dashboards per account; functions, state machines, endpoints,
tables, topics, log groups... per account and region; DNS records per zone, name, type and set id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drkit.commands.check.analyzer import PolicyInfo
from drkit.commands.check.run import Finding
from drkit.core import aws_limits as al
from drkit.engine.graph import RegionGraph, Resource

POLICY = PolicyInfo(
    name="unique-names-across-deployments",
    description="Checks whether no two stacks (of one deployment or several) create a name AWS keeps unique per account, region or globally.",
    enforcement_level="mandatory",
    config_schema={},
    stack_policy=True,
)


@dataclass(frozen=True)
class CheckedStack:
    """One captured stack, with the account it deploys into and the spec it came from."""

    account_id: str
    graph: RegionGraph
    spec_path: str


def _key(account_id: str, region: str, resource: Resource) -> tuple[str, ...] | None:
    """Where the resource's name must be unique, and the name; None when it has none or it is unknown."""
    api = al.api_for(resource.type)
    if not isinstance(api, al.Api) or api.unique is None:
        return None
    values = []
    for prop in api.unique.props:
        value = resource.inputs.get(prop)
        if value is None or al.is_unknown(value):
            return None
        values.append(str(value))
    scope = {al.Scope.GLOBAL: (), al.Scope.ACCOUNT: (account_id,), al.Scope.REGION: (account_id, region)}[api.unique.scope]
    return (resource.type, api.unique.scope.value, *scope, *values)


def _scope_text(scope: al.Scope, account_id: str, region: str) -> str:
    return {
        al.Scope.GLOBAL: "every AWS account",
        al.Scope.ACCOUNT: f"account {account_id}",
        al.Scope.REGION: f"account {account_id} in {region}",
    }[scope]


def name_collisions(stacks: Iterable[CheckedStack]) -> list[Finding]:
    """One mandatory finding per extra creator of a name some other stack (or resource) already creates."""
    owners: dict[tuple[str, ...], tuple[CheckedStack, Resource]] = {}
    findings: list[Finding] = []
    for stack in stacks:
        for resource in stack.graph.custom_resources:
            key = _key(stack.account_id, stack.graph.region, resource)
            if key is None:
                continue
            if key not in owners:
                owners[key] = (stack, resource)
                continue
            first_stack, first = owners[key]
            api = al.api_for(resource.type)
            assert isinstance(api, al.Api) and api.unique is not None
            name = "/".join(str(resource.inputs.get(p)) for p in api.unique.props)
            findings.append(
                Finding(
                    policy=POLICY.name,
                    level=POLICY.enforcement_level,
                    message=(
                        f"{resource.name} ({resource.type}) creates {name!r}, which {first_stack.graph.stack} already creates "
                        f"({first.name}); the name must be unique in {_scope_text(api.unique.scope, stack.account_id, stack.graph.region)}, so the second "
                        "`pulumi up` fails. Give the deployments different names (or model-data bucket prefixes)."
                    ),
                    stack=stack.graph.stack,
                    region=stack.graph.region,
                    urn=resource.urn,
                    resource_name=resource.name,
                    resource_type=resource.type,
                    model=resource.tags.get("Model"),
                    spec_path=stack.spec_path,
                )
            )
    return findings
