"""Shared fixtures: the bundled example specs and their offline graphs (captured once per session),
the moto token table, and a harness that runs one component as a stack under Pulumi mocks."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import botocore.client
import pulumi
import pytest
from pulumi.runtime import mocks
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from drkit.components.bundle import FUNCTIONS
from drkit.components.table import INDEX_KEYS, KEY_ATTRIBUTES
from drkit.core import batch_gc
from drkit.core.spec import DeploymentSpec, load_spec
from drkit.core.tokens import HASH_KEY, HOME_REGION_INDEX, TTL_ATTRIBUTE
from drkit.engine.access import HANDLER_CALLS
from drkit.engine.capture import _CAPTURE_LOCK, capture
from drkit.engine.graph import DeploymentGraph
from drkit.engine.handler_scan import ACTION_OF_OPERATION

# Each test worker captures stacks under Pulumi's mocks like a drkit command does: the same
# collector setting (drkit.core.batch_gc) spares it hundreds of walks over short-lived objects.
batch_gc.for_batch()

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
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"} for attribute in KEY_ATTRIBUTES],
        GlobalSecondaryIndexes=[
            {
                "IndexName": HOME_REGION_INDEX,
                "KeySchema": [{"AttributeName": key, "KeyType": kind} for key, kind in zip(INDEX_KEYS, ("HASH", "RANGE"), strict=True)],
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


@cache
def _handler_of_file(filename: str) -> str | None:
    path = Path(filename).resolve()  # drkit/components is a symlink to components/
    return path.relative_to(FUNCTIONS).parts[0] if FUNCTIONS in path.parents else None


def _handler_of_caller() -> str | None:
    """The handler (components/functions/<kind>/) whose code is making the current boto3 call, if any."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        kind = _handler_of_file(frame.f_code.co_filename)
        if kind is not None:
            return kind
        frame = frame.f_back
    return None


@pytest.fixture(autouse=True, scope="module")
def handler_calls_are_in_the_access_contract() -> Iterator[set[tuple[str, str]]]:
    """Every AWS call a handler makes under the tests (moto or doubles behind boto3) must be in its
    access-contract entry (drkit.engine.access.HANDLER_CALLS): recorded here, checked as the module ends."""
    recorded: set[tuple[str, str]] = set()
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        kind = _handler_of_caller()
        if kind is not None:
            action = f"{self.meta.service_model.signing_name}:{operation_name}"
            recorded.add((kind, ACTION_OF_OPERATION.get(action, action)))
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield recorded
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    missing = sorted((kind, action) for kind, action in recorded if action not in {a for a, _ in HANDLER_CALLS.get(kind, ())})
    assert not missing, f"handler calls made under test but absent from the access contract: {missing}"
