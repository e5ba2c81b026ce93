"""`drkit preflight SPEC --region R [--plan] [--json]`: what one region's `pulumi up` needs, checked in AWS.

Read-only, one region, with the default boto3 credential chain (``AWS_PROFILE`` and friends):
the model images by digest in the region's ECR registry, each model artifact in the region's
bucket with the spec's SHA-256, the instance types offered in the region and the quotas for
what the stack may run. ``--plan`` needs no credentials and prints the calls it would make.

Exit codes: 0 every check passed, 1 at least one finding, 2 bad input (spec, region, credentials).
The table (or with ``--json`` the report alone) goes to stdout; the verdict line to stderr.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from botocore.exceptions import BotoCoreError
from rich.table import Table

from drkit.commands.arguments import aws_region
from drkit.commands.console import make_console, note, write_stdout
from drkit.commands.preflight.checks import Finding, Status, run_checks
from drkit.commands.preflight.needs import PlannedCall, RegionNeeds, planned_calls, region_needs
from drkit.core.errors import DrkitError
from drkit.core.spec import load_spec

STYLE = {Status.OK: "green", Status.FINDING: "bold red", Status.NOTE: "yellow"}


def _calls_json(calls: Sequence[PlannedCall]) -> list[dict[str, Any]]:
    return [asdict(c) for c in calls]


def report_json(needs: RegionNeeds, findings: Sequence[Finding]) -> dict[str, Any]:
    return {
        "deployment": needs.deployment,
        "stack": needs.stack,
        "region": needs.region,
        "role": needs.role.value,
        "ok": not any(f.status is Status.FINDING for f in findings),
        "findings": [{**asdict(f), "status": f.status.value} for f in findings],
    }


def _plan_table(needs: RegionNeeds, calls: Sequence[PlannedCall]) -> Table:
    table = Table(title=f"preflight plan for {needs.stack} ({needs.role.value}): read-only calls")
    for column in ("service", "operation", "region", "parameters", "why"):
        table.add_column(column, overflow="fold")
    for call in calls:
        why = f"{call.why} — {call.conditional}" if call.conditional else call.why
        table.add_row(call.service, call.operation, call.region, json.dumps(call.params, sort_keys=True), why)
    return table


def _quota_table(needs: RegionNeeds) -> Table:
    table = Table(title=f"quotas {needs.stack} may use at its ceiling (compared with the Region's Service Quotas)")
    for column in ("quota", "needed", "from"):
        table.add_column(column, overflow="fold")
    for need in needs.quotas:
        table.add_row(need.quota_name, str(need.needed), "; ".join(need.why))
    return table


def _findings_table(needs: RegionNeeds, findings: Sequence[Finding]) -> Table:
    table = Table(title=f"preflight {needs.stack} ({needs.role.value}) in {needs.region}")
    for column in ("check", "subject", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        table.add_row(
            finding.check, finding.subject, f"[{STYLE[finding.status]}]{finding.status.value}[/]", finding.detail, finding.fix
        )
    return table


def default_clients(region: str) -> Callable[[str, str], Any]:
    """`clients(service, region)` from the default credential chain; a clear error when there is none."""
    import boto3

    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise DrkitError(
            "preflight: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); "
            "use --plan to see the calls without credentials"
        )
    return lambda service, where: session.client(service, region_name=where)  # type: ignore[call-overload]


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    needs = region_needs(spec, args.region)
    if args.plan:
        calls = planned_calls(needs)
        if args.json:
            quotas = [asdict(q) for q in needs.quotas]
            write_stdout(
                json.dumps(
                    {"stack": needs.stack, "region": needs.region, "calls": _calls_json(calls), "quotas": quotas}, indent=2
                )
            )
        else:
            console = make_console()
            console.print(_plan_table(needs, calls))
            console.print(_quota_table(needs))
        return 0
    try:
        findings = run_checks(default_clients(args.region), needs)
    except BotoCoreError as exc:  # no credentials after all, no network, an unknown endpoint
        raise DrkitError(f"preflight: {exc}; nothing was checked") from None
    if args.json:
        write_stdout(json.dumps(report_json(needs, findings), indent=2))
    else:
        make_console().print(_findings_table(needs, findings))
    failed = sum(f.status is Status.FINDING for f in findings)
    if failed:
        note(f"{failed} finding(s): {needs.stack}'s `pulumi up` would fail or deploy something broken")
        return 1
    note(f"ready: everything {needs.stack}'s `pulumi up` reads is in place")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="Check in AWS (read-only) that a region has what its `pulumi up` needs: images, model data, instance types, quotas.",
    )
    parser.add_argument("spec", help="Deployment spec (YAML).")
    parser.add_argument("--region", required=True, type=aws_region(), help="The region whose stack is about to be deployed.")
    parser.add_argument(
        "--plan", action="store_true", help="Print the read-only calls it would make; needs no credentials. Default: off."
    )
    parser.add_argument(
        "--json", action="store_true", help="Findings (or with --plan, the calls) as JSON on stdout. Default: a table."
    )
    parser.set_defaults(func=run)
