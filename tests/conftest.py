"""Shared fixtures: the bundled example specs and their offline graphs (captured once per session)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from drkit.capture import capture
from drkit.graph import DeploymentGraph
from drkit.spec import DeploymentSpec, load_spec
from drkit.tokens import HASH_KEY, HOME_REGION_INDEX, TTL_ATTRIBUTE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "stacks" / "examples"
EXAMPLE_NAMES = ("fraud-tier1", "search-tier2", "docs-tier3")


@cache
def example_spec(name: str) -> DeploymentSpec:
    return load_spec(EXAMPLES / f"{name}.yaml")


@cache
def example_graph(name: str) -> DeploymentGraph:
    return capture(example_spec(name))


@pytest.fixture(params=EXAMPLE_NAMES)
def any_example(request: pytest.FixtureRequest) -> DeploymentGraph:
    """Each bundled example's full deployment graph."""
    return example_graph(request.param)


def create_token_table(client: Any, name: str) -> None:
    """The table as components/table.py declares it (key, GSI, TTL, on-demand)."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": HASH_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": HASH_KEY, "AttributeType": "S"},
            {"AttributeName": "home_region", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": HOME_REGION_INDEX,
                "KeySchema": [{"AttributeName": "home_region", "KeyType": "HASH"}, {"AttributeName": "status", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
