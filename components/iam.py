"""Least-privilege IAM documents: statements are built from concrete ARNs, never `*`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Statement:
    """One Allow statement. Actions and resources must be concrete (no bare `*`)."""

    sid: str
    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]
    condition: Mapping[str, Any] = field(default_factory=dict)
    """IAM Condition block, for resources whose ARNs carry generated ids. Default: none."""


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def write_logs(log_group_arn: pulumi.Input[str]) -> Statement:
    """What a Lambda needs to write its own log group's streams (the group itself is created by its stack)."""
    return Statement("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [pulumi.Output.concat(log_group_arn, ":*")])


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A JSON policy document; ARNs may be Outputs."""
    for statement in statements:
        if any(a == "*" or a.endswith(":*") for a in statement.actions):
            raise ValueError(f"statement {statement.sid}: wildcard action in {list(statement.actions)}")
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": s.sid,
                    "Effect": "Allow",
                    "Action": sorted(s.actions),
                    "Resource": list(s.resources),
                    **({"Condition": dict(s.condition)} if s.condition else {}),
                }
                for s in statements
            ],
        }
    )


def service_role(
    name: str,
    *,
    role_name: str,
    service: str,
    statements: Sequence[Statement],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role one AWS service assumes, with exactly `statements` as its inline policy."""
    role = aws.iam.Role(
        f"{name}-role", name=role_name, assume_role_policy=assume_role_policy(service), tags=dict(tags), opts=opts
    )
    policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy_document(statements), opts=opts)
    return role, policy
