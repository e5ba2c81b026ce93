"""RegionalKey: the customer-managed KMS key every store in one region encrypts with."""

from __future__ import annotations

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
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the key. Default: none."""
    deletion_window_in_days: int = 30
    """Waiting period before a scheduled deletion. Default: 30 (the maximum)."""


class RegionalKey(pulumi.ComponentResource):
    """A rotating KMS key plus alias for one region's table replica, buckets, topics and endpoints."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: RegionalKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("drkit:encryption:RegionalKey", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        # No explicit key policy: AWS's default policy lets the account administer the key,
        # and each role gets only kms:Decrypt/GenerateDataKey on this key ARN.
        key = aws.kms.Key(
            f"{name}-key",
            description=f"drkit {args.deployment} data key in {args.region}",
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_in_days,
            tags=dict(args.tags),
            opts=child,
        )
        aws.kms.Alias(f"{name}-alias", name=f"alias/drkit/{args.deployment}", target_key_id=key.key_id, opts=child)
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"key_arn": key.arn, "key_id": key.key_id})
