"""`drkit preview`: the tree per region, JSON for machines, and clean errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drkit.cli import main
from tests.conftest import EXAMPLES, ROOT


def test_preview_prints_each_regional_stack_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(EXAMPLES / "search-tier2.yaml"), "--tree", "--width", "200"]) == 0
    out = capsys.readouterr().out
    assert "search-tier2-eu-west-1 (primary, tier 2" in out
    assert "search-tier2-eu-central-1 (secondary, tier 2" in out
    assert "aws:dynamodb/tableReplica:TableReplica tokens-replica" in out
    assert "failoverRoutingPolicies={type=SECONDARY}" in out
    assert "search-tier2: tier 2, target RTO 900 s" in out  # the summary table follows the trees


def test_preview_one_region_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(EXAMPLES / "docs-tier3.yaml"), "--region", "us-west-2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (region,) = document["regions"]
    assert (region["stack"], region["role"], region["tier"]) == ("docs-tier3-us-west-2", "secondary", 3)
    types = {r["type"] for r in region["resources"]}
    assert "aws:dynamodb/tableReplica:TableReplica" in types and "aws:dynamodb/table:Table" not in types
    assert region["summary"]["resources"] == sum(region["summary"]["by_type"].values())


def test_unknown_region_is_an_error_naming_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(EXAMPLES / "docs-tier3.yaml"), "--region", "eu-west-1"]) == 2
    err = capsys.readouterr().err
    assert "region 'eu-west-1' is not in deployment docs-tier3; valid: us-east-2, us-west-2" in err


def test_a_broken_spec_fails_without_a_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text((EXAMPLES / "search-tier2.yaml").read_text().replace("min_instances: 2", "min_instances: 20"))
    result = subprocess.run(
        [sys.executable, "-m", "drkit", "preview", str(spec)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{spec}: 1 problem in the deployment spec" in result.stderr
    assert "models[0].provisioned: min_instances (20) must be ≤ max_instances (8)" in result.stderr


def test_summary_shows_capacity_dns_and_the_computed_rto_per_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(EXAMPLES / "search-tier2.yaml"), "--width", "200"]) == 0
    out = capsys.readouterr().out
    assert "search-tier2: tier 2, target RTO 900 s, RPO 1 s" in out
    lines = [line for line in out.splitlines() if "ranker realtime" in line]
    assert "2..8" in lines[0] and "1..8" in lines[1]  # primary full, warm secondary at one instance
    # query-embed runs on CPU instances (180 s planned launch, drkit.core.catalog), no longer a GPU (300 s)
    assert "failover TTL 60 s" in out and "690 s" in out
    assert "aws:" not in out  # the summary is the default; the resource tree needs --tree
