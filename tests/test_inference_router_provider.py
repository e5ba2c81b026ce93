"""The drkit provider's router CRUD against botocore's Stubber: every request and response is
checked against the sagemaker service model botocore ships (the oracle), not against our code."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from pulumi.provider.experimental.provider import (
    CheckRequest,
    CreateRequest,
    DeleteRequest,
    DiffRequest,
    PropertyDiffKind,
    ReadRequest,
    UpdateRequest,
)

from drkit.components.inference_router.provider import (
    InferenceRouterProvider,
    RouterProviderError,
    client_token,
    plain,
    wrap,
)
from drkit.core.inference_router import TYPE_TOKEN

REGION = "us-west-2"
URN = f"urn:pulumi:fraud-tier1-us-west-2::drkit::drkit:frontdoor:RegionalFrontDoor${TYPE_TOKEN}::router"
ARN = "arn:aws:sagemaker:us-west-2:123456789012:inference-router/fraud-tier1-router"
OWN = "arn:aws:sagemaker:us-west-2:123456789012:endpoint/fraud-tier1-fraud-xgb-rt"
OTHER = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-tier1-fraud-xgb-rt"
NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)


def run(coroutine: Any) -> Any:
    """Run one provider call on its own loop. Not asyncio.run: that clears the thread's current loop,
    which later tests running Pulumi mocks in this process still use."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def inputs(destinations: list[str] | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "region": REGION,
        "routerName": "fraud-tier1-router",
        "routingTargets": [{"name": "fraud-xgb", "destinations": destinations or [OWN, OTHER], "routingPreference": "LocalRegionFirst"}],
        "tags": tags if tags is not None else {"Deployment": "fraud-tier1"},
    }


def described(status: str, destinations: list[str] | None = None, reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "InferenceRouterName": "fraud-tier1-router",
        "InferenceRouterArn": ARN,
        "RoutingTargets": [{
            "Name": "fraud-xgb",
            "Destinations": [{"ResourceArn": a, "RoutingStatus": "Routable"} for a in destinations or [OWN, OTHER]],
            "RoutingPreference": "LocalRegionFirst",
        }],
        "Status": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }  # fmt: skip
    if reason:
        out["StatusReason"] = reason
    return out


@pytest.fixture
def stubbed() -> tuple[Any, Stubber, list[str]]:
    client = botocore.session.get_session().create_client(
        "sagemaker", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    regions: list[str] = []
    return client, Stubber(client), regions


def provider(client: Any, regions: list[str]) -> InferenceRouterProvider:
    def client_for(region: str) -> Any:
        regions.append(region)
        return client

    return InferenceRouterProvider(client_for, sleep=lambda _s: None)


def props(values: dict[str, Any]) -> dict[str, Any]:
    return {k: wrap(v) for k, v in values.items()}


def test_create_sends_the_models_request_waits_for_in_service_and_returns_its_state(stubbed):
    client, stub, regions = stubbed
    stub.add_response("create_inference_router", {"InferenceRouterArn": ARN}, {
        "InferenceRouterName": "fraud-tier1-router",
        "RoutingTargets": [{"Name": "fraud-xgb", "Destinations": [{"ResourceArn": OWN}, {"ResourceArn": OTHER}],
                            "RoutingPreference": "LocalRegionFirst"}],
        "ClientToken": client_token(URN),
        "Tags": [{"Key": "Deployment", "Value": "fraud-tier1"}],
    })  # fmt: skip
    stub.add_response("describe_inference_router", described("Creating"), {"InferenceRouterName": "fraud-tier1-router"})
    stub.add_response("describe_inference_router", described("InService"), {"InferenceRouterName": "fraud-tier1-router"})
    with stub:
        out = run(provider(client, regions).create(CreateRequest(URN, props(inputs()), 600.0, False)))
    stub.assert_no_pending_responses()
    assert out.resource_id == "fraud-tier1-router"
    state = {k: plain(v) for k, v in out.properties.items()}
    assert state["arn"] == ARN and state["status"] == "InService"
    assert state["routingTargets"][0]["destinations"] == [OWN, OTHER]
    assert regions == [REGION]  # the client is the router's own region's


def test_create_reports_a_failed_router_with_its_reason(stubbed):
    client, stub, regions = stubbed
    stub.add_response("create_inference_router", {"InferenceRouterArn": ARN})
    stub.add_response("describe_inference_router", described("Failed", reason="destination quota exceeded"))
    with stub, pytest.raises(RouterProviderError, match="fraud-tier1-router in us-west-2 failed: destination quota exceeded"):
        run(provider(client, regions).create(CreateRequest(URN, props(inputs()), 600.0, False)))


def test_create_surfaces_sagemakers_refusal(stubbed):
    client, stub, regions = stubbed
    stub.add_client_error("create_inference_router", "ResourceLimitExceeded", "too many routers", 400)
    with stub, pytest.raises(RouterProviderError, match="CreateInferenceRouter fraud-tier1-router in us-west-2: .*ResourceLimitExceeded"):
        run(provider(client, regions).create(CreateRequest(URN, props(inputs()), 600.0, False)))


def test_read_returns_the_live_destinations_and_no_id_once_the_router_is_gone(stubbed):
    client, stub, regions = stubbed
    stub.add_response("describe_inference_router", described("InService", [OTHER]))
    stub.add_client_error("describe_inference_router", "ResourceNotFound", "no router", 400)
    p = provider(client, regions)
    state = props({**inputs(), "arn": ARN, "status": "InService"})
    with stub:
        live = run(p.read(ReadRequest(URN, "fraud-tier1-router", state, props(inputs()))))
        gone = run(p.read(ReadRequest(URN, "fraud-tier1-router", state, props(inputs()))))
    assert plain(live.inputs["routingTargets"])[0]["destinations"] == [OTHER]  # drift shows up in the next diff
    assert gone.resource_id is None


def test_diff_replaces_on_a_new_name_or_region_and_updates_targets_and_tags_in_place(stubbed):
    client, _, regions = stubbed
    p = provider(client, regions)
    old = props({**inputs(), "arn": ARN, "status": "InService"})

    def diff(new: dict[str, Any]) -> Any:
        return run(p.diff(DiffRequest(URN, "fraud-tier1-router", old, props(new), [])))

    assert diff(inputs()).changes is False
    moved = diff({**inputs(), "region": "eu-west-1"})
    assert moved.replaces == ["region"]
    retargeted = diff(inputs([OWN]))
    assert retargeted.replaces == [] and retargeted.detailed_diff["routingTargets"].kind is PropertyDiffKind.UPDATE
    assert diff(inputs(tags={"Deployment": "other"})).diffs == ["tags"]


def test_update_replaces_all_targets_then_waits_and_retags(stubbed):
    client, stub, regions = stubbed
    stub.add_response("update_inference_router", {"InferenceRouterArn": ARN}, {
        "InferenceRouterName": "fraud-tier1-router",
        "RoutingTargets": [{"Name": "fraud-xgb", "Destinations": [{"ResourceArn": OWN}], "RoutingPreference": "LocalRegionFirst"}],
    })  # fmt: skip
    stub.add_response("describe_inference_router", described("Updating", [OWN]))
    stub.add_response("describe_inference_router", described("InService", [OWN]))
    stub.add_response("delete_tags", {}, {"ResourceArn": ARN, "TagKeys": ["Deployment"]})
    stub.add_response("add_tags", {"Tags": []}, {"ResourceArn": ARN, "Tags": [{"Key": "Owner", "Value": "ml"}]})
    old = props({**inputs(), "arn": ARN, "status": "InService"})
    with stub:
        out = run(provider(client, regions).update(
            UpdateRequest(URN, "fraud-tier1-router", old, props(inputs([OWN], tags={"Owner": "ml"})), 600.0, [], False)))  # fmt: skip
    stub.assert_no_pending_responses()
    assert plain(out.properties["routingTargets"])[0]["destinations"] == [OWN]


def test_delete_waits_out_a_conflict_and_accepts_a_router_already_gone(stubbed):
    client, stub, regions = stubbed
    stub.add_client_error("delete_inference_router", "ConflictException", "router is updating", 400)
    stub.add_response("delete_inference_router", {}, {"InferenceRouterName": "fraud-tier1-router"})
    stub.add_client_error("delete_inference_router", "ResourceNotFound", "no router", 400)
    p = provider(client, regions)
    state = props({**inputs(), "arn": ARN, "status": "InService"})
    with stub:
        run(p.delete(DeleteRequest(URN, "fraud-tier1-router", state, 60.0)))
        run(p.delete(DeleteRequest(URN, "fraud-tier1-router", state, 60.0)))
    stub.assert_no_pending_responses()


def test_check_rejects_what_the_sagemaker_model_rejects(stubbed):
    client, _, regions = stubbed
    bad = {**inputs([OWN] * 2), "routerName": "-router", "routingTargets": [
        {"name": "fraud_xgb", "destinations": [f"{OWN}{i}" for i in range(11)]}]}  # fmt: skip
    out = run(provider(client, regions).check(CheckRequest(URN, {}, props(bad), b"")))
    reasons = {f.property: f.reason for f in out.failures}
    assert "routerName" in reasons and "routingTargets[0].name" in reasons
    assert reasons["routingTargets[0].destinations"] == "11 destinations; valid: 1-10"
    ok = run(provider(client, regions).check(CheckRequest(URN, {}, props(inputs()), b"")))
    assert ok.failures is None or list(ok.failures) == []


def test_the_plugin_serves_the_engines_grpc_protocol():
    """What `pulumi up` starts: the module prints its port and answers GetPluginInfo and Check."""
    import subprocess
    import sys

    import grpc
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    plugin = subprocess.Popen(
        [sys.executable, "-m", "drkit.components.inference_router", "127.0.0.1:1"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert plugin.stdout is not None
        port = int(plugin.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            assert stub.GetPluginInfo(empty_pb2.Empty(), timeout=10).version == "0.1.0"
            news = struct_pb2.Struct()
            news.update({"region": REGION, "routerName": "bad_name", "routingTargets": []})
            answer = stub.Check(provider_pb2.CheckRequest(urn=URN, news=news), timeout=10)
        assert [f.property for f in answer.failures] == ["routerName", "routingTargets"]
    finally:
        plugin.terminate()
        plugin.wait(timeout=10)
