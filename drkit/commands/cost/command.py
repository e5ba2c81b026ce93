"""`drkit cost SPEC [--usage PROFILE] [--json]`: the monthly bill per region, model and inference type."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from drkit.commands.console import make_console, status, write_stdout
from drkit.core.pricing import PRICES_AS_OF
from drkit.core.spec import load_spec
from drkit.core.usage import load_usage
from drkit.engine.capture import capture
from drkit.engine.cost import DeploymentCost, deployment_cost


def cost_json(cost: DeploymentCost) -> dict[str, Any]:
    return {
        "deployment": cost.deployment,
        "tier": cost.tier,
        "prices_as_of": PRICES_AS_OF,
        "usage_given": cost.usage_given,
        "total_usd": round(cost.total_usd, 2),
        "complete": cost.complete,
        "not_priced": cost.notes(),
        "fair_baseline_usd": round(cost.baseline_total_usd, 2),
        "ratio_to_fair_baseline": round(cost.ratio_to_baseline, 4),
        "fair_baseline_by_region": {k: round(v.total_usd, 2) for k, v in cost.baseline_regions.items()},
        "ceiling_always_on_usd": round(cost.ceiling_always_on_usd, 2),
        "traffic_share_by_region": {k: {"share": round(e.traffic_share, 4), "basis": e.share_basis} for k, e in cost.regions.items()},
        "by_region": {k: round(v, 2) for k, v in cost.breakdown(lambda line: line.region or "global").items()},
        "by_model": {k: round(v, 2) for k, v in cost.breakdown(lambda line: line.model).items()},
        "by_inference_type": {k: round(v, 2) for k, v in cost.breakdown(lambda line: line.inference_type).items()},
        "lines": [
            {
                "resource": line.resource,
                "region": line.region,
                "model": line.model,
                "inference_type": line.inference_type,
                "description": line.description,
                "quantity": round(line.quantity, 4),
                "unit": line.unit,
                "unit_price_usd": line.unit_price_usd,
                "monthly_usd": round(line.monthly_usd, 4),
                "gap": line.gap or None,
                "price_sourced": line.sourced,
            }
            for estimate in cost.regions.values()
            for line in estimate.lines
        ],
    }


def _table(title: str, rows: dict[str, float], total: float) -> Table:
    table = Table(title=title)
    table.add_column("")
    table.add_column("USD / month", justify="right")
    table.add_column("share", justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:,.2f}", f"{value / total:.0%}" if total else "-")
    return table


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    usage_path = args.usage
    if usage_path is None:
        default = Path(args.spec).parent / "usage" / Path(args.spec).name
        usage_path = default if default.exists() else None
    usage = load_usage(usage_path) if usage_path else None
    with status(f"capturing and pricing {spec.deployment}'s stacks"):
        cost = deployment_cost(capture(spec), usage)
    # What the bill buys: the spec's RPO (0 under strong consistency, which DynamoDB bills as replicated writes).
    recovery = {"consistency": spec.consistency, "rpo_seconds": spec.rpo_seconds, "rto_seconds": spec.rto_seconds}
    if args.json:
        write_stdout(json.dumps({**cost_json(cost), **recovery}, indent=2))
        return 0
    console = make_console()
    incomplete = "" if cost.complete else " [bold yellow](incomplete: priced part only)[/]"
    console.print(
        f"[bold]{spec.deployment}[/] tier {int(spec.tier)}: [bold]${cost.total_usd:,.2f}[/]/month{incomplete}, "
        f"{cost.ratio_to_baseline:.0%} of the fair baseline (${cost.baseline_total_usd:,.2f}: always-on active-active, each region "
        f"sized for the peak hour); every model at its autoscaling ceiling always on would be ${cost.ceiling_always_on_usd:,.2f}. "
        f"Prices as of {PRICES_AS_OF}; usage: {usage_path or 'none'}; "
        f"target RTO {spec.rto_seconds} s, RPO {spec.rpo_seconds:g} s ({spec.consistency} consistency)"
    )
    for note in cost.notes():
        console.print(f"[yellow]{note}[/]")
    total = cost.total_usd
    console.print(_table("by region", cost.breakdown(lambda line: line.region or "global"), total))
    console.print(_table("by model", cost.breakdown(lambda line: line.model), total))
    console.print(_table("by InferenceType", cost.breakdown(lambda line: line.inference_type), total))
    if args.lines:
        lines = Table(title="lines (quantity × unit price)")
        for column in ("region", "resource", "description", "quantity", "unit", "unit price", "USD/month"):
            lines.add_column(column, justify="right" if column in ("quantity", "unit price", "USD/month") else "left")
        for region, estimate in cost.regions.items():
            for line in sorted(estimate.lines, key=lambda item: -item.monthly_usd):
                price = f"{line.unit_price_usd:.8g}" + ("" if line.sourced else " (unsourced)") if line.unit_price_usd is not None else "GAP"
                lines.add_row(region, line.resource, line.description, f"{line.quantity:,.2f}", line.unit, price, f"{line.monthly_usd:,.2f}")
        console.print(lines)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cost", help="Monthly cost by region, model and InferenceType, against the fair baseline.")
    parser.add_argument("spec", help="Deployment spec (YAML).")
    parser.add_argument("--usage", help="Usage profile (YAML). Default: usage/<spec name> beside the spec, if present.")
    parser.add_argument("--lines", action="store_true", help="Every priced line, quantity × unit price.")
    parser.add_argument("--json", action="store_true", help="Machine-readable estimate.")
    parser.set_defaults(func=run)
