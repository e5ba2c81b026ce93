"""`drkit preview`: the offline resource graph of each regional stack, as a tree or JSON."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from rich.console import Console
from rich.tree import Tree

from drkit.capture import capture
from drkit.graph import DeploymentGraph, RegionGraph, Resource
from drkit.spec import load_spec

# The properties a reviewer looks at first, per type token (camelCase, as the engine sees them).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "aws:sagemaker/endpoint:Endpoint": ("name", "endpointConfigName"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("name", "productionVariants"),
    "aws:sagemaker/model:Model": ("name", "primaryContainer.image"),
    "aws:appautoscaling/target:Target": ("minCapacity", "maxCapacity"),
    "aws:appautoscaling/scheduledAction:ScheduledAction": ("schedule", "timezone", "scalableTargetAction"),
    "aws:appautoscaling/policy:Policy": ("policyType",),
    "aws:dynamodb/table:Table": ("name", "billingMode", "streamViewType", "pointInTimeRecovery.enabled", "deletionProtectionEnabled"),
    "aws:dynamodb/tableReplica:TableReplica": ("globalTableArn", "pointInTimeRecovery", "deletionProtectionEnabled"),
    "aws:route53/healthCheck:HealthCheck": ("fqdn", "resourcePath", "requestInterval", "failureThreshold"),
    "aws:route53/record:Record": ("name", "type", "ttl", "setIdentifier", "failoverRoutingPolicies", "latencyRoutingPolicies"),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:kms/key:Key": ("enableKeyRotation",),
    "aws:sns/topic:Topic": ("name",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "metricName", "threshold"),
    "aws:iam/role:Role": ("name",),
}


def _lookup(props: Any, dotted: str) -> Any:
    value = props
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _summarise(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0]
    if isinstance(value, dict):
        inner = ", ".join(f"{k}={_summarise(v)}" for k, v in value.items() if not isinstance(v, dict | list) and k != "modelName")
        return "{" + inner + "}"
    return str(value)


def key_properties(resource: Resource) -> dict[str, Any]:
    """The reviewer-facing properties of one resource (empty for components)."""
    out = {}
    for prop in KEY_PROPERTIES.get(resource.type, ()):
        value = _lookup(dict(resource.inputs), prop)
        if value is not None:
            out[prop] = value
    return out


def resource_json(resource: Resource) -> dict[str, Any]:
    return {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "id": resource.id,
        "custom": resource.custom,
        "region": resource.region,
        "parent": resource.parent,
        "protect": resource.protect,
        "ignoreChanges": list(resource.ignore_changes),
        "inputs": resource.inputs,
    }


def region_json(graph: RegionGraph) -> dict[str, Any]:
    return {
        "stack": graph.stack,
        "region": graph.region,
        "role": graph.role.value,
        "tier": int(graph.tier),
        "summary": summary(graph),
        "exports": graph.exports,
        "resources": [resource_json(r) for r in graph.resources],
    }


def summary(graph: RegionGraph) -> dict[str, Any]:
    counts = Counter(r.type for r in graph.custom_resources)
    return {"resources": len(graph.custom_resources), "by_type": dict(sorted(counts.items()))}


def _tree(graph: RegionGraph) -> Tree:
    root = Tree(f"[bold]{graph.stack}[/] ({graph.role.value}, tier {int(graph.tier)}, {len(graph.custom_resources)} resources)")
    nodes: dict[str | None, Tree] = {}
    for resource in graph.resources:
        if resource.type == "pulumi:providers:aws":
            continue
        parent = nodes.get(resource.parent, root)
        props = key_properties(resource)
        detail = "  ".join(f"[dim]{k}[/]={_summarise(v)}" for k, v in props.items())
        style = "cyan" if not resource.custom else "white"
        nodes[resource.urn] = parent.add(f"[{style}]{resource.type}[/] [bold]{resource.name}[/]  {detail}".rstrip())
    return root


def render(deployment: DeploymentGraph, console: Console) -> None:
    for graph in deployment:
        console.print(_tree(graph))
        console.print()
    console.print("[bold]Summary[/]")
    for graph in deployment:
        s = summary(graph)
        top = ", ".join(f"{n} {t.split(':')[-1]}" for t, n in sorted(s["by_type"].items(), key=lambda kv: -kv[1])[:6])
        console.print(f"  {graph.stack:<40} {graph.role.value:<9} {s['resources']:>4} resources  ({top}, ...)")
    console.print(f"  {'total':<40} {'':<9} {deployment.resource_count:>4} resources")


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    regions = None if args.all_regions or not args.region else [spec.require_region(args.region)]
    graph = capture(spec, regions)
    if args.json:
        print(json.dumps({"deployment": spec.deployment, "regions": [region_json(g) for g in graph]}, indent=2, default=str))
    else:
        render(graph, Console(soft_wrap=False, width=args.width))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("preview", help="Build each regional stack under Pulumi mocks and print its resources.")
    parser.add_argument("spec", help="Deployment spec (YAML).")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", help="Only this region's stack.")
    where.add_argument("--all-regions", action="store_true", help="Every region (the default).")
    parser.add_argument("--json", action="store_true", help="Machine-readable graph.")
    parser.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
