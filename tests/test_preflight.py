"""`drkit preflight`: the region's images, model data, instance types and quotas, checked read-only.

ECR and S3 run on moto (it implements DescribeImages, HeadObject with checksums and GetObject);
Service Quotas and what moto lacks (an ARCHIVED image) go through botocore's Stubber, which
validates every canned response against the operation's output shape in botocore's model.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest
import yaml
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from moto import mock_aws

from drkit.cli import main
from drkit.commands.preflight import command as preflight_command
from drkit.commands.preflight.checks import (
    Finding,
    Status,
    check_account,
    check_image,
    check_model_data,
    check_quotas,
    judge_quotas,
    replicated_repositories,
    run_checks,
    whole_object_sha256,
)
from drkit.commands.preflight.needs import (
    SERVERLESS_CONCURRENCY_QUOTA,
    endpoint_quota_name,
    planned_calls,
    region_needs,
    transform_quota_name,
)
from drkit.core.errors import DrkitError
from drkit.core.spec import DeploymentSpec, parse_spec
from drkit.stacks.plan import plan_region, token_table_name
from tests.conftest import EXAMPLES, create_token_table, example_spec

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"  # moto's default account, and the example's
BODY = b"model weights " * 1000
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": []})


def fraud_spec(**model_changes: Any) -> tuple[DeploymentSpec, dict[str, Any]]:
    """fraud-tier1 with its only model's fields changed; also returns the raw data."""
    data = yaml.safe_load((EXAMPLES / "fraud-tier1.yaml").read_text())
    for dotted, value in model_changes.items():
        target = data["models"][0]
        *path, last = dotted.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return parse_spec(data, "fraud-tier1.yaml"), data


def quota(name: str, value: float, code: str, region: str = SECONDARY) -> dict[str, Any]:
    """One ServiceQuota as Service Quotas returns it (fields from botocore's model)."""
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:{region}:{ACCOUNT}:sagemaker/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def generous_quotas(needs_quota_names: list[str]) -> list[dict[str, Any]]:
    return [quota(name, 1000.0, f"L-{index:08X}") for index, name in enumerate(needs_quota_names)]


def stubbed_quotas(defaults: list[list[dict[str, Any]]], applied: list[list[dict[str, Any]]], region: str = SECONDARY) -> Any:
    """A service-quotas client answering both listings page by page; Stubber checks shapes and params."""
    client = boto3.client("service-quotas", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for operation, pages in (("list_aws_default_service_quotas", defaults), ("list_service_quotas", applied)):
        for index, page in enumerate(pages):
            response: dict[str, Any] = {"Quotas": page}
            params: dict[str, Any] = {"ServiceCode": "sagemaker"}
            if index + 1 < len(pages):
                response["NextToken"] = f"page{index + 1}"
            if index:
                params["NextToken"] = f"page{index}"
            stubber.add_response(operation, response, params)
    stubber.activate()
    client.stubber = stubber
    return client


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def put_image(region: str, repository: str) -> str:
    ecr = boto3.client("ecr", region_name=region)
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    return str(ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag="v1")["image"]["imageId"]["imageDigest"])


def put_model(region: str, bucket: str, key: str, body: bytes = BODY, *, multipart: bool = False, sha256: bool = True) -> None:
    s3 = boto3.client("s3", region_name=region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **config)
    if not multipart:
        extra = {"ChecksumAlgorithm": "SHA256"} if sha256 else {}
        s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
        return
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    half = 5 * 1024 * 1024  # S3's smallest part but the last
    parts = []
    for number, chunk in enumerate((body[:half], body[half:]), start=1):
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=chunk, ChecksumAlgorithm="SHA256")
        parts.append({"PartNumber": number, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def clients_with(quotas_client: Any) -> Callable[[str, str], Any]:
    def make(service: str, region: str) -> Any:
        return quotas_client if service == "service-quotas" else boto3.client(service, region_name=region)

    return make


def deploy_primary(spec: DeploymentSpec) -> None:
    """What the primary's stack creates that a secondary checks for: the table and the replication rule."""
    create_token_table(boto3.client("dynamodb", region_name=spec.primary_region), token_table_name(spec))
    boto3.client("ecr", region_name=spec.primary_region).put_replication_configuration(
        replicationConfiguration={
            "rules": [
                {
                    "destinations": [{"region": r, "registryId": spec.account_id} for r in spec.secondary_regions],
                    "repositoryFilters": [{"filter": m.image.repository, "filterType": "PREFIX_MATCH"} for m in spec.models],
                }
            ]
        }
    )


def ready_region(region: str = SECONDARY, body: bytes = BODY, **put: Any) -> DeploymentSpec:
    """A spec whose image and model data are in `region` (moto), by the digest and SHA-256 AWS reports."""
    digest = put_image(region, "ml/fraud-xgb")
    spec, _ = fraud_spec(image__digest=digest, model_data__sha256=hashlib.sha256(body).hexdigest())
    put_model(region, spec.models[0].model_data.bucket(region, spec.deployment), spec.models[0].model_data.key, body, **put)
    deploy_primary(spec)
    return spec


def by_check(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


# --- what a region needs -------------------------------------------------------------------------


def test_endpoint_quota_need_is_the_sum_of_each_variants_ceiling_on_that_type() -> None:
    # GIVEN fraud-tier1, whose provisioned and async endpoints both run ml.c6i.xlarge
    spec = example_spec("fraud-tier1")
    model = spec.models[0]
    # WHEN the secondary's needs are derived
    needs = {q.quota_name: q for q in region_needs(spec, SECONDARY).quotas}
    # THEN the endpoint quota covers both variants at their autoscaling ceiling
    assert model.provisioned and model.async_ and model.serverless
    plan = plan_region(spec, SECONDARY)
    assert needs[endpoint_quota_name("ml.c6i.xlarge")].needed == sum(e.max_instances for e in plan.endpoints if e.max_instances)
    assert needs[endpoint_quota_name("ml.c6i.xlarge")].needed == model.provisioned.max_instances + model.async_.max_instances
    assert needs[transform_quota_name("ml.c6i.xlarge")].needed == 1
    assert needs[SERVERLESS_CONCURRENCY_QUOTA].needed == model.serverless.max_concurrency


def test_a_pilot_light_secondary_needs_no_quota_for_the_provisioned_type_it_does_not_run() -> None:
    spec = example_spec("docs-tier3")
    model = spec.models[0]
    assert model.provisioned is not None and model.async_ is not None
    primary = {q.quota_name: q.needed for q in region_needs(spec, spec.primary_region).quotas}
    secondary = {q.quota_name: q.needed for q in region_needs(spec, spec.secondary_regions[0]).quotas}
    provisioned_only = model.provisioned.instance_type != model.async_.instance_type
    if provisioned_only:
        assert endpoint_quota_name(model.provisioned.instance_type) in primary
        assert endpoint_quota_name(model.provisioned.instance_type) not in secondary
    assert secondary[endpoint_quota_name(model.async_.instance_type)] == model.async_.max_instances


def test_every_planned_call_is_a_real_read_only_operation_with_valid_parameters() -> None:
    # The oracle is botocore's service model: the operation exists and the parameters validate.
    session = botocore.session.get_session()
    for name in ("fraud-tier1", "search-tier2", "docs-tier3"):
        spec = example_spec(name)
        for region in spec.regions:
            for call in planned_calls(region_needs(spec, region)):
                operation = session.get_service_model(call.service).operation_model(call.operation)
                report = ParamValidator().validate(call.params, operation.input_shape)
                assert not report.has_errors(), f"{call.service}.{call.operation}: {report.generate_report()}"
                assert call.operation.startswith(("Get", "Describe", "List", "Head")), call.operation


# --- the checks on moto and Stubber --------------------------------------------------------------


def test_a_ready_secondary_passes_and_makes_only_the_planned_calls(aws: None) -> None:
    spec = ready_region()
    needs = region_needs(spec, SECONDARY)
    made: list[tuple[str, str]] = []
    quotas = stubbed_quotas([generous_quotas([q.quota_name for q in needs.quotas])], [[]])
    base = clients_with(quotas)

    def recording(service: str, region: str) -> Any:
        client = base(service, region)
        client.meta.events.register("before-call", lambda model, **_: made.append((service, model.name, region)))
        return client

    findings = run_checks(recording, needs)
    assert [f for f in findings if f.status is not Status.OK] == []
    assert {f.check for f in findings} == {"account", "deploy-order", "replication", "image", "model-data", "quota"}
    planned = {(c.service, c.operation, c.region) for c in planned_calls(needs)}
    assert set(made) <= planned
    assert ("s3", "GetObject", SECONDARY) not in made  # the single-part SHA-256 upload needed no download
    quotas.stubber.assert_no_pending_responses()


def test_an_image_missing_in_the_secondary_names_the_backfill(aws: None) -> None:
    spec = ready_region()
    boto3.client("ecr", region_name=SECONDARY).batch_delete_image(
        repositoryName="ml/fraud-xgb", imageIds=[{"imageDigest": spec.models[0].image.digest}]
    )
    needs = region_needs(spec, SECONDARY)
    (finding,) = [check_image(boto3.client("ecr", region_name=SECONDARY), needs, image) for image in needs.images]
    assert finding.status is Status.FINDING
    assert finding.detail == "image digest not in us-west-2's registry (ImageNotFoundException)"
    assert "ECR replication copies only pushes made after the primary's stack created the rule" in finding.fix
    assert f"crane copy {ACCOUNT}.dkr.ecr.{PRIMARY}.amazonaws.com/ml/fraud-xgb@{spec.models[0].image.digest}" in finding.fix


def test_a_missing_repository_in_the_primary_says_push_it(aws: None) -> None:
    spec, _ = fraud_spec()
    needs = region_needs(spec, PRIMARY)
    (finding,) = [check_image(boto3.client("ecr", region_name=PRIMARY), needs, image) for image in needs.images]
    assert finding.status is Status.FINDING
    assert finding.detail == "repository not in us-east-1's registry (RepositoryNotFoundException)"
    assert finding.fix.startswith(f"push the image to {ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/ml/fraud-xgb")


def test_an_archived_image_is_a_finding() -> None:
    # moto has no image archive; the response is Stubber-checked against DescribeImages' output shape.
    spec, _ = fraud_spec()
    needs = region_needs(spec, SECONDARY)
    image = needs.images[0]
    ecr = boto3.client("ecr", region_name=SECONDARY, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecr) as stubber:
        stubber.add_response(
            "describe_images",
            {
                "imageDetails": [
                    {
                        "registryId": ACCOUNT,
                        "repositoryName": image.repository,
                        "imageDigest": image.digest,
                        "imageStatus": "ARCHIVED",
                    }
                ]
            },
            {"registryId": ACCOUNT, "repositoryName": image.repository, "imageIds": [{"imageDigest": image.digest}]},
        )
        finding = check_image(ecr, needs, image)
    assert finding.status is Status.FINDING
    assert finding.detail == "image is ARCHIVED; SageMaker can pull only an ACTIVE image"
    assert "--target-storage-class STANDARD" in finding.fix


def test_a_multipart_artifact_is_hashed_not_judged_by_its_composite_checksum(aws: None) -> None:
    # GIVEN the right artifact, uploaded in two parts with SHA-256: S3's checksum is of the parts
    body = b"w" * (5 * 1024 * 1024 + 100)
    spec = ready_region(body=body, multipart=True)
    needs = region_needs(spec, SECONDARY)
    # WHEN it is checked
    findings = by_check(
        run_checks(clients_with(stubbed_quotas([generous_quotas([q.quota_name for q in needs.quotas])], [[]])), needs),
        "model-data",
    )
    # THEN it passes, by reading it: trusting the composite value would have called it a mismatch
    assert [(f.status, f.detail) for f in findings] == [
        (Status.OK, f"SHA-256 matches the spec (read and hashed {len(body):,} bytes (no whole-object SHA-256 kept))")
    ]


def test_an_artifact_uploaded_without_sha256_is_hashed_and_a_wrong_one_is_a_finding(aws: None) -> None:
    spec = ready_region(body=b"the wrong weights", sha256=False)
    spec, _ = fraud_spec(image__digest=spec.models[0].image.digest, model_data__sha256=hashlib.sha256(BODY).hexdigest())
    needs = region_needs(spec, SECONDARY)
    findings = by_check(
        run_checks(clients_with(stubbed_quotas([generous_quotas([q.quota_name for q in needs.quotas])], [[]])), needs),
        "model-data",
    )
    (finding,) = findings
    assert finding.status is Status.FINDING
    assert finding.detail.startswith(f"SHA-256 {hashlib.sha256(b'the wrong weights').hexdigest()} (read and hashed 17 bytes")
    assert finding.detail.endswith(f"is not the spec's {hashlib.sha256(BODY).hexdigest()}")
    assert "copy the artifact from us-east-1 into this region's own bucket" in finding.fix


def test_a_missing_artifact_is_a_finding(aws: None) -> None:
    digest = put_image(SECONDARY, "ml/fraud-xgb")
    spec, _ = fraud_spec(image__digest=digest)
    needs = region_needs(spec, SECONDARY)
    quotas = stubbed_quotas([generous_quotas([q.quota_name for q in needs.quotas])], [[]])
    (finding,) = by_check(run_checks(clients_with(quotas), needs), "model-data")
    assert finding.status is Status.FINDING
    assert finding.subject == "s3://acme-ml-models-fraud-tier1-us-west-2/fraud-xgb/2026.11.1/model.tar.gz"
    assert finding.detail.startswith("not found (")
    assert finding.fix.startswith("the bucket is created by fraud-tier1-us-west-2's own stack: if it does not exist yet")
    assert "--checksum-algorithm SHA256" in finding.fix


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            {
                "ChecksumSHA256": base64.b64encode(hashlib.sha256(b"x").digest()).decode(),
                "ETag": '"9dd4e461268c8034f5c8564e155c67a6"',
            },
            hashlib.sha256(b"x").hexdigest(),
        ),
        ({"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"x").digest()).decode() + "-3", "ETag": '"abc"'}, None),
        ({"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"x").digest()).decode(), "ChecksumType": "COMPOSITE"}, None),
        (
            {
                "ChecksumSHA256": base64.b64encode(hashlib.sha256(b"x").digest()).decode(),
                "ETag": '"48c69e17514b3ceece1cf660cc1817e6-2"',
            },
            None,
        ),
        ({"ChecksumCRC32": "O0HJ5g==", "ETag": '"abc"'}, None),
    ],
    ids=["single-part", "part-count-suffix", "composite-type", "multipart-etag", "crc32-only"],
)
def test_whole_object_sha256_only_for_single_part_sha256_uploads(head: dict[str, str], expected: str | None) -> None:
    assert whole_object_sha256(head) == expected


def test_credentials_of_another_account_are_a_finding(aws: None) -> None:
    spec, data = fraud_spec()
    data["account_id"] = "210987654321"
    needs = region_needs(parse_spec(data), SECONDARY)
    (finding,) = check_account(boto3.client("sts", region_name=SECONDARY), needs)
    assert finding.status is Status.FINDING
    assert finding.detail == f"credentials belong to account {ACCOUNT}, the spec's account_id is 210987654321"


def test_quotas_type_not_offered_short_quota_and_applied_over_default() -> None:
    spec, _ = fraud_spec()
    needs = region_needs(spec, SECONDARY)
    endpoint = endpoint_quota_name("ml.c6i.xlarge")
    # GIVEN the Region lists the endpoint quota (default 0, applied 5 < 8) and the serverless quota,
    # over two pages, but no transform quota for the type
    client = stubbed_quotas(
        [[quota(endpoint, 0.0, "L-00000001")], [quota(SERVERLESS_CONCURRENCY_QUOTA, 200.0, "L-96300102")]],
        [[quota(endpoint, 5.0, "L-00000001")]],
    )
    findings = {f.subject: f for f in check_quotas(client, needs)}
    client.stubber.assert_no_pending_responses()
    # THEN the short quota names the increase to request, with AWS's quota code
    assert findings[endpoint].status is Status.FINDING
    assert findings[endpoint].detail.startswith(
        "applied quota 5 < 8 the stack may run (fraud-xgb/provisioned max 6; fraud-xgb/async max 2)"
    )
    assert findings[endpoint].fix == (
        "aws service-quotas request-service-quota-increase --region us-west-2 --service-code sagemaker "
        "--quota-code L-00000001 --desired-value 8"
    )
    # AND a type with no quota listed is reported as not offered in the Region
    assert findings["ml.c6i.xlarge"].check == "instance-type"
    assert findings["ml.c6i.xlarge"].status is Status.FINDING
    assert "Service Quotas lists no 'ml.c6i.xlarge for transform job usage' quota there" in findings["ml.c6i.xlarge"].detail
    # AND the serverless quota from the second page is enough
    assert findings[SERVERLESS_CONCURRENCY_QUOTA].status is Status.OK


def test_a_quota_enough_for_one_fleet_but_not_two_is_a_note_about_blue_green() -> None:
    spec, _ = fraud_spec()
    needs = region_needs(spec, SECONDARY)
    endpoint = endpoint_quota_name("ml.c6i.xlarge")
    defaults = {q.quota_name: quota(q.quota_name, 1000.0, "L-1") for q in needs.quotas}
    findings = {f.subject: f for f in judge_quotas(needs, defaults, {endpoint: quota(endpoint, 10.0, "L-2")})}
    assert findings[endpoint].status is Status.NOTE
    assert findings[endpoint].detail.endswith("but a blue/green update at that scale runs both fleets: 16")
    assert findings[endpoint].fix.endswith("--quota-code L-2 --desired-value 16")


def test_a_secondary_before_the_primary_is_a_deploy_order_finding(aws: None) -> None:
    # GIVEN the secondary's image and model data are in place, but the primary's stack has not run
    digest = put_image(SECONDARY, "ml/fraud-xgb")
    spec, _ = fraud_spec(image__digest=digest, model_data__sha256=hashlib.sha256(BODY).hexdigest())
    put_model(SECONDARY, spec.models[0].model_data.bucket(SECONDARY, spec.deployment), spec.models[0].model_data.key)
    needs = region_needs(spec, SECONDARY)
    quotas = stubbed_quotas([generous_quotas([q.quota_name for q in needs.quotas])], [[]])
    findings = run_checks(clients_with(quotas), needs)
    (order,) = by_check(findings, "deploy-order")
    assert order.status is Status.FINDING
    assert order.subject == "drkit-fraud-tier1-tokens in us-east-1"
    assert order.detail == "the primary's global table does not exist: its stack has not run"
    assert order.fix == "deploy fraud-tier1-us-east-1 first: `pulumi up` on the primary's stack"
    (replication,) = by_check(findings, "replication")
    assert replication.status is Status.NOTE
    assert replication.detail == "us-east-1's registry does not replicate ml/fraud-xgb to us-west-2: later pushes will not arrive"


def test_a_primary_asks_nothing_of_other_regions() -> None:
    spec = example_spec("fraud-tier1")
    assert {c.region for c in planned_calls(region_needs(spec, PRIMARY))} == {PRIMARY}


@pytest.mark.parametrize(
    ("rules", "covered"),
    [
        (
            [
                {
                    "destinations": [{"region": SECONDARY, "registryId": ACCOUNT}],
                    "repositoryFilters": [{"filter": "ml/", "filterType": "PREFIX_MATCH"}],
                }
            ],
            {"ml/fraud-xgb"},
        ),
        ([{"destinations": [{"region": SECONDARY, "registryId": ACCOUNT}]}], {"ml/fraud-xgb", "other/x"}),
        ([{"destinations": [{"region": "eu-west-1", "registryId": ACCOUNT}]}], set()),
        ([{"destinations": [{"region": SECONDARY, "registryId": "210987654321"}]}], set()),
        (
            [
                {
                    "destinations": [{"region": SECONDARY, "registryId": ACCOUNT}],
                    "repositoryFilters": [{"filter": "other", "filterType": "PREFIX_MATCH"}],
                }
            ],
            {"other/x"},
        ),
    ],
    ids=["prefix", "no-filter-means-all", "other-region", "other-account", "other-prefix"],
)
def test_replicated_repositories_follow_ecr_filter_rules(rules: list[dict[str, Any]], covered: set[str]) -> None:
    registry = {"registryId": ACCOUNT, "replicationConfiguration": {"rules": rules}}
    assert replicated_repositories(registry, SECONDARY, ACCOUNT, ["ml/fraud-xgb", "other/x"]) == covered


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials anywhere boto3 looks: environment, shared files, the instance metadata service."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_credentials")
def test_plan_needs_no_credentials_and_prints_json_only_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preflight", str(EXAMPLES / "fraud-tier1.yaml"), "--region", SECONDARY, "--plan", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(c["service"], c["operation"], c["region"]) for c in out["calls"]] == [
        ("sts", "GetCallerIdentity", SECONDARY),
        ("dynamodb", "DescribeTable", PRIMARY),
        ("ecr", "DescribeRegistry", PRIMARY),
        ("ecr", "DescribeImages", SECONDARY),
        ("s3", "HeadObject", SECONDARY),
        ("s3", "GetObject", SECONDARY),
        ("service-quotas", "ListAWSDefaultServiceQuotas", SECONDARY),
        ("service-quotas", "ListServiceQuotas", SECONDARY),
    ]
    assert {q["quota_name"] for q in out["quotas"]} == {
        "ml.c6i.xlarge for endpoint usage",
        "ml.c6i.xlarge for transform job usage",
        SERVERLESS_CONCURRENCY_QUOTA,
    }


@pytest.mark.usefixtures("no_aws_credentials")
def test_without_credentials_the_check_stops_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preflight", str(EXAMPLES / "fraud-tier1.yaml"), "--region", SECONDARY]) == 2
    assert "no AWS credentials found" in capsys.readouterr().err


def test_a_region_outside_the_spec_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preflight", str(EXAMPLES / "fraud-tier1.yaml"), "--region", "ap-south-1", "--plan"]) == 2
    assert (
        "region 'ap-south-1' is not in deployment fraud-tier1; valid: us-east-1, us-west-2, eu-west-1" in capsys.readouterr().err
    )


def test_findings_exit_1_with_the_json_report_alone_on_stdout(
    aws: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the image is in the secondary but the model data is not
    digest = put_image(SECONDARY, "ml/fraud-xgb")
    _, data = fraud_spec(image__digest=digest)
    spec_file = tmp_path / "fraud.yaml"
    spec_file.write_text(yaml.safe_dump(data))
    needs = region_needs(parse_spec(data), SECONDARY)
    quotas = stubbed_quotas([generous_quotas([q.quota_name for q in needs.quotas])], [[]])
    deploy_primary(parse_spec(data))
    monkeypatch.setattr(preflight_command, "default_clients", lambda region: clients_with(quotas))
    # WHEN preflight runs with --json
    code = main(["preflight", str(spec_file), "--region", SECONDARY, "--json"])
    captured = capsys.readouterr()
    # THEN exit 1, stdout is the JSON report alone, the verdict is on stderr
    assert code == 1
    report = json.loads(captured.out)
    assert report["ok"] is False
    assert [(f["check"], f["status"]) for f in report["findings"]] == [
        ("account", "ok"),
        ("deploy-order", "ok"),
        ("replication", "ok"),
        ("image", "ok"),
        ("model-data", "finding"),
        ("quota", "ok"),
        ("quota", "ok"),
        ("quota", "ok"),
    ]
    assert "1 finding(s)" in captured.err


def test_refused_credentials_stop_the_run_with_a_message() -> None:
    spec, _ = fraud_spec()
    sts = boto3.client("sts", region_name=SECONDARY, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sts) as stubber:
        stubber.add_client_error("get_caller_identity", "ExpiredToken", "The security token included in the request is expired")
        with pytest.raises(DrkitError, match=r"AWS refused the credentials \(ExpiredToken: The security token included"):
            check_account(sts, region_needs(spec, SECONDARY))


def test_an_unreadable_artifact_without_a_kept_checksum_is_a_finding_not_a_crash() -> None:
    spec, _ = fraud_spec()
    needs = region_needs(spec, SECONDARY)
    obj = needs.model_data[0]
    s3 = boto3.client("s3", region_name=SECONDARY, aws_access_key_id="x", aws_secret_access_key="x")
    owner = {"ExpectedBucketOwner": ACCOUNT}
    with Stubber(s3) as stubber:
        stubber.add_response(
            "head_object",
            {"ContentLength": 17, "ETag": '"5d41402abc4b2a76b9719d911017c592"', "ChecksumCRC32": "O0HJ5g=="},
            {"Bucket": obj.bucket, "Key": obj.key, "ChecksumMode": "ENABLED", **owner},
        )
        stubber.add_client_error(
            "get_object", "AccessDenied", "Access Denied", 403, expected_params={"Bucket": obj.bucket, "Key": obj.key, **owner}
        )
        finding = check_model_data(s3, needs, obj)
    assert finding.status is Status.FINDING
    assert finding.detail == "present, but S3 keeps no whole-object SHA-256 and reading it failed: AccessDenied: Access Denied"
