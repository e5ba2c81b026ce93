"""One number everywhere: the budget policy, run through Pulumi's analyzer protocol, prices every
stack exactly as `drkit cost` does, and an over-budget variant of an example fails `drkit check`."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import PolicyProviderResource, PolicyResource, StackValidationArgs, StackValidationPolicy

from drkit.cli import main
from drkit.commands.check.analyzer import PolicyPackProcess, load_policy_config
from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks
from drkit.core.usage import load_usage
from drkit.engine.cost import deployment_cost
from drkit.engine.graph import RegionGraph
from drkit.policies import cost_rules
from tests.conftest import EXAMPLES, ROOT, example_graph

CONFIG_FILE = ROOT / "policies" / "policy-config.json"
CONFIG = json.loads(CONFIG_FILE.read_text())
ESTIMATE = re.compile(r"Stack (\S+) is estimated at \$([\d,]+)/month")


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(DEFAULT_PACK_DIR) as running:
        yield running


def budget_zero(config: dict[str, Any]) -> dict[str, Any]:
    """The shipped config with every budget at $0: the rule then states its figure for every stack."""
    out = copy.deepcopy(config)
    out["monthly-cost-within-budget"].update(monthlyBudgetUsd=0, budgets={})
    return out


@pytest.mark.parametrize("example", ["fraud-tier1", "search-tier2", "docs-tier3"])
def test_policy_and_cost_agree_on_every_stack(pack: PolicyPackProcess, example: str) -> None:
    # GIVEN the shipped config (with the examples' usage profiles inline) and drkit cost with the usage file
    graph = example_graph(example)
    cost = deployment_cost(graph, load_usage(EXAMPLES / "usage" / f"{example}.yaml"))
    # WHEN the pack judges every stack against a $0 budget
    checked = check_stacks(pack, list(graph.regions.values()), config=budget_zero(CONFIG))
    stated = {}
    for finding in checked.findings:
        match = ESTIMATE.search(finding.message) if finding.policy == "monthly-cost-within-budget" else None
        if match:
            stated[match[1]] = float(match[2].replace(",", ""))
    # THEN it states, per stack, the figure drkit cost gives that region (tier 1's traffic shares included)
    assert stated == {f"{example}-{r}": pytest.approx(round(e.total_usd), abs=0.5) for r, e in cost.regions.items()}


def test_shipped_config_prices_usage_in_both_cost_policies() -> None:
    for policy in ("monthly-cost-within-budget", "monthly-cost-complete"):
        profiles = CONFIG[policy]["usageProfiles"]
        for example in ("fraud-tier1", "search-tier2", "docs-tier3"):
            assert profiles[example] == yaml.safe_load((EXAMPLES / "usage" / f"{example}.yaml").read_text()), (policy, example)


def test_without_a_profile_both_say_usage_lines_are_not_priced(
    pack: PolicyPackProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checked = check_stacks(pack, [example_graph("search-tier2")["eu-central-1"]], config={})
    (finding,) = [f for f in checked.findings if f.policy == "monthly-cost-complete"]
    assert finding.level == "advisory" and "usage-driven lines are not priced" in finding.message
    # drkit cost on a spec with no usage profile beside it says the same
    spec = tmp_path / "search-tier2.yaml"
    spec.write_text((EXAMPLES / "search-tier2.yaml").read_text())
    assert main(["cost", str(spec), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["usage_given"] is False and report["complete"] is False
    assert any(note.startswith("usage-driven lines are not priced") for note in report["not_priced"])


def test_a_relative_usage_profile_path_resolves_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "u.yaml").write_text((EXAMPLES / "usage" / "docs-tier3.yaml").read_text())
    config_file = tmp_path / "policy.json"
    config_file.write_text(json.dumps({"monthly-cost-within-budget": {"usageProfile": "profiles/u.yaml"}}))
    config = load_policy_config(config_file)
    assert config["monthly-cost-within-budget"]["usageProfile"] == str(tmp_path / "profiles" / "u.yaml")


def test_an_over_budget_variant_fails_drkit_check_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN fraud-tier1 with three ml.g5.2xlarge always on in every region (allowed, within caps)
    spec = yaml.safe_load((EXAMPLES / "fraud-tier1.yaml").read_text())
    spec["models"][0]["provisioned"].update(instance_type="ml.g5.2xlarge", min_instances=3, max_instances=3)
    variant = tmp_path / "fraud-tier1.yaml"
    variant.write_text(yaml.safe_dump(spec))
    # WHEN drkit check runs the pack on it with the shipped config
    code = main(["check", str(variant), "--policy-pack-config", str(CONFIG_FILE), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    # THEN the budget rule fails it (mandatory), naming the stack and the figure
    assert code != 0
    text = json.dumps(report)
    assert "monthly-cost-within-budget" in text and "over its budget of $1,000" in text


def test_a_bad_inline_profile_is_reported_naming_the_config_field(pack: PolicyPackProcess) -> None:
    config = copy.deepcopy(CONFIG)
    config["monthly-cost-within-budget"]["usageProfiles"]["search-tier2"]["requests_per_hour"] = [1, 2]
    checked = check_stacks(pack, [example_graph("search-tier2")["eu-west-1"]], config=config)
    (finding,) = [f for f in checked.findings if f.policy == "monthly-cost-within-budget"]
    assert "Cannot price stack search-tier2-eu-west-1" in finding.message
    assert "policy config usageProfiles.search-tier2" in finding.message
    assert "requests_per_hour: [1.0, 2.0]: needs 24 hourly values (hour 0 to 23), got 2" in finding.message  # floats: the config crossed protobuf


def test_each_budget_policy_prices_the_stack_with_its_own_usage_profile(pack: PolicyPackProcess) -> None:
    # GIVEN a config that gives the budget rule the stack's usage profile and the completeness rule none
    config = budget_zero(CONFIG)
    config["monthly-cost-complete"] = {}
    graph = example_graph("search-tier2")
    # WHEN the pack judges one stack with both
    checked = check_stacks(pack, [graph["eu-west-1"]], config=config)
    by_policy = {f.policy: f.message for f in checked.findings if f.policy.startswith("monthly-cost-")}
    # THEN the budget rule states drkit cost's usage-priced figure, and the completeness rule, priced without
    # usage, says so: neither is handed the estimate the other priced
    with_usage = deployment_cost(graph, load_usage(EXAMPLES / "usage" / "search-tier2.yaml")).regions["eu-west-1"]
    stated = ESTIMATE.search(by_policy["monthly-cost-within-budget"])
    assert stated is not None and float(stated[2].replace(",", "")) == pytest.approx(round(with_usage.total_usd), abs=0.5)
    assert "usage-driven lines are not priced" in by_policy["monthly-cost-complete"]


def _stack_args(graph: RegionGraph, config: dict[str, Any]) -> StackValidationArgs:
    """The stack as pulumi_policy hands it to one stack policy: its own copy of every resource."""
    provider = PolicyProviderResource("pulumi:providers:aws", {"region": graph.region}, f"urn:{graph.stack}:provider", "aws")
    resources = [
        PolicyResource(r.type, copy.deepcopy(dict(r.inputs)), r.urn, r.name, None, provider if r.region else None, None, [], {})  # type: ignore[arg-type]
        for r in graph.resources
    ]
    return StackValidationArgs(resources, config)


def _budget_findings(graphs: list[RegionGraph]) -> list[tuple[str, str]]:
    """What the two budget policies report on `graphs` with the shipped config at a $0 budget, run in this process."""
    found: list[tuple[str, str]] = []
    for graph in graphs:
        for policy in cost_rules.POLICIES:
            if isinstance(policy, StackValidationPolicy) and policy.name.startswith("monthly-cost-"):

                def report(message: str, _urn: str | None = None, name: str = policy.name) -> None:
                    found.append((name, message))

                policy.validate(_stack_args(graph, budget_zero(CONFIG)[policy.name]), report)
    return found


def test_both_budget_policies_share_one_estimate_per_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN fraud-tier1's three stacks, the shipped config (the same usage profiles for both policies), and a count
    # of the stack estimates computed
    graphs = list(example_graph("fraud-tier1").regions.values())
    priced: list[int] = []
    monthly_cost = cost_rules.monthly_cost

    def counted(resources: Any, usage: Any) -> Any:
        priced.append(1)
        return monthly_cost(resources, usage)

    monkeypatch.setattr(cost_rules, "monthly_cost", counted)
    cost_rules._estimate.cache_clear()
    # WHEN both budget policies judge every stack as the pack runs them, then again pricing every call afresh
    shared = _budget_findings(graphs)
    shared_pricings = len(priced)
    monkeypatch.setattr(cost_rules, "_estimate", cost_rules._estimate.__wrapped__)
    fresh = _budget_findings(graphs)
    # THEN each stack is priced once, not once per policy, and both policies report what they report when each
    # prices the stack itself
    assert (shared_pricings, len(priced) - shared_pricings) == (len(graphs), 2 * len(graphs))
    assert shared == fresh and {name for name, _ in shared} == {"monthly-cost-within-budget", "monthly-cost-complete"}
