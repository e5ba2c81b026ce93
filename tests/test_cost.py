"""Cost model: figures checked against hand-computed quantity × unit price from the pricing table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.frontdoor import ASSUMED_BATCH_SECONDS, ROUTER_GB_SECONDS, request_costs
from components.workflow import ASYNC_REQUEST_TRANSITIONS
from drkit import pricing as p
from drkit.cli import main
from drkit.cost import deployment_cost, monthly_cost, schedule_events, weekly_instance_hours
from drkit.errors import SpecError
from drkit.usage import UsageProfile, load_usage
from tests.conftest import EXAMPLES, example_graph


def triples(name: str, region: str) -> list[tuple[str, Any, str | None]]:
    return [(r.type, r.inputs, r.region) for r in example_graph(name)[region].custom_resources]


def test_instance_prices_follow_the_table_and_region_multiplier() -> None:
    assert p.instance_hourly("ml.m5.xlarge", "us-east-1") == pytest.approx(0.1345 * 2)
    assert p.instance_hourly("ml.c6i.xlarge", "eu-west-1") == pytest.approx(0.119 * 2 * 1.12)
    assert p.instance_hourly("ml.g5.xlarge", "eu-central-1") == pytest.approx(1.41 * 1.20)
    with pytest.raises(p.PricingError, match="no price for instance type 'ml.x9.large'; add it to drkit/pricing.py"):
        p.instance_hourly("ml.x9.large", "us-east-1")


def test_every_day_schedule_hours_by_hand() -> None:
    # min 4 from 08:00, floor 1 from 20:00, every day: 12 h × 4 + 12 h × 1 = 60 instance-hours a day.
    events = schedule_events(
        [
            {"schedule": "cron(0 20 ? * MON,TUE,WED,THU,FRI,SAT,SUN *)", "scalableTargetAction": {"minCapacity": 1, "maxCapacity": 8}},
            {"schedule": "cron(0 8 ? * MON,TUE,WED,THU,FRI,SAT,SUN *)", "scalableTargetAction": {"minCapacity": 4, "maxCapacity": 8}},
        ]
    )
    assert weekly_instance_hours(4, 8, events) == pytest.approx(60 * 7)


def test_weekday_schedule_keeps_the_floor_all_weekend() -> None:
    # up 06:30, down 19:00, MON-FRI only: 5 × 12.5 h at 3, the other 105.5 h of the week at 1.
    events = schedule_events(
        [
            {"schedule": "cron(0 19 ? * MON-FRI *)", "scalableTargetAction": {"minCapacity": 1}},
            {"schedule": "cron(30 6 ? * MON-FRI *)", "scalableTargetAction": {"minCapacity": 3}},
        ]
    )
    assert weekly_instance_hours(3, 5, events) == pytest.approx(5 * 12.5 * 3 + 105.5 * 1)


def test_demand_above_the_floor_is_capped_at_the_maximum() -> None:
    assert weekly_instance_hours(1, 4, [], demand=lambda minute: 10) == pytest.approx(168 * 4)


def test_tier3_primary_fixed_costs_without_usage_by_hand() -> None:
    estimate = monthly_cost(triples("docs-tier3", "us-east-2"))
    by_unit: dict[str, float] = {}
    for line in estimate.lines:
        by_unit[line.unit] = by_unit.get(line.unit, 0.0) + line.monthly_usd
    # One ml.m5.large always on (the off-hours floor equals the minimum): 730 h × $0.1345.
    # The async endpoint scales to zero and costs nothing without traffic.
    assert by_unit["instance-hours"] == pytest.approx(730 * 0.1345)
    # HTTPS health check with latency measurement, 30 s interval: $0.50 + 2 options × $1.00; and the
    # CALCULATED parent over it and ARC's check, priced as a basic check: $0.50.
    assert by_unit["check-month"] + by_unit["option-month"] == pytest.approx(0.50 + 2 * 1.00 + 0.50)
    alarms = len(example_graph("docs-tier3")["us-east-2"].of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
    assert by_unit["alarm-month"] == pytest.approx(alarms * 0.10)
    assert by_unit["key-month"] == pytest.approx(1.00)
    assert estimate.total_usd == pytest.approx(sum(by_unit.values()))


def test_serverless_usage_by_hand() -> None:
    usage = UsageProfile(requests_per_hour=(100.0,) * 24, traffic_mix={"standard": 1.0}, mean_payload_kb=1024)
    estimate = monthly_cost(triples("docs-tier3", "us-west-2"), usage, traffic_share=1.0)
    (compute,) = [line for line in estimate.lines if line.unit == "GB-s"]
    requests = 100 * 24 * 7 * 730 / 168  # 73,000 a month
    assert compute.quantity == pytest.approx(requests * 0.2 * 3)  # default 0.2 s per request × 3 GB (3072 MB)
    assert compute.unit_price_usd == pytest.approx(p.SERVERLESS_GB_SECOND)


def test_a_failover_secondary_gets_no_traffic_and_idles_at_its_minimum() -> None:
    usage = load_usage(EXAMPLES / "usage" / "search-tier2.yaml")
    idle = monthly_cost(triples("search-tier2", "eu-central-1"), usage)
    assert not [line for line in idle.lines if line.unit == "GB-s"]
    hours = {line.resource: line.quantity for line in idle.lines if line.unit == "instance-hours"}
    assert hours["search-tier2-ranker-provisioned"] == pytest.approx(730)  # 1 instance, floor 1 off-hours
    assert hours["search-tier2-query-embed-async"] == 0


def test_tier1_splits_traffic_evenly_and_beats_the_naive_design() -> None:
    usage = load_usage(EXAMPLES / "usage" / "fraud-tier1.yaml")
    cost = deployment_cost(example_graph("fraud-tier1"), usage)
    serverless = {r: sum(line.quantity for line in e.lines if line.unit == "GB-s") for r, e in cost.regions.items()}
    assert serverless["us-east-1"] == pytest.approx(serverless["us-west-2"]) and serverless["us-east-1"] > 0
    assert cost.total_usd < cost.naive_total_usd
    # naive: the provisioned (6) and async (2) maxima of ml.c6i.xlarge, 730 h, in every region
    naive_instances = sum(8 * 730 * p.instance_hourly("ml.c6i.xlarge", r) for r in ("us-east-1", "us-west-2", "eu-west-1"))
    fixed = sum(line.monthly_usd for e in cost.regions.values() for line in e.lines if line.unit != "instance-hours")
    assert cost.naive_total_usd == pytest.approx(naive_instances + fixed)


def test_cost_cli_json_breakdowns_add_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", str(EXAMPLES / "docs-tier3.yaml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["usage_given"] is True  # found usage/docs-tier3.yaml beside the spec
    for key in ("by_region", "by_model", "by_inference_type"):
        assert sum(report[key].values()) == pytest.approx(report["total_usd"], abs=0.05)
    assert set(report["by_inference_type"]) >= {"provisioned", "serverless", "async"}
    for line in report["lines"]:
        assert line["monthly_usd"] == pytest.approx(line["quantity"] * line["unit_price_usd"], abs=1e-3)


def test_bad_usage_profile_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text("requests_per_hour: [1, 2, 3]\ntraffic_mix: {critical: 0.5, vip: 0.5}\n")
    with pytest.raises(SpecError) as caught:
        load_usage(path)
    assert caught.value.source == str(path)
    assert caught.value.problems == [
        "requests_per_hour: needs 24 hourly values (hour 0 to 23), got 3",
        "traffic_mix: unknown traffic kinds ['vip']; valid: critical, standard, bulk",
    ]


def test_workflow_transitions_are_priced_per_async_request_from_the_walked_definition() -> None:
    # GIVEN fraud-tier1 with its usage profile; WHEN priced; THEN each region's workflow line is
    # its async requests (one completion notification each) × the transitions the walk counts.
    cost = deployment_cost(example_graph("fraud-tier1"), load_usage(EXAMPLES / "usage" / "fraud-tier1.yaml"))
    for region, estimate in cost.regions.items():
        (transitions,) = [line for line in estimate.lines if line.unit == "transitions"]
        (publishes,) = [line for line in estimate.lines if line.unit == "publishes"]
        assert publishes.quantity > 0, region
        assert transitions.quantity == pytest.approx(publishes.quantity * ASYNC_REQUEST_TRANSITIONS), region
        assert f"× {ASYNC_REQUEST_TRANSITIONS})" in transitions.description


def test_front_door_budgets_price_the_same_transitions_as_the_cost_model() -> None:
    costs = request_costs("us-east-1", async_instance="ml.c6i.xlarge", batch=True)
    front = p.API_GATEWAY_HTTP_REQUEST + p.LAMBDA_REQUEST + p.LAMBDA_GB_SECOND * ROUTER_GB_SECONDS
    queued = p.S3_PUT_REQUEST + p.S3_GET_REQUEST + p.SNS_PUBLISH + ASYNC_REQUEST_TRANSITIONS * p.STEP_FUNCTIONS_STANDARD_TRANSITION
    compute = p.instance_hourly("ml.c6i.xlarge", "us-east-1") / 3600 * ASSUMED_BATCH_SECONDS
    assert costs["batch"] == pytest.approx(compute + queued + front, rel=1e-9)
