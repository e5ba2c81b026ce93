"""EncryptedBucket: a private, versioned, SSE-KMS, TLS-only bucket — the only kind of bucket drkit makes."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def tls_only_policy(bucket_arn: str) -> str:
    """The bucket policy that denies every request not made over TLS (aws:SecureTransport false)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyPlainHttp",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


class EncryptedBucket(pulumi.ComponentResource):
    """Bucket + versioning + SSE-KMS (bucket key) + public access block + a policy refusing plain HTTP."""

    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        bucket_name: str,
        kms_key_arn: pulumi.Input[str],
        tags: Mapping[str, str],
        force_destroy: bool = False,
        object_lock: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`object_lock` enables S3 Object Lock at creation (it cannot be turned on later);
        the caller adds the retention rule. Default: off."""
        super().__init__("drkit:storage:EncryptedBucket", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=bucket_name,
            force_destroy=force_destroy,
            object_lock_enabled=object_lock or None,
            tags=dict(tags),
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": kms_key_arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        # S3 accepts HTTP too unless a policy denies it (S3 User Guide, "Enforce encryption in transit").
        # After the public access block: S3 refuses concurrent changes to a bucket's policy state.
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(tls_only_policy),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.bucket = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"bucket": bucket.bucket, "arn": bucket.arn})
