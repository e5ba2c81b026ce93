"""`drkit check SPEC [SPEC ...] [--region R | --all-regions] [--format table|json|sarif|markdown]`.

Runs the real CrossGuard pack in `policies/` over the offline graph of each regional stack of
each spec, as `pulumi preview --policy-pack policies` would, then checks across all of them that
no two stacks create a name AWS keeps unique per account or globally (a pack sees one stack at a
time, so that check is drkit's own). Exit code 1 on any mandatory violation, 0 otherwise
(advisory findings are warnings).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from drkit.commands.arguments import aws_region
from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.names import POLICY, CheckedStack, name_collisions
from drkit.commands.check.report import check_json, check_markdown, check_sarif, print_table
from drkit.commands.check.run import DEFAULT_PACK_DIR, CheckResult, combine, run_check
from drkit.commands.console import make_console, note, status, write_stdout
from drkit.core.spec import DeploymentSpec, load_spec
from drkit.engine.capture import capture_regions
from drkit.engine.graph import RegionGraph

FORMATS = ("table", "json", "sarif", "markdown")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run the CrossGuard policy pack offline against each regional stack of one or more specs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", nargs="+", help="deployment spec(s) (YAML); several are also checked against each other")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", action="append", type=aws_region(), help="check only this region's stack (repeatable)")
    where.add_argument("--all-regions", action="store_true", help="check every region's stack (the default)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--output", "-o", help="write the report to this file instead of stdout")
    parser.add_argument(
        "--policy-pack", default=str(DEFAULT_PACK_DIR), help="policy pack directory (default: drkit's policies/)"
    )
    parser.add_argument(
        "--policy-pack-config",
        help="policy config JSON, as `pulumi preview --policy-pack-config` takes (default: none, the policies' defaults)",
    )
    parser.set_defaults(func=run)


def _kept(graphs: Iterator[RegionGraph], spec: DeploymentSpec, path: str, into: list[CheckedStack]) -> Iterator[RegionGraph]:
    """Pass the graphs through to the pack, keeping each for the cross-deployment check."""
    for graph in graphs:
        into.append(CheckedStack(spec.account_id, graph, path))
        yield graph


def check_specs(
    paths: list[str], *, regions: list[str] | None, pack_dir: str, config_path: str | None
) -> CheckResult:
    """The pack over every stack of every spec, then the names across all of them.

    The pack starts first: it boots while the specs are read, analyzes each resource as soon as
    the capture registers it, and each stack as a whole once it is captured.
    """
    with PolicyPackProcess(pack_dir) as pack:
        specs = [(path, load_spec(path)) for path in paths]  # every spec is valid before anything is captured
        for _, spec in specs:
            for region in regions or ():
                spec.require_region(region, "--region")
        checked: list[CheckedStack] = []
        deployments = ", ".join(dict.fromkeys(spec.deployment for _, spec in specs))
        with status(f"checking {deployments}'s stacks with the policy pack"):
            results = [
                run_check(
                    spec,
                    _kept(capture_regions(spec, regions, on_resource=pack.analyze), spec, path, checked),
                    spec_path=path,
                    config_path=config_path,
                    pack=pack,
                )
                for path, spec in specs
            ]
    return combine(results, name_collisions(checked), [POLICY])


def run(args: argparse.Namespace) -> int:
    result = check_specs(args.spec, regions=args.region, pack_dir=args.policy_pack, config_path=args.policy_pack_config)
    if args.format == "table":
        print_table(result, make_console())
        return result.exit_code
    if args.format == "markdown":
        text = check_markdown(result)
    else:
        text = json.dumps(check_sarif(result) if args.format == "sarif" else check_json(result), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text)
        note(f"{len(result.mandatory)} mandatory, {len(result.advisory)} advisory; {args.format} written to {args.output}")
    else:
        write_stdout(text)
    return result.exit_code
