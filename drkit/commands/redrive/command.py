"""`drkit redrive --from-region R --to-region S --deployment-spec SPEC [--execute] [--json]`.

Dry run by default: it reads the surviving region's replica of the token table and reports
what it would redrive. With ``--execute`` it claims and starts every unfinished request of
the lost region in the surviving region's workflow (see `drkit.core.redrive`), and is safe to
run again or by two operators at once.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from drkit.commands.arguments import aws_region, int_between
from drkit.commands.console import make_console, write_stdout
from drkit.core.redrive import RedriveError, RedriveReport, StepFunctionsStarter, redrive
from drkit.core.tokens import HOME_REGION_INDEX, UNFINISHED, Status, TokenStore

STATE_MACHINE_ARN = re.compile(r"^arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$")


def validate_workflow_arn(arn: str | None, surviving_region: str) -> str:
    """The surviving region's own workflow: a redrive into another region's workflow is not DR."""
    if not arn:
        raise RedriveError("--workflow-arn: required with --execute; give the surviving region's state machine ARN")
    match = STATE_MACHINE_ARN.match(arn)
    if match is None:
        raise RedriveError(f"--workflow-arn: {arn!r} is not a Step Functions state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)")
    if match["region"] != surviving_region:
        raise RedriveError(f"--workflow-arn: {arn!r} is in {match['region']}; it must be the workflow in --to-region {surviving_region}")
    return arn


def default_workflow_arn(spec: Any, region: str) -> str:
    """The deployment's InferenceWorkflow in `region`: its name is fixed by the spec."""
    from drkit.components.workflow import state_machine_name

    return f"arn:aws:states:{region}:{spec.account_id}:stateMachine:{state_machine_name(spec.deployment)}"


def validate_regions(regions: tuple[str, ...], lost: str, surviving: str) -> None:
    for flag, region in (("--from-region", lost), ("--to-region", surviving)):
        if region not in regions:
            raise RedriveError(f"{flag}: {region!r} is not a region of this deployment; valid: {', '.join(regions)}")
    if lost == surviving:
        raise RedriveError(f"--to-region: {surviving!r} is also --from-region; redrive into a surviving region")


def current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown-operator"


def report_table(report: RedriveReport, table_name: str) -> Table:
    mode = "dry run: nothing written (add --execute)" if report.dry_run else "executed"
    table = Table(title=f"redrive {report.lost_region} -> {report.surviving_region} on {table_name}: {mode}")
    table.add_column("")
    table.add_column("requests", justify="right")
    table.add_column("meaning")
    table.add_row("found", str(report.found), "unfinished in the lost region, or claimed from it and maybe not started")
    table.add_row("expired", str(report.expired), "TTL passed; never redriven")
    if report.dry_run:
        table.add_row("would redrive", str(report.found - report.expired), "")
        return table
    table.add_row("claimed", str(report.claimed), "claimed by this run (status REDRIVEN, attempt + 1)")
    table.add_row("started", str(report.started), "new executions started by this run")
    table.add_row("already done", str(report.already_done), "claimed or started by another run")
    table.add_row("errors", str(report.errors), "left REDRIVEN: rerun to start them" if report.errors else "")
    return table


def redrive_plan(table_name: str, lost: str, surviving: str, workflow_arn: str | None) -> list[str]:
    """What a run would do, from the spec alone (`--plan`: no credentials, no AWS call)."""
    statuses = " and ".join(s.value for s in UNFINISHED)
    lines = [
        f"read: dynamodb.query on {table_name} in {surviving}, index {HOME_REGION_INDEX}: home_region = {lost}, status {statuses}; "
        f"then status {Status.REDRIVEN.value} claimed by an earlier run into {surviving}",
        "skip: items whose TTL has passed (never redriven)",
    ]
    if workflow_arn is None:
        return [*lines, "dry run: nothing is written (add --execute to claim and start)"]
    return [
        *lines,
        f"claim: dynamodb.update_item on {table_name}, conditional on the attempt read: status {Status.REDRIVEN.value}, attempt + 1",
        f"start: states.start_execution on {workflow_arn}, named after the request and its attempt (a rerun starts nothing twice)",
        "order: high-priority teams first, then normal, then low",
    ]


def run(args: argparse.Namespace) -> int:
    from drkit.core.spec import load_spec
    from drkit.stacks.plan import token_table_name

    spec = load_spec(args.deployment_spec)
    validate_regions(spec.regions, args.from_region, args.to_region)
    table_name = token_table_name(spec)
    dry_run = not args.execute
    workflow_arn = None if dry_run else validate_workflow_arn(args.workflow_arn or default_workflow_arn(spec, args.to_region), args.to_region)
    if args.plan:
        plan = redrive_plan(table_name, args.from_region, args.to_region, workflow_arn)
        write_stdout(json.dumps({"table": table_name, "plan": plan}, indent=2) if args.json else "\n".join(plan))
        return 0

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
    store = TokenStore(table_name, boto3.client("dynamodb", region_name=args.to_region))
    sfn = boto3.client("stepfunctions", region_name=args.to_region)
    starter = StepFunctionsStarter(sfn, workflow_arn or "")
    console = make_console()
    with Progress(
        TextColumn("redriving"), BarColumn(), MofNCompleteColumn(), console=console, transient=True, disable=args.json or dry_run
    ) as progress:
        task = progress.add_task("redrive", total=None)
        try:
            report = redrive(
                args.from_region,
                args.to_region,
                store,
                starter,
                operator=args.operator or current_user(),
                dry_run=dry_run,
                workers=args.workers,
                on_progress=lambda _request_id, _outcome: progress.advance(task),
            )
        except (BotoCoreError, ClientError) as exc:
            # No credentials, no table in that region, no permission: say where, without a traceback.
            raise RedriveError(f"redrive on table {table_name} in {args.to_region}: {exc}") from None
    if args.json:
        write_stdout(json.dumps({"table": table_name, **report.as_dict()}, indent=2))
    else:
        console.print(report_table(report, table_name))
        for request_id, message in sorted(report.error_messages.items())[:20]:
            console.print(f"  {request_id}: {message}")
    return 1 if report.errors else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("redrive", help="Start a lost region's unfinished requests in a surviving region, exactly once.")
    parser.add_argument("--from-region", required=True, type=aws_region(), help="The lost region.")
    parser.add_argument("--to-region", required=True, type=aws_region(), help="The surviving region that redrives them.")
    parser.add_argument("--deployment-spec", required=True, help="Deployment spec (YAML); names the token table.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="execute", action="store_false", help="Report only (default).")
    mode.add_argument("--execute", dest="execute", action="store_true", help="Claim and start the requests.")
    parser.set_defaults(execute=False)
    parser.add_argument("--workflow-arn", help="The surviving region's state machine ARN. Default: the deployment's InferenceWorkflow there.")
    parser.add_argument("--operator", help="Recorded on each claimed item. Default: the current user.")
    parser.add_argument("--workers", type=int_between(1, 64), default=8, help="Parallel claims/starts. Default: 8.")
    parser.add_argument("--plan", action="store_true", help="Print what this run would do, offline (no credentials, no AWS call).")
    parser.add_argument("--json", action="store_true", help="Print the report (or --plan) as JSON on stdout. Default: a table.")
    parser.set_defaults(func=run)
