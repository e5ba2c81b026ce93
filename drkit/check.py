"""`drkit check`'s engine: run the real policy pack over each regional stack's offline graph."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import policies
from drkit.analyzer import Diagnostic, PolicyInfo, PolicyPackProcess, load_policy_config, reconcile_config
from drkit.graph import DeploymentGraph, RegionGraph, Resource

DEFAULT_PACK_DIR = Path(policies.__file__).resolve().parent


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


def check_stacks(
    pack: PolicyPackProcess, graphs: Iterable[RegionGraph], *, config: dict, config_source: str = "policy config"
) -> tuple[str, str, list[PolicyInfo], dict[str, str], list[Finding]]:
    """Configure the running pack once, then analyze each stack as `pulumi preview` would."""
    name, version, infos = pack.info()
    reconciled = reconcile_config(infos, config, config_source)
    pack.configure(reconciled)
    findings: list[Finding] = []
    for graph in graphs:
        by_urn = {r.urn: r for r in graph.resources}
        findings += [_finding(graph, d, by_urn) for d in pack.analyze_stack(graph)]
    return name, version, infos, {k: level for k, (level, _) in reconciled.items()}, findings


def run_check(
    graph: DeploymentGraph,
    *,
    spec_path: str,
    regions: list[str] | None = None,
    pack_dir: str | Path = DEFAULT_PACK_DIR,
    config_path: str | Path | None = None,
    pack: PolicyPackProcess | None = None,
) -> CheckResult:
    """Check the given regions' stacks (default: all) with the pack in `pack_dir`."""
    config = load_policy_config(config_path)
    selected = [graph[r] for r in (regions or list(graph.regions))]
    own = pack is None
    running = pack or PolicyPackProcess(pack_dir)
    try:
        name, version, infos, levels, findings = check_stacks(
            running, selected, config=config, config_source=str(config_path or "policy config")
        )
    finally:
        if own:
            running.close()
    return CheckResult(
        spec_path=spec_path,
        deployment=graph.spec.deployment,
        pack_name=name,
        pack_version=version,
        policies=tuple(infos),
        levels=levels,
        stacks=tuple(g.stack for g in selected),
        resources_checked=sum(len(g.custom_resources) for g in selected),
        findings=tuple(findings),
    )
