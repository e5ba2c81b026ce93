"""`drkit preview`: the offline resource graph of each regional stack, as a tree or JSON."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from drkit.commands.arguments import aws_region, int_between
from drkit.commands.console import make_console, status, write_stdout
from drkit.core.rto import is_probing_check, record_role, worst_case_rto
from drkit.core.spec import load_spec
from drkit.engine.capture import capture
from drkit.engine.graph import DeploymentGraph, RegionGraph, Resource

# Summary cells stay narrow enough for 80 columns.
SHORT_MODE = {"provisioned": "realtime", "serverless": "serverless", "async": "async"}

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
        "retainOnDelete": resource.retain_on_delete,
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


def _capacity(graph: RegionGraph) -> str:
    """Endpoints as `model mode min..max`, read from the scalable targets and configurations."""
    targets = {str(t.inputs.get("resourceId", "")).split("/")[1]: t for t in graph.of_type("aws:appautoscaling/target:Target")}
    parts = []
    for endpoint in graph.of_type("aws:sagemaker/endpoint:Endpoint"):
        name = str(endpoint.inputs.get("name"))
        tags = endpoint.tags
        target = targets.get(name)
        size = f" {_summarise(target.inputs['minCapacity'])}..{_summarise(target.inputs['maxCapacity'])}" if target else ""
        parts.append(f"{tags.get('Model')} {SHORT_MODE.get(str(tags.get('InferenceType')), tags.get('InferenceType'))}{size}")
    return "\n".join(parts)


def _dns(graph: RegionGraph) -> str:
    records = [r for r in graph.of_type("aws:route53/record:Record") if record_role(r.inputs)]
    checks = [c for c in graph.of_type("aws:route53/healthCheck:HealthCheck") if is_probing_check(c.inputs)]
    if not records:
        return "-"
    record = records[0].inputs
    role = record_role(record)
    check = f"\ncheck {_summarise(checks[0].inputs.get('requestInterval'))} s x {_summarise(checks[0].inputs.get('failureThreshold'))}" if checks else ""
    ttl = f"TTL {_summarise(record['ttl'])} s" if record.get("ttl") is not None else "alias"
    routing = "latency" if str(role).lower() == "latency" else "failover"
    return f"{routing} {ttl}{check}"


def summary_table(deployment: DeploymentGraph) -> Table:
    """One row per regional stack; fits an 80-column terminal without truncating a cell."""
    spec = deployment.spec
    table = Table(
        title=f"{spec.deployment}: tier {int(spec.tier)}, target RTO {spec.rto_seconds} s, RPO {spec.rpo_seconds:g} s",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("region", "res.", "endpoints (min..max)", "DNS record", "RTO"):
        # Only the endpoint list may wrap: model names are the one cell of unbounded width.
        table.add_column(column, justify="right" if column in ("res.", "RTO") else "left", no_wrap=column != "endpoints (min..max)")
    for graph in deployment:
        bound = worst_case_rto((r.type, r.inputs) for r in graph.custom_resources)
        table.add_row(
            f"{graph.region}\n{graph.role.value}", str(len(graph.custom_resources)), _capacity(graph), _dns(graph), f"{bound.total_seconds:.0f} s"
        )
    return table


def render(deployment: DeploymentGraph, console: Console, *, tree: bool = True) -> None:
    if tree:
        for graph in deployment:
            console.print(_tree(graph))
            console.print()
    console.print(summary_table(deployment))


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    regions = None if args.all_regions or not args.region else [spec.require_region(args.region)]
    with status(f"capturing {spec.deployment}'s stacks under Pulumi mocks"):
        graph = capture(spec, regions)
    if args.json:
        write_stdout(json.dumps({"deployment": spec.deployment, "regions": [region_json(g) for g in graph]}, indent=2, default=str))
    else:
        render(graph, make_console(args.width), tree=args.tree)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preview", help="Build each regional stack under Pulumi mocks and summarise it (--tree: every resource)."
    )
    parser.add_argument("spec", help="Deployment spec (YAML), relative to the current directory.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", type=aws_region(), help="Only this region's stack. Default: every region.")
    where.add_argument("--all-regions", action="store_true", help="Every region (the default).")
    parser.add_argument("--json", action="store_true", help="Print the whole graph as JSON on stdout. Default: the summary table.")
    parser.add_argument("--tree", action="store_true", help="Print each stack's resource tree before the summary. Default: summary only.")
    parser.add_argument("--width", type=int_between(20, 1000), default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
