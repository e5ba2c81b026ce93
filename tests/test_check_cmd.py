"""`drkit check` end to end: the examples pass, broken variants fail by name, every format is valid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from drkit.cli import main
from drkit.engine.graph import RegionGraph
from drkit.policies.registry import all_policies
from tests.conftest import EXAMPLES, ROOT

POLICY_CONFIG = str(ROOT / "policies" / "policy-config.json")
SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def check_json(spec: Path | str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    code = main(["check", str(spec), "--format", "json", "--policy-pack-config", POLICY_CONFIG, *extra])
    return code, json.loads(capsys.readouterr().out)


def variant(tmp_path: Path, example: str, old: str, new: str) -> Path:
    """The example spec with one line changed: a deliberately broken deployment."""
    text = (EXAMPLES / f"{example}.yaml").read_text()
    assert old in text, f"{old!r} not in {example}"
    path = tmp_path / f"{example}.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("example", ["fraud-tier1", "search-tier2", "docs-tier3"])
def test_the_examples_pass_every_policy(example: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = check_json(EXAMPLES / f"{example}.yaml", capsys)
    # The only findings are advisory: each estimate leaves the ARC Region switch plans unpriced (a
    # price drkit could not source), and says so instead of counting them as $0.
    assert code == 0 and report["passed"] is True
    assert {(f["policy"], f["level"]) for f in report["findings"]} <= {("monthly-cost-complete", "advisory")}
    assert all("ARC Region switch plan" in f["message"] for f in report["findings"])
    assert len(report["policies"]) == len(all_policies()) + 1


@pytest.mark.parametrize(
    ("example", "old", "new", "policies"),
    [
        # GPU cold start with hour-long timeouts cannot meet tier 2's 15 minutes.
        ("search-tier2", "model_download_timeout_seconds: 120", "model_download_timeout_seconds: 3600", {"rto-within-tier-target"}),
        # One instance per region is one Availability Zone.
        ("fraud-tier1", "min_instances: 2", "min_instances: 1", {"tier1-multi-az"}),
        # A P3 is neither in the allowlist nor within the stack's budget.
        (
            "docs-tier3",
            "instance_type: ml.m5.large",
            "instance_type: ml.p3.2xlarge",
            {"instance-type-allowlist", "monthly-cost-within-budget"},
        ),
    ],
)
def test_broken_variants_fail_with_the_expected_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], example: str, old: str, new: str, policies: set[str]
) -> None:
    code, report = check_json(variant(tmp_path, example, old, new), capsys)
    assert code == 1
    assert {f["policy"] for f in report["findings"] if f["level"] == "mandatory"} == policies


def test_advisory_findings_warn_without_failing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = variant(tmp_path, "fraud-tier1", "min_instances: 2", "min_instances: 1")
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({**json.loads(Path(POLICY_CONFIG).read_text()), "tier1-multi-az": "advisory"}))
    code = main(["check", str(spec), "--format", "json", "--region", "us-east-1", "--policy-pack-config", str(config)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    found = [(f["policy"], f["level"]) for f in report["findings"] if f["policy"] != "monthly-cost-complete"]
    assert found == [("tier1-multi-az", "advisory")]
    assert report["stacks"] == ["fraud-tier1-us-east-1"] and report["passed"] is True


def test_sarif_is_valid_2_1_0_and_locates_findings_in_the_spec(tmp_path: Path) -> None:
    spec = variant(tmp_path, "fraud-tier1", "min_instances: 2", "min_instances: 1")
    out = tmp_path / "drkit.sarif"
    code = main(["check", str(spec), "--format", "sarif", "-o", str(out), "--policy-pack-config", POLICY_CONFIG])
    sarif = json.loads(out.read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA)
    assert code == 1
    run = sarif["runs"][0]
    assert len(run["tool"]["driver"]["rules"]) == len(all_policies()) + 1
    results = [r for r in run["results"] if r["ruleId"] != "monthly-cost-complete"]  # advisory: the unpriced ARC plans
    assert {r["ruleId"] for r in results} == {"tier1-multi-az"} and {r["level"] for r in results} == {"error"}
    line = results[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert spec.read_text().splitlines()[line - 1].strip() == "- name: fraud-xgb"
    assert len({r["partialFingerprints"]["drkitFinding/v1"] for r in results}) == len(results)


def test_two_specs_that_create_the_same_names_fail_across_deployments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The same deployment checked in from two files: every account-wide name is created twice.
    first, second = tmp_path / "docs-a.yaml", tmp_path / "docs-b.yaml"
    for path in (first, second):
        path.write_text((EXAMPLES / "docs-tier3.yaml").read_text())
    code = main(["check", str(first), str(second), "--region", "us-east-2", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["stacks"] == ["docs-tier3-us-east-2", "docs-tier3-us-east-2"]
    across = [f for f in report["findings"] if f["policy"] == "unique-names-across-deployments"]
    assert across and {f["spec"] for f in across} == {str(second)} and {f["level"] for f in across} == {"mandatory"}
    assert {f["policy"] for f in report["findings"] if f["level"] == "mandatory"} == {"unique-names-across-deployments"}
    bucket = next(f for f in across if f["type"] == "aws:s3/bucket:Bucket" and "acme-ml-models" in f["message"])
    assert "which docs-tier3-us-east-2 already creates" in bucket["message"]

    out = tmp_path / "drkit.sarif"
    main(["check", str(first), str(second), "--region", "us-east-2", "--format", "sarif", "-o", str(out)])
    sarif = json.loads(out.read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
        if r["ruleId"] == "unique-names-across-deployments"
    }
    assert uris == {second.as_posix()}


def test_the_same_spec_in_another_account_collides_only_on_what_the_user_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN docs-tier3 and the same spec for another account (staging and prod)
    prod = variant(tmp_path, "docs-tier3", 'account_id: "123456789012"', 'account_id: "210987654321"')
    # WHEN both are checked against each other
    main(["check", str(EXAMPLES / "docs-tier3.yaml"), str(prod), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    across = [f for f in report["findings"] if f["policy"] == "unique-names-across-deployments"]
    # THEN drkit's own buckets carry the account: only the model-data buckets (named by the spec's
    # bucket_prefix) and the DNS records in the one hosted zone the two specs share are created twice
    buckets = sorted(f["message"].split("'")[1] for f in across if f["type"] == "aws:s3/bucket:Bucket")
    assert buckets == ["acme-ml-models-docs-tier3-us-east-2", "acme-ml-models-docs-tier3-us-west-2"]
    assert {f["type"] for f in across} == {"aws:s3/bucket:Bucket", "aws:route53/record:Record"}


def test_markdown_comment_leads_with_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = variant(tmp_path, "fraud-tier1", "min_instances: 2", "min_instances: 1")
    code = main(["check", str(spec), "--region", "us-east-1", "--format", "markdown", "--policy-pack-config", POLICY_CONFIG])
    text = capsys.readouterr().out
    assert code == 1
    assert text.startswith("### drkit check: `fraud-tier1` ❌ **blocked**")
    assert "| mandatory | `tier1-multi-az` | fraud-tier1-us-east-1 |" in text


def test_a_broken_policy_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text('{"capacity-caps": {"maxInstancesPerModel": -1}')
    code = main(["check", str(EXAMPLES / "docs-tier3.yaml"), "--policy-pack-config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"drkit: error: {config}: line 1, column 47: not valid JSON (Expecting ',' delimiter); valid: a JSON document\n"
    assert "Traceback" not in err


def test_stacks_are_analyzed_while_the_next_is_captured_with_the_same_findings(tmp_path: Path) -> None:
    from drkit.commands.check.analyzer import PolicyPackProcess
    from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks
    from drkit.core.errors import SpecError
    from drkit.core.spec import load_spec
    from drkit.engine.capture import capture_regions

    spec = load_spec(variant(tmp_path, "fraud-tier1", "min_instances: 2", "min_instances: 1"))
    pulled: list[str] = []

    def lazily() -> Iterator[RegionGraph]:
        for graph in capture_regions(spec):
            pulled.append(graph.region)
            yield graph

    config = json.loads(Path(POLICY_CONFIG).read_text())
    with PolicyPackProcess(DEFAULT_PACK_DIR) as pack:
        eager = check_stacks(pack, list(capture_regions(spec)), config=config)
        lazy = check_stacks(pack, lazily(), config=config)
        assert [g.region for g in lazy.graphs] == pulled == list(spec.regions)
        assert sorted((f.stack, f.urn, f.policy) for f in lazy.findings) == sorted((f.stack, f.urn, f.policy) for f in eager.findings)
        assert any(f.policy == "tier1-multi-az" for f in lazy.findings)
    # Resources handed to the pack as the capture registers them (from Pulumi's worker threads)
    # give the same findings, in the same order, as whole stacks: here all of them arrive before
    # the pack is configured, so they wait for it (the `drkit check` path, live, is in test_cli).
    with PolicyPackProcess(DEFAULT_PACK_DIR) as early:
        graphs = list(capture_regions(spec, on_resource=early.analyze))
        assert len(early._early) == sum(len(g.resources) for g in graphs)
        streamed = check_stacks(early, graphs, config=config)
        assert early._early == [] and early._sent == {}  # every call was sent, and read back by its stack
    assert [(f.stack, f.urn, f.policy, f.message) for f in streamed.findings] == [
        (f.stack, f.urn, f.policy, f.message) for f in eager.findings
    ]
    with PolicyPackProcess(DEFAULT_PACK_DIR) as pack:
        # A config the pack refuses is an error, raised without waiting for every stack to be captured.
        pulled.clear()
        with pytest.raises(SpecError, match="no-such-policy: no such policy in the pack"):
            check_stacks(pack, lazily(), config={"no-such-policy": "mandatory"})
        assert pulled == [spec.regions[0]]
