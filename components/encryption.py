"""RegionalKey: the customer-managed KMS key every store in one region encrypts with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True, kw_only=True)
class RegionalKeyArgs:
    """Inputs of `RegionalKey`."""

    deployment: str
    """Deployment name; the alias is `alias/<deployment>`."""
    region: str
    """Region the key lives in."""
    account_id: str
    """Account that owns the key; its administrators keep full control (AWS's default key policy)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the key. Default: none."""
    deletion_window_in_days: int = 30
    """Waiting period before a scheduled deletion. Default: 30 (the maximum)."""


def key_policy(account_id: str, region: str) -> str:
    """The default key policy plus use by CloudWatch Logs for this account's log groups in `region`."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncrypts",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}
                    },
                },
            ],
        }
    )


class RegionalKey(pulumi.ComponentResource):
    """A rotating KMS key plus alias for one region's table replica, buckets, topics and endpoints."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: RegionalKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:encryption:RegionalKey", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        # AWS's default key policy (the account administers the key; roles get only
        # kms:Decrypt/GenerateDataKey on this key ARN) plus CloudWatch Logs, which encrypts
        # the workflow's log group with this key and, as a service, needs the key policy to say so.
        key = aws.kms.Key(
            f"{name}-key",
            description=f"drkit {args.deployment} data key in {args.region}",
            policy=key_policy(args.account_id, args.region),
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_in_days,
            tags=dict(args.tags),
            opts=child,
        )
        aws.kms.Alias(f"{name}-alias", name=f"alias/drkit/{args.deployment}", target_key_id=key.key_id, opts=child)
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"key_arn": key.arn, "key_id": key.key_id})
