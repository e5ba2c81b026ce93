"""ModelArtifactStore: each region serves its models from its own copies.

A secondary that pulls its image or weights from the primary's region is not a DR
site, so every region gets its own model-data bucket (`<bucket_prefix>-<deployment>-<region>`), and
the primary's stack owns the ECR registry replication that copies images, by digest,
into every secondary region's registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from drkit.components.storage import EncryptedBucket
from drkit.core.errors import ComponentValidationError


@dataclass(frozen=True, kw_only=True)
class ModelArtifactStoreArgs:
    """Inputs of `ModelArtifactStore`."""

    bucket_name: str
    """The in-region model-data bucket, `<bucket_prefix>-<deployment>-<region>`."""
    kms_key_arn: pulumi.Input[str]
    """Region's KMS key for the bucket."""
    account_id: str
    """Registry account (the ECR replication destination account)."""
    region: str
    """This stack's region."""
    replicate_images_to: Sequence[str] = ()
    """Regions the registry replicates images to; set on the primary only. Default: none."""
    repositories: Sequence[str] = ()
    """ECR repositories to replicate (prefix filters). Default: none."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the bucket. Default: none."""


class ModelArtifactStore(pulumi.ComponentResource):
    """The in-region model-data bucket, plus (on the primary) ECR replication to the secondaries."""

    bucket: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ModelArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.region in args.replicate_images_to:
            raise ComponentValidationError(
                f"ModelArtifactStore {name}: replicate_images_to contains its own region {args.region}"
            )
        if args.replicate_images_to and not args.repositories:
            raise ComponentValidationError(
                f"ModelArtifactStore {name}: replicate_images_to is set but repositories is empty"
            )
        super().__init__("drkit:artifacts:ModelArtifactStore", name, {}, opts)
        store = EncryptedBucket(
            f"{name}-model-data",
            bucket_name=args.bucket_name,
            kms_key_arn=args.kms_key_arn,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.replicate_images_to:
            aws.ecr.ReplicationConfiguration(
                f"{name}-ecr-replication",
                replication_configuration={
                    "rules": [
                        {
                            "destinations": [
                                {"region": r, "registry_id": args.account_id} for r in args.replicate_images_to
                            ],
                            "repository_filters": [
                                {"filter": repo, "filter_type": "PREFIX_MATCH"} for repo in sorted(set(args.repositories))
                            ],
                        }
                    ]
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.bucket = store.bucket
        self.bucket_arn = store.arn
        self.register_outputs({"bucket": store.bucket, "bucket_arn": store.arn})
