"""The scale-up Lambda on moto: raises capacity and the autoscaling floor, never lowers, refuses others' endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drkit.components.functions.scale_up.handler import (
    DIMENSION,
    RELEASE_STEP,
    Clients,
    ScaleUpInputError,
    ScaleUpRequest,
    VariantAction,
    handler,
    resolve_request,
    scale_up,
    variant_target,
)

REGION = "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("DEPLOYMENT", "TARGET_REGION", "DESIRED_CAPACITY"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield


def make_endpoint(
    name: str,
    *,
    tags: dict[str, str] | None,
    instances: int = 1,
    autoscaling: tuple[int, int] | None = (1, 4),
    serverless: bool = False,
) -> None:
    """A SageMaker endpoint in moto, optionally with an Application Auto Scaling target (min, max)."""
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": name}
    if serverless:
        variant["ServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    else:
        variant.update(InitialInstanceCount=instances, InstanceType="ml.m5.large", InitialVariantWeight=1.0)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    kwargs: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": name}
    if tags is not None:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    sm.create_endpoint(**kwargs)
    if autoscaling and not serverless:
        boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{name}/variant/AllTraffic",
            ScalableDimension=DIMENSION,
            MinCapacity=autoscaling[0],
            MaxCapacity=autoscaling[1],
        )


def tags(deployment: str, model: str = "xgb", inference_type: str = "provisioned") -> dict[str, str]:
    return {"Deployment": deployment, "Model": model, "InferenceType": inference_type, "DRTier": "2"}


def instances(name: str) -> int:
    variant = boto3.client("sagemaker", region_name=REGION).describe_endpoint(EndpointName=name)["ProductionVariants"][0]
    return int(variant["DesiredInstanceCount"])


def floor(name: str) -> tuple[int, int]:
    target = boto3.client("application-autoscaling", region_name=REGION).describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{name}/variant/AllTraffic"], ScalableDimension=DIMENSION
    )["ScalableTargets"][0]
    return int(target["MinCapacity"]), int(target["MaxCapacity"])


class CountingClients(Clients):
    """Real moto clients that count the calls that change something."""

    def __init__(self, region: str) -> None:
        super().__init__(region)
        self.mutations: list[str] = []
        sagemaker_update = self.sagemaker.update_endpoint_weights_and_capacities
        register = self.autoscaling.register_scalable_target

        def update(**kwargs: Any) -> Any:
            self.mutations.append(f"update:{kwargs['EndpointName']}")
            return sagemaker_update(**kwargs)

        def floor_up(**kwargs: Any) -> Any:
            self.mutations.append(f"register:{kwargs['ResourceId']}")
            return register(**kwargs)

        self.sagemaker.update_endpoint_weights_and_capacities = update
        self.autoscaling.register_scalable_target = floor_up


def request(capacity: dict[str, int], *names: str) -> ScaleUpRequest:
    return ScaleUpRequest(deployment="fraud", region=REGION, capacity=capacity, endpoint_names=names)


def test_raises_desired_count_and_autoscaling_floor(aws: None) -> None:
    # GIVEN a warm secondary at one instance, autoscaling 1-4
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"))
    # WHEN the plan asks for the primary's 3 instances
    result = scale_up(request({"xgb": 3}), Clients(REGION))
    # THEN the variant runs 3 and autoscaling may not go below 3
    assert instances("fraud-xgb-provisioned") == 3
    assert floor("fraud-xgb-provisioned") == (3, 4)
    (variant,) = result.variants
    assert (variant.before, variant.target, variant.action) == (1, 3, VariantAction.RAISED)
    assert result.changed


def test_rerun_changes_nothing(aws: None) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"))
    scale_up(request({"xgb": 3}), Clients(REGION))
    clients = CountingClients(REGION)
    again = scale_up(request({"xgb": 3}), clients)
    assert clients.mutations == []
    assert [v.action for v in again.variants] == [VariantAction.UNCHANGED]
    assert not again.changed
    assert instances("fraud-xgb-provisioned") == 3 and floor("fraud-xgb-provisioned") == (3, 4)


def test_never_lowers_a_variant_already_above_target(aws: None) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"), instances=5, autoscaling=(4, 6))
    clients = CountingClients(REGION)
    result = scale_up(request({"xgb": 3}), clients)
    # The one change: its off-hours schedule is held for the failover; no capacity is lowered.
    assert clients.mutations == ["register:endpoint/fraud-xgb-provisioned/variant/AllTraffic"]
    assert result.variants[0].target == 5
    assert instances("fraud-xgb-provisioned") == 5 and floor("fraud-xgb-provisioned") == (4, 6)


def suspended(name: str) -> bool:
    target = boto3.client("application-autoscaling", region_name=REGION).describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{name}/variant/AllTraffic"], ScalableDimension=DIMENSION
    )["ScalableTargets"][0]
    return bool((target.get("SuspendedState") or {}).get("ScheduledScalingSuspended"))


def test_activation_holds_the_off_hours_schedule_and_release_after_fail_back_resumes_it(aws: None) -> None:
    # GIVEN a tier-2 standby whose schedule would drop it to its off-hours floor at 19:00
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"))
    scheduled = boto3.client("application-autoscaling", region_name=REGION)
    scheduled.put_scheduled_action(
        ServiceNamespace="sagemaker", ScheduledActionName="fraud-xgb-scale-down", Schedule="cron(0 19 ? * MON-FRI *)",
        ResourceId="endpoint/fraud-xgb-provisioned/variant/AllTraffic", ScalableDimension=DIMENSION,
        ScalableTargetAction={"MinCapacity": 1, "MaxCapacity": 4},
    )  # fmt: skip
    # WHEN the region is activated: the schedule is suspended with the floor raised, in one call
    clients = CountingClients(REGION)
    result = scale_up(request({"xgb": 3}), clients)
    assert suspended("fraud-xgb-provisioned") and floor("fraud-xgb-provisioned") == (3, 4)
    assert clients.mutations == ["update:fraud-xgb-provisioned", "register:endpoint/fraud-xgb-provisioned/variant/AllTraffic"]
    assert (result.variants[0].schedule_suspended_before, result.variants[0].schedule_suspended) == (False, True)
    # A rerun finds it held and changes nothing
    again = CountingClients(REGION)
    assert not scale_up(request({"xgb": 3}), again).changed and again.mutations == []
    # THEN after fail back, the plan's release step (ARC sends only its metadata) resumes the
    # schedule and touches no capacity
    arc_event = {"InvokedBy": "ARC", "PlanArn": "arn:aws:arc-region-switch::1:plan/p", "ExecutionId": "e", "StepName": RELEASE_STEP}
    released = handler({**arc_event, "deployment": "fraud", "region": REGION}, None)
    assert not suspended("fraud-xgb-provisioned") and floor("fraud-xgb-provisioned") == (3, 4)
    assert instances("fraud-xgb-provisioned") == 3 and released["changed"] is True
    assert handler({"deployment": "fraud", "region": REGION, "mode": "release"}, None)["changed"] is False


def test_an_unknown_mode_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ScaleUpInputError, match="mode: 'pause' is not valid; valid: activate, release"):
        resolve_request({"deployment": "fraud", "region": REGION, "mode": "pause"}, {})


def test_floor_rises_to_the_failover_capacity_not_to_a_higher_current_count(aws: None) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"), instances=5, autoscaling=(1, 6))
    result = scale_up(request({"xgb": 3}), Clients(REGION))
    assert instances("fraud-xgb-provisioned") == 5
    assert floor("fraud-xgb-provisioned") == (3, 6)
    assert result.variants[0].action is VariantAction.UNCHANGED and result.changed


def test_target_above_autoscaling_max_is_capped_and_reported(aws: None) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"), autoscaling=(1, 2))
    result = scale_up(request({"xgb": 5}), Clients(REGION))
    assert result.variants[0].capped_at_max and result.variants[0].target == 2
    assert instances("fraud-xgb-provisioned") == 2 and floor("fraud-xgb-provisioned") == (2, 2)


def test_variant_without_autoscaling_is_still_raised(aws: None) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"), autoscaling=None)
    result = scale_up(request({"*": 2}), Clients(REGION))
    assert instances("fraud-xgb-provisioned") == 2
    assert result.variants[0].min_capacity_before is None


def test_discovery_ignores_other_deployments_and_untagged_endpoints(aws: None) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"))
    make_endpoint("fraud-lookalike", tags=tags("fraudulent"))  # name prefix matches, tag does not
    make_endpoint("fraud-untagged", tags=None)
    make_endpoint("search-xgb-provisioned", tags=tags("search"))
    result = scale_up(request({"*": 3}), Clients(REGION))
    assert [v.endpoint for v in result.variants] == ["fraud-xgb-provisioned"]
    assert result.refused == ()
    assert instances("fraud-lookalike") == 1
    assert instances("fraud-untagged") == 1
    assert instances("search-xgb-provisioned") == 1


@pytest.mark.parametrize(
    ("endpoint", "endpoint_tags"),
    [("fraud-other-team", tags("search")), ("fraud-untagged", None), ("search-xgb-provisioned", tags("search"))],
    ids=["other-deployment", "untagged", "not-listed-under-deployment"],
)
def test_named_endpoint_not_tagged_for_the_deployment_is_refused_and_nothing_changes(
    aws: None, endpoint: str, endpoint_tags: dict[str, str] | None
) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud"))
    make_endpoint(endpoint, tags=endpoint_tags)
    clients = CountingClients(REGION)
    result = scale_up(request({"*": 3}, "fraud-xgb-provisioned", endpoint), clients)
    assert result.refused == (endpoint,)
    assert clients.mutations == []  # not even the endpoint that is ours
    assert instances("fraud-xgb-provisioned") == 1 and instances(endpoint) == 1


def test_handler_fails_the_step_on_a_refused_endpoint(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    make_endpoint("fraud-untagged", tags=None)
    with pytest.raises(PermissionError, match="refused endpoints fraud-untagged: not tagged Deployment=fraud in us-west-2"):
        handler({"deployment": "fraud", "desired_capacity": 2, "endpoint_names": ["fraud-untagged"]}, None)
    assert instances("fraud-untagged") == 1


def test_serverless_and_async_endpoints_are_skipped(aws: None) -> None:
    make_endpoint("fraud-xgb-serverless", tags=tags("fraud", inference_type="serverless"), serverless=True)
    make_endpoint("fraud-xgb-async", tags=tags("fraud", inference_type="async"))
    result = scale_up(request({"*": 3}), Clients(REGION))
    assert result.variants == ()
    assert set(result.skipped) == {"fraud-xgb-serverless", "fraud-xgb-async"}
    assert instances("fraud-xgb-async") == 1


def test_handler_reads_capacity_per_model_from_the_environment(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    make_endpoint("fraud-xgb-provisioned", tags=tags("fraud", model="xgb"))
    make_endpoint("fraud-bert-provisioned", tags=tags("fraud", model="bert"))
    monkeypatch.setenv("DEPLOYMENT", "fraud")
    monkeypatch.setenv("DESIRED_CAPACITY", '{"xgb": 2, "bert": 4}')
    body = handler({}, None)  # ARC's own event carries nothing we need
    assert body["changed"] is True and body["region"] == REGION
    assert instances("fraud-xgb-provisioned") == 2
    assert instances("fraud-bert-provisioned") == 4


def test_model_without_a_target_is_skipped(aws: None) -> None:
    make_endpoint("fraud-bert-provisioned", tags=tags("fraud", model="bert"))
    result = scale_up(request({"xgb": 3}), Clients(REGION))
    assert result.skipped == ("fraud-bert-provisioned",)
    assert instances("fraud-bert-provisioned") == 1


@pytest.mark.parametrize(
    ("event", "env", "message"),
    [
        ({}, {"AWS_REGION": REGION, "DESIRED_CAPACITY": "2"}, "deployment: missing"),
        ({"deployment": "fraud"}, {}, "region: missing"),
        ({"deployment": "fraud"}, {"AWS_REGION": REGION}, "desired_capacity: missing"),
        ({"deployment": "fraud", "desired_capacity": 0}, {"AWS_REGION": REGION}, "desired_capacity.*: 0 is not a capacity"),
        ({"deployment": "fraud", "desired_capacity": True}, {"AWS_REGION": REGION}, "desired_capacity: True is not a capacity"),
        (
            {"deployment": "fraud"},
            {"AWS_REGION": REGION, "DESIRED_CAPACITY": "lots"},
            "DESIRED_CAPACITY: 'lots' is not an integer",
        ),
        ({"deployment": "fraud", "desired_capacity": {"xgb": -1}}, {"AWS_REGION": REGION}, "desired_capacity.xgb: -1"),
        ({"deployment": "fraud", "desired_capacity": 1, "endpoint_names": "x"}, {"AWS_REGION": REGION}, "endpoint_names: 'x'"),
    ],
)
def test_request_is_refused_with_the_field_and_value(event: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ScaleUpInputError) as caught:
        resolve_request(event, env)
    assert message in str(caught.value)


def test_event_wins_over_environment() -> None:
    req = resolve_request(
        {"deployment": "fraud", "region": "eu-west-1", "desired_capacity": {"xgb": 2}},
        {"DEPLOYMENT": "other", "AWS_REGION": REGION, "DESIRED_CAPACITY": "9"},
    )
    assert (req.deployment, req.region, dict(req.capacity)) == ("fraud", "eu-west-1", {"xgb": 2})


@pytest.mark.parametrize(
    ("current", "wanted", "maximum", "expected"),
    [(1, 3, 4, (3, False)), (5, 3, 6, (5, False)), (1, 5, 2, (2, True)), (3, 5, 2, (3, True)), (1, 3, None, (3, False))],
)
def test_variant_target_never_lowers_and_respects_the_max(
    current: int, wanted: int, maximum: int | None, expected: tuple[int, bool]
) -> None:
    assert variant_target(current, wanted, maximum) == expected


def test_two_variants_are_raised_in_one_update(aws: None) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    variants = [
        {
            "VariantName": v,
            "ModelName": "m",
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 0.5,
        }
        for v in ("Blue", "Green")
    ]
    sm.create_endpoint_config(EndpointConfigName="fraud-xgb-provisioned", ProductionVariants=variants)
    sm.create_endpoint(
        EndpointName="fraud-xgb-provisioned",
        EndpointConfigName="fraud-xgb-provisioned",
        Tags=[{"Key": k, "Value": v} for k, v in tags("fraud").items()],
    )
    clients = CountingClients(REGION)
    result = scale_up(request({"xgb": 2}), clients)
    assert clients.mutations == ["update:fraud-xgb-provisioned"]
    assert [(v.variant, v.target) for v in result.variants] == [("Blue", 2), ("Green", 2)]
    described = sm.describe_endpoint(EndpointName="fraud-xgb-provisioned")["ProductionVariants"]
    assert [v["DesiredInstanceCount"] for v in described] == [2, 2]
