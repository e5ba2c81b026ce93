"""Every policy of the pack, from each rule module's `POLICIES`; names must be unique."""

from __future__ import annotations

import importlib

from pulumi_policy import Policy

PACK_NAME = "drkit"
RULE_MODULES = (
    "drkit.policies.cost_rules",
    "drkit.policies.dr_rules",
    "drkit.policies.security_rules",
    "drkit.policies.posture_rules",
    "drkit.policies.recovery_rules",
    "drkit.policies.iam_rules",
    "drkit.policies.deploy_rules",
)


def all_policies() -> list[Policy]:
    policies: list[Policy] = []
    seen: dict[str, str] = {}
    for module_name in RULE_MODULES:
        for policy in importlib.import_module(module_name).POLICIES:
            if policy.name in seen:
                raise ValueError(f"policy {policy.name!r} is defined in both {seen[policy.name]} and {module_name}")
            seen[policy.name] = module_name
            policies.append(policy)
    return policies
