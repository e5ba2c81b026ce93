"""Shared fixtures: the bundled example specs and their offline graphs (captured once per session),
the moto token table, and a harness that runs one component as a stack under Pulumi mocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from drkit.core.spec import DeploymentSpec, load_spec
from drkit.core.tokens import HASH_KEY, HOME_REGION_INDEX, TTL_ATTRIBUTE
from drkit.engine.capture import _CAPTURE_LOCK, capture
from drkit.engine.graph import DeploymentGraph

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


class Recorder(mocks.MockMonitor):
    """A mock engine monitor that keeps every registration's type, name, parent and resolved inputs."""

    def __init__(self, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self.registered: list[tuple[str, str, str, dict[str, Any]]] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        inputs = pulumi.runtime.rpc.deserialize_properties(request.object) if request.object else {}
        self.registered.append((request.type, request.name, request.parent, _plain(inputs)))
        return response


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Registered:
    """What a program registered, by type token, and any outputs it resolved."""

    def __init__(self, registered: list[tuple[str, str, str, dict[str, Any]]], outputs: dict[str, Any] | None = None) -> None:
        self.registered = registered
        self.outputs = outputs or {}

    def of(self, type_token: str) -> list[dict[str, Any]]:
        return [inputs for typ, _, _, inputs in self.registered if typ == type_token]

    def one(self, type_token: str) -> dict[str, Any]:
        (only,) = self.of(type_token)
        return only

    def policies(self) -> list[dict[str, Any]]:
        return [json.loads(p["policy"]) for p in self.of("aws:iam/rolePolicy:RolePolicy")]

    def parents(self, type_token: str) -> list[str]:
        return [parent for typ, _, parent, _ in self.registered if typ == type_token]


def run_program(program: Callable[[], None], mock: mocks.Mocks, *, stack: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Run `program` as stack `stack` under `mock`; every registration, in order."""
    monitor = Recorder(mock)
    with _CAPTURE_LOCK:
        set_root_resource(None)  # type: ignore[arg-type]
        mocks.set_mocks(mock, project="drkit", stack=stack, preview=False, monitor=monitor)
        _sync_await(run_pulumi_func(program))
    return monitor.registered
