"""Recovery components under Pulumi mocks: region switch plan, FIS templates, Resilience Hub, scale-up function."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from drkit.components.fis import (
    DrExperiments,
    DrExperimentsArgs,
    Scenario,
    fault_duration_seconds,
    iso_duration,
    scenarios_for,
    templates_for,
)
from drkit.components.functions.scale_up.handler import RELEASE_STEP
from drkit.components.region_switch import (
    RegionSwitchPlan,
    RegionSwitchPlanArgs,
    ScaleUpFunction,
    ScaleUpFunctionArgs,
    StepKind,
    plan_workflows,
    rto_minutes,
    scale_up_function_arn,
)
from drkit.components.resilience import ResilienceAssessment, ResilienceAssessmentArgs, policy_targets, tag_query
from drkit.core.errors import ComponentValidationError
from drkit.core.tiers import Tier, default_rpo_seconds, default_rto_seconds
from drkit.engine.capture import RealisticMocks
from tests.conftest import Registered, example_graph, example_spec, run_program

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/k"
CENTRAL_KEY = f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/k"
PLAN = "aws:arcregionswitch/plan:Plan"
TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
POLICY = "aws:resiliencehub/resiliencyPolicy:ResiliencyPolicy"
GROUP = "aws:resourcegroups/group:Group"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
FUNCTION = "aws:lambda/function:Function"


def run(program: Callable[[], None], region: str = "us-east-1") -> Registered:
    """Run `program` as a Pulumi stack under mocks and return what it registered."""
    return Registered(run_program(program, RealisticMocks(ACCOUNT, {}), stack=f"test-{region}"))


def plan_args(**change: Any) -> RegionSwitchPlanArgs:
    base = RegionSwitchPlanArgs(
        deployment="search-tier2",
        tier=Tier.WARM,
        primary_region="eu-west-1",
        regions=("eu-west-1", "eu-central-1"),
        rto_seconds=900,
        hosted_zone_id="Z0123456789ABC",
        record_name="search.example.com",
        account_id=ACCOUNT,
        redrive_function_arns={
            "eu-west-1": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:redrive",
            "eu-central-1": f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:redrive",
        },
    )
    return dataclasses.replace(base, **change)


def fis_args(**change: Any) -> DrExperimentsArgs:
    base = DrExperimentsArgs(
        deployment="search-tier2",
        tier=Tier.WARM,
        region="eu-west-1",
        account_id=ACCOUNT,
        table_name="drkit-search-tier2-tokens",
        rto_seconds=900,
        stop_alarm_arns=[f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:search-tier2-ranker-provisioned-5xx"],
        kms_key_arn=KEY,
    )
    return dataclasses.replace(base, **change)


# --- region switch plan ---------------------------------------------------------------------


@pytest.mark.parametrize("example", ["search-tier2", "docs-tier3", "fraud-tier1"])
def test_plans_cover_exactly_the_deployments_regions_with_the_tier_rto(example: str) -> None:
    """Read from the example's deployed graph: the primary's stack owns one plan per secondary."""
    spec = example_spec(example)
    graph = example_graph(example)
    plans = [p.inputs for p in graph.primary.of_type(PLAN)]
    assert not any(g.of_type(PLAN) for g in graph if g is not graph.primary)
    assert len(plans) == len(spec.secondary_regions)
    covered = {region for plan in plans for region in plan["regions"]}
    assert covered == set(spec.regions)
    for plan in plans:
        assert plan["primaryRegion"] == spec.primary_region
        assert plan["regions"][0] == spec.primary_region
        assert plan["recoveryTimeObjectiveMinutes"] == spec.rto_seconds // 60
        assert plan["recoveryApproach"] == ("activeActive" if spec.tier is Tier.HOT else "activePassive")


def test_warm_plan_fails_over_and_back_scaling_before_moving_traffic_then_redriving() -> None:
    plan = run(lambda: RegionSwitchPlan("plan", plan_args())).one(PLAN)
    workflows = {w["workflowTargetRegion"]: w for w in plan["workflows"]}
    assert set(workflows) == {"eu-central-1", "eu-west-1"}
    for workflow in workflows.values():
        assert workflow["workflowTargetAction"] == "activate"
    assert [s["name"] for s in workflows["eu-central-1"]["steps"]] == ["scale-up", "shift-traffic", "redrive"]
    # Failing back also releases the standby: its off-hours schedule resumes, run in the region being left.
    assert [s["name"] for s in workflows["eu-west-1"]["steps"]] == ["scale-up", "shift-traffic", "redrive", RELEASE_STEP]
    release = workflows["eu-west-1"]["steps"][-1]["customActionLambdaConfigs"][0]
    assert release["regionToRun"] == "deactivatingRegion"
    assert [fn["arn"] for fn in release["lambdas"]] == [scale_up_function_arn("search-tier2", r, ACCOUNT) for r in ("eu-west-1", "eu-central-1")]
    scale, dns, redrive = workflows["eu-central-1"]["steps"]
    assert scale["customActionLambdaConfigs"][0]["regionToRun"] == "activatingRegion"
    assert [fn["arn"] for fn in scale["customActionLambdaConfigs"][0]["lambdas"]] == [
        scale_up_function_arn("search-tier2", r, ACCOUNT) for r in ("eu-west-1", "eu-central-1")
    ]
    assert [fn["arn"] for fn in redrive["customActionLambdaConfigs"][0]["lambdas"]] == [
        f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:redrive",
        f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:redrive",
    ]
    health = dns["route53HealthCheckConfigs"][0]
    assert (health["hostedZoneId"], health["recordName"]) == ("Z0123456789ABC", "search.example.com")
    assert {(r["recordSetIdentifier"], r["region"]) for r in health["recordSets"]} == {
        ("eu-west-1", "eu-west-1"),
        ("eu-central-1", "eu-central-1"),
    }


def test_manual_approval_comes_first_with_the_default_timeout() -> None:
    approver = f"arn:aws:iam::{ACCOUNT}:role/oncall"
    plan = run(lambda: RegionSwitchPlan("plan", plan_args(approval_role_arn=approver))).one(PLAN)
    for workflow in plan["workflows"]:
        first = workflow["steps"][0]
        assert first["executionBlockType"] == "ManualApproval"
        assert first["executionApprovalConfigs"] == [{"approvalRole": approver, "timeoutMinutes": 5}]


def test_tier1_plan_is_active_active_and_its_deactivation_only_moves_traffic() -> None:
    workflows = plan_workflows(Tier.HOT, "us-east-1", "us-west-2", approval=False)
    assert [(w.label, w.action, w.target_region) for w in workflows] == [
        ("failover", "deactivate", None),
        ("failback", "activate", None),
    ]
    assert [s.kind for s in workflows[0].steps] == [StepKind.ROUTE53]
    assert [s.kind for s in workflows[1].steps] == [StepKind.LAMBDA, StepKind.ROUTE53, StepKind.LAMBDA]


def test_execution_role_trusts_arc_and_reaches_only_the_plans_functions_and_zone() -> None:
    graph = run(lambda: RegionSwitchPlan("plan", plan_args(health_alarm_arns={"5xx": "arn:aws:cloudwatch:eu-west-1:1:alarm:a"})))
    trust = json.loads(graph.of(ROLE)[0]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "arc-region-switch.amazonaws.com"}
    (policy,) = graph.policies()
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["InvokeRecoveryFunctions"]["Action"] == ["lambda:GetFunction", "lambda:InvokeFunction"]
    assert len(by_sid["InvokeRecoveryFunctions"]["Resource"]) == 4 and "*" not in by_sid["InvokeRecoveryFunctions"]["Resource"]
    assert by_sid["ReadDeploymentRecords"]["Resource"] == ["arn:aws:route53:::hostedzone/Z0123456789ABC"]
    assert by_sid["ReadHealthAlarms"]["Resource"] == ["arn:aws:cloudwatch:eu-west-1:1:alarm:a"]
    assert all("*" not in s["Resource"] for s in policy["Statement"])
    plan = graph.one(PLAN)
    assert plan["associatedAlarms"] == [
        {"alarmType": "applicationHealth", "mapBlockKey": "5xx", "resourceIdentifier": "arn:aws:cloudwatch:eu-west-1:1:alarm:a"}
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"regions": ("eu-west-1", "eu-central-1", "us-east-1")},
            "RegionSwitchPlan p: regions ['eu-west-1', 'eu-central-1', 'us-east-1'] is invalid; an ARC Region switch plan spans exactly two distinct regions",
        ),
        ({"regions": ("eu-west-1", "eu-west-1")}, "spans exactly two distinct regions"),
        (
            {"regions": ("eu-central-1", "eu-west-1")},
            "RegionSwitchPlan p: regions[0] 'eu-central-1' must be the primary_region 'eu-west-1'",
        ),
        (
            {"redrive_function_arns": {"eu-west-1": "arn:aws:lambda:eu-west-1:1:function:r"}},
            "RegionSwitchPlan p: redrive_function_arns has regions ['eu-west-1']; valid: exactly one ARN for each of eu-west-1, eu-central-1",
        ),
        (
            {"tier": Tier.HOT, "rto_seconds": 60, "approval_role_arn": "arn:aws:iam::1:role/x"},
            "RegionSwitchPlan p: approval_role_arn is set for tier 1; a manual approval cannot fit a 60 s RTO",
        ),
        (
            {"approval_role_arn": "arn:aws:iam::1:role/x", "approval_timeout_minutes": 15},
            "RegionSwitchPlan p: approval_timeout_minutes 15 is invalid; valid: 1 to 14 (less than the 15-minute RTO)",
        ),
        ({"rto_seconds": 0}, "RegionSwitchPlan p: rto_seconds 0 must be ≥ 1"),
        ({"lambda_retry_interval_minutes": 0}, "RegionSwitchPlan p: lambda_retry_interval_minutes 0 must be > 0"),
    ],
    ids=[
        "three-regions",
        "same-region",
        "primary-not-first",
        "redrive-missing",
        "tier1-approval",
        "approval-too-long",
        "rto",
        "retry",
    ],
)
def test_plan_refuses_undeployable_arguments(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentValidationError) as caught:
        RegionSwitchPlan("p", plan_args(**change))
    assert message in str(caught.value)


def test_rto_minutes_round_up() -> None:
    assert [rto_minutes(s) for s in (1, 60, 61, 900, 3600)] == [1, 1, 2, 15, 60]


# --- scale-up function ---------------------------------------------------------------------


def test_scale_up_function_carries_the_failover_capacity_and_a_narrow_role() -> None:
    args = ScaleUpFunctionArgs(
        deployment="search-tier2",
        region="eu-central-1",
        account_id=ACCOUNT,
        failover_capacity={"ranker": 3},
        kms_key_arn=CENTRAL_KEY,
    )
    graph = run(lambda: ScaleUpFunction("scale-up", args), region="eu-central-1")
    function = graph.one(FUNCTION)
    assert function["name"] == "drkit-search-tier2-scale-up"
    assert function["environment"]["variables"] == {
        "DEPLOYMENT": "search-tier2",
        "TARGET_REGION": "eu-central-1",
        "DESIRED_CAPACITY": '{"ranker": 3}',
    }
    assert graph.one("aws:cloudwatch/logGroup:LogGroup")["kmsKeyId"] == CENTRAL_KEY
    # The plan computes the same ARN the function gets.
    assert scale_up_function_arn("search-tier2", "eu-central-1", ACCOUNT).endswith(":function:" + function["name"])
    (policy,) = graph.policies()
    scale = next(s for s in policy["Statement"] if s["Sid"] == "ScaleDeploymentEndpoints")
    assert scale["Resource"] == [f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:endpoint/search-tier2-*"]
    assert all(a != "*" and not a.endswith(":*") for s in policy["Statement"] for a in s["Action"])


def test_scale_up_function_refuses_a_zero_capacity() -> None:
    args = ScaleUpFunctionArgs(
        deployment="d", region="eu-central-1", account_id=ACCOUNT, failover_capacity={"ranker": 0}, kms_key_arn=KEY
    )
    with pytest.raises(
        ComponentValidationError,
        match=r"ScaleUpFunction s: failover_capacity \{'ranker': 0\} is invalid; valid: model → integer ≥ 1",
    ):
        ScaleUpFunction("s", args)


# --- FIS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("tier", list(Tier))
def test_every_template_stops_on_the_deployments_alarms_and_targets_its_tags(tier: Tier) -> None:
    alarms = [f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:a-5xx", f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:a-latency"]
    args = fis_args(
        tier=tier,
        rto_seconds=default_rto_seconds(tier),
        stop_alarm_arns=alarms,
        router_tags={"Component": "router"},
        lambda_config_bucket_arn="arn:aws:s3:::fis-config-eu-west-1",
    )
    graph = run(lambda: DrExperiments("fis", args))
    assert graph.one("aws:cloudwatch/logGroup:LogGroup")["kmsKeyId"] == KEY
    templates = graph.of(TEMPLATE)
    assert len(templates) == len(scenarios_for(tier, router=True)) >= 2
    for template in templates:
        assert [c["value"] for c in template["stopConditions"]] == alarms
        assert all(c["source"] == "aws:cloudwatch:alarm" for c in template["stopConditions"])
        (target,) = template["targets"]
        tags = {t["key"]: t["value"] for t in target["resourceTags"]}
        assert tags["Deployment"] == "search-tier2"
        assert "resourceArns" not in target
        (action,) = template["actions"]
        expected_key = {"aws:dynamodb:global-table": "Tables", "aws:lambda:function": "Functions"}[target["resourceType"]]
        assert action["target"] == {"key": expected_key, "value": target["name"]}
        assert template["logConfiguration"]["cloudwatchLogsConfiguration"]["logGroupArn"].endswith(":*")
        assert template["experimentOptions"]["emptyTargetResolutionMode"] == "fail"


def test_token_table_template_pauses_global_table_replication_for_twice_the_rto() -> None:
    template = run(lambda: DrExperiments("fis", fis_args())).one(TEMPLATE)
    (action,) = template["actions"]
    assert action["actionId"] == "aws:dynamodb:global-table-pause-replication"
    assert action["target"]["key"] == "Tables"
    assert action["parameters"] == [{"key": "duration", "value": "PT30M"}]
    assert template["targets"][0]["resourceType"] == "aws:dynamodb:global-table"



def test_the_fis_role_names_this_deployments_table_and_router_in_this_account_and_region() -> None:
    args = fis_args(router_tags={"Component": "router"}, lambda_config_bucket_arn="arn:aws:s3:::cfg")
    (policy,) = run(lambda: DrExperiments("fis", args)).policies()
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["PauseTokenReplication"]["Resource"] == [f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/drkit-search-tier2-tokens"]
    assert by_sid["ReadRouter"]["Resource"] == [f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:drkit-search-tier2-eu-west-1-router"]


def test_router_templates_select_the_router_by_its_own_tag_too() -> None:
    args = fis_args(router_tags={"Component": "router"}, lambda_config_bucket_arn="arn:aws:s3:::cfg")
    graph = run(lambda: DrExperiments("fis", args))
    router = [t for t in graph.of(TEMPLATE) if t["actions"][0]["actionId"] == "aws:lambda:invocation-error"]
    (template,) = router
    assert {(t["key"], t["value"]) for t in template["targets"][0]["resourceTags"]} == {
        ("Deployment", "search-tier2"),
        ("Component", "router"),
    }
    assert template["actions"][0]["target"]["key"] == "Functions"
    (policy,) = graph.policies()
    write = next(s for s in policy["Statement"] if s["Sid"] == "WriteLambdaFaultConfig")
    assert write["Resource"] == ["arn:aws:s3:::cfg/*"]


def test_report_configuration_when_a_bucket_is_given() -> None:
    args = fis_args(report_bucket_name="reports", report_dashboard_arn="arn:aws:cloudwatch::1:dashboard/d")
    template = run(lambda: DrExperiments("fis", args)).one(TEMPLATE)
    report = template["experimentReportConfiguration"]
    assert report["outputs"]["s3Configuration"] == {"bucketName": "reports", "prefix": "fis/search-tier2/eu-west-1"}
    assert report["dataSources"]["cloudwatchDashboards"] == [{"dashboardArn": "arn:aws:cloudwatch::1:dashboard/d"}]


def test_scenarios_per_tier() -> None:
    assert scenarios_for(Tier.HOT, router=True) == (
        Scenario.PAUSE_TOKEN_REPLICATION,
        Scenario.ROUTER_ERRORS,
        Scenario.ROUTER_LATENCY,
    )
    assert scenarios_for(Tier.WARM, router=True) == (Scenario.PAUSE_TOKEN_REPLICATION, Scenario.ROUTER_ERRORS)
    assert scenarios_for(Tier.PILOT_LIGHT, router=False) == (Scenario.PAUSE_TOKEN_REPLICATION,)
    assert [t.action_id for t in templates_for(Tier.HOT, rto_seconds=60, router_tags={"C": "r"})] == [
        "aws:dynamodb:global-table-pause-replication",
        "aws:lambda:invocation-error",
        "aws:lambda:invocation-add-delay",
    ]


@pytest.mark.parametrize(
    ("seconds", "expected"), [(60, "PT2M"), (900, "PT30M"), (3600, "PT2H"), (5400, "PT3H"), (86_400, "PT12H")]
)
def test_fault_duration_is_twice_the_rto_within_fis_limits(seconds: int, expected: str) -> None:
    assert iso_duration(fault_duration_seconds(seconds)) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stop_alarm_arns": []}, "DrExperiments x: stop_alarm_arns is empty; valid: at least one CloudWatch alarm ARN"),
        ({"router_tags": {}}, "DrExperiments x: router_tags is empty; valid: tags that match only the router function"),
        ({"router_tags": {"Component": "router"}}, "DrExperiments x: router_tags needs lambda_config_bucket_arn"),
        (
            {"router_tags": {"Deployment": "x"}, "lambda_config_bucket_arn": "arn:aws:s3:::b"},
            "DrExperiments x: router_tags must not set Deployment (it is always 'search-tier2')",
        ),
        ({"report_dashboard_arn": "arn:d"}, "DrExperiments x: report_dashboard_arn needs report_bucket_name"),
        ({"rto_seconds": 0}, "DrExperiments x: rto_seconds 0 must be ≥ 1"),
    ],
    ids=["no-stop-condition", "empty-router-tags", "no-config-bucket", "router-deployment-tag", "dashboard-no-bucket", "rto"],
)
def test_experiments_refuse_undeployable_arguments(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentValidationError) as caught:
        DrExperiments("x", fis_args(**change))
    assert message in str(caught.value)


# --- Resilience Hub ---------------------------------------------------------------------------


@pytest.mark.parametrize("tier", list(Tier))
def test_resiliency_policy_states_the_tier_targets_for_every_disruption(tier: Tier) -> None:
    rto, rpo = default_rto_seconds(tier), default_rpo_seconds(tier)
    args = ResilienceAssessmentArgs(deployment="search-tier2", tier=tier, region="eu-west-1", rto_seconds=rto, rpo_seconds=rpo)
    graph = run(lambda: ResilienceAssessment("resilience", args))
    policy = graph.one(POLICY)
    assert policy["tier"] == {Tier.HOT: "MissionCritical", Tier.WARM: "Critical", Tier.PILOT_LIGHT: "Important"}[tier]
    assert set(policy["policy"]) == {"software", "hardware", "az", "region"}
    for targets in policy["policy"].values():
        assert targets == {"rto": f"{rto}s", "rpo": "1s"}
    group = graph.one(GROUP)
    assert group["resourceQuery"]["type"] == "TAG_FILTERS_1_0"
    assert json.loads(group["resourceQuery"]["query"])["TagFilters"] == [{"Key": "Deployment", "Values": ["search-tier2"]}]


def test_sub_second_rpo_rounds_up_and_zero_stays_zero() -> None:
    assert policy_targets(60, 0.25)["region"] == ("60s", "1s")
    assert policy_targets(60, 0)["az"] == ("60s", "0s")
    assert json.loads(tag_query("d"))["ResourceTypeFilters"] == ["AWS::AllSupported"]


@pytest.mark.parametrize(
    ("rto", "rpo", "message"),
    [
        (0, 1.0, "ResilienceAssessment r: rto_seconds 0 must be ≥ 1"),
        (60, -1.0, "ResilienceAssessment r: rpo_seconds -1.0 must be ≥ 0"),
        (60, 120.0, "ResilienceAssessment r: rpo_seconds 120.0 exceeds rto_seconds 60; valid: an RPO no larger than the RTO"),
    ],
)
def test_resilience_refuses_impossible_targets(rto: int, rpo: float, message: str) -> None:
    args = ResilienceAssessmentArgs(deployment="d", tier=Tier.WARM, region="eu-west-1", rto_seconds=rto, rpo_seconds=rpo)
    with pytest.raises(ComponentValidationError) as caught:
        ResilienceAssessment("r", args)
    assert str(caught.value) == message


def test_children_are_parented_to_their_component() -> None:
    graph = run(lambda: DrExperiments("fis", fis_args()))
    assert all(parent.endswith("drkit:recovery:DrExperiments::fis") for parent in graph.parents(TEMPLATE))
