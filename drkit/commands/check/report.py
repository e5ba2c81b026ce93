"""Renderings of a `CheckResult`: terminal table, JSON, SARIF 2.1.0 and a markdown PR comment."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from drkit.commands.check.run import CheckResult, Finding

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}


def check_json(result: CheckResult) -> dict[str, Any]:
    return {
        "deployment": result.deployment,
        "spec": result.spec_path,
        "policy_pack": {"name": result.pack_name, "version": result.pack_version},
        "stacks": list(result.stacks),
        "resources_checked": result.resources_checked,
        "policies": [{"name": p.name, "level": result.levels.get(p.name, p.enforcement_level)} for p in result.policies],
        "mandatory": len(result.mandatory),
        "advisory": len(result.advisory),
        "passed": result.exit_code == 0,
        "findings": [
            {
                "policy": f.policy,
                "level": f.level,
                "stack": f.stack,
                "region": f.region,
                "resource": f.resource_name or None,
                "type": f.resource_type or None,
                "urn": f.urn or None,
                "spec": f.spec_path or result.spec_path,
                "message": f.message,
            }
            for f in result.findings
        ],
    }


def _spec_line(spec_path: str, finding: Finding) -> int:
    """The spec line a finding is about: its model's entry when it has one, else line 1."""
    try:
        lines = Path(spec_path).read_text().splitlines()
    except OSError:
        return 1
    if finding.model and finding.model != "shared":
        pattern = re.compile(rf"^\s*-?\s*name:\s*['\"]?{re.escape(finding.model)}['\"]?\s*$")
        for number, line in enumerate(lines, start=1):
            if pattern.match(line):
                return number
    return 1


def _fingerprint(finding: Finding) -> str:
    return hashlib.sha256(f"{finding.policy}|{finding.stack}|{finding.urn}|{finding.message}".encode()).hexdigest()[:32]


def check_sarif(result: CheckResult) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning: one rule per policy, results located in the spec."""
    rules = [
        {
            "id": p.name,
            "name": "".join(part.capitalize() for part in p.name.split("-")),
            "shortDescription": {"text": p.description},
            "fullDescription": {"text": p.description},
            "defaultConfiguration": {"level": SARIF_LEVEL.get(result.levels.get(p.name, p.enforcement_level), "note")},
            "properties": {"tags": ["drkit", "stack" if p.stack_policy else "resource"]},
        }
        for p in result.policies
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for finding in result.findings:
        logical = {"name": finding.resource_name or finding.stack, "kind": "resource" if finding.urn else "module"}
        if finding.urn:
            logical["fullyQualifiedName"] = finding.urn
        results.append(
            {
                "ruleId": finding.policy,
                "ruleIndex": index[finding.policy],
                "level": SARIF_LEVEL.get(finding.level, "note"),
                "message": {"text": f"[{finding.stack}] {finding.message}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": Path(finding.spec_path or result.spec_path).as_posix()},
                            "region": {"startLine": _spec_line(finding.spec_path or result.spec_path, finding)},
                        },
                        "logicalLocations": [logical],
                    }
                ],
                "partialFingerprints": {"drkitFinding/v1": _fingerprint(finding)},
                "properties": {"stack": finding.stack, "region": finding.region},
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "drkit-check",
                        "semanticVersion": result.pack_version,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"drkit-check/{result.deployment}/"},
                "results": results,
            }
        ],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def check_markdown(result: CheckResult) -> str:
    """A PR comment: verdict first, then one row per finding."""
    verdict = "❌ **blocked**" if result.exit_code else "✅ **passed**"
    lines = [
        f"### drkit check: `{result.deployment}` {verdict}",
        "",
        f"{len(result.policies)} policies of `{result.pack_name}` v{result.pack_version} over {len(result.stacks)} stacks "
        f"({result.resources_checked} resources): **{len(result.mandatory)} mandatory**, {len(result.advisory)} advisory.",
        "",
    ]
    if result.findings:
        lines += ["| level | policy | stack | resource | finding |", "|---|---|---|---|---|"]
        for f in sorted(result.findings, key=lambda f: (f.level != "mandatory", f.policy, f.stack)):
            lines.append(f"| {f.level} | `{f.policy}` | {f.stack} | {_cell(f.resource_name or '-')} | {_cell(f.message)} |")
    else:
        lines.append("No violations.")
    return "\n".join(lines) + "\n"


def print_table(result: CheckResult, console: Console) -> None:
    if result.findings:
        table = Table(title=f"drkit check: {result.deployment}", show_lines=True)
        for column in ("level", "policy", "stack", "resource", "finding"):
            table.add_column(column, overflow="fold")
        for f in sorted(result.findings, key=lambda f: (f.level != "mandatory", f.policy, f.stack)):
            style = "red" if f.level == "mandatory" else "yellow"
            table.add_row(f"[{style}]{f.level}[/]", f.policy, f.stack, f.resource_name or "-", f.message)
        console.print(table)
    status = "[red]FAILED[/]" if result.exit_code else "[green]passed[/]"
    console.print(
        f"{status}: {len(result.policies)} policies over {len(result.stacks)} stacks ({result.resources_checked} resources): "
        f"{len(result.mandatory)} mandatory, {len(result.advisory)} advisory"
    )
