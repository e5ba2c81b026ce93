"""TaskTokenTable: the DynamoDB global table for Step Functions task tokens and request state.

Ownership follows "each region's `pulumi up` touches only its own region":

- the primary's stack owns the table (PAY_PER_REQUEST, streams NEW_AND_OLD_IMAGES, TTL,
  PITR, deletion protection, SSE-KMS) with ``ignore_changes=["replicas"]`` because the
  replicas are owned elsewhere (hashicorp/terraform-provider-aws#38968);
- each secondary's stack owns its ``aws.dynamodb.TableReplica`` of the primary's table,
  with deletion protection and ``protect=True`` (pulumi/pulumi-aws#4757).

With ``consistency="strong"`` (multi-Region strong consistency, RPO 0) DynamoDB needs
the replicas declared inline on the table, so the primary's stack owns every replica
and the secondaries own none (role ``inline``: a component that creates nothing and says
so): the trade is explicit in the spec.

Item layout (one item per request; every write is conditional on ``attempt``):
``request_id`` (hash key), ``home_region``, ``status``, ``task_token``, ``input_location``,
``path``, ``model``, ``attempt``, ``expires_at`` (TTL, epoch seconds). The
``by_home_region`` index (``home_region``, ``status``) lets a surviving region find every
unfinished request of a lost one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from drkit.components.iam import Statement, policy_document
from drkit.core.errors import ComponentValidationError

HASH_KEY = "request_id"
HOME_REGION_INDEX = "by_home_region"
INDEX_KEYS = ("home_region", "status")  # HOME_REGION_INDEX's hash and range keys
KEY_ATTRIBUTES = (HASH_KEY, *INDEX_KEYS)  # every attribute a key names; all strings
TTL_ATTRIBUTE = "expires_at"

# Item actions the workflow, completion handler and redrive need; nothing else.
TOKEN_ITEM_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
)


@dataclass(frozen=True, kw_only=True)
class TaskTokenTableArgs:
    """Inputs of `TaskTokenTable`."""

    table_name: str
    """Physical table name, identical in every region."""
    role: Literal["owner", "replica", "inline"]
    """`owner` creates the table (primary); `replica` creates this region's TableReplica; `inline` (strong
    consistency, secondaries) creates nothing: the owner's table declares this region's replica inline,
    and `global_table_arn` is its ARN in this region."""
    kms_key_arn: pulumi.Input[str]
    """This region's KMS key for the table or replica."""
    global_table_arn: pulumi.Input[str] | None = None
    """The primary table's ARN; required when role is `replica`, unused otherwise."""
    consistency: Literal["eventual", "strong"] = "eventual"
    """Multi-Region consistency. Default: eventual. `strong` requires role `owner` and `strong_replica_regions`."""
    strong_replica_regions: Sequence[str] = ()
    """Regions of inline replicas when consistency is strong. Default: none."""
    account_id: str = ""
    """Account of the replicas' AWS-managed keys (strong mode only). Default: empty."""
    deletion_protection: bool = True
    """DynamoDB deletion protection plus Pulumi `protect`. Default: true."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags. Default: none."""


def _validate(name: str, args: TaskTokenTableArgs) -> None:
    if args.role == "replica" and args.global_table_arn is None:
        raise ComponentValidationError(f"TaskTokenTable {name}: role 'replica' needs global_table_arn (the primary table's ARN)")
    if args.role == "owner" and args.global_table_arn is not None:
        raise ComponentValidationError(f"TaskTokenTable {name}: role 'owner' creates the table; global_table_arn must be unset")
    if args.role == "inline" and (args.consistency != "strong" or args.global_table_arn is None):
        raise ComponentValidationError(
            f"TaskTokenTable {name}: role 'inline' is a strong-consistency secondary; it needs consistency 'strong' and global_table_arn"
        )
    if args.consistency == "strong" and args.role == "replica":
        raise ComponentValidationError(
            f"TaskTokenTable {name}: consistency 'strong' keeps replicas inline on the table; only role 'owner' may use it"
        )
    if args.consistency == "strong" and args.role == "owner" and len(args.strong_replica_regions) != 2:
        raise ComponentValidationError(
            f"TaskTokenTable {name}: consistency 'strong' needs exactly 2 replica regions besides the owner; got {list(args.strong_replica_regions)}"
        )


class TaskTokenTable(pulumi.ComponentResource):
    """The global token table (owner) or this region's replica of it."""

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    stream_arn: pulumi.Output[str] | None
    kms_key_arn: pulumi.Input[str]

    def __init__(self, name: str, args: TaskTokenTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(name, args)
        # An inline member says so in its inputs: the pack's table rule reads them on a stack with no table.
        props = {"role": "inline", "consistency": "STRONG"} if args.role == "inline" else {}
        super().__init__("drkit:table:TaskTokenTable", name, props, opts)
        self._name = name
        self.kms_key_arn = args.kms_key_arn
        if args.role == "owner":
            self._create_table(name, args)
        elif args.role == "inline":
            self.table_name = pulumi.Output.from_input(args.table_name)
            self.table_arn = pulumi.Output.from_input(args.global_table_arn)  # type: ignore[arg-type]
            self.stream_arn = None
        else:
            self._create_replica(name, args)
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})

    def _create_table(self, name: str, args: TaskTokenTableArgs) -> None:
        replicas = None
        ignore: list[str] = ["replicas"]
        if args.consistency == "strong":
            ignore = []
            replicas = [
                {
                    "region_name": region,
                    "consistency_mode": "STRONG",
                    "point_in_time_recovery": True,
                    "deletion_protection_enabled": args.deletion_protection,
                    "kms_key_arn": f"arn:aws:kms:{region}:{args.account_id}:alias/aws/dynamodb",
                }
                for region in args.strong_replica_regions
            ]
        table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            attributes=[{"name": attribute, "type": "S"} for attribute in KEY_ATTRIBUTES],
            global_secondary_indexes=[
                {"name": HOME_REGION_INDEX, "hash_key": INDEX_KEYS[0], "range_key": INDEX_KEYS[1], "projection_type": "ALL"}
            ],
            stream_enabled=True,
            stream_view_type="NEW_AND_OLD_IMAGES",
            ttl={"attribute_name": TTL_ATTRIBUTE, "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args.kms_key_arn},
            deletion_protection_enabled=args.deletion_protection,
            replicas=replicas,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.deletion_protection, ignore_changes=ignore),
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.stream_arn = table.stream_arn

    def _create_replica(self, name: str, args: TaskTokenTableArgs) -> None:
        replica = aws.dynamodb.TableReplica(
            f"{name}-replica",
            global_table_arn=args.global_table_arn,  # type: ignore[arg-type]
            kms_key_arn=args.kms_key_arn,
            point_in_time_recovery=True,
            deletion_protection_enabled=args.deletion_protection,
            tags=dict(args.tags),
            # TableReplica's deletion protection is new and easy to lose; protect it in Pulumi too.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.table_name = pulumi.Output.from_input(args.table_name)
        self.table_arn = replica.arn
        self.stream_arn = None

    def grant_token_access(self, grantee: str, role_name: pulumi.Input[str]) -> aws.iam.RolePolicy:
        """Give a role exactly the item actions the workflow needs on this region's table and index."""
        table_arn = self.table_arn
        index_arn = pulumi.Output.concat(table_arn, f"/index/{HOME_REGION_INDEX}")
        return aws.iam.RolePolicy(
            f"{self._name}-grant-{grantee}",
            role=role_name,
            policy=policy_document(
                [
                    Statement("TokenItems", TOKEN_ITEM_ACTIONS, [table_arn, index_arn]),
                    Statement("TokenKey", ("kms:Decrypt", "kms:GenerateDataKey"), [self.kms_key_arn]),
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
