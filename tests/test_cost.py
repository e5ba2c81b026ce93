"""Cost model: figures checked against hand-computed quantity × unit price from the pricing table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drkit.cli import main
from drkit.components.frontdoor import ASSUMED_BATCH_SECONDS, ROUTER_GB_SECONDS, request_costs
from drkit.components.functions.router.audit import AuditRecord
from drkit.components.workflow import ASYNC_REQUEST_TRANSITIONS
from drkit.core import pricing as p
from drkit.core.errors import SpecError
from drkit.core.routing import ClassInfo, ClassKind, route
from drkit.core.usage import InvocationSeconds, UsageProfile, load_usage
from drkit.engine.cost import (
    AUDIT_RECORD_BYTES,
    COMPLETION_SECONDS,
    EMF_LINE_BYTES,
    HEALTH_CHECKERS,
    LAMBDA_PLATFORM_LOG_BYTES,
    ROUTER_METRICS_PER_RECORD,
    ROUTER_SECONDS,
    CostEstimate,
    CostLine,
    FunctionRole,
    access_log_bytes,
    deployment_cost,
    function_role,
    health_probes,
    monthly_cost,
    schedule_events,
    weekly_instance_hours,
)
from tests.conftest import EXAMPLES, example_graph


def triples(name: str, region: str) -> list[tuple[str, Any, str | None]]:
    return [(r.type, r.inputs, r.region) for r in example_graph(name)[region].custom_resources]


def test_instance_prices_are_per_region_entries_with_a_date_and_source() -> None:
    # AWS Price List API, usage type USE1-Host:ml.m5.xlarge: $0.23 (the old table's $0.269 was ~17 % high)
    found = p.lookup("sagemaker", "hosting:ml.m5.xlarge", "us-east-1")
    assert found is not None and found.usd == pytest.approx(0.23) and found.sourced
    assert "USE1-Host:ml.m5.xlarge" in found.source and found.as_of == "2026-06-27"
    for region in ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1"):
        entry = p.lookup("sagemaker", "hosting:ml.c6i.xlarge", region)
        assert entry is not None and entry.region == region and entry.source and entry.as_of, region
        assert entry.sourced or "not sourced" in entry.source, region  # an estimate says so in the file
    assert p.instance_hourly("ml.x9.large", "us-east-1") is None  # a gap, never an error
    assert p.instance_hourly("ml.m5.xlarge", "mx-central-1") is None


def test_a_missing_price_is_a_marked_gap_and_the_total_is_incomplete() -> None:
    # GIVEN docs-tier3's secondary with its async endpoint moved to an instance type the table lacks
    resources = [
        (t, {**props, "productionVariants": [{**props["productionVariants"][0], "instanceType": "ml.x9.large"}]}, r)
        if t == "aws:sagemaker/endpointConfiguration:EndpointConfiguration" and props.get("asyncInferenceConfig") else (t, props, r)
        for t, props, r in triples("docs-tier3", "us-east-2")
    ]
    usage = load_usage(EXAMPLES / "usage" / "docs-tier3.yaml")
    estimate = monthly_cost(resources, usage)
    (gap,) = [line for line in estimate.gaps if line.unit == "instance-hours"]
    assert gap.unit_price_usd is None and gap.quantity > 0 and gap.monthly_usd == 0
    assert "no sagemaker hosting:ml.x9.large price for us-east-2" in gap.gap
    assert not estimate.complete
    assert any("ml.x9.large" in note for note in estimate.notes())


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
    # One ml.t2.medium always on (the off-hours floor equals the minimum): 730 h × $0.056 (us-east-2 entry).
    # The async endpoint scales to zero and costs nothing without traffic.
    assert by_unit["instance-hours"] == pytest.approx(730 * 0.056)
    assert not estimate.usage_given and "usage-driven lines are not priced" in estimate.notes()[0]
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
    assert compute.unit_price_usd == pytest.approx(0.00002)  # us-west-2 entry: $0.0000200 per GB-second


def test_a_failover_secondary_gets_no_traffic_and_idles_at_its_minimum() -> None:
    usage = load_usage(EXAMPLES / "usage" / "search-tier2.yaml")
    idle = monthly_cost(triples("search-tier2", "eu-central-1"), usage)
    assert not [line for line in idle.lines if line.unit == "GB-s"]
    hours = {line.resource: line.quantity for line in idle.lines if line.unit == "instance-hours"}
    assert hours["search-tier2-ranker-provisioned"] == pytest.approx(730)  # 1 instance, floor 1 off-hours
    assert hours["search-tier2-query-embed-provisioned"] == pytest.approx(730)


def test_tier1_splits_traffic_evenly_and_the_ceiling_figure_is_named_for_what_it_is() -> None:
    usage = load_usage(EXAMPLES / "usage" / "fraud-tier1.yaml")
    cost = deployment_cost(example_graph("fraud-tier1"), usage)
    serverless = {r: sum(line.quantity for line in e.lines if line.unit == "GB-s") for r, e in cost.regions.items()}
    assert serverless["us-east-1"] == pytest.approx(serverless["us-west-2"]) and serverless["us-east-1"] > 0
    assert [e.traffic_share for e in cost.regions.values()] == pytest.approx([1 / 3] * 3)
    assert cost.total_usd < cost.baseline_total_usd
    # ceiling: the provisioned (6) and async (2) maxima of ml.c6i.xlarge, 730 h, in every region
    ceiling = sum(8 * 730 * (p.instance_hourly("ml.c6i.xlarge", r) or 0) for r in ("us-east-1", "us-west-2", "eu-west-1"))
    fixed = sum(line.monthly_usd for e in cost.regions.values() for line in e.lines if line.unit != "instance-hours")
    assert cost.ceiling_always_on_usd == pytest.approx(ceiling + fixed)


def test_cost_cli_json_breakdowns_add_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", str(EXAMPLES / "docs-tier3.yaml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["usage_given"] is True  # found usage/docs-tier3.yaml beside the spec
    for key in ("by_region", "by_model", "by_inference_type"):
        assert sum(report[key].values()) == pytest.approx(report["total_usd"], abs=0.05)
    assert set(report["by_inference_type"]) >= {"serverless", "async"}
    assert report["fair_baseline_usd"] > report["total_usd"] and "ceiling_always_on_usd" in report
    for line in report["lines"]:
        if line["unit_price_usd"] is None:
            assert line["gap"] and line["monthly_usd"] == 0
        else:
            assert line["monthly_usd"] == pytest.approx(line["quantity"] * line["unit_price_usd"], abs=1e-3)
    assert report["complete"] is False and any("ARC Region switch plan" in note for note in report["not_priced"])


def test_bad_usage_profile_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text("requests_per_hour: [1, 2, 3]\ntraffic_mix: {critical: 0.5, vip: 0.5}\ninvocation_seconds: {provisoned: 1}\n")
    with pytest.raises(SpecError) as caught:
        load_usage(path)
    assert caught.value.source == str(path)
    assert caught.value.problems == [
        "requests_per_hour: [1, 2, 3]: needs 24 hourly values (hour 0 to 23), got 3",
        "traffic_mix: unknown traffic kinds ['vip']; valid: critical, standard, bulk",
        "invocation_seconds.provisoned: unknown field (value 1); did you mean provisioned? valid: provisioned, serverless, async",
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
    front = 1.00e-6 + 0.20e-6 + 0.0000166667 * ROUTER_GB_SECONDS  # HTTP API, Lambda request, Lambda GB-s (us-east-1)
    queued = 0.005e-3 + 0.0004e-3 + 0.50e-6 + ASYNC_REQUEST_TRANSITIONS * 0.025e-3  # S3 PUT, GET, SNS, Standard transitions
    compute = 0.204 / 3600 * ASSUMED_BATCH_SECONDS  # ml.c6i.xlarge us-east-1
    assert costs["batch"] == pytest.approx(compute + queued + front, rel=1e-9)


# --- the front door and the Lambdas -------------------------------------------------------------

FRAUD = "fraud-tier1"
ACCOUNT = "123456789012"  # every example's account_id: it names their buckets (S3 names are global)
GIB = 1024**3


def fraud_usage() -> UsageProfile:
    return load_usage(EXAMPLES / "usage" / "fraud-tier1.yaml")


def priced(triples_: list[tuple[str, Any, str | None]], usage: UsageProfile | None, share: float = 1.0) -> CostEstimate:
    return monthly_cost(triples_, usage, traffic_share=share)


def lines_of(estimate: CostEstimate, resource_suffix: str, unit: str) -> list[CostLine]:
    return [line for line in estimate.lines if line.resource.endswith(resource_suffix) and line.unit == unit]


def one(estimate: CostEstimate, resource_suffix: str, unit: str, contains: str = "") -> CostLine:
    found = [line for line in lines_of(estimate, resource_suffix, unit) if contains in line.description]
    assert len(found) == 1, [(line.resource, line.description) for line in found]
    return found[0]


def with_props(triples_: list[tuple[str, Any, str | None]], name_suffix: str, **changes: Any) -> list[tuple[str, Any, str | None]]:
    """The same stack with one resource's props changed (the resource named *name_suffix)."""
    out = []
    for t, props, region in triples_:
        if str(props.get("name", "")).endswith(name_suffix):
            props = {**props, **changes}
        out.append((t, props, region))
    return out


def fraud_probes() -> float:
    (check,) = [r for r in example_graph(FRAUD)["us-east-1"].of_type("aws:route53/healthCheck:HealthCheck") if r.inputs.get("type") == "HTTPS"]
    return health_probes(float(check.inputs["requestInterval"]))


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("drkit-fraud-tier1-us-east-1-router", FunctionRole.ROUTER),
        ("drkit-fraud-tier1-completion", FunctionRole.COMPLETION),
        ("drkit-fraud-tier1-redrive", FunctionRole.REDRIVE),
        ("drkit-fraud-tier1-scale-up", FunctionRole.SCALE_UP),
        ("team-thumbnailer", FunctionRole.UNKNOWN),
        ("router-for-something", FunctionRole.UNKNOWN),
    ],
)
def test_function_role_is_read_from_the_name_suffix_drkit_gives(name: str, role: FunctionRole) -> None:
    assert function_role(name) is role


def test_health_probes_by_hand() -> None:
    # 15 checkers, one probe each per interval: 730 h × 3600 s / 30 s × 15 = 1,314,000 a month.
    assert HEALTH_CHECKERS == 15
    assert health_probes(30) == pytest.approx(1_314_000)
    assert health_probes(10) == pytest.approx(3 * 1_314_000)


def test_router_is_invoked_by_every_routed_request_and_every_health_probe() -> None:
    # GIVEN fraud-tier1 us-east-1 taking all traffic, with its fast (10 s) HTTPS health check
    usage = fraud_usage()
    estimate = priced(triples(FRAUD, "us-east-1"), usage)
    # THEN API requests and router invocations are the month's requests plus the checkers' probes
    expected = usage.monthly_requests + fraud_probes()
    assert fraud_probes() == pytest.approx(health_probes(10))
    assert one(estimate, "-router", "requests", "Lambda requests").quantity == pytest.approx(expected)
    (api,) = [line for line in estimate.lines if line.description.startswith("API requests")]
    assert api.quantity == pytest.approx(expected)


def test_router_own_work_gb_seconds_by_hand_and_from_one_assumption() -> None:
    usage = fraud_usage()
    estimate = priced(triples(FRAUD, "us-east-1"), usage)
    own = one(estimate, "-router", "Lambda GB-s", "own work")
    invocations = usage.monthly_requests + fraud_probes()
    assert own.quantity == pytest.approx(invocations * ROUTER_SECONDS * 512 / 1024)
    # frontdoor's per-request budgets and this line share the one ~100 ms assumption
    assert pytest.approx(ROUTER_GB_SECONDS) == ROUTER_SECONDS * 512 / 1024
    assert own.unit_price_usd == pytest.approx(0.0000166667)  # us-east-1 entry


def test_doubling_the_router_memory_doubles_its_gb_seconds() -> None:
    usage = fraud_usage()
    base = priced(triples(FRAUD, "us-east-1"), usage)
    doubled = priced(with_props(triples(FRAUD, "us-east-1"), "-router", memorySize=1024.0), usage)
    for contains in ("own work", "waiting"):
        before = one(base, "-router", "Lambda GB-s", contains).quantity
        assert before > 0
        assert one(doubled, "-router", "Lambda GB-s", contains).quantity == pytest.approx(2 * before)


def test_router_wait_is_the_synchronous_requests_times_model_seconds() -> None:
    # GIVEN a flat day and only critical traffic, which lands on the provisioned endpoint
    usage = UsageProfile(requests_per_hour=(1000.0,) * 24, traffic_mix={"critical": 1.0}, invocation_seconds=InvocationSeconds(provisioned=0.25))
    estimate = priced(triples(FRAUD, "us-east-1"), usage)
    wait = one(estimate, "-router", "Lambda GB-s", "waiting")
    assert wait.quantity == pytest.approx(usage.monthly_requests * 0.25 * 0.5)
    # WHEN all traffic is bulk (async: the router queues it and returns) THEN the router waits for nothing
    queued = priced(triples(FRAUD, "us-east-1"), UsageProfile(requests_per_hour=(1000.0,) * 24, traffic_mix={"bulk": 1.0}))
    assert one(queued, "-router", "Lambda GB-s", "waiting").quantity == 0


def test_completion_invocations_equal_async_requests() -> None:
    usage = fraud_usage()
    cost = deployment_cost(example_graph(FRAUD), usage)
    for region, estimate in cost.regions.items():
        (publishes,) = [line for line in estimate.lines if line.unit == "publishes"]
        invocations = one(estimate, "-completion", "requests")
        assert publishes.quantity > 0, region
        assert invocations.quantity == pytest.approx(publishes.quantity), region
        compute = one(estimate, "-completion", "Lambda GB-s")
        assert compute.quantity == pytest.approx(publishes.quantity * COMPLETION_SECONDS * 256 / 1024), region


@pytest.mark.parametrize("suffix", ["-redrive", "-scale-up"])
def test_failover_functions_cost_nothing_in_a_normal_month(suffix: str) -> None:
    estimate = priced(triples(FRAUD, "us-east-1"), fraud_usage())
    line = one(estimate, suffix, "requests")
    assert line.quantity == 0
    assert "only during a failover" in line.description and "0 in a normal month" in line.description
    assert not lines_of(estimate, suffix, "Lambda GB-s")


def test_an_unknown_function_is_priced_once_per_request_and_says_so() -> None:
    usage = fraud_usage()
    extra = ("aws:lambda/function:Function", {"name": "team-thumbnailer", "memorySize": 2048.0}, "us-east-1")
    estimate = priced([*triples(FRAUD, "us-east-1"), extra], usage)
    requests = one(estimate, "team-thumbnailer", "requests")
    assert requests.quantity == pytest.approx(usage.monthly_requests)
    assert "not a drkit function" in requests.description
    assert one(estimate, "team-thumbnailer", "Lambda GB-s").quantity == pytest.approx(usage.monthly_requests * ROUTER_SECONDS * 2)


def test_lambda_lines_read_their_own_regions_entry() -> None:
    estimate = priced(triples(FRAUD, "eu-west-1"), fraud_usage())
    request, compute = p.lookup("lambda", "request", "eu-west-1"), p.lookup("lambda", "compute:x86", "eu-west-1")
    assert request is not None and compute is not None and request.region == "eu-west-1"
    line = one(estimate, "-router", "requests", "Lambda requests")
    assert line.unit_price_usd == pytest.approx(request.usd) and line.sourced is request.sourced
    assert one(estimate, "-router", "Lambda GB-s", "own work").unit_price_usd == pytest.approx(compute.usd)


def test_access_log_line_is_measured_from_the_stage_format() -> None:
    assert access_log_bytes('{"requestId": "$context.requestId", "status": "$context.status"}') == len(
        '{"requestId": "JZ1a2b3cIAMEbXw=", "status": "200"}'
    )
    usage = fraud_usage()
    estimate = priced(triples(FRAUD, "us-east-1"), usage)
    (stage,) = example_graph(FRAUD)["us-east-1"].of_type("aws:apigatewayv2/stage:Stage")
    size = access_log_bytes(stage.inputs["accessLogSettings"]["format"])
    line = one(estimate, "$default", "GB", "access-log")
    assert line.quantity == pytest.approx((usage.monthly_requests + fraud_probes()) * size / GIB)
    assert line.unit_price_usd == pytest.approx(0.50)


def test_lambda_platform_log_lines_scale_with_invocations() -> None:
    usage = fraud_usage()
    estimate = priced(triples(FRAUD, "us-east-1"), usage)
    line = one(estimate, "-router", "GB", "platform log")
    assert line.quantity == pytest.approx((usage.monthly_requests + fraud_probes()) * LAMBDA_PLATFORM_LOG_BYTES / GIB)


def test_audit_record_size_matches_a_measured_record() -> None:
    classes = {"authorisation": ClassInfo("authorisation", ClassKind.CRITICAL, 2), "review": ClassInfo("review", ClassKind.STANDARD, 30)}
    sizes = []
    for cls, payload in (("authorisation", 4096), ("review", 16384)):
        decision = route(payload, cls, classes=classes)
        record = AuditRecord(
            request_id="53f374e14fa24004a845c7ed73094198", at=1767225600.123456, region="us-east-1", team="card-auth",
            model="fraud-xgb", traffic_class=cls, payload_bytes=payload, path=decision.path.value, routed_path=decision.path.value,
            rule=decision.rule, reason=decision.reason, estimated_cost_usd=1.195e-05, outcome="served", status_code=200,
        )  # fmt: skip
        sizes.append(len(json.dumps(vars(record), sort_keys=True).encode()))  # what AuditWriter.write PUTs
    assert min(sizes) * 0.85 <= AUDIT_RECORD_BYTES <= max(sizes) * 1.15, sizes


def test_audit_records_one_put_per_request_and_their_retention_of_storage() -> None:
    usage = fraud_usage()
    estimate = priced(triples(FRAUD, "us-east-1"), usage)
    put = one(estimate, f"-audit-{ACCOUNT}-us-east-1", "requests")
    assert put.quantity == pytest.approx(usage.monthly_requests)
    assert put.unit_price_usd == pytest.approx(0.005 / 1000)
    stored = one(estimate, f"-audit-{ACCOUNT}-us-east-1", "GB-month")
    # the 365-day object lock holds a year of records at once: 12 months' worth in steady state
    assert stored.quantity == pytest.approx(usage.monthly_requests * AUDIT_RECORD_BYTES / GIB * 12)
    assert "365-day object lock" in stored.description and "12.0 months" in stored.description


def test_router_metrics_one_log_line_per_request_and_a_metric_per_dimension_set() -> None:
    usage = fraud_usage()
    estimate = priced(triples(FRAUD, "us-east-1"), usage)
    lines = one(estimate, "-router", "GB", "embedded-metric")
    assert lines.quantity == pytest.approx(usage.monthly_requests * EMF_LINE_BYTES / GIB)  # probes are not audited
    assert lines.unit_price_usd == pytest.approx(0.50)
    assert 250 < EMF_LINE_BYTES < 1000  # measured from audit.emf_line, not typed in
    # fraud-tier1: 2 teams (card-auth, disputes), one model with traffic on realtime, serverless and async
    metrics = one(estimate, "-router", "metric-month")
    assert metrics.quantity == len(ROUTER_METRICS_PER_RECORD) * 2 * 3
    assert metrics.unit_price_usd == pytest.approx(0.30)


def test_an_idle_failover_secondary_pays_for_health_probes_only() -> None:
    # GIVEN search-tier2's secondary (a failover SECONDARY: no traffic in a normal month)
    estimate = monthly_cost(triples("search-tier2", "eu-central-1"), load_usage(EXAMPLES / "usage" / "search-tier2.yaml"))
    (check,) = [r for r in example_graph("search-tier2")["eu-central-1"].of_type("aws:route53/healthCheck:HealthCheck") if str(r.inputs.get("type")).startswith("HTTP")]
    probes = health_probes(float(check.inputs.get("requestInterval", 30)))
    assert one(estimate, "-router", "requests", "Lambda requests").quantity == pytest.approx(probes)
    assert one(estimate, "-router", "GB", "embedded-metric").quantity == 0
    assert one(estimate, "-router", "metric-month").quantity == 0
    assert one(estimate, "-router", "Lambda GB-s", "waiting").quantity == 0
    assert one(estimate, f"-audit-{ACCOUNT}-eu-central-1", "requests").quantity == 0


def test_without_usage_the_front_door_still_pays_for_its_probes() -> None:
    estimate = monthly_cost(triples(FRAUD, "us-east-1"))
    assert one(estimate, "-router", "requests", "Lambda requests").quantity == pytest.approx(fraud_probes())
    assert one(estimate, "-completion", "requests").quantity == 0


def test_a_failover_secondarys_replica_receives_every_token_write_of_the_primary() -> None:
    usage = load_usage(EXAMPLES / "usage" / "search-tier2.yaml")
    primary = monthly_cost(triples("search-tier2", "eu-west-1"), usage)
    secondary = monthly_cost(triples("search-tier2", "eu-central-1"), usage)
    (written,) = [line for line in primary.lines if line.unit == "WRU"]
    (replicated,) = [line for line in secondary.lines if line.unit == "rWRU"]
    assert written.quantity > 0
    assert replicated.quantity == pytest.approx(written.quantity)  # it serves nothing, yet pays for replication


# --- lines added for issue 16: the router's table traffic, replication, X-Ray, storage -------------------


def test_router_table_traffic_and_its_replication_by_hand() -> None:
    # GIVEN fraud-tier1 (3 latency regions, each taking a third) WHEN us-east-1 is priced
    usage = fraud_usage()
    estimate = monthly_cost(triples(FRAUD, "us-east-1"), usage)
    assert estimate.traffic_share == pytest.approx(1 / 3) and "3 regions" in estimate.share_basis
    here = usage.monthly_requests / 3
    # critical (0.85) → real-time, standard (0.13) → serverless: synchronous; bulk (0.02) → async
    sync, queued = here * 0.98, here * 0.02
    writes = one(estimate, "-tokens", "WRU")
    assert writes.quantity == pytest.approx(here * 1 + sync * 1 + queued * 3)  # budget charge, breaker, 3 token writes
    reads = one(estimate, "-tokens", "RRU")
    assert reads.quantity == pytest.approx(here * 0.5 * 3 + sync * 2 + fraud_probes())  # budget batch-get, breaker, /health
    # every write made in the two other regions is replicated into this one; this region's go out twice
    assert one(estimate, "-tokens", "rWRU").quantity == pytest.approx(2 * writes.quantity)
    transfer = one(estimate, "-tokens", "GB", "inter-Region transfer")
    assert transfer.quantity == pytest.approx(writes.quantity * 2 * 1024 / GIB)
    assert transfer.unit_price_usd == pytest.approx(0.02)


def test_a_single_region_stack_has_no_replication_lines() -> None:
    resources = [("aws:dynamodb/table:Table", {"name": "t"}, "us-east-1")]
    estimate = monthly_cost(resources, UsageProfile())
    assert {line.unit for line in estimate.lines} == {"WRU", "RRU", "GB-month"}


def test_xray_traces_follow_the_default_sampling_rule() -> None:
    from drkit.engine.cost import xray_traces

    # 7,200 invocations an hour: the first 3,600 (one a second) and 5 % of the other 3,600 = 3,780 an hour
    assert xray_traces([7200.0] * 168) == pytest.approx(3780 * 730)
    assert xray_traces([1000.0] * 168) == pytest.approx(1000 * 730)  # below one a second: every request
    estimate = monthly_cost(triples(FRAUD, "us-east-1"), fraud_usage())
    traces = one(estimate, "-router", "traces")
    assert 0 < traces.quantity < fraud_usage().monthly_requests / 3 + fraud_probes()
    assert traces.unit_price_usd == pytest.approx(5.00 / 1_000_000)  # aws.amazon.com/xray/pricing/


def test_releases_replicate_image_and_model_data_from_the_primary() -> None:
    usage = fraud_usage()  # image 5 GB (default), model data 1 GB, one release a month, 2 destinations
    estimate = monthly_cost(triples(FRAUD, "us-east-1"), usage)
    ecr = one(estimate, "ecr-replication", "GB")
    assert ecr.quantity == pytest.approx(1 * 5 * 1 * 2)
    s3 = one(estimate, "acme-ml-models-fraud-tier1-us-east-1", "GB", "S3 replication")
    assert s3.quantity == pytest.approx(1 * 1 * 2)
    assert one(estimate, "acme-ml-models-fraud-tier1-us-east-1", "GB-month", "container images").quantity == pytest.approx(5)
    secondary = monthly_cost(triples(FRAUD, "us-west-2"), usage)
    assert not lines_of(secondary, "ecr-replication", "GB")  # the destinations do not pay for the copy


def test_async_objects_are_stored_for_the_buckets_expiry() -> None:
    usage = fraud_usage()
    estimate = monthly_cost(triples(FRAUD, "us-east-1"), usage)
    queued = usage.monthly_requests / 3 * 0.02
    inputs = one(estimate, f"-inputs-{ACCOUNT}-us-east-1", "GB-month")
    assert inputs.quantity == pytest.approx(queued * 4 / 1_048_576 * 7 / 30.4)  # 4 KB each, 7-day lifecycle expiry
    assert one(estimate, f"-inputs-{ACCOUNT}-us-east-1", "requests").quantity == pytest.approx(queued)


def test_an_arc_plan_is_a_marked_gap_not_a_silent_zero() -> None:
    estimate = monthly_cost(triples(FRAUD, "us-east-1"), fraud_usage())
    plans = [line for line in estimate.lines if line.unit == "plan-month"]
    assert len(plans) == 2 and all(line.is_gap and "Region switch plan" in line.gap for line in plans)
    assert not estimate.complete


def test_buckets_are_priced_by_what_uses_them_not_by_words_in_their_names() -> None:
    """Model data is the bucket a SageMaker model reads, async output the one an endpoint writes: a
    bucket prefix without "model" and a model named "...-model" price exactly as the example does."""
    usage = load_usage(EXAMPLES / "usage" / "docs-tier3.yaml")
    original = triples("docs-tier3", "us-east-2")
    renamed = json.loads(json.dumps(original).replace("acme-ml-models", "acme-artifacts").replace("doc-classifier", "doc-model"))

    def bucket_lines(resources: Any, *, rename: bool) -> list[tuple[str, str, float]]:
        buckets = {props["bucket"] for t, props, _ in resources if t == "aws:s3/bucket:Bucket"}
        lines = [line for line in monthly_cost(resources, usage).lines if line.resource in buckets]
        back = (lambda s: s.replace("acme-artifacts", "acme-ml-models").replace("doc-model", "doc-classifier")) if rename else str
        return sorted((back(line.resource), back(line.description), line.quantity) for line in lines)

    assert any("model artifacts" in d for _, d, _ in bucket_lines(original, rename=False))
    assert any("async outputs" in d for _, d, _ in bucket_lines(original, rename=False))
    assert bucket_lines(renamed, rename=True) == bucket_lines(original, rename=False)
