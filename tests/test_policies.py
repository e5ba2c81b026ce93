"""The CrossGuard pack, driven through Pulumi's analyzer protocol: one passing and one failing fixture per policy.

Passing fixtures are the captured example stacks; each failing fixture changes one thing
in one of them (GIVEN a compliant stack, WHEN one field is broken, THEN exactly that
policy reports it, with a message that says what to fix).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drkit.commands.check.analyzer import PolicyPackError, PolicyPackProcess, reconcile_config
from drkit.commands.check.run import DEFAULT_PACK_DIR, Finding, check_stacks
from drkit.core.errors import SpecError
from drkit.engine.graph import RegionGraph
from drkit.policies import resources
from tests.conftest import ROOT, example_graph
from tests.test_iam import NEGATIVE_CORPUS

CONFIG = json.loads((ROOT / "policies" / "policy-config.json").read_text())


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(DEFAULT_PACK_DIR) as running:
        yield running


def findings(pack: PolicyPackProcess, graph: RegionGraph, config: dict[str, Any] | None = None) -> list[Finding]:
    return check_stacks(pack, [graph], config=CONFIG if config is None else config).findings


def mutate(
    graph: RegionGraph,
    type_token: str,
    change: Callable[[dict[str, Any]], None],
    inference_type: str | None = None,
    when: Callable[[dict[str, Any]], bool] = lambda _inputs: True,
) -> RegionGraph:
    """A copy of `graph` whose first resource of `type_token` (and InferenceType, and `when` its inputs) has had `change` applied."""
    resources = list(graph.resources)
    index = next(
        i
        for i, r in enumerate(resources)
        if r.type == type_token and inference_type in (None, r.tags.get("InferenceType")) and when(dict(r.inputs))
    )
    inputs = copy.deepcopy(dict(resources[index].inputs))
    change(inputs)
    resources[index] = dataclasses.replace(resources[index], inputs=inputs)
    return dataclasses.replace(graph, resources=tuple(resources))


def without(graph: RegionGraph, type_token: str) -> RegionGraph:
    return dataclasses.replace(graph, resources=tuple(r for r in graph.resources if r.type != type_token))


def search(region: str = "eu-west-1") -> RegionGraph:
    return example_graph("search-tier2")[region]


def fraud(region: str = "us-east-1") -> RegionGraph:
    return example_graph("fraud-tier1")[region]


def _set_variant(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        inputs["productionVariants"][0][key] = value

    return change


def _wildcard(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"][0]["Action"] = ["s3:*"]
    inputs["policy"] = json.dumps(document)


def _resource(arn: str) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs["policy"])
        document["Statement"][0]["Resource"] = [arn]
        inputs["policy"] = json.dumps(document)

    return change


def _allow_http(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}  # denies only TLS: the opposite
    inputs["policy"] = json.dumps(document)


def _image(image: str) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        inputs["primaryContainer"]["image"] = image

    return change


CONFIG_TYPE = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"

# (policy, passing stack, failing stack, config for both or None, fragment of the violation message)
CASES: list[tuple[str, Callable[[], RegionGraph], Callable[[], RegionGraph], dict[str, Any] | None, str]] = [
    (
        "monthly-cost-within-budget",
        search,
        search,
        {"monthly-cost-within-budget": {"budgets": {"search-tier2-eu-west-1": 100}}},
        "over its budget of $100",
    ),
    (
        "monthly-cost-complete",
        lambda: search("eu-central-1"),
        search,
        None,
        "ARC Region switch plan, monthly fee",
    ),
    (
        "instance-type-allowlist",
        search,
        lambda: mutate(search(), CONFIG_TYPE, _set_variant("instanceType", "ml.p3.16xlarge")),
        None,
        "uses ml.p3.16xlarge, which is not in the allowed instance types",
    ),
    (
        "capacity-caps",
        search,
        lambda: mutate(search(), "aws:appautoscaling/target:Target", lambda i: i.update(maxCapacity=40.0)),
        None,
        "above its cap of 12",
    ),
    (
        "off-hours-scale-down",
        search,
        lambda: without(search(), "aws:appautoscaling/scheduledAction:ScheduledAction"),
        None,
        "has no scheduled action lowering its minimum off-hours",
    ),
    (
        "required-cost-tags",
        search,
        lambda: mutate(search(), "aws:s3/bucket:Bucket", lambda i: i["tags"].pop("CostCenter")),
        None,
        "lacks cost tags CostCenter",
    ),
    (
        "token-table-global",
        search,
        lambda: mutate(search(), "aws:dynamodb/table:Table", lambda i: i.update(billingMode="PROVISIONED", ttl={"enabled": False})),
        None,
        "billingMode is 'PROVISIONED', needs 'PAY_PER_REQUEST'; TTL is off",
    ),
    (
        "health-check-and-dns-record",
        search,
        lambda: without(search(), "aws:route53/healthCheck:HealthCheck"),
        None,
        "has no Route 53 health check",
    ),
    (
        "rto-within-tier-target",
        fraud,
        lambda: mutate(fraud(), "aws:route53/healthCheck:HealthCheck", lambda i: i.update(requestInterval=30.0, failureThreshold=10.0),
                       when=lambda i: i.get("type") == "HTTPS"),  # fmt: skip
        None,
        "over tier 1's target of 60 s",
    ),
    (
        "allowed-regions",
        lambda: search("eu-central-1"),
        lambda: search("eu-central-1"),
        {"allowed-regions": {"allowedRegions": ["eu-west-1", "eu-north-1"]}},
        "is placed in eu-central-1, outside the allowed regions",
    ),
    (
        "regional-independence",
        search,
        lambda: mutate(
            search(),
            "aws:sagemaker/model:Model",
            _image("123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/query-embed@sha256:" + "a" * 64),
        ),
        None,
        "references us-east-1 at `primaryContainer.image`",
    ),
    (
        "model-pinned-by-digest",
        search,
        lambda: mutate(search(), "aws:sagemaker/model:Model", _image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/query-embed:latest")),
        None,
        "is not pinned by digest",
    ),
    (
        "tier1-multi-az",
        fraud,
        lambda: mutate(fraud(), CONFIG_TYPE, _set_variant("initialInstanceCount", 1.0), "provisioned"),
        None,
        "Set min_instances >= 2",
    ),
    (
        "kms-on-every-store",
        search,
        lambda: without(search(), "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"),
        None,
        "has no SSE-KMS default encryption",
    ),
    (
        "region-switch-plan-matches-tier",
        search,
        lambda: mutate(search(), "aws:arcregionswitch/plan:Plan", lambda i: i.update(recoveryTimeObjectiveMinutes=60.0)),
        None,
        "promises an RTO of 60 min, above tier 2's target of 15 min",
    ),
    (
        "region-switch-plan-matches-tier",
        search,
        lambda: mutate(search(), "aws:arcregionswitch/plan:Plan", lambda i: i.update(regions=["eu-west-1", "eu-north-1"])),
        None,
        "do not cover region(s) eu-central-1 of the deployment",
    ),
    (
        "fis-template-has-stop-condition",
        search,
        lambda: mutate(search(), "aws:fis/experimentTemplate:ExperimentTemplate", lambda i: i.update(stopConditions=[{"source": "none"}])),
        None,
        "has no CloudWatch alarm stop condition",
    ),
    (
        "resiliency-policy-matches-tier",
        lambda: search("eu-central-1"),
        lambda: mutate(search("eu-central-1"), "aws:resiliencehub/resiliencyPolicy:ResiliencyPolicy", lambda i: i["policy"]["region"].update(rto="2h")),
        None,
        "sets region RTO '2h' / RPO '1s'; tier 2 needs at most 900s / 1s",
    ),
    (
        "no-wildcard-iam-actions",
        search,
        lambda: mutate(search(), "aws:iam/rolePolicy:RolePolicy", _wildcard),
        None,
        "allows s3:*",
    ),
    (
        "async-functions-keep-failed-events",
        search,
        lambda: without(search(), "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"),
        None,
        "is invoked asynchronously by EventBridge target",
    ),
    (
        "tls-only-buckets",
        search,
        lambda: without(search(), "aws:s3/bucketPolicy:BucketPolicy"),
        None,
        "accepts plain HTTP: no bucket policy denies requests with aws:SecureTransport false",
    ),
    (
        "tls-only-buckets",
        search,
        lambda: mutate(search(), "aws:s3/bucketPolicy:BucketPolicy", _allow_http),
        None,
        "accepts plain HTTP",
    ),
    (
        "iam-arns-scoped",
        search,
        lambda: mutate(search(), "aws:iam/rolePolicy:RolePolicy", _resource("arn:aws:dynamodb:*:*:table/drkit-search-tier2-tokens")),
        None,
        "allows arn:aws:dynamodb:*:*:table/drkit-search-tier2-tokens, which is open to any account",
    ),
    (
        "iam-arns-scoped",
        search,
        lambda: mutate(search(), "aws:iam/rolePolicy:RolePolicy", _resource("arn:aws:sagemaker:eu-west-1:123456789012:transform-job/drkit-*")),
        None,
        "transform-job/drkit-*, which matches names beyond this deployment's",
    ),
    (
        "iam-arns-scoped",
        search,
        lambda: mutate(search(), "aws:iam/rolePolicy:RolePolicy", _resource("arn:aws:lambda:eu-west-1:123456789012:function:*")),
        None,
        "function:*, which matches names beyond this deployment's",
    ),
    # The IAM rules: one case each from the negative corpus of tests/test_iam.py (which has one per defect kind).
    *[(rule, fraud, broken, None, fragment) for _, broken, rule, fragment in {c[2]: c for c in NEGATIVE_CORPUS}.values()],
    # The deploy rules; tests/test_deploy_rules.py has one case per defect kind.
    (
        "aws-string-length",
        search,
        lambda: mutate(search(), "aws:arcregionswitch/plan:Plan", lambda i: i.update(name="drkit-search-tier2-eu-central-1-x")),
        None,
        "allows at most 32",
    ),
    (
        "aws-pattern",
        fraud,
        lambda: mutate(fraud(), "aws:sagemaker/model:Model", lambda i: i.update(name="fraud-tier1-fraud-xgb-2026.11.1")),
        None,
        "does not match sagemaker CreateModel ModelName's pattern",
    ),
    ("aws-enum", search, lambda: mutate(search(), CONFIG_TYPE, _set_variant("instanceType", "ml.m5.huge")), None, "is not one of"),
    (
        "aws-number-range",
        search,
        lambda: mutate(search(), "aws:route53/healthCheck:HealthCheck", lambda i: i.update(failureThreshold=0.0), when=lambda i: i.get("type") == "HTTPS"),
        None,
        "is below route53 CreateHealthCheck HealthCheckConfig.FailureThreshold's minimum 1",
    ),
    (
        "aws-documented-limits",
        search,
        lambda: mutate(search(), "aws:s3/bucket:Bucket", lambda i: i.update(bucket="xn--models-eu-west-1")),
        None,
        "reserved prefix 'xn--'",
    ),
    (
        "input-safety",
        search,
        lambda: mutate(search(), "aws:s3/bucket:Bucket", lambda i: i["tags"].update({"aws:team": "search"})),
        None,
        "uses the reserved prefix 'aws:'",
    ),
]


def test_every_policy_of_the_pack_has_a_case(pack: PolicyPackProcess) -> None:
    _, _, infos = pack.info()
    assert sorted(p.name for p in infos) == sorted({case[0] for case in CASES})


@pytest.mark.parametrize(("policy", "passing", "failing", "config", "fragment"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_policy_passes_a_compliant_stack_and_fails_a_broken_one(
    pack: PolicyPackProcess,
    policy: str,
    passing: Callable[[], RegionGraph],
    failing: Callable[[], RegionGraph],
    config: dict[str, Any] | None,
    fragment: str,
) -> None:
    compliant = [f for f in findings(pack, passing()) if f.policy == policy]
    assert compliant == [], f"{policy} flagged a compliant stack: {compliant}"
    broken = [f for f in findings(pack, failing(), config) if f.policy == policy]
    assert broken, f"{policy} did not flag the broken stack"
    assert any(fragment in f.message for f in broken), [f.message for f in broken]


def test_a_single_broken_field_trips_only_its_own_policy(pack: PolicyPackProcess) -> None:
    # ml.c5.large: outside the shipped allowlist, yet cheap enough to stay within the stack's budget
    # (a P3 is now priced, so it would rightly trip the budget too)
    broken = mutate(search(), CONFIG_TYPE, _set_variant("instanceType", "ml.c5.large"))
    # (the advisory monthly-cost-complete notes the unpriced ARC plan on every primary, broken or not)
    assert {f.policy for f in findings(pack, broken)} - {"monthly-cost-complete"} == {"instance-type-allowlist"}


def test_an_instance_type_sagemaker_sells_but_drkit_cannot_price_is_a_cost_message_only(pack: PolicyPackProcess) -> None:
    # ml.m4.xlarge is in botocore's ProductionVariantInstanceType, not in drkit's price table.
    broken = mutate(search(), CONFIG_TYPE, _set_variant("instanceType", "ml.m4.xlarge"))
    found = findings(pack, broken)
    assert {f.policy for f in found if f.level == "mandatory"} == {"instance-type-allowlist"}  # no deploy rule, no crash
    unpriced = [f.message for f in found if f.policy == "monthly-cost-complete"]
    assert any("ml.m4.xlarge" in m for m in unpriced), unpriced


def test_resource_findings_carry_the_resource_and_stack(pack: PolicyPackProcess) -> None:
    broken = mutate(search(), "aws:iam/rolePolicy:RolePolicy", _wildcard)
    (finding,) = [f for f in findings(pack, broken) if f.policy == "no-wildcard-iam-actions"]
    assert finding.stack == "search-tier2-eu-west-1"
    assert finding.resource_type == "aws:iam/rolePolicy:RolePolicy"
    assert finding.urn.endswith(f"::{finding.resource_name}")
    assert finding.level == "mandatory"


def test_config_can_make_a_policy_advisory_or_disable_it(pack: PolicyPackProcess) -> None:
    broken = mutate(search(), CONFIG_TYPE, _set_variant("instanceType", "ml.p3.16xlarge"))
    advisory = findings(pack, broken, {"instance-type-allowlist": "advisory"})
    assert [f.level for f in advisory if f.policy == "instance-type-allowlist"] == ["advisory"]
    assert not [f for f in findings(pack, broken, {"instance-type-allowlist": "disabled"}) if f.policy == "instance-type-allowlist"]


def test_all_sets_every_policy_level(pack: PolicyPackProcess) -> None:
    broken = without(search(), "aws:appautoscaling/scheduledAction:ScheduledAction")
    assert {f.level for f in findings(pack, broken, {"all": "mandatory"}) if f.policy == "off-hours-scale-down"} == {"mandatory"}


def test_rto_target_comes_from_config(pack: PolicyPackProcess) -> None:
    tight = {"rto-within-tier-target": {"rtoTargetSeconds": {"1": 60, "2": 120, "3": 3600}}}
    (finding,) = [f for f in findings(pack, search("eu-central-1"), tight) if f.policy == "rto-within-tier-target"]
    assert "over tier 2's target of 120 s" in finding.message


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"instance-type-allowlst": "advisory"}, "instance-type-allowlst: no such policy in the pack (did you mean instance-type-allowlist?); valid: all, access-contract-allows, allowed-regions"),
        ({"all": "strict"}, "all: 'strict' is not an enforcement level; valid: advisory, mandatory, remediate, disabled"),
        ({"capacity-caps": {"maxInstancesPerModel": "many"}}, "capacity-caps.maxInstancesPerModel: 'many' is not of type 'integer'"),
        ({"capacity-caps": {"maxInstances": 3}}, "capacity-caps.maxInstances: not a setting of this policy; valid: enforcementLevel, maxInstancesPerModel, modelCaps"),
        ({"allowed-regions": {"allowedRegions": ["mars-1"]}}, "allowed-regions.allowedRegions.0: 'mars-1' is not one of"),
        ({"tier1-multi-az": {"enforcementLevel": "loud"}}, "tier1-multi-az.enforcementLevel: 'loud' is not one of advisory, mandatory"),
    ],
)
def test_bad_policy_config_is_refused_naming_the_field(pack: PolicyPackProcess, config: dict[str, Any], problem: str) -> None:
    _, _, infos = pack.info()
    with pytest.raises(SpecError) as error:
        reconcile_config(infos, config, "policy-config.json")
    assert error.value.source == "policy-config.json"
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_schema_defaults_fill_in_missing_settings(pack: PolicyPackProcess) -> None:
    _, _, infos = pack.info()
    level, properties = reconcile_config(infos, {})["capacity-caps"]
    assert (level, properties) == ("mandatory", {"maxInstancesPerModel": 10, "modelCaps": {}})


def _strong_fraud() -> Any:
    """fraud-tier1 under multi-Region strong consistency, in the US MRSC Region set."""
    from drkit.core.spec import parse_spec
    from drkit.engine.capture import capture
    from tests.conftest import example_spec

    data = example_spec("fraud-tier1").model_dump(mode="json", by_alias=True)
    data.update(consistency="strong", secondary_regions=["us-east-2", "us-west-2"])
    return capture(parse_spec(data))


def test_strong_consistency_passes_the_table_and_independence_rules(pack: PolicyPackProcess) -> None:
    """Inline STRONG replicas name their regions' keys (replication, not a dependency), and the
    secondaries own no table: the pack must accept both, and still catch a broken inline replica."""
    graph = _strong_fraud()
    report = check_stacks(pack, list(graph), config=CONFIG)
    assert [f for f in report.findings if f.policy in ("regional-independence", "token-table-global")] == []
    primary = graph.primary

    def one_replica(inputs: dict[str, Any]) -> None:
        inputs["replicas"] = inputs["replicas"][:1]

    broken = [f for f in findings(pack, mutate(primary, "aws:dynamodb/table:Table", one_replica)) if f.policy == "token-table-global"]
    assert any("needs exactly 2 inline replicas (3 regions); got 1" in f.message for f in broken), broken


def test_the_pack_answers_taggability_from_its_table_without_loading_the_sdk_module() -> None:
    """Loading pulumi_aws.sagemaker to ask one question took 0.3 s of the pack's first analysis."""
    code = (
        "import sys; from drkit.policies.resources import is_taggable; "
        "print(is_taggable('aws:sagemaker/endpoint:Endpoint'), is_taggable('aws:s3/bucketPolicy:BucketPolicy'), "
        "'pulumi_aws.sagemaker.endpoint' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.split() == ["True", "False", "False"]


def test_a_table_for_another_pulumi_aws_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is only trusted for the pulumi-aws it was read from; otherwise the SDK answers."""
    stale = tmp_path / "taggable.json"
    stale.write_text(json.dumps({"pulumi_aws": "0.0.1", "types": {"aws:sagemaker/endpoint:Endpoint": False}}))
    monkeypatch.setattr(resources, "TAGGABLE_TABLE", stale)
    resources._taggable_table.cache_clear()
    resources.is_taggable.cache_clear()
    try:
        assert resources.is_taggable("aws:sagemaker/endpoint:Endpoint") is True
    finally:
        resources._taggable_table.cache_clear()
        resources.is_taggable.cache_clear()


def test_a_rule_that_raises_is_reported_as_a_pack_failure_naming_the_resource(tmp_path: Path) -> None:
    """A bug in a rule is not a violation: the check stops with one line naming the pack and the
    resource it was analyzing (every Analyze call is in flight at once; the failed one is found)."""
    (tmp_path / "PulumiPolicy.yaml").write_text("description: broken\nversion: 0.0.1\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "from pulumi_policy import PolicyPack, ResourceValidationPolicy\n"
        "def validate(args, report):\n"
        "    if args.resource_type == 'aws:dynamodb/table:Table':\n"
        "        raise RuntimeError('rule bug')\n"
        "PolicyPack(name='broken', policies=[ResourceValidationPolicy(name='buggy', description='d', validate=validate)])\n"
    )
    graph = example_graph("fraud-tier1").primary
    (table,) = graph.of_type("aws:dynamodb/table:Table")
    with PolicyPackProcess(tmp_path) as broken, pytest.raises(PolicyPackError) as caught:
        check_stacks(broken, [graph], config={})
    assert str(tmp_path) in str(caught.value) and table.urn in str(caught.value) and "rule bug" in str(caught.value)


def test_a_pack_that_dies_mid_analysis_is_reported_with_its_exit_code_and_last_words(tmp_path: Path) -> None:
    """Every Analyze call in flight fails when the pack dies, so the report names the stack, the
    exit code and what the pack said, not whichever resource's reply was read first."""
    (tmp_path / "PulumiPolicy.yaml").write_text("description: dies\nversion: 0.0.1\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import os, sys, threading\n"
        "from pulumi_policy import PolicyPack, ResourceValidationPolicy\n"
        "dying = threading.Lock()\n"
        "def validate(args, report):\n"
        "    if args.resource_type == 'aws:sns/topic:Topic':\n"
        "        with dying:  # the pack validates resources on several threads: only one gets to speak\n"
        "            print('out of memory, say', file=sys.stderr, flush=True)\n"
        "            os._exit(3)\n"
        "PolicyPack(name='dies', policies=[ResourceValidationPolicy(name='fatal', description='d', validate=validate)])\n"
    )
    graph = example_graph("fraud-tier1").primary
    with PolicyPackProcess(tmp_path) as dying, pytest.raises(PolicyPackError) as caught:
        check_stacks(dying, [graph], config={})
    assert str(caught.value) == f"the policy pack in {tmp_path} exited (code 3) while analyzing stack {graph.stack}: out of memory, say"
