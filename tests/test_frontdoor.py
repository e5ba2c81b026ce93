"""RegionalFrontDoor under Pulumi mocks, its router bundle, config, costs and permissions."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks

from drkit.components.endpoint import InferenceMode
from drkit.components.frontdoor import (
    BUNDLED_CORE,
    CONFIG_FILE,
    RegionalFrontDoor,
    RegionalFrontDoorArgs,
    args_from_spec,
    lambda_bundle,
    request_costs,
    route_keys,
    router_config,
)
from drkit.components.functions.router.config import ModelConfig, TeamConfig, parse_config
from drkit.core.errors import ComponentValidationError
from drkit.core.routing import ClassInfo, ClassKind
from drkit.engine.capture import RealisticMocks
from tests.conftest import Registered, example_spec, run_program

ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:fraud-workflow"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/drkit-fraud-tokens"
# S3 names are global across accounts: the front door's buckets carry the account before the region.
AUDIT_BUCKET = f"drkit-fraud-audit-{ACCOUNT}-{REGION}"
INPUT_BUCKET = f"drkit-fraud-inputs-{ACCOUNT}-{REGION}"
DIGEST = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

ARGS = RegionalFrontDoorArgs(
    deployment="fraud",
    region=REGION,
    account_id=ACCOUNT,
    regions=(REGION, "us-west-2"),
    domain="fraud.example.com",
    regional_host="us-east-1.fraud.example.com",
    hosted_zone_id="Z0123456789ABC",
    table_name="drkit-fraud-tokens",
    table_arn=TABLE_ARN,
    kms_key_arn=KEY,
    teams=[TeamConfig(name="card-auth", key_digest=DIGEST, monthly_budget_usd=100.0)],
    team_key_secret="drkit/fraud/team-keys",
    classes=[ClassInfo(name="critical", kind=ClassKind.CRITICAL, timeout_seconds=5)],
    models=[
        ModelConfig(
            name="xgb",
            endpoints={"realtime": "fraud-xgb-provisioned", "serverless": "fraud-xgb-serverless", "async": "fraud-xgb-async"},
            costs_usd={"realtime": 0.00001},
            batch=True,
        )
    ],
    state_machine_arn=MACHINE,
    tags={"Deployment": "fraud"},
)


class FrontDoorMocks(RealisticMocks):
    """RealisticMocks plus the outputs AWS computes for the front door's resources."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        rid, out = super().new_resource(args)
        region = REGION
        if args.typ == "aws:acm/certificate:Certificate":
            names = [args.inputs["domainName"], *args.inputs.get("subjectAlternativeNames", [])]
            out["domainValidationOptions"] = [
                {
                    "domainName": n,
                    "resourceRecordName": f"_x.{n}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_y.{n}.acm-validations.aws.",
                }
                for n in names
            ]
        elif args.typ == "aws:apigatewayv2/api:Api":
            rid = "a1b2c3d4e5"
            out.update(
                apiEndpoint=f"https://{rid}.execute-api.{region}.amazonaws.com",
                executionArn=f"arn:aws:execute-api:{region}:{ACCOUNT}:{rid}",
            )
        elif args.typ == "aws:apigatewayv2/domainName:DomainName":
            out["domainNameConfiguration"] = {
                **args.inputs["domainNameConfiguration"],
                "targetDomainName": f"d-{abs(hash(args.name)) % 10**10}.execute-api.{region}.amazonaws.com",
                "hostedZoneId": "Z1UJRXOUMOOFQ8",
            }
        elif args.typ == "aws:lambda/function:Function":
            out["invokeArn"] = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{out['arn']}/invocations"
        elif args.typ == "aws:cloudwatch/logGroup:LogGroup":
            out["arn"] = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{args.inputs['name']}"
        return rid, out


def run(args: RegionalFrontDoorArgs) -> Registered:
    """Build the component as a stack under mocks; return what it registered and its resolved outputs."""
    outputs: dict[str, Any] = {}

    def program() -> None:
        door = RegionalFrontDoor("door", args)
        pulumi.Output.all(door.domain_target, door.domain_target_zone_id, door.api_endpoint).apply(
            lambda v: outputs.update(domain_target=v[0], zone=v[1], api=v[2])
        )
        outputs["health_url"] = door.health_url

    return Registered(run_program(program, FrontDoorMocks(ACCOUNT, {}), stack="fraud-us-east-1"), outputs)


@pytest.fixture(scope="module")
def graph() -> Registered:
    return run(ARGS)


# --- the graph ---------------------------------------------------------------------------------------


def test_every_child_is_parented_to_the_component(graph: Registered) -> None:
    [(_, _, _, _)] = [r for r in graph.registered if r[0] == "drkit:frontdoor:RegionalFrontDoor"]
    children = [r for r in graph.registered if r[0] != "drkit:frontdoor:RegionalFrontDoor" and not r[0].startswith("pulumi:")]
    assert children
    orphans = [name for typ, name, parent, _ in children if "RegionalFrontDoor" not in parent]
    assert orphans == []


def test_api_is_an_http_api_reachable_only_through_its_domains(graph: Registered) -> None:
    api = graph.one("aws:apigatewayv2/api:Api")
    assert (api["protocolType"], api["disableExecuteApiEndpoint"]) == ("HTTP", True)
    integration = graph.one("aws:apigatewayv2/integration:Integration")
    assert (integration["integrationType"], integration["payloadFormatVersion"], integration["timeoutMilliseconds"]) == (
        "AWS_PROXY",
        "2.0",
        29500,
    )
    assert sorted(r["routeKey"] for r in graph.of("aws:apigatewayv2/route:Route")) == sorted(route_keys("/health"))
    stage = graph.one("aws:apigatewayv2/stage:Stage")
    assert (stage["name"], stage["autoDeploy"]) == ("$default", True)
    assert stage["defaultRouteSettings"] == {"throttlingBurstLimit": 200, "throttlingRateLimit": 100}
    assert stage["accessLogSettings"]["destinationArn"].endswith(":log-group:/aws/apigateway/drkit-fraud-us-east-1-router")
    permission = graph.one("aws:lambda/permission:Permission")
    assert (permission["principal"], permission["sourceArn"]) == (
        "apigateway.amazonaws.com",
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/*/*",
    )


def test_regional_and_shared_names_share_one_validated_certificate(graph: Registered) -> None:
    certificate = graph.one("aws:acm/certificate:Certificate")
    assert (certificate["domainName"], certificate["subjectAlternativeNames"]) == (
        "us-east-1.fraud.example.com",
        ["fraud.example.com"],
    )
    records = graph.of("aws:route53/record:Record")
    validation = [r for r in records if r["name"].startswith("_x.")]
    assert sorted(r["name"] for r in validation) == ["_x.fraud.example.com.", "_x.us-east-1.fraud.example.com."]
    assert all(r["allowOverwrite"] and r["zoneId"] == "Z0123456789ABC" for r in validation)
    assert len(graph.one("aws:acm/certificateValidation:CertificateValidation")["validationRecordFqdns"]) == 2
    domains = graph.of("aws:apigatewayv2/domainName:DomainName")
    assert sorted(d["domainName"] for d in domains) == ["fraud.example.com", "us-east-1.fraud.example.com"]
    assert {(d["domainNameConfiguration"]["endpointType"], d["domainNameConfiguration"]["securityPolicy"]) for d in domains} == {
        ("REGIONAL", "TLS_1_2")
    }
    assert len(graph.of("aws:apigatewayv2/apiMapping:ApiMapping")) == 2


def test_regional_host_is_an_alias_of_the_api_domain_and_outputs_name_it(graph: Registered) -> None:
    [alias] = [r for r in graph.of("aws:route53/record:Record") if r["type"] == "A"]
    assert alias["name"] == "us-east-1.fraud.example.com"
    assert alias["aliases"][0]["name"] == graph.outputs["domain_target"]
    assert graph.outputs["domain_target"].endswith(f".execute-api.{REGION}.amazonaws.com")
    assert graph.outputs["zone"] == "Z1UJRXOUMOOFQ8"
    assert graph.outputs["health_url"] == "https://us-east-1.fraud.example.com/health"


def test_no_regional_record_when_the_caller_owns_it() -> None:
    graph = run(dataclasses.replace(ARGS, create_regional_record=False))
    assert [r for r in graph.of("aws:route53/record:Record") if r["type"] == "A"] == []


def test_audit_bucket_is_object_locked_versioned_kms_encrypted_and_private(graph: Registered) -> None:
    buckets = {b["bucket"]: b for b in graph.of("aws:s3/bucket:Bucket")}
    assert set(buckets) == {AUDIT_BUCKET, INPUT_BUCKET}
    assert buckets[AUDIT_BUCKET]["objectLockEnabled"] is True
    lock = graph.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 365}
    sse = graph.of("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert len(sse) == 2 and all(s["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == KEY for s in sse)
    assert len(graph.of("aws:s3/bucketVersioning:BucketVersioning")) == 2
    blocks = graph.of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert len(blocks) == 2 and all(b["restrictPublicBuckets"] and b["blockPublicPolicy"] for b in blocks)
    expiry = graph.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert expiry["rules"][0]["expiration"]["days"] == 7


def test_function_ships_the_router_package_and_its_config(graph: Registered) -> None:
    function = graph.one("aws:lambda/function:Function")
    assert (function["handler"], function["runtime"], function["timeout"]) == ("router.handler.handler", "python3.12", 29)
    assert function["environment"]["variables"] == {
        "ROUTER_CONFIG_PATH": f"/var/task/{CONFIG_FILE}",
        "ROUTER_STATE_MACHINE_ARN": MACHINE,
    }
    archive = function["code"]
    assert isinstance(archive, pulumi.AssetArchive)
    assert set(archive.assets) == {*lambda_bundle(), CONFIG_FILE}
    asset = archive.assets[CONFIG_FILE]
    assert isinstance(asset, pulumi.StringAsset)
    config = json.loads(asset.text)
    assert parse_config(config).teams[0].key_digest == DIGEST


def test_router_policy_is_least_privilege(graph: Registered) -> None:
    policy = json.loads(graph.one("aws:iam/rolePolicy:RolePolicy")["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    endpoint = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/"
    assert by_sid["InvokeEndpoints"]["Resource"] == [f"{endpoint}fraud-xgb-provisioned", f"{endpoint}fraud-xgb-serverless"]
    assert len(by_sid["DescribeEndpoints"]["Resource"]) == 3
    assert by_sid["TableItems"]["Resource"] == [TABLE_ARN]
    assert by_sid["WriteAudit"] == by_sid["WriteAudit"] | {
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{AUDIT_BUCKET}/audit/*"],
    }
    assert by_sid["StartWorkflow"]["Resource"] == [MACHINE]
    assert by_sid["DataKey"]["Resource"] == [KEY]
    # Only the team-key secret, by name: Secrets Manager ARNs end in "-" plus 6 random characters.
    assert by_sid["ReadTeamKeySecret"] == by_sid["ReadTeamKeySecret"] | {
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:drkit/fraud/team-keys-??????"],
    }
    # Resource "*" only for X-Ray, whose actions take no resource type (active tracing needs them);
    # metrics are embedded-metric log lines, not PutMetricData calls.
    assert [s["Sid"] for s in policy["Statement"] if s["Resource"] == "*" or "*" in s["Resource"]] == ["WriteTraces"]
    assert by_sid["WriteTraces"]["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    assert not any(a.startswith("cloudwatch:") for s in policy["Statement"] for a in s["Action"])
    assert not any(a == "*" or a.endswith(":*") for s in policy["Statement"] for a in s["Action"])


def test_no_workflow_permission_without_a_workflow() -> None:
    args = dataclasses.replace(
        ARGS, state_machine_arn=None, models=[ModelConfig(name="xgb", endpoints={"serverless": "e"}, costs_usd={})]
    )
    policy = json.loads(run(args).one("aws:iam/rolePolicy:RolePolicy")["policy"])
    assert "StartWorkflow" not in {s["Sid"] for s in policy["Statement"]}


# --- validation: before any child, naming field, value and fix ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"region": "eu-west-1"}, "RegionalFrontDoor door: region 'eu-west-1' is not in regions ['us-east-1', 'us-west-2']"),
        (
            {"regional_host": "us-east-1.other.com"},
            "regional_host 'us-east-1.other.com' must be a subdomain of domain 'fraud.example.com'",
        ),
        ({"models": []}, "models is empty; give at least one model's endpoints"),
        ({"classes": []}, "classes is empty"),
        ({"teams": [ARGS.teams[0], ARGS.teams[0]]}, "teams share a key_digest; every team needs its own key"),
        ({"team_key_secret": None}, "team_key_secret is unset but 1 team(s) are listed; name the secret keying their digests"),
        ({"reserved_concurrent_executions": 0}, "reserved_concurrent_executions 0 is invalid; valid: at least 1, or unset"),
        (
            {"models": [ModelConfig(name="m", endpoints={"batch": "e"}, costs_usd={})]},
            "models[m].endpoints has path 'batch'; valid: realtime, serverless, async",
        ),
        (
            {"models": [ModelConfig(name="m", endpoints={"serverless": "e"}, costs_usd={"serverless": -1.0})]},
            "models[m].costs_usd {'serverless': -1.0} must be ≥ 0 USD",
        ),
        ({"state_machine_arn": None}, "models[xgb] serves async/batch but state_machine_arn is unset"),
        ({"health_check_path": "/v1/health"}, "health_check_path '/v1/health' must start with / and not with /v1/"),
        ({"max_inline_bytes": 6 * 1024 * 1024}, "max_inline_bytes 6291456 is invalid; valid: 1-5242880"),
        ({"timeout_seconds": 30}, "timeout_seconds 30 is invalid; valid: 1-29 (HTTP API integrations end at 30 s)"),
        ({"breaker": {"cooldown": 3}}, "breaker.cooldown: unknown setting"),
        ({"audit_retention_days": 0}, "audit_retention_days 0 must be ≥ 1"),
        ({"audit_lock_mode": "LEGAL"}, "audit_lock_mode 'LEGAL' is invalid; valid: GOVERNANCE, COMPLIANCE"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_undeployable_arguments_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentValidationError) as caught:
        RegionalFrontDoor("door", dataclasses.replace(ARGS, **change))
    assert message in str(caught.value)


# --- bundle, config, costs --------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_bundle_imports_only_stdlib_boto3_and_bundled_drkit_modules() -> None:
    bundled = {f"drkit.core.{n.removesuffix('.py')}" for n in BUNDLED_CORE} | {"drkit", "drkit.core"}
    allowed_top = set(sys.stdlib_module_names) | {"boto3", "botocore", "__future__"}
    for archive_path, source in lambda_bundle().items():
        for module in _imports(source):
            ok = module in bundled or module.split(".")[0] in allowed_top
            assert ok, f"{archive_path} imports {module}, which the Lambda package does not carry"


def test_bundle_runs_without_pulumi_or_pydantic(tmp_path: Path) -> None:
    for archive_path, source in lambda_bundle().items():
        target = tmp_path / archive_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(router_config(ARGS)))
    script = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pulumi', 'pydantic', 'components', 'stacks', 'yaml'):\n"
        "            raise ImportError(f'{name} is not in the Lambda package')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from router.config import load_config\n"
        "from router.handler import HttpError, handler\n"
        "config = load_config()\n"
        "print(config.state_machine_arn, config.input_bucket)\n"
    )
    env = {
        **os.environ,
        "ROUTER_CONFIG_PATH": str(tmp_path / CONFIG_FILE),
        "ROUTER_STATE_MACHINE_ARN": MACHINE,
        "PYTHONPATH": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [MACHINE, INPUT_BUCKET]


def test_request_costs_follow_the_pricing_table_line_by_line() -> None:
    # us-east-1 entries of drkit/core/prices.json: HTTP API $1/M, Lambda $0.20/M and $0.0000166667/GB-s,
    # S3 PUT $0.005/1000 and GET $0.0004/1000, SNS $0.50/M, Standard transitions $0.025/1000
    front = 1.00e-6 + 0.20e-6 + 0.0000166667 * 0.05
    queued = 0.005e-3 + 0.0004e-3 + 0.50e-6 + 8 * 0.025e-3
    costs = request_costs(REGION, realtime_instance="ml.m5.xlarge", target_invocations_per_minute=1000, serverless_memory_mb=2048,
                          async_instance="ml.m5.xlarge", async_concurrency=4, batch=True)  # fmt: skip
    assert costs["realtime"] == pytest.approx(0.23 / 60_000 + front, rel=1e-6)  # ml.m5.xlarge $0.23/h (Price List)
    assert costs["serverless"] == pytest.approx(2 * 0.00002 + front, rel=1e-6)
    assert costs["async"] == pytest.approx(0.23 / 3600 * 5 / 4 + queued + front, rel=1e-6)
    assert costs["batch"] == pytest.approx(0.23 / 3600 + queued + front, rel=1e-6)
    # an instance type the table has no price for leaves that path out (the router's fallback applies)
    assert "realtime" not in request_costs(REGION, realtime_instance="ml.x9.large")
    # each region reads its own entries (eu-west-1's serverless figure is the us-east-1 rate, marked unsourced)
    assert request_costs("eu-west-1", serverless_memory_mb=1024)["serverless"] == pytest.approx(0.00002 * 1.0 * 1 + front)


@pytest.mark.parametrize("example", ["fraud-tier1", "search-tier2", "docs-tier3"])
def test_args_from_each_example_spec_build_a_front_door(example: str) -> None:
    from drkit.stacks.plan import plan_region, token_table_name

    spec = example_spec(example)
    for region in spec.regions:
        plan = plan_region(spec, region)
        args = args_from_spec(
            spec, region, deployed=[(e.model, e.mode) for e in plan.endpoints], table_name=token_table_name(spec),
            table_arn=TABLE_ARN, kms_key_arn=KEY, state_machine_arn=MACHINE,
        )  # fmt: skip
        config = parse_config(json.loads(json.dumps(router_config(args))))
        assert config.region == region and {t.name for t in config.teams} == {t.name for t in spec.teams}
        deployed = {(e.model, e.mode) for e in plan.endpoints}
        for model in config.models.values():
            assert ("realtime" in model.endpoints) == ((model.name, InferenceMode.PROVISIONED) in deployed)
            assert set(model.costs_usd) >= set(model.endpoints)
    graph = run(args)
    assert graph.one("aws:apigatewayv2/api:Api")["protocolType"] == "HTTP"


def test_spec_audit_lock_and_reserved_concurrency_reach_the_graph_only_when_asked() -> None:
    from drkit.engine.capture import capture

    spec = example_spec("docs-tier3")
    region = spec.primary_region
    default = capture(spec, [region])[region]
    # No reserved concurrency by default: AWS keeps 100 unreserved executions per account.
    assert all(f.inputs.get("reservedConcurrentExecutions") in (None, -1) for f in default.of_type("aws:lambda/function:Function"))
    (lock,) = default.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 365}

    asked = spec.model_copy(
        update={"audit": spec.audit.model_copy(update={"lock_mode": "COMPLIANCE", "retention_days": 30}),
                "reserved_concurrency": {"router": 20, "completion": 5}}  # fmt: skip
    )
    graph = capture(asked, [region])[region]
    reserved = {f.inputs["name"]: f.inputs.get("reservedConcurrentExecutions") for f in graph.of_type("aws:lambda/function:Function")}
    assert reserved[f"drkit-docs-tier3-{region}-router"] == 20 and reserved["drkit-docs-tier3-completion"] == 5
    assert reserved["drkit-docs-tier3-redrive"] in (None, -1)
    (lock,) = graph.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 30}
