"""A small IAM policy evaluator: what our policies use, for calls inside one account.

No maintained Python library evaluates one request against identity and resource policies
offline (policyuniverse parses, policy_sentry writes, cloudsplaining audits), so this covers
what drkit writes, following the IAM user guide's "Policy evaluation logic" (same account):

- an explicit Deny in any applicable policy wins;
- otherwise an Allow in the principal's identity policies or in the resource's policy allows,
  except for KMS, where the key policy must allow the principal itself or the account
  (`arn:aws:iam::ACCOUNT:root`), and only then do identity policies count;
- a service principal (`sns.amazonaws.com`) has no identity policy: only the resource's allows;
- Action/NotAction, Resource/NotResource with `*`/`?` wildcards; Principal as `*`, AWS ARNs or
  Service names; conditions StringEquals/StringLike/ArnEquals/ArnLike (and their Not… and
  …IfExists forms), each key's values OR-ed, keys and operators AND-ed.

Not modelled (docs/access.md): permissions boundaries, SCPs/RCPs, session policies, grants,
cross-account calls, policy variables, and condition operators we never write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drkit.core.values import as_list, statements
from drkit.engine.arn_glob import matches


@dataclass(frozen=True)
class Policy:
    """A named policy document (its name is how a denial points at what lacks the grant)."""

    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Request:
    principal: str  # a role ARN, or a service principal such as "sns.amazonaws.com"
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def evaluate(request: Request, identity: Sequence[Policy], resource: Sequence[Policy], *, account: str, key_policy: bool = False) -> Decision:
    """Whether AWS would allow `request`, given the principal's identity policies and the resource's policies."""
    for policy in (*identity, *resource):
        for statement in statements(policy.document):
            if statement.get("Effect") == "Deny" and _applies(statement, request, resource_side=policy in resource):
                return Decision(False, f"explicitly denied by {policy.name} ({statement.get('Sid', 'no Sid')})")
    resource_allows = [p.name for p in resource if _allows(p, request, resource_side=True, account=None)]
    identity_allows = [p.name for p in identity if _allows(p, request, resource_side=False, account=None)]
    if key_policy:
        account_root = f"arn:aws:iam::{account}:root"
        delegated = any(_allows(p, request, resource_side=True, account=account_root) for p in resource)
        if resource_allows:
            return Decision(True, f"allowed by key policy {resource_allows[0]}")
        if delegated and identity_allows:
            return Decision(True, f"allowed by {identity_allows[0]} (the key policy delegates to the account)")
        return Decision(False, "neither the key policy nor (with the key policy delegating to the account) an identity policy allows it")
    if resource_allows:
        return Decision(True, f"allowed by {resource_allows[0]}")
    if identity_allows:
        return Decision(True, f"allowed by {identity_allows[0]}")
    return Decision(False, "no statement allows it")


def _allows(policy: Policy, request: Request, *, resource_side: bool, account: str | None) -> bool:
    probe = request if account is None else Request(account, request.action, request.resource, request.context)
    return any(s.get("Effect") == "Allow" and _applies(s, probe, resource_side=resource_side) for s in statements(policy.document))


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)]


def _applies(statement: Mapping[str, Any], request: Request, *, resource_side: bool) -> bool:
    if "NotAction" in statement:
        if any(matches(a, request.action, ignore_case=True) for a in _strings(statement["NotAction"])):
            return False
    elif not any(matches(a, request.action, ignore_case=True) for a in _strings(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(matches(r, request.resource) for r in _strings(statement["NotResource"])):
            return False
    elif not any(matches(r, request.resource) for r in _strings(statement.get("Resource"))):
        return False
    if resource_side and not _principal_matches(statement.get("Principal"), request.principal):
        return False
    return _conditions_hold(statement.get("Condition") or {}, request.context)


def _principal_matches(principal: Any, who: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for kind, values in principal.items():
        for value in _strings(values):
            if value == "*" or value == who:
                return True
            if kind == "AWS" and value.isdigit() and who == f"arn:aws:iam::{value}:root":
                return True
    return False


_OPERATORS = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": lambda pattern, value: matches(pattern, value),
    "ArnEquals": lambda pattern, value: pattern == value,
    "ArnLike": lambda pattern, value: matches(pattern, value),
}


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    context = {key.lower(): value for key, value in context.items()}  # condition key names are case-insensitive
    for operator, pairs in conditions.items():
        if_exists = operator.endswith("IfExists")
        name = operator.removesuffix("IfExists")
        negated = name.startswith("StringNot") or name.startswith("ArnNot")
        base = name.replace("Not", "", 1) if negated else name
        test = _OPERATORS.get(base)
        if test is None:
            return False  # an operator we do not model never matches: no Allow (nor Deny) rests on it
        for key, patterns in pairs.items():
            value = context.get(key.lower())
            if value is None:
                if if_exists or negated:
                    continue
                return False
            hit = any(test(p, value) for p in _strings(patterns))
            if hit == negated:
                return False
    return True
