"""Tier stacks under Pulumi mocks: what differs per tier, and the security rules every stack keeps."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from drkit.components.naming import TAG_KEYS
from drkit.core.inference_router import TYPE_TOKEN as INFERENCE_ROUTER_TYPE
from drkit.core.rto import record_role
from drkit.core.spec import parse_spec
from drkit.core.tiers import RegionRole
from drkit.core.type_tokens import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    HEALTH_CHECK,
    RECORD,
    SCALABLE_TARGET,
    SCHEDULED_ACTION,
    TABLE,
    TABLE_REPLICA,
)
from drkit.engine.capture import capture
from drkit.engine.graph import DeploymentGraph, RegionGraph, Resource
from drkit.policies.resources import sdk_is_taggable
from tests.conftest import EXAMPLE_NAMES, example_graph, example_spec


def deep_check(graph: RegionGraph) -> Resource:
    """The region's one probing health check (its deep /health); the calculated parent only combines."""
    (check,) = [c for c in graph.of_type(HEALTH_CHECK) if c.inputs.get("type") == "HTTPS"]
    return check


def routed_records(graph: RegionGraph) -> list[Resource]:
    """The region's failover or latency record (not certificate-validation or alias records)."""
    return [r for r in graph.of_type(RECORD) if record_role(r.inputs)]


def provisioned_target(graph: RegionGraph, model: str) -> Resource | None:
    for target in graph.of_type(SCALABLE_TARGET):
        if f"-{model}-provisioned/" in str(target.inputs["resourceId"]):
            return target
    return None


def record_routing(graph: RegionGraph) -> Any:
    (record,) = routed_records(graph)
    return record.inputs.get("failoverRoutingPolicies") or record.inputs.get("latencyRoutingPolicies")


# --- what differs per tier --------------------------------------------------------------


def test_tier1_runs_full_capacity_everywhere_behind_latency_records_and_fast_checks() -> None:
    graph = example_graph("fraud-tier1")
    for region_graph in graph:
        target = provisioned_target(region_graph, "fraud-xgb")
        assert target is not None, region_graph.region
        assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 6), region_graph.region
        assert record_routing(region_graph) == [{"region": region_graph.region}]
        check = deep_check(region_graph)
        assert (check.inputs["requestInterval"], check.inputs["failureThreshold"]) == (10, 3)
        (record,) = routed_records(region_graph)
        assert record.inputs["ttl"] == 30


@pytest.mark.parametrize("name", ["fraud-tier1", "search-tier2"])
def test_each_record_fails_over_on_its_deep_check_or_on_an_executed_region_switch_plan(name: str) -> None:
    # ARC's Route 53 block creates a health check per region and plan; unless the record honours
    # it, executing the plan would scale and redrive but never move traffic.
    graph = example_graph(name)
    arc = graph.primary.exports["arc_health_check_ids"]
    assert set(arc) == set(graph.regions)
    assert len(arc[graph.spec.primary_region]) == len(graph.spec.secondary_regions)  # one per plan
    for region_graph in graph:
        (combined,) = [c for c in region_graph.of_type(HEALTH_CHECK) if c.inputs.get("type") == "CALCULATED"]
        children = combined.inputs["childHealthchecks"]
        assert children == [deep_check(region_graph).id, *arc[region_graph.region]]
        assert combined.inputs["childHealthThreshold"] == len(children)  # every child must be healthy
        (record,) = routed_records(region_graph)
        assert record.inputs["healthCheckId"] == combined.id


def test_tier2_secondary_keeps_one_instance_and_can_scale_to_the_primary_ceiling() -> None:
    graph = example_graph("search-tier2")
    primary, secondary = graph["eu-west-1"], graph["eu-central-1"]
    for model, (lo, hi) in {"ranker": (2, 8), "query-embed": (1, 4)}.items():
        assert (provisioned_target(primary, model).inputs["minCapacity"], provisioned_target(primary, model).inputs["maxCapacity"]) == (lo, hi)  # type: ignore[union-attr]
        assert (provisioned_target(secondary, model).inputs["minCapacity"], provisioned_target(secondary, model).inputs["maxCapacity"]) == (1, hi)  # type: ignore[union-attr]
    assert record_routing(primary) == [{"type": "PRIMARY"}]
    assert record_routing(secondary) == [{"type": "SECONDARY"}]
    for region_graph in graph:
        assert deep_check(region_graph).inputs["requestInterval"] == 30


def test_tier3_secondary_holds_the_replica_and_serverless_async_only() -> None:
    graph = example_graph("docs-tier3")
    primary, secondary = graph["us-east-2"], graph["us-west-2"]
    assert provisioned_target(primary, "doc-classifier") is not None
    assert provisioned_target(secondary, "doc-classifier") is None
    modes = sorted(e.inputs["tags"]["InferenceType"] for e in secondary.of_type(ENDPOINT))
    assert modes == ["async", "serverless"]
    assert len(secondary.of_type(TABLE_REPLICA)) == 1 and not secondary.of_type(TABLE)


def test_provisioned_endpoints_outside_tier1_scale_down_off_hours_in_the_teams_time_zone() -> None:
    graph = example_graph("docs-tier3")
    schedules = {s.inputs["name"].rsplit("-", 1)[-1]: s for s in graph.primary.of_type(SCHEDULED_ACTION)}
    assert set(schedules) == {"down", "up"}
    assert schedules["down"].inputs["schedule"] == "cron(0 19 ? * MON,TUE,WED,THU,FRI *)"
    assert schedules["down"].inputs["timezone"] == "America/Chicago"
    assert schedules["down"].inputs["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 3}
    assert schedules["up"].inputs["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 3}
    assert not example_graph("fraud-tier1").primary.of_type(SCHEDULED_ACTION)


# --- the global table ----------------------------------------------------------------------


def test_primary_owns_the_global_table_with_streams_ttl_pitr_and_deletion_protection() -> None:
    for graph in (example_graph(n) for n in ("fraud-tier1", "search-tier2", "docs-tier3")):
        (table,) = graph.primary.of_type(TABLE)
        props = table.inputs
        assert props["billingMode"] == "PAY_PER_REQUEST"
        assert (props["streamEnabled"], props["streamViewType"]) == (True, "NEW_AND_OLD_IMAGES")
        assert props["ttl"] == {"attributeName": "expires_at", "enabled": True}
        assert props["pointInTimeRecovery"] == {"enabled": True}
        assert props["deletionProtectionEnabled"] is True
        assert props["serverSideEncryption"]["enabled"] is True
        # Replicas are owned by the secondaries' stacks: the table must not fight them.
        assert table.ignore_changes == ("replicas",) and table.protect


def test_each_secondary_owns_a_protected_replica_of_the_primary_table() -> None:
    graph = example_graph("fraud-tier1")
    (table,) = graph.primary.of_type(TABLE)
    for region in ("us-west-2", "eu-west-1"):
        (replica,) = graph[region].of_type(TABLE_REPLICA)
        assert replica.inputs["globalTableArn"] == table.outputs["arn"]
        assert replica.protect and replica.inputs["deletionProtectionEnabled"] is True
        assert replica.inputs["pointInTimeRecovery"] is True
        assert replica.inputs["kmsKeyArn"].startswith(f"arn:aws:kms:{region}:")


def test_strong_consistency_makes_the_primary_own_inline_strong_replicas() -> None:
    data = example_spec("fraud-tier1").model_dump(mode="json", by_alias=True)
    data["consistency"] = "strong"
    data["secondary_regions"] = ["us-east-2", "us-west-2"]  # one MRSC Region set (US)
    graph = capture(parse_spec(data))
    (table,) = graph.primary.of_type(TABLE)
    assert [(r["regionName"], r["consistencyMode"]) for r in table.inputs["replicas"]] == [("us-east-2", "STRONG"), ("us-west-2", "STRONG")]
    assert table.ignore_changes == ()
    assert not any(g.of_type(TABLE_REPLICA) for g in graph)


# --- rules every stack keeps ---------------------------------------------------------------


def _kms_ref(resource: Resource, graph: RegionGraph) -> Any:
    props = resource.inputs
    if resource.type == TABLE:
        return props.get("serverSideEncryption", {}).get("kmsKeyArn")
    if resource.type == TABLE_REPLICA:
        return props.get("kmsKeyArn")
    if resource.type in ("aws:sns/topic:Topic", "aws:sqs/queue:Queue"):
        return props.get("kmsMasterKeyId")
    if resource.type == "aws:cloudwatch/logGroup:LogGroup":
        return props.get("kmsKeyId")
    if resource.type == "aws:s3/bucket:Bucket":
        for sse in graph.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"):
            if sse.inputs["bucket"] == resource.outputs["id"]:
                rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
                return rule["kmsMasterKeyId"] if rule["sseAlgorithm"] == "aws:kms" else None
        return None
    if resource.type == ENDPOINT_CONFIG:
        variants = props.get("productionVariants", [])
        if all("serverlessConfig" in v for v in variants):
            return "serverless variants have no storage volume"
        return props.get("kmsKeyArn")
    raise AssertionError(resource.type)


STORES = (TABLE, TABLE_REPLICA, "aws:sns/topic:Topic", "aws:sqs/queue:Queue", "aws:cloudwatch/logGroup:LogGroup", "aws:s3/bucket:Bucket", ENDPOINT_CONFIG)


def _bucket_names(graph: DeploymentGraph) -> set[str]:
    return {str(b.inputs["bucket"]) for region in graph for b in region.of_type("aws:s3/bucket:Bucket")}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_the_same_spec_in_another_account_creates_none_of_the_same_buckets(name: str) -> None:
    # GIVEN an example and the same spec for another account (staging and prod)
    spec = example_spec(name)
    other = capture(spec.model_copy(update={"account_id": "210987654321"}))
    # WHEN both are deployed: S3 bucket names are global across every AWS account
    shared = _bucket_names(example_graph(name)) & _bucket_names(other)
    # THEN they share only the model-data buckets, which the user names (bucket_prefix) and uploads to
    model_data = {m.model_data.bucket(r, spec.deployment) for m in spec.models for r in (spec.primary_region, *spec.secondary_regions)}
    assert shared == model_data


def test_every_store_is_encrypted_with_kms(any_example: DeploymentGraph) -> None:
    for graph in any_example:
        for store in graph.of_type(*STORES):
            assert _kms_ref(store, graph), f"{store.urn} is not KMS-encrypted"


def _statements(document: Any) -> list[dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    statements = doc.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def test_no_iam_statement_has_a_wildcard_action(any_example: DeploymentGraph) -> None:
    for graph in any_example:
        policies = graph.of_type("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
        assert policies, graph.stack
        for policy in policies:
            for statement in _statements(policy.inputs["policy"]):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                wild = [a for a in actions if a == "*" or a.endswith(":*")]
                assert not wild, f"{policy.urn}: {statement.get('Sid')} has wildcard actions {wild}"


def test_every_taggable_resource_carries_the_cost_and_dr_tags(any_example: DeploymentGraph) -> None:
    spec = any_example.spec
    for graph in any_example:
        for resource in graph.custom_resources:
            if not sdk_is_taggable(resource.type):
                continue
            tags = resource.inputs.get("tags") or {}
            missing = [k for k in TAG_KEYS if k not in tags]
            assert not missing, f"{resource.urn} lacks tags {missing}"
            assert (tags["DRTier"], tags["CostCenter"], tags["Deployment"]) == (str(int(spec.tier)), spec.cost_center, spec.deployment)


def test_endpoint_resources_are_tagged_with_their_model_and_inference_type() -> None:
    graph = example_graph("search-tier2")
    tags = sorted((e.inputs["tags"]["Model"], e.inputs["tags"]["InferenceType"]) for e in graph.primary.of_type(ENDPOINT))
    assert tags == [("query-embed", "async"), ("query-embed", "provisioned"), ("ranker", "provisioned"), ("ranker", "serverless")]


ARN_REGION = re.compile(r"arn:aws:[a-z0-9-]+:([a-z]{2}-[a-z]+-\d):")
HOST_REGION = re.compile(r"\.([a-z]{2}-[a-z]+-\d)\.amazonaws\.com")


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) else []


ROUTED_ENDPOINT = re.compile(r"^arn:aws:sagemaker:[a-z0-9-]+:\d{12}:endpoint/[a-z0-9-]+$")


def _without_routed_destinations(resource: Any) -> dict[str, Any]:
    """The resource's inputs less the other allowed link: an inference router's destinations (real-time
    endpoint ARNs in every region) and the caller's InvokeEndpoint on exactly those (docs/routers.md)."""
    inputs = dict(resource.inputs)
    if resource.type == INFERENCE_ROUTER_TYPE:
        for target in inputs.get("routingTargets") or []:
            assert all(ROUTED_ENDPOINT.match(d) for d in target["destinations"]), target
        return {k: v for k, v in inputs.items() if k != "routingTargets"}
    if resource.type == "aws:iam/rolePolicy:RolePolicy":
        policy = json.loads(inputs["policy"])
        kept = []
        for statement in policy["Statement"]:
            if statement.get("Sid") == "InvokeRoutedEndpoints":
                assert statement["Action"] == ["sagemaker:InvokeEndpoint"], statement
                assert all(ROUTED_ENDPOINT.match(r) for r in statement["Resource"]), statement
                continue
            kept.append(statement)
        inputs["policy"] = json.dumps({**policy, "Statement": kept})
    return inputs


def test_each_regional_stack_creates_and_references_only_its_own_region(any_example: DeploymentGraph) -> None:
    for graph in any_example:
        for resource in graph.custom_resources:
            assert resource.region == graph.region, f"{resource.urn} is in {resource.region}, stack is {graph.region}"
            if "drkit:recovery:RegionSwitchPlan$" in resource.urn:
                continue  # a Region switch plan spans two regions by design; it runs outside both
            for path, text in _strings(_without_routed_destinations(resource)):
                if resource.type == TABLE_REPLICA and path == "globalTableArn":
                    continue  # the global table's own replication is one allowed link
                for pattern in (ARN_REGION, HOST_REGION):
                    for other in pattern.findall(text):
                        assert other == graph.region, f"{resource.urn} {path} references {other}: {text}"


def test_models_pull_images_from_their_own_region_pinned_by_digest(any_example: DeploymentGraph) -> None:
    for graph in any_example:
        for model in graph.of_type("aws:sagemaker/model:Model"):
            container = model.inputs["primaryContainer"]
            assert f".dkr.ecr.{graph.region}.amazonaws.com/" in container["image"] and "@sha256:" in container["image"]
            assert container["modelDataUrl"].startswith("s3://") and graph.region in container["modelDataUrl"]


def test_primary_replicates_images_to_every_secondary() -> None:
    graph = example_graph("fraud-tier1")
    (replication,) = graph.primary.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    destinations = replication.inputs["replicationConfiguration"]["rules"][0]["destinations"]
    assert sorted(d["region"] for d in destinations) == ["eu-west-1", "us-west-2"]
    assert not graph["us-west-2"].of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")


# --- endpoints -----------------------------------------------------------------------------


def test_provisioned_endpoints_use_blue_green_with_rollback_on_an_existing_alarm() -> None:
    graph = example_graph("fraud-tier1").primary
    alarms = {a.inputs["name"] for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    for endpoint in graph.of_type(ENDPOINT):
        config = endpoint.inputs.get("deploymentConfig")
        if endpoint.inputs["tags"]["InferenceType"] == "serverless":
            assert config is None
            continue
        assert config["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]["type"] == "ALL_AT_ONCE"
        rollback = [a["alarmName"] for a in config["autoRollbackConfiguration"]["alarms"]]
        assert rollback and set(rollback) <= alarms


def test_autoscaled_capacity_is_not_reset_by_the_next_pulumi_up(any_example: DeploymentGraph) -> None:
    for graph in any_example:
        for target in graph.of_type(SCALABLE_TARGET):
            assert set(target.ignore_changes) == {"minCapacity", "maxCapacity"}


def test_a_new_model_version_gets_a_new_endpoint_configuration_name() -> None:
    spec = example_spec("docs-tier3")
    data = spec.model_dump(mode="json", by_alias=True)
    data["models"][0]["version"] = "2"
    before = {c.name: c.inputs["name"] for c in capture(spec, [spec.primary_region]).primary.of_type(ENDPOINT_CONFIG)}
    after = {c.name: c.inputs["name"] for c in capture(parse_spec(data), [spec.primary_region]).primary.of_type(ENDPOINT_CONFIG)}
    assert before.keys() == after.keys()
    assert all(before[k] != after[k] for k in before)


def test_async_endpoints_notify_on_both_topics_and_scale_to_zero() -> None:
    graph = example_graph("docs-tier3")["us-west-2"]
    (config,) = [c for c in graph.of_type(ENDPOINT_CONFIG) if c.inputs.get("asyncInferenceConfig")]
    notify = config.inputs["asyncInferenceConfig"]["outputConfig"]["notificationConfig"]
    topics = {t.outputs["arn"] for t in graph.of_type("aws:sns/topic:Topic")}
    assert {notify["successTopic"], notify["errorTopic"]} <= topics and notify["successTopic"] != notify["errorTopic"]
    (target,) = [t for t in graph.of_type(SCALABLE_TARGET) if "-async/" in t.inputs["resourceId"]]
    assert target.inputs["minCapacity"] == 0
    assert any(p.inputs["policyType"] == "StepScaling" for p in graph.of_type("aws:appautoscaling/policy:Policy"))


# --- the graph itself ----------------------------------------------------------------------


def test_capture_is_deterministic() -> None:
    spec = example_spec("docs-tier3")
    first, second = capture(spec), capture(spec)
    for region in spec.regions:
        assert [(r.urn, r.id, dict(r.inputs)) for r in first[region]] == [(r.urn, r.id, dict(r.inputs)) for r in second[region]]


def test_dependencies_are_recorded_in_a_stable_order() -> None:
    """Registration order varies run to run; the graph's dependency lists must not."""
    spec = example_spec("fraud-tier1")
    first, second = capture(spec), capture(spec)
    for region in spec.regions:
        assert [r.dependencies for r in first[region]] == [r.dependencies for r in second[region]], region


def test_roles_and_exports_per_region() -> None:
    graph = example_graph("fraud-tier1")
    assert [g.role for g in graph] == [RegionRole.PRIMARY, RegionRole.SECONDARY, RegionRole.SECONDARY]
    assert graph["eu-west-1"].exports["token_table_name"] == "drkit-fraud-tier1-tokens"
    assert graph["eu-west-1"].exports["endpoints"]["fraud-xgb"]["provisioned"] == "fraud-tier1-fraud-xgb-provisioned"


def test_capturing_one_region_still_resolves_the_primary_outputs() -> None:
    spec = example_spec("search-tier2")
    graph = capture(spec, ["eu-central-1"])
    assert list(graph.regions) == ["eu-central-1"]
    (replica,) = graph["eu-central-1"].of_type(TABLE_REPLICA)
    assert replica.inputs["globalTableArn"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/drkit-search-tier2-tokens"


@pytest.mark.parametrize("name", ["fraud-tier1", "search-tier2", "docs-tier3"])
def test_every_resource_belongs_to_the_regional_deployment_component(name: str) -> None:
    for graph in example_graph(name):
        (root,) = graph.of_type("drkit:stack:RegionalDeployment")
        by_urn = {r.urn: r for r in graph.resources}
        for resource in graph.custom_resources:
            node = resource
            while node.parent in by_urn and node.urn != root.urn:
                node = by_urn[node.parent]
            assert node.urn == root.urn, f"{resource.urn} is outside {root.urn}"


def test_each_region_has_a_dashboard_charting_its_own_endpoints_and_table(any_example: DeploymentGraph) -> None:
    for graph in any_example:
        (dashboard,) = graph.of_type("aws:cloudwatch/dashboard:Dashboard")
        body = json.loads(dashboard.inputs["dashboardBody"])
        charted = {m[3] for w in body["widgets"] for m in w["properties"]["metrics"] if m[2] == "EndpointName"}
        assert charted == {e.inputs["name"] for e in graph.of_type(ENDPOINT)}
        assert {w["properties"]["region"] for w in body["widgets"]} == {graph.region}


@pytest.mark.timeout(60)
def test_a_resource_passed_as_an_input_is_recorded_as_the_engine_hands_it_to_an_analyzer(monkeypatch: pytest.MonkeyPatch) -> None:
    """`role=role` is an ordinary Pulumi pattern: the graph (and the pack, streamed or not) sees the
    role's ID, as the engine marshals resource references for analyzers. Decoding the reference into
    a Role object on a registration's worker thread hung the capture."""
    import pulumi_aws as aws

    import drkit.stacks.program as program
    from drkit.engine.capture import capture_regions

    def build_region(spec: Any, region: str, **_: Any) -> dict[str, Any]:
        role = aws.iam.Role("r", assume_role_policy="{}")
        aws.iam.RolePolicyAttachment("a", role=role, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        return {}

    monkeypatch.setattr(program, "build_region", build_region)
    spec = example_spec("fraud-tier1")
    streamed: list[Resource] = []
    (graph,) = capture_regions(spec, [spec.primary_region], on_resource=streamed.append)
    (role,) = graph.of_type("aws:iam/role:Role")
    (attachment,) = graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["role"] == role.id != ""
    assert [r.inputs for r in streamed if r.urn == attachment.urn] == [attachment.inputs]
