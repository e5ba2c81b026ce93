"""`drkit drill run SPEC --scenario S [--backend sim|aws]` and `drkit drill recover`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from drkit.commands.arguments import int_between, number_between
from drkit.commands.console import note, write_stdout
from drkit.commands.drill.backends import Backend, BackendName
from drkit.commands.drill.engine import STEPS, DrillArgs, DrillRunner, drill_plan, recover
from drkit.commands.drill.journal import Journal
from drkit.commands.drill.probe import FrontDoorProbe, probe_from_env
from drkit.commands.drill.scenarios import AWS_CALLS, Scenario, aws_call, injection
from drkit.commands.drill.topology import Topology, topology_of
from drkit.commands.drill.traffic import SimSettings
from drkit.core.errors import DrillSafetyError, UsageError

DEFAULT_WORKDIR = Path(".drkit/drill")


def _topology(spec_path: str) -> Topology:
    from drkit.core.spec import load_spec
    from drkit.engine.capture import capture

    return topology_of(capture(load_spec(spec_path)))


def make_backend(name: BackendName, workdir: Path, topo: Topology | None, *, execute: bool = False) -> Backend:
    if name is BackendName.SIM:
        from drkit.commands.drill.backends.sim import SimBackend

        return SimBackend(workdir, topo)
    from drkit.commands.drill.backends.aws import AwsBackend

    if topo is None:
        raise DrillSafetyError("the aws backend needs the deployment spec to find its resources")
    return AwsBackend(topo, execute=execute)


def register(subparsers: Any) -> None:
    drill = subparsers.add_parser("drill", help="run a failover drill, or put back an interrupted one")
    sub = drill.add_subparsers(dest="drill_command", required=True, metavar="ACTION")
    run_p = sub.add_parser("run", help="run a scripted failover drill and report measured RTO/RPO")
    run_p.add_argument("spec", help="deployment spec (YAML)")
    run_p.add_argument("--scenario", required=True, choices=[s.value for s in Scenario], help="what the drill breaks (required)")
    run_p.add_argument(
        "--backend", default=BackendName.SIM.value, choices=[b.value for b in BackendName],
        help="sim: moto plus drkit's fidelity layer, offline; aws: a real account (default: sim)",
    )  # fmt: skip
    run_p.add_argument("--execute", action="store_true", help="aws backend: make the changes (default: print the plan)")
    run_p.add_argument(
        "--workdir", type=Path, default=DEFAULT_WORKDIR, help=f"journal, sim account, report (default: {DEFAULT_WORKDIR})"
    )
    defaults = SimSettings()
    run_p.add_argument(
        "--in-flight", type=int_between(0, 100_000), default=defaults.in_flight, help=f"sim: requests in flight at the injection (default: {defaults.in_flight})"
    )
    run_p.add_argument(
        "--replication-lag", type=number_between(0, 86_400), default=defaults.replication_lag_seconds,
        help=f"sim: global-table replication lag in seconds (default: {defaults.replication_lag_seconds:g})",
    )  # fmt: skip
    run_p.add_argument("--seed", type=int_between(0, 2**32 - 1), default=defaults.seed, help=f"sim: random seed (default: {defaults.seed})")
    run_p.add_argument(
        "--max-duration", type=number_between(1, 7 * 86_400), default=4 * 3600.0, help="stop and roll back after this many seconds (default: 14400)"
    )
    run_p.add_argument("--json", action="store_true", help="print the JSON report on stdout (default: the markdown report)")
    run_p.add_argument(
        "--probe-key-env", metavar="NAME",
        help="aws backend: environment variable holding a team key; send synthetic requests through the front door",
    )  # fmt: skip
    run_p.add_argument(
        "--probe-payloads", type=Path, metavar="FILE",
        help="aws backend, with --probe-key-env: JSON object mapping each model to a payload it accepts",
    )  # fmt: skip
    run_p.add_argument(
        "--plan", action="store_true",
        help="print what the aws backend would change and put back, worked out offline (no credentials, no AWS call)",
    )  # fmt: skip
    run_p.add_argument("--crash-after", choices=STEPS, help=argparse.SUPPRESS)
    run_p.set_defaults(func=run)
    rec = sub.add_parser("recover", help="put back everything an interrupted drill changed (idempotent)")
    rec.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help=f"the interrupted drill's work directory (default: {DEFAULT_WORKDIR})")
    rec.add_argument("--execute", action="store_true", help="aws backend: make the changes (default: print the plan)")
    rec.set_defaults(func=run_recover)


def _probe(args: argparse.Namespace, topo: Topology, backend: BackendName) -> FrontDoorProbe | None:
    """The synthetic-traffic probe the flags ask for; refuses half a configuration before anything runs."""
    if args.probe_key_env is None and args.probe_payloads is None:
        return None
    if backend is not BackendName.AWS:
        raise DrillSafetyError(
            "--probe-key-env/--probe-payloads: the sim backend always sends traffic through its routers; use them with --backend aws"
        )
    if args.probe_key_env is None or args.probe_payloads is None:
        raise DrillSafetyError("--probe-key-env and --probe-payloads go together: a team key and an input each model accepts")
    return probe_from_env(
        record_name=topo.record_name, classes=[c for c, _, _ in topo.traffic_classes], models=topo.models,
        key_env=args.probe_key_env, payload_file=args.probe_payloads,
    )  # fmt: skip


def offline_plan(topo: Topology, scenario: Scenario, probe: FrontDoorProbe | None, interval: float) -> list[str]:
    """What `--backend aws` would do, worked out from the spec alone: no credentials, no AWS call."""
    actions = injection(scenario, topo)
    lines = [f"preflight: find the health checks tagged for {topo.deployment} (route53.list_health_checks, list_tags_for_resources)"]
    lines += drill_plan(actions, probe, interval)
    for action in actions:
        if action.kind not in AWS_CALLS:
            raise UsageError(f"--scenario: {scenario.value} runs on the sim backend only; the aws backend plays health-check-failover and fis-*")
        # Ids exist only in the account; offline the plan names what the backend looks them up by.
        names = {
            "check": f"<check tagged for {action.target}>",
            "template": f"<template {topo.deployment}-{action.target}>",
            "experiment": "<its running experiment>",
            "region": action.region,
        }
        lines.append(f"inject call: {aws_call(action.kind, action.value, **names)}")
        lines.append(f"restore call: {aws_call(action.kind, not action.value, **names)}")
    return lines


def run(args: argparse.Namespace) -> int:
    topo = _topology(args.spec)
    backend_name = BackendName(args.backend)
    probe = _probe(args, topo, backend_name)
    if args.plan:
        plan = offline_plan(topo, Scenario(args.scenario), probe, DrillArgs.probe_interval_seconds)
        write_stdout(json.dumps({"deployment": topo.deployment, "scenario": args.scenario, "plan": plan}, indent=2) if args.json else "\n".join(plan))
        return 0
    settings = SimSettings(seed=args.seed, in_flight=args.in_flight, replication_lag_seconds=args.replication_lag)
    drill_args = DrillArgs(
        scenario=Scenario(args.scenario), workdir=args.workdir, backend=backend_name, execute=args.execute,
        settings=settings, max_virtual_seconds=args.max_duration, crash_after=args.crash_after,
        spec_path=str(Path(args.spec).resolve()), probe=probe,
    )  # fmt: skip
    backend = make_backend(backend_name, args.workdir, topo, execute=args.execute)
    try:
        note(f"drill {args.scenario} on {topo.deployment} ({backend_name.value})")
        result = DrillRunner(topo, drill_args, backend).run()
    finally:
        backend.close()
    if result.measurement is None:
        return 0
    from drkit.commands.drill.report import load

    data = load(args.workdir / "report")
    if args.json:
        write_stdout(json.dumps(data, indent=2))
    else:
        write_stdout((args.workdir / "report" / "report.md").read_text(encoding="utf-8"))
        note("report: " + ", ".join(str(p) for p in result.report_files))
    for problem in result.problems:
        note(f"drkit: drill failed: {problem}")
    return 0 if result.verified else 1


def run_recover(args: argparse.Namespace) -> int:
    journal = Journal(args.workdir)
    with journal.lock("drkit drill recover"):  # not beside a live drill, even for a dry run
        return _recover_locked(args, journal)


def _recover_locked(args: argparse.Namespace, journal: Journal) -> int:
    records = journal.open_drill()
    if not records:
        note(f"{args.workdir}: no unfinished drill; nothing to recover")
        return 0
    begin = next((r for r in records if r["kind"] == "begin"), records[0])
    name = BackendName(begin.get("backend", "sim"))
    topo = _topology(begin["spec"]) if name is BackendName.AWS else None
    if name is BackendName.AWS and not args.execute:
        intents = [r["action"] for r in records if r["kind"] == "intent" and r["step"] == "inject"]
        for action in intents:
            note(f"[dry-run] would set {action['kind']} on {action['target']} back to its snapshot value")
        note("[dry-run] nothing was changed; pass --execute to recover")
        return 0
    backend = make_backend(name, args.workdir, topo, execute=True)
    try:
        done = recover(args.workdir, backend, journal=journal)
    finally:
        backend.close()
    note(f"recovered drill {records[0]['drill']}: " + "; ".join(done))
    return 0
