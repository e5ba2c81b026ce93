"""Component argument validation: refused before any child is created, with the field, value and fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from drkit.components.artifacts import ModelArtifactStore, ModelArtifactStoreArgs
from drkit.components.endpoint import (
    InferenceMode,
    RegionalInferenceEndpoint,
    RegionalInferenceEndpointArgs,
    async_output_bucket_for,
)
from drkit.components.failover import RecordRole, RegionalFailoverRecord, RegionalFailoverRecordArgs
from drkit.components.fis import report_bucket_for
from drkit.components.frontdoor import audit_bucket_name, input_bucket_name
from drkit.components.iam import Statement, policy_document
from drkit.components.naming import physical_name, s3_bucket_name
from drkit.components.table import TaskTokenTable, TaskTokenTableArgs
from drkit.core.aws_limits import s3_bucket_name_problem
from drkit.core.errors import ComponentValidationError
from drkit.engine.graph import DeploymentGraph
from tests.conftest import example_graph

KEY = "arn:aws:kms:us-east-1:123456789012:key/k"
ENDPOINT = RegionalInferenceEndpointArgs(
    deployment="fraud",
    model="xgb",
    model_version="1",
    mode=InferenceMode.PROVISIONED,
    region="us-east-1",
    account_id="123456789012",
    image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/xgb@sha256:" + "a" * 64,
    image_repository="ml/xgb",
    model_data_bucket="models-us-east-1",
    model_data_key="xgb/model.tar.gz",
    kms_key_arn=KEY,
    instance_type="ml.m5.large",
    min_instances=1,
    max_instances=2,
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"instance_type": None}, "RegionalInferenceEndpoint e: mode provisioned needs instance_type"),
        ({"min_instances": 3}, "RegionalInferenceEndpoint e: min_instances 3 and max_instances 2 must satisfy 1 ≤ min ≤ max"),
        ({"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/xgb:latest"}, "must be pinned by digest (@sha256:...)"),
        (
            {"image_uri": "123456789012.dkr.ecr.us-west-2.amazonaws.com/ml/xgb@sha256:" + "a" * 64},
            "is not in region us-east-1; a DR site pulls from its own registry",
        ),
        (
            {"mode": InferenceMode.SERVERLESS, "provisioned_concurrency": 20, "max_concurrency": 5},
            "RegionalInferenceEndpoint e: provisioned_concurrency 20 exceeds max_concurrency 5",
        ),
    ],
    ids=["no-instance-type", "min-above-max", "tag-not-digest", "cross-region-image", "serverless-concurrency"],
)
def test_endpoint_refuses_undeployable_arguments(change: dict[str, object], message: str) -> None:
    with pytest.raises(ComponentValidationError) as caught:
        RegionalInferenceEndpoint("e", dataclasses.replace(ENDPOINT, **change))  # type: ignore[arg-type]
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            TaskTokenTableArgs(table_name="t", role="replica", kms_key_arn=KEY),
            "TaskTokenTable t: role 'replica' needs global_table_arn (the primary table's ARN)",
        ),
        (
            TaskTokenTableArgs(table_name="t", role="owner", kms_key_arn=KEY, global_table_arn="arn"),
            "TaskTokenTable t: role 'owner' creates the table; global_table_arn must be unset",
        ),
        (
            TaskTokenTableArgs(table_name="t", role="replica", kms_key_arn=KEY, global_table_arn="arn", consistency="strong"),
            "TaskTokenTable t: consistency 'strong' keeps replicas inline on the table; only role 'owner' may use it",
        ),
        (
            TaskTokenTableArgs(table_name="t", role="owner", kms_key_arn=KEY, consistency="strong", strong_replica_regions=("us-west-2",)),
            "TaskTokenTable t: consistency 'strong' needs exactly 2 replica regions besides the owner; got ['us-west-2']",
        ),
    ],
    ids=["replica-without-arn", "owner-with-arn", "strong-replica", "strong-two-regions"],
)
def test_token_table_refuses_contradictory_ownership(args: TaskTokenTableArgs, message: str) -> None:
    with pytest.raises(ComponentValidationError) as caught:
        TaskTokenTable("t", args)
    assert str(caught.value) == message


RECORD = RegionalFailoverRecordArgs(
    domain="api.example.com", hosted_zone_id="Z123456", region="us-east-1", target_host="us-east-1.api.example.com", role=RecordRole.PRIMARY
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"request_interval": 15}, "RegionalFailoverRecord dns: request_interval 15 is invalid; Route 53 offers 10 or 30"),
        ({"failure_threshold": 0}, "RegionalFailoverRecord dns: failure_threshold 0 is invalid; valid: 1-10"),
        ({"ttl": -1}, "RegionalFailoverRecord dns: ttl -1 must be ≥ 0"),
    ],
)
def test_failover_record_refuses_what_route53_would_reject(change: dict[str, object], message: str) -> None:
    with pytest.raises(ComponentValidationError) as caught:
        RegionalFailoverRecord("dns", dataclasses.replace(RECORD, **change))  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_artifact_store_refuses_replicating_to_itself() -> None:
    args = ModelArtifactStoreArgs(
        bucket_name="b", kms_key_arn=KEY, account_id="123456789012", region="us-east-1", replicate_images_to=("us-east-1",), repositories=("r",)
    )
    with pytest.raises(ComponentValidationError, match="replicate_images_to contains its own region us-east-1"):
        ModelArtifactStore("a", args)


def test_policy_documents_refuse_wildcard_actions() -> None:
    with pytest.raises(ValueError, match=r"statement Everything: wildcard action in \['s3:\*'\]"):
        policy_document([Statement("Everything", ("s3:*",), ["arn:aws:s3:::b/*"])])


def test_physical_names_fit_aws_limits_and_stay_stable() -> None:
    long = physical_name("a-very-long-deployment-name-for-testing", "an-equally-long-model-name", "provisioned")
    assert len(long) == 63 and long == physical_name("a-very-long-deployment-name-for-testing", "an-equally-long-model-name", "provisioned")
    assert physical_name("fraud", "xgb", "async") == "fraud-xgb-async"


# --- S3 bucket names: unique across every AWS account, so each carries the account ---------------

STAGING, PROD = "111111111111", "222222222222"
LONGEST_DEPLOYMENT = "fraud-" + "x" * 34  # the spec allows 40 characters
LONGEST_MODEL = "model-" + "y" * 34


def bucket_names(deployment: str, model: str, account_id: str, region: str) -> dict[str, str]:
    """Every bucket name drkit derives (the model-data bucket is the user's own: not here)."""
    where = {"account_id": account_id, "region": region}
    return {
        "audit": audit_bucket_name(deployment, **where),
        "inputs": input_bucket_name(deployment, **where),
        "async output": async_output_bucket_for(deployment, model, **where),
        "fis reports": report_bucket_for(deployment, **where),
    }


def test_bucket_names_carry_the_account_before_the_region() -> None:
    assert bucket_names("fraud", "xgb", STAGING, "us-east-1") == {
        "audit": "drkit-fraud-audit-111111111111-us-east-1",
        "inputs": "drkit-fraud-inputs-111111111111-us-east-1",
        "async output": "fraud-xgb-async-111111111111-us-east-1",
        "fis reports": "drkit-fraud-fis-reports-111111111111-us-east-1",
    }


def test_two_accounts_get_two_valid_bucket_names_even_when_the_name_is_cut_to_fit() -> None:
    # GIVEN the longest deployment and model names the spec allows, in a long region name
    staging = bucket_names(LONGEST_DEPLOYMENT, LONGEST_MODEL, STAGING, "ap-southeast-2")
    prod = bucket_names(LONGEST_DEPLOYMENT, LONGEST_MODEL, PROD, "ap-southeast-2")
    for role in staging:
        # THEN each name was cut to fit S3's 63 characters, and the account fell off the end ...
        assert len(staging[role]) <= 63 and STAGING not in staging[role] and PROD not in prod[role], role
        # ... yet the digest of the full name keeps the two accounts apart
        assert staging[role] != prod[role], role
    short = bucket_names("fraud", "xgb", STAGING, "us-east-1")
    for name in [*staging.values(), *prod.values(), *short.values()]:
        assert s3_bucket_name_problem(name) is None, name


def test_bucket_names_refuse_an_account_id_that_is_not_12_digits() -> None:
    with pytest.raises(ComponentValidationError, match=r"^bucket drkit-fraud-audit: account_id '12345' is not a 12-digit AWS account id$"):
        s3_bucket_name("drkit", "fraud", "audit", account_id="12345", region="us-east-1")


# --- log groups: one shape, through drkit.components.observability.encrypted_log_group ------------

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_every_log_group_is_encrypted_in_region_with_bounded_retention_and_tags(any_example: DeploymentGraph) -> None:
    for graph in any_example:
        groups = graph.of_type(LOG_GROUP)
        assert sorted(g.name for g in groups) == [
            "fis-logs", "frontdoor-access-logs", "frontdoor-logs", "lifecycle-completion-logs", "lifecycle-redrive-logs",
            "scale-up-logs", "workflow-logs",
        ], graph.region  # fmt: skip
        for group in groups:
            assert set(group.inputs) == {"name", "retentionInDays", "kmsKeyId", "tags"}, group.urn
            assert str(group.inputs["kmsKeyId"]).startswith(f"arn:aws:kms:{graph.region}:"), group.urn
            assert group.inputs["retentionInDays"] > 0, group.urn
            assert group.inputs["tags"]["Deployment"] == graph.deployment, group.urn


def test_log_group_physical_names_stay_as_deployed() -> None:
    (primary,) = [g for g in example_graph("fraud-tier1") if g.region == "us-east-1"]
    assert {g.name: g.inputs["name"] for g in primary.of_type(LOG_GROUP)} == {
        "fis-logs": "/drkit/fis/fraud-tier1",
        "frontdoor-access-logs": "/aws/apigateway/drkit-fraud-tier1-us-east-1-router",
        "frontdoor-logs": "/aws/lambda/drkit-fraud-tier1-us-east-1-router",
        "lifecycle-completion-logs": "/aws/lambda/drkit-fraud-tier1-completion",
        "lifecycle-redrive-logs": "/aws/lambda/drkit-fraud-tier1-redrive",
        "scale-up-logs": "/aws/lambda/drkit-fraud-tier1-scale-up",
        "workflow-logs": "/aws/vendedlogs/states/fraud-tier1-inference",
    }


def test_components_create_log_groups_only_through_the_helper() -> None:
    components = Path(__file__).resolve().parents[1] / "components"
    direct = [p.relative_to(components).as_posix() for p in components.rglob("*.py") if "cloudwatch.LogGroup(" in p.read_text()]
    assert direct == ["observability.py"]


# --- Lambda functions: one shape, through drkit.components.lambda_function -------------------------

FUNCTION = "aws:lambda/function:Function"


def test_every_function_is_created_after_its_own_log_group_and_role_policy(any_example: DeploymentGraph) -> None:
    # Lambda creates /aws/lambda/<name> itself, unencrypted and kept forever, if the function logs first;
    # and a call made before the role's policy exists fails on permissions.
    for graph in any_example:
        functions = graph.of_type(FUNCTION)
        assert functions, graph.region
        groups = {g.urn: g.inputs["name"] for g in graph.of_type(LOG_GROUP)}
        policies = {p.urn for p in graph.of_type("aws:iam/rolePolicy:RolePolicy")}
        for function in functions:
            own_group = [groups[d] for d in function.dependencies if d in groups]
            assert own_group == [f"/aws/lambda/{function.inputs['name']}"], function.urn
            assert any(d in policies for d in function.dependencies), function.urn


def test_components_create_functions_only_through_the_helper() -> None:
    components = Path(__file__).resolve().parents[1] / "components"
    direct = [p.relative_to(components).as_posix() for p in components.rglob("*.py") if "lambda_.Function(" in p.read_text()]
    assert direct == ["lambda_function.py"]
