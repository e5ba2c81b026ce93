"""`drkit check`'s engine: run the real policy pack over each regional stack's offline graph."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import drkit.policies
from drkit.commands.check.analyzer import Diagnostic, PolicyInfo, PolicyPackProcess, load_policy_config, reconcile_config
from drkit.core.spec import DeploymentSpec
from drkit.engine.graph import RegionGraph, Resource

DEFAULT_PACK_DIR = Path(drkit.policies.__file__).resolve().parent


@dataclass(frozen=True)
class Finding:
    """A violation, placed in its stack and resource."""

    policy: str
    level: str  # advisory | mandatory
    message: str
    stack: str
    region: str
    urn: str
    resource_name: str
    resource_type: str
    model: str | None
    spec_path: str = ""  # the spec whose stack it is in, when a check covers several


@dataclass(frozen=True)
class CheckResult:
    """Everything one `drkit check` found, for every format to render."""

    spec_path: str
    deployment: str
    pack_name: str
    pack_version: str
    policies: tuple[PolicyInfo, ...]
    levels: dict[str, str]
    stacks: tuple[str, ...]
    resources_checked: int
    findings: tuple[Finding, ...] = field(default=())

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "mandatory"]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "advisory"]

    @property
    def exit_code(self) -> int:
        return 1 if self.mandatory else 0


def _finding(graph: RegionGraph, diagnostic: Diagnostic, by_urn: dict[str, Resource]) -> Finding:
    resource = by_urn.get(diagnostic.urn)
    return Finding(
        policy=diagnostic.policy,
        level=diagnostic.enforcement_level,
        message=diagnostic.message,
        stack=graph.stack,
        region=graph.region,
        urn=diagnostic.urn,
        resource_name=resource.name if resource else "",
        resource_type=resource.type if resource else "",
        model=(resource.tags.get("Model") if resource else None),
    )


@dataclass(frozen=True)
class StackChecks:
    """What the pack said about the stacks it was given."""

    pack_name: str
    pack_version: str
    policies: list[PolicyInfo]
    levels: dict[str, str]
    graphs: list[RegionGraph]
    findings: list[Finding]


def _configure(pack: PolicyPackProcess, config: dict, config_source: str) -> tuple[str, str, list[PolicyInfo], dict[str, str]]:
    name, version, infos = pack.info()
    reconciled = reconcile_config(infos, config, config_source)
    pack.configure(reconciled)
    return name, version, infos, {k: level for k, (level, _) in reconciled.items()}


def check_stacks(
    pack: PolicyPackProcess, graphs: Iterable[RegionGraph], *, config: dict, config_source: str = "policy config"
) -> StackChecks:
    """Configure the running pack once, then analyze each stack as `pulumi preview` would.

    The pack's work runs in one worker thread, in order: connecting and configuring while the
    first stack is captured, then each stack's analysis while the next is captured (`graphs`
    may be lazy, as `capture_regions` is). A config the pack refuses stops the capture after the first stack.
    """
    pack.hold()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyze") as worker:
        setup = worker.submit(_configure, pack, config, config_source)
        jobs = []
        for graph in graphs:
            # Waits for Configure once, while the first stack is in hand: the pack is configured long
            # before a capture ends, and a config it refuses stops the capture after one stack.
            if setup.exception() is not None:
                break
            jobs.append((graph, worker.submit(pack.analyze_stack, graph)))
        name, version, infos, levels = setup.result()
        findings: list[Finding] = []
        for graph, job in jobs:
            by_urn = {r.urn: r for r in graph.resources}
            findings += [_finding(graph, d, by_urn) for d in job.result()]
    return StackChecks(name, version, infos, levels, [g for g, _ in jobs], findings)


def run_check(
    spec: DeploymentSpec,
    graphs: Iterable[RegionGraph],
    *,
    spec_path: str,
    pack_dir: str | Path = DEFAULT_PACK_DIR,
    config_path: str | Path | None = None,
    pack: PolicyPackProcess | None = None,
) -> CheckResult:
    """Check the given stacks (a `DeploymentGraph`, or `capture_regions` to overlap capture and
    analysis) with the pack in `pack_dir`. The config is read before anything is captured."""
    config = load_policy_config(config_path)
    own = pack is None
    running = pack or PolicyPackProcess(pack_dir)
    try:
        checked = check_stacks(running, graphs, config=config, config_source=str(config_path or "policy config"))
    finally:
        if own:
            running.close()
    return CheckResult(
        spec_path=spec_path,
        deployment=spec.deployment,
        pack_name=checked.pack_name,
        pack_version=checked.pack_version,
        policies=tuple(checked.policies),
        levels=checked.levels,
        stacks=tuple(g.stack for g in checked.graphs),
        resources_checked=sum(len(g.custom_resources) for g in checked.graphs),
        findings=tuple(dataclasses.replace(f, spec_path=spec_path) for f in checked.findings),
    )


def combine(results: Sequence[CheckResult], findings: Sequence[Finding], policies: Sequence[PolicyInfo]) -> CheckResult:
    """One result for several specs' checks plus checks across them (`policies`, all mandatory)."""
    first = results[0]
    deployments = list(dict.fromkeys(r.deployment for r in results))
    levels = {k: v for r in results for k, v in r.levels.items()} | {p.name: p.enforcement_level for p in policies}
    return CheckResult(
        spec_path=first.spec_path if len(results) == 1 else ", ".join(r.spec_path for r in results),
        deployment=", ".join(deployments),
        pack_name=first.pack_name,
        pack_version=first.pack_version,
        policies=(*first.policies, *policies),
        levels=levels,
        stacks=tuple(s for r in results for s in r.stacks),
        resources_checked=sum(r.resources_checked for r in results),
        findings=tuple(f for r in results for f in r.findings) + tuple(findings),
    )
