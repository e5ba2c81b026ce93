"""The `drkit` Pulumi provider: create, read, update, delete and diff inference routers via boto3.

Built on `pulumi.provider.experimental.Provider` (the Python SDK's custom-resource provider
interface; the stable `pulumi.provider.Provider` serves components only). Each call uses a
`sagemaker` client in the router's own region (its `region` input) with the credentials of
the process `pulumi up` starts it in, i.e. the stack's environment (AWS_PROFILE, AWS_* or the
instance role). The request shapes are botocore's (CreateInferenceRouter and friends).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)

from drkit.core.inference_router import (
    LOCAL_REGION_FIRST,
    MAX_DESTINATIONS,
    MAX_ROUTING_TARGETS,
    NAME_PATTERN,
    TYPE_TOKEN,
)

VERSION = "0.1.0"
REPLACE_ON = ("region", "routerName")  # a router is named and regional: moving it is a new router
POLL_SECONDS = 10.0
DEFAULT_WAIT_SECONDS = 1200.0  # how long create/update wait for InService when the engine gives no timeout


class RouterProviderError(Exception):
    """SageMaker refused or failed a router operation; the message names the router and the reason."""


def plain(value: PropertyValue) -> Any:
    """A PropertyValue tree as plain Python (None for unknowns)."""
    inner = value.value
    if isinstance(inner, Computed):
        return None
    if isinstance(inner, Mapping):
        return {k: plain(v) for k, v in inner.items()}
    if isinstance(inner, tuple | list):
        return [plain(v) for v in inner]
    return inner


def wrap(value: Any) -> PropertyValue:
    """Plain Python as a PropertyValue tree (ints become floats, as the engine's Struct holds them)."""
    if isinstance(value, Mapping):
        return PropertyValue({k: wrap(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return PropertyValue([wrap(v) for v in value])
    if isinstance(value, int) and not isinstance(value, bool):
        return PropertyValue(float(value))
    return PropertyValue(value)


def unwrap_map(props: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {k: plain(v) for k, v in props.items()}


def check_inputs(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) for every input botocore's model would reject."""
    failures: list[tuple[str, str]] = []
    name = inputs.get("routerName")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        failures.append(("routerName", f"{name!r} is not a router name; valid: 1-63 of [a-zA-Z0-9-], starting and ending alphanumeric"))
    if not isinstance(inputs.get("region"), str) or not inputs.get("region"):
        failures.append(("region", "the router's region is required, e.g. us-east-1"))
    targets = inputs.get("routingTargets") or []
    if not 1 <= len(targets) <= MAX_ROUTING_TARGETS:
        failures.append(("routingTargets", f"{len(targets)} routing targets; valid: 1-{MAX_ROUTING_TARGETS}"))
    for i, target in enumerate(targets):
        tname = target.get("name")
        if not isinstance(tname, str) or not NAME_PATTERN.match(tname):
            failures.append((f"routingTargets[{i}].name", f"{tname!r} is not a routing target name; valid: 1-63 of [a-zA-Z0-9-]"))
        destinations = target.get("destinations") or []
        if not 1 <= len(destinations) <= MAX_DESTINATIONS:
            failures.append((f"routingTargets[{i}].destinations", f"{len(destinations)} destinations; valid: 1-{MAX_DESTINATIONS}"))
        if len(set(destinations)) != len(destinations):
            failures.append((f"routingTargets[{i}].destinations", "a destination appears twice; each may appear once"))
    return failures


def create_request(inputs: Mapping[str, Any], client_token: str) -> dict[str, Any]:
    """CreateInferenceRouter's parameters from the resource's inputs."""
    request: dict[str, Any] = {
        "InferenceRouterName": inputs["routerName"],
        "RoutingTargets": routing_targets(inputs),
        "ClientToken": client_token,
    }
    if inputs.get("tags"):
        request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(inputs["tags"].items())]
    return request


def routing_targets(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "Name": t["name"],
            "Destinations": [{"ResourceArn": arn} for arn in t["destinations"]],
            "RoutingPreference": t.get("routingPreference") or LOCAL_REGION_FIRST,
        }
        for t in inputs.get("routingTargets") or []
    ]


def state_from_describe(region: str, described: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    """The resource's state from DescribeInferenceRouter (which returns no tags: kept from the inputs)."""
    return {
        "region": region,
        "routerName": described["InferenceRouterName"],
        "routingTargets": [
            {
                "name": t["Name"],
                "destinations": [d["ResourceArn"] for d in t["Destinations"]],
                "routingPreference": t.get("RoutingPreference") or LOCAL_REGION_FIRST,
            }
            for t in described["RoutingTargets"]
        ],
        "tags": dict(tags),
        "arn": described["InferenceRouterArn"],
        "status": described["Status"],
    }


def diff_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, PropertyDiffKind]:
    """Changed inputs and how each is applied: a new name or region replaces, targets and tags update in place."""
    changes: dict[str, PropertyDiffKind] = {}
    for key in ("region", "routerName", "routingTargets", "tags"):
        old, new = olds.get(key), news.get(key)
        if key == "tags":
            old, new = old or {}, new or {}
        if old != new:
            changes[key] = PropertyDiffKind.UPDATE_REPLACE if key in REPLACE_ON else PropertyDiffKind.UPDATE
    return changes


def client_token(urn: str) -> str:
    """An idempotency token per resource (a retried create does not make a second router)."""
    return hashlib.sha256(urn.encode()).hexdigest()[:64]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class InferenceRouterProvider(Provider):
    """CRUD for `drkit:sagemaker:InferenceRouter`; `client_for(region)` gives a sagemaker client."""

    def __init__(
        self,
        client_for: Callable[[str], Any] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_for = client_for or _boto3_client
        self._sleep, self._monotonic = sleep, monotonic

    def _require_type(self, type_token: str) -> None:
        # The URN's type carries its parents' types before '$' (urn:pulumi:...::parent$type::name).
        if type_token.rsplit("$", 1)[-1] != TYPE_TOKEN:
            raise RouterProviderError(f"the drkit provider manages {TYPE_TOKEN} only, not {type_token}")

    async def check(self, request: CheckRequest) -> CheckResponse:
        self._require_type(request.type)
        failures = [CheckFailure(p, r) for p, r in check_inputs(unwrap_map(request.new_inputs))]
        return CheckResponse(inputs=request.new_inputs, failures=failures)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        changes = diff_inputs(unwrap_map(request.old_state), unwrap_map(request.new_inputs))
        return DiffResponse(
            changes=bool(changes),
            replaces=[k for k, kind in changes.items() if kind is PropertyDiffKind.UPDATE_REPLACE],
            diffs=list(changes),
            detailed_diff={k: PropertyDiff(kind, True) for k, kind in changes.items()},
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        self._require_type(request.type)
        inputs = unwrap_map(request.properties)
        if request.preview:
            return CreateResponse(resource_id="", properties={**request.properties, "arn": PropertyValue.computed(),
                                                             "status": PropertyValue.computed()})  # fmt: skip
        client = self._client_for(inputs["region"])
        try:
            client.create_inference_router(**create_request(inputs, client_token(request.urn)))
        except ClientError as exc:
            raise RouterProviderError(f"CreateInferenceRouter {inputs['routerName']} in {inputs['region']}: {exc}") from None
        described = self._wait(client, inputs["routerName"], inputs["region"], request.timeout)
        state = state_from_describe(inputs["region"], described, inputs.get("tags") or {})
        return CreateResponse(resource_id=inputs["routerName"], properties=_wrap_map(state))

    async def read(self, request: ReadRequest) -> ReadResponse:
        state = unwrap_map(request.properties)
        region = state.get("region") or unwrap_map(request.inputs).get("region")
        try:
            described = self._client_for(region).describe_inference_router(InferenceRouterName=request.resource_id)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFound":
                return ReadResponse()  # deleted outside Pulumi: no id tells the engine it is gone
            raise
        fresh = state_from_describe(region, described, state.get("tags") or {})
        inputs = {k: fresh[k] for k in ("region", "routerName", "routingTargets", "tags")}
        return ReadResponse(resource_id=request.resource_id, properties=_wrap_map(fresh), inputs=_wrap_map(inputs))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        olds, news = unwrap_map(request.olds), unwrap_map(request.news)
        if request.preview:
            return UpdateResponse(properties={**request.olds, **request.news})
        client = self._client_for(news["region"])
        name = request.resource_id
        changes = diff_inputs(olds, news)
        if "routingTargets" in changes:
            try:
                client.update_inference_router(InferenceRouterName=name, RoutingTargets=routing_targets(news))
            except ClientError as exc:
                raise RouterProviderError(f"UpdateInferenceRouter {name} in {news['region']}: {exc}") from None
        described = self._wait(client, name, news["region"], request.timeout)
        if "tags" in changes:
            self._retag(client, described["InferenceRouterArn"], olds.get("tags") or {}, news.get("tags") or {})
        return UpdateResponse(properties=_wrap_map(state_from_describe(news["region"], described, news.get("tags") or {})))

    async def delete(self, request: DeleteRequest) -> None:
        state = unwrap_map(request.properties)
        client = self._client_for(state["region"])
        deadline = self._monotonic() + (request.timeout or DEFAULT_WAIT_SECONDS)
        while True:
            try:
                client.delete_inference_router(InferenceRouterName=request.resource_id)
                return
            except ClientError as exc:
                if _code(exc) == "ResourceNotFound":
                    return
                # ConflictException: the router is being created or updated; AWS says describe and try again.
                if _code(exc) != "ConflictException" or self._monotonic() >= deadline:
                    raise RouterProviderError(f"DeleteInferenceRouter {request.resource_id} in {state['region']}: {exc}") from None
                self._sleep(POLL_SECONDS)

    def _wait(self, client: Any, name: str, region: str, timeout: float) -> dict[str, Any]:
        """DescribeInferenceRouter until InService; Failed (with its StatusReason) or the timeout is an error."""
        deadline = self._monotonic() + (timeout or DEFAULT_WAIT_SECONDS)
        while True:
            described: dict[str, Any] = client.describe_inference_router(InferenceRouterName=name)
            status = described["Status"]
            if status == "InService":
                return described
            if status == "Failed":
                raise RouterProviderError(f"inference router {name} in {region} failed: {described.get('StatusReason', 'no reason given')}")
            if self._monotonic() >= deadline:
                raise RouterProviderError(f"inference router {name} in {region} is still {status} after {timeout or DEFAULT_WAIT_SECONDS:.0f} s")
            self._sleep(POLL_SECONDS)

    @staticmethod
    def _retag(client: Any, arn: str, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        gone = sorted(set(old) - set(new))
        if gone:
            client.delete_tags(ResourceArn=arn, TagKeys=gone)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            client.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(changed.items())])


def _wrap_map(values: Mapping[str, Any]) -> dict[str, PropertyValue]:
    return {k: wrap(v) for k, v in values.items()}


def _boto3_client(region: str) -> Any:
    import boto3  # deferred: tests inject Stubber-backed clients

    return boto3.client("sagemaker", region_name=region)
