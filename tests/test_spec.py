"""The deployment spec: valid examples load; each malformed spec fails with one clear message per problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drkit.core.errors import SpecError
from drkit.core.spec import DeploymentSpec, load_spec, parse_spec
from drkit.core.tiers import RoutingPolicy, Tier
from tests.conftest import EXAMPLES

BASE = yaml.safe_load((EXAMPLES / "search-tier2.yaml").read_text())
TIER1 = yaml.safe_load((EXAMPLES / "fraud-tier1.yaml").read_text())


def mutate(base: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    change(data)
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "broken.yaml")
    assert str(caught.value).startswith("broken.yaml: ")
    return caught.value.problems


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return change


# (id, base, change, expected text in the single problem)
MALFORMED: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], None], str]] = [
    ("unknown-primary-region", BASE, _set("primary_region", "eu-west-9"), "primary_region: 'eu-west-9': unknown AWS region (did you mean"),
    ("unknown-secondary-region", BASE, _set("secondary_regions", ["mars-1"]), "secondary_regions: ['mars-1']: [0] 'mars-1': unknown AWS region"),
    ("secondary-equals-primary", BASE, _set("secondary_regions", ["eu-west-1"]), "secondary_regions: 'eu-west-1' is also the primary_region"),
    ("duplicate-secondary", TIER1, _set("secondary_regions", ["us-west-2", "us-west-2"]), "duplicate region us-west-2"),
    ("region-outside-allowlist", BASE, _set("allowed_regions", ["eu-west-1"]), "regions eu-central-1 are not in allowed_regions (eu-west-1)"),
    ("tier2-two-secondaries", BASE, _set("secondary_regions", ["eu-central-1", "eu-north-1"]), "list exactly one secondary region (got 2)"),
    ("min-above-max", BASE, _set("models.0.provisioned.min_instances", 9), "models[0].provisioned: min_instances (9) must be ≤ max_instances (8)"),
    ("unknown-instance-type", BASE, _set("models.0.provisioned.instance_type", "ml.m5.xlarg"), "models[0].provisioned.instance_type: 'ml.m5.xlarg': unknown SageMaker instance type (did you mean ml.m5.xlarge"),
    ("zero-instances", BASE, _set("models.0.provisioned.min_instances", 0), "models[0].provisioned.min_instances: 0: Input should be greater than or equal to 1"),
    ("tier1-without-provisioned", TIER1, _delete("models.0.provisioned"), "models[0] (fraud-xgb): tier 1 (hot) needs provisioned capacity in every region"),
    ("tier3-without-serverless", yaml.safe_load((EXAMPLES / "docs-tier3.yaml").read_text()), lambda d: (d["models"][0].pop("serverless"), d["models"][0].pop("async")), "tier 3 (pilot light) secondaries serve only serverless/async"),
    ("model-without-capacity", BASE, lambda d: [d["models"][1].pop(k) for k in ("provisioned", "async")], "models[1]: a model needs at least one of provisioned, serverless or async"),
    ("health-probe-on-async-only", BASE, _delete("models.1.provisioned"), "models[1]: health_probe is sent to a real-time or serverless endpoint; this model has only async (remove it)"),
    ("bad-serverless-memory", BASE, _set("models.0.serverless.memory_mb", 1500), "models[0].serverless.memory_mb: 1500: must be one of 1024, 2048, 3072, 4096, 5120, 6144"),
    ("serverless-concurrency-too-high", BASE, _set("models.0.serverless.max_concurrency", 500), "models[0].serverless.max_concurrency: 500: Input should be less than or equal to 200"),
    ("provisioned-concurrency-above-max", BASE, _set("models.0.serverless.provisioned_concurrency", 50), "provisioned_concurrency (50) must be ≤ max_concurrency (20)"),
    ("bad-schedule-time", BASE, _set("off_hours.scale_down_at", "25:00"), "off_hours.scale_down_at: '25:00': must be a 24-hour time HH:MM"),
    ("bad-time-zone", BASE, _set("off_hours.timezone", "Europe/Dubln"), "off_hours.timezone: 'Europe/Dubln': unknown IANA time zone (did you mean Europe/Dublin"),
    ("bad-schedule-day", BASE, _set("off_hours.days", ["MON", "FUNDAY"]), "days must be a non-empty list of MON, TUE, WED, THU, FRI, SAT, SUN"),
    ("same-up-and-down", BASE, _set("off_hours.scale_up_at", "20:00"), "scale_down_at and scale_up_at must differ"),
    ("tier2-without-schedule", BASE, _delete("off_hours"), "off_hours: tiers 2-3 with provisioned endpoints need an off-hours scale-down schedule"),
    ("missing-hosted-zone", BASE, _delete("dns.hosted_zone_id"), "dns.hosted_zone_id: missing; this field is required"),
    ("bad-hosted-zone", BASE, _set("dns.hosted_zone_id", "example.com"), "dns.hosted_zone_id: 'example.com' does not match ^Z[A-Z0-9]{5,31}$"),
    ("bad-domain", BASE, _set("dns.domain", "Not A Domain"), "dns.domain: 'Not A Domain' does not match"),
    ("tier-out-of-range", BASE, _set("tier", 4), "tier: 4: Input should be 1, 2 or 3"),
    ("tier-wrong-type", BASE, _set("tier", "gold"), "tier: 'gold': Input should be 1, 2 or 3"),
    ("unknown-field", BASE, _set("replicas", 3), "replicas: unknown field (value 3); valid: deployment, tier, primary_region, secondary_regions"),
    ("misspelt-nested-field", BASE, _set("models.0.provisioned.instance_tpye", "ml.m5.xlarge"), "models[0].provisioned.instance_tpye: unknown field (value 'ml.m5.xlarge'); did you mean instance_type? valid: instance_type,"),
    ("models-not-a-list", BASE, _set("models", "ranker"), "models: 'ranker': Input should be a valid tuple"),
    ("model-not-a-mapping", BASE, _set("models.0.provisioned", 5), "models[0].provisioned: 5 is not a mapping"),
    ("empty-models", BASE, _set("models", []), "models: []: Tuple should have at least 1 item after validation, not 0"),
    ("duplicate-model", BASE, lambda d: d["models"].append(copy.deepcopy(d["models"][0])), "models: duplicate model name 'ranker'"),
    ("image-by-tag", BASE, _set("models.0.image.digest", "latest"), "models[0].image.digest: 'latest' does not match ^sha256:[0-9a-f]{64}$"),
    ("bad-model-data-key", BASE, _set("models.0.model_data.key", "ranker/model.zip"), "models[0].model_data.key: 'ranker/model.zip' does not match"),
    ("checksum-as-number", BASE, _set("models.0.model_data.sha256", 1234), "models[0].model_data.sha256: 1234: Input should be a valid string"),
    ("bad-account", BASE, _set("account_id", "12345"), "account_id: '12345' does not match ^[0-9]{12}$"),
    ("missing-cost-center", BASE, _delete("cost_center"), "cost_center: missing; this field is required"),
    ("bad-health-interval", BASE, _set("health_check", {"request_interval_seconds": 15}), "health_check.request_interval_seconds: 15: must be 10 or 30"),
    ("bad-failure-threshold", BASE, _set("health_check", {"failure_threshold": 11}), "health_check.failure_threshold: 11: Input should be less than or equal to 10"),
    ("strong-on-tier2", BASE, _set("consistency", "strong"), "consistency: 'strong' is only offered for tier 1"),
    ("strong-with-two-regions", TIER1, lambda d: d.update(consistency="strong", secondary_regions=["us-west-2"]), "consistency: 'strong' needs exactly 3 regions"),
    ("unknown-traffic-kind", BASE, _set("traffic_classes", [{"name": "vip", "kind": "urgent"}]), "traffic_classes[0].kind: 'urgent': Input should be 'critical', 'standard' or 'bulk'"),
    ("duplicate-team-key", TIER1, lambda d: d["teams"][1].update(key_digest=d["teams"][0]["key_digest"]), "teams: two teams share one key_digest"),
    ("teams-without-key-secret", TIER1, _delete("team_key_secret"), "team_key_secret: missing; teams need the Secrets Manager secret that keys their digests"),
    ("bad-key-secret-name", TIER1, _set("team_key_secret", "keys with spaces"), "team_key_secret: 'keys with spaces' does not match"),
    ("old-sha256-key-field", TIER1, lambda d: d["teams"][0].update(key_sha256="0" * 64), "teams[0].key_sha256: unknown field"),
    ("bad-audit-lock-mode", BASE, _set("audit", {"lock_mode": "LEGAL_HOLD"}), "audit.lock_mode: 'LEGAL_HOLD': Input should be 'GOVERNANCE' or 'COMPLIANCE'"),
    ("zero-reserved-concurrency", BASE, _set("reserved_concurrency", {"router": 0}), "reserved_concurrency.router: 0 is not valid; valid: at least 1"),
    ("unknown-function-concurrency", BASE, _set("reserved_concurrency", {"worker": 5}), "reserved_concurrency.worker"),
    ("negative-budget", TIER1, _set("teams.0.monthly_budget_usd", -5), "teams[0].monthly_budget_usd: -5: Input should be greater than or equal to 0"),
    ("off-hours-floor-above-max", BASE, _set("off_hours.min_instances", 6), "off_hours.min_instances (6) exceeds models[1].provisioned.max_instances (4)"),
]


@pytest.mark.parametrize(("base", "change", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_spec_names_field_value_and_fix(base: dict[str, Any], change: Callable[[dict[str, Any]], None], expected: str) -> None:
    # GIVEN a valid example with one thing broken WHEN it is validated
    problems = problems_of(mutate(base, change))
    # THEN exactly one problem is reported and it says where, what and what would be valid
    assert len(problems) == 1, problems
    assert expected in problems[0], problems[0]


def test_at_least_thirty_distinct_malformed_specs_are_covered() -> None:
    assert len({c[0] for c in MALFORMED}) >= 30


def test_every_problem_is_reported_at_once() -> None:
    data = mutate(BASE, lambda d: d.update(tier=7, account_id="x", cost_center=None))
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == ["tier", "account_id", "cost_center"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty; expected a mapping"),
        ("- just\n- a list\n", "top level is a list; expected a mapping of fields"),
        ("deployment: [unclosed\n", "line 2, column 1: not valid YAML"),
        ("42\n", "top level is a int; expected a mapping of fields"),
    ],
    ids=["empty-file", "list-at-top", "not-yaml", "scalar"],
)
def test_unreadable_files_are_refused_with_the_file_name(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.source == str(path)
    assert expected in caught.value.problems[0]


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError, match="is not UTF-8 text"):
        load_spec(path)


def test_spec_is_frozen() -> None:
    spec = parse_spec(BASE)
    with pytest.raises(Exception, match="frozen"):
        spec.tier = Tier.HOT  # type: ignore[misc]


@pytest.mark.parametrize(
    ("tier", "rto", "interval", "ttl", "routing"),
    [(Tier.HOT, 60, 10, 30, RoutingPolicy.LATENCY), (Tier.WARM, 900, 30, 60, RoutingPolicy.FAILOVER), (Tier.PILOT_LIGHT, 3600, 30, 60, RoutingPolicy.FAILOVER)],
)
def test_targets_and_dns_settings_default_per_tier(tier: Tier, rto: int, interval: int, ttl: int, routing: RoutingPolicy) -> None:
    data = mutate(TIER1, lambda d: d.update(tier=int(tier), secondary_regions=["us-west-2"]))
    data["off_hours"] = {"timezone": "UTC", "scale_down_at": "20:00", "scale_up_at": "06:00"}
    for model in data["models"]:
        model.pop("inference_router", None)  # the tier-1 example's routers are refused in tier 3 (tested below)
    spec = parse_spec(data)
    assert (spec.rto_seconds, spec.rpo_seconds, spec.health_check_interval, spec.dns_ttl, spec.routing) == (rto, 1.0, interval, ttl, routing)


def test_explicit_targets_override_tier_defaults() -> None:
    spec = parse_spec(mutate(BASE, _set("targets", {"rto_seconds": 600, "rpo_seconds": 0.5})))
    assert (spec.rto_seconds, spec.rpo_seconds) == (600, 0.5)


def test_off_hours_becomes_an_application_auto_scaling_cron() -> None:
    spec: DeploymentSpec = load_spec(EXAMPLES / "docs-tier3.yaml")
    assert spec.off_hours is not None
    assert spec.off_hours.cron(spec.off_hours.scale_up_at) == "cron(30 6 ? * MON,TUE,WED,THU,FRI *)"


def test_images_and_model_data_resolve_to_the_region_asked_for() -> None:
    spec = parse_spec(BASE)
    model = spec.models[0]
    assert model.image.uri(spec.account_id, "eu-central-1").startswith("123456789012.dkr.ecr.eu-central-1.amazonaws.com/ml/ranker@sha256:")
    assert model.model_data.url("eu-central-1", "search-tier2") == "s3://acme-ml-models-search-tier2-eu-central-1/ranker/41/model.tar.gz"


def test_a_region_outside_the_deployment_is_refused_with_valid_ones() -> None:
    spec = parse_spec(BASE)
    with pytest.raises(SpecError, match=r"region 'us-east-1' is not in deployment search-tier2; valid: eu-west-1, eu-central-1"):
        spec.role("us-east-1")
