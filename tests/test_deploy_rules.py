"""The deploy rules: AWS's own limits (botocore's service models, and the documented ones they lack)
applied to every resource of every stack, through the real pack.

The oracle is AWS's: botocore's models and the AWS pages the hand rules cite. Every example passes
every rule; each defect kind of the negative corpus (tests/data/deploy_rules/corpus.json, one
fixture per kind) is caught by the rule its fixture names.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import keyword
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.names import CheckedStack, name_collisions
from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks
from drkit.components.endpoint import InferenceMode, model_name_for
from drkit.components.region_switch import plan_name
from drkit.core import aws_limits as al
from drkit.engine.graph import RegionGraph
from drkit.policies.deploy_rules import POLICIES
from tests.conftest import EXAMPLE_NAMES, example_graph, example_spec

CORPUS = json.loads((Path(__file__).parent / "data" / "deploy_rules" / "corpus.json").read_text())
DEPLOY_RULES = {p.name for p in POLICIES}
BOTOCORE = botocore.session.get_session()


def _botocore_member(service: str, operation: str, member: str) -> Any:
    return BOTOCORE.get_service_model(service).operation_model(operation).input_shape.members[member]


def rule_findings(graph: RegionGraph) -> list[tuple[str, str]]:
    """(policy, message) from calling every deploy rule directly on each resource (no gRPC)."""
    found: list[tuple[str, str]] = []
    for resource in graph.custom_resources:
        args = types.SimpleNamespace(resource_type=resource.type, props=dict(resource.inputs), name=resource.name, urn=resource.urn)
        for policy in POLICIES:
            policy.validate(args, lambda message, urn=None, name=policy.name: found.append((name, message)))  # type: ignore[misc]
    return found


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(DEFAULT_PACK_DIR) as running:
        yield running


# --- the table covers every resource type, and says what pulumi-aws and botocore say -------------


def test_every_resource_type_of_every_example_has_an_entry() -> None:
    missing = {
        (name, r.type)
        for name in EXAMPLE_NAMES
        for graph in example_graph(name)
        for r in graph.custom_resources
        if al.api_for(r.type) is None
    }
    assert missing == set(), f"add these types to drkit.core.aws_limits.RESOURCE_APIS: {sorted(missing)}"


def test_a_type_without_an_entry_is_reported_by_name() -> None:
    assert al.api_for("aws:ec2/instance:Instance") is None
    assert isinstance(al.api_for("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), al.Unconstrained)


def _pulumi_inputs(type_token: str) -> set[str]:
    """The camelCase input names pulumi-aws's Python class takes for a type token."""
    module_path, _, class_name = type_token.split(":", 1)[1].partition(":")
    package = module_path.split("/")[0]
    package = f"{package}_" if keyword.iskeyword(package) else package
    cls = getattr(importlib.import_module(f"pulumi_aws.{package}"), class_name)
    snake = inspect.signature(cls._internal_init).parameters
    return {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name) for name in snake}


@pytest.mark.parametrize("type_token", sorted(t for t, a in al.RESOURCE_APIS.items() if isinstance(a, al.Api)))
def test_each_field_is_a_pulumi_input_and_a_botocore_member(type_token: str) -> None:
    api = al.RESOURCE_APIS[type_token]
    assert isinstance(api, al.Api)
    inputs = _pulumi_inputs(type_token)
    for field in api.fields:
        top = field.prop.split(".")[0].removesuffix("[]")
        assert top in inputs, f"{type_token}: {top!r} is not an input of pulumi-aws's class"
        limits = al.api_limits(api.service, api.operation, field.member)  # raises on a member botocore lacks
        assert limits.source == f"{api.service} {api.operation} {field.member}"
    for prop in api.unique.props if api.unique else ():
        assert prop in inputs


def test_limits_are_botocores_own() -> None:
    model_name = _botocore_member("sagemaker", "CreateModel", "ModelName")
    assert al.api_limits("sagemaker", "CreateModel", "ModelName") == al.Limits(
        "sagemaker CreateModel ModelName", "string", model_name.metadata["min"], model_name.metadata["max"], model_name.metadata["pattern"]
    )
    plan = _botocore_member("arc-region-switch", "CreatePlan", "name")
    assert al.api_limits("arc-region-switch", "CreatePlan", "name").max == plan.metadata["max"] == 32


@pytest.mark.parametrize(
    ("pattern", "value", "whole"),
    [
        (r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?", "fraud-2026.11.1", False),  # unanchored: a search would find "fraud-2026"
        (r"\A\S[\p{Print}]*\z", "r1", True),
        (r"\p{Print}+", "caf\u00e9", False),  # Java's \p{Print} is ASCII
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*", "endpoint/\U0001F600", True),  # surrogate-pair ranges
    ],
)
def test_patterns_match_the_whole_value_as_java_would(pattern: str, value: str, whole: bool) -> None:
    assert al.matches_whole(pattern, value) is whole


# --- the examples pass; the corpus fails, each kind by its named rule -----------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_stack_passes_every_deploy_rule(name: str) -> None:
    for graph in example_graph(name):
        assert rule_findings(graph) == [], graph.stack


def _broken(case: dict[str, Any]) -> RegionGraph:
    graph = example_graph(case["example"])[case["region"]]
    resources = list(graph.resources)
    index = next(i for i, r in enumerate(resources) if r.type == case["type"] and case.get("name", r.name) == r.name)
    inputs = copy.deepcopy(dict(resources[index].inputs))
    for path, value in case["set"].items():
        target = inputs
        steps = path.split(".")
        for step in steps[:-1]:
            target = target[int(step)] if isinstance(target, list) else target.setdefault(step, {})
        target[steps[-1]] = _expand(value)
    resources[index] = dataclasses.replace(resources[index], inputs=inputs)
    return dataclasses.replace(graph, resources=tuple(resources))


def _expand(value: Any) -> Any:
    """Corpus values may say {"repeat": "a", "times": 2000} or {"tags": 51} instead of spelling it out."""
    if isinstance(value, dict) and "repeat" in value:
        return value.get("prefix", "") + value["repeat"] * value["times"] + value.get("suffix", "")
    if isinstance(value, dict) and "tags" in value:
        return {f"k{i}": "v" for i in range(value["tags"])}
    return value


def test_the_corpus_has_a_case_for_every_deploy_rule() -> None:
    assert {case["rule"] for case in CORPUS} == DEPLOY_RULES


@pytest.mark.parametrize("case", CORPUS, ids=[c["kind"] for c in CORPUS])
def test_each_defect_kind_is_caught_by_its_rule(pack: PolicyPackProcess, case: dict[str, Any]) -> None:
    found = check_stacks(pack, [_broken(case)], config={}).findings
    caught = [f for f in found if f.policy == case["rule"]]
    assert any(case["fragment"] in f.message for f in caught), [(f.policy, f.message) for f in found if f.policy in DEPLOY_RULES]
    assert all(f.level == "mandatory" for f in caught)


def test_values_unknown_at_preview_are_skipped_not_guessed() -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    broken = _broken({"example": "docs-tier3", "region": "us-west-2", "type": "aws:sagemaker/model:Model", "set": {"name": unknown}})
    assert rule_findings(broken) == []


def test_an_unknown_value_inside_the_pack_is_skipped(pack: PolicyPackProcess) -> None:
    # pulumi_policy raises UnknownValueError when a rule reads a value the engine marks unknown.
    broken = _broken(
        {"example": "docs-tier3", "region": "us-west-2", "type": "aws:sagemaker/model:Model",
         "set": {"name": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "tags": {"Owner": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}}}
    )  # fmt: skip
    assert [f for f in check_stacks(pack, [broken], config={}).findings if f.policy in DEPLOY_RULES] == []


# --- the component fixes, each judged by AWS's model -------------------------------------------------


def test_a_dotted_release_label_gives_a_model_name_sagemaker_accepts() -> None:
    pattern = _botocore_member("sagemaker", "CreateModel", "ModelName").metadata["pattern"]
    names = {model_name_for("fraud-tier1", "fraud-xgb", mode, version) for mode in InferenceMode for version in ("2026.11.1", "2026-11-1")}
    assert all(al.matches_whole(pattern, n) for n in names), names
    assert len(names) == 2 * len(InferenceMode)  # 2026.11.1 and 2026-11-1 stay distinct


def test_plan_names_fit_create_plans_32_characters() -> None:
    limits = al.api_limits("arc-region-switch", "CreatePlan", "name")
    name = plan_name("a" * 40, "ap-southeast-2")
    assert al.length_problem(limits, name) is None and al.pattern_problem(limits, name) is None, name


def test_the_examples_create_no_name_twice_in_one_account() -> None:
    # All three examples keep model data under the prefix acme-ml-models, and fraud-tier1 and
    # docs-tier3 both deploy to us-west-2: a bucket named <prefix>-<region> was created twice.
    stacks = [CheckedStack(example_spec(n).account_id, g, n) for n in EXAMPLE_NAMES for g in example_graph(n)]
    assert name_collisions(stacks) == []


def test_the_same_deployment_twice_collides_on_every_account_wide_name() -> None:
    spec = example_spec("docs-tier3")
    stacks = [CheckedStack(spec.account_id, g, path) for path in ("a.yaml", "b.yaml") for g in example_graph("docs-tier3")]
    found = name_collisions(stacks)
    kinds = {f.resource_type for f in found}
    assert {"aws:s3/bucket:Bucket", "aws:iam/role:Role", "aws:lambda/function:Function", "aws:sagemaker/endpoint:Endpoint"} <= kinds
    bucket = next(f for f in found if f.resource_type == "aws:s3/bucket:Bucket")
    assert bucket.spec_path == "b.yaml" and bucket.level == "mandatory"
    assert "already creates" in bucket.message and "unique in every AWS account" in bucket.message


def test_account_names_collide_across_accounts_only_when_global() -> None:
    graphs = list(example_graph("docs-tier3"))
    stacks = [CheckedStack("111111111111", g, "a.yaml") for g in graphs] + [CheckedStack("222222222222", g, "b.yaml") for g in graphs]
    assert {f.resource_type for f in name_collisions(stacks)} == {"aws:s3/bucket:Bucket", "aws:route53/record:Record"}
