"""Run the real Pulumi program under mocks and capture its resource graph (see drkit.engine.graph).

No Pulumi CLI, provider plugin or AWS credentials are needed: `RealisticMocks` answers
every registration with the ids, ARNs and names AWS would assign (deterministic, so two
captures of the same spec are equal), and `RecordingMonitor` keeps what the engine would
have received — type, inputs, parent, provider, protect, ignore_changes, dependencies, retain_on_delete.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from drkit.core.inference_router import TYPE_TOKEN as INFERENCE_ROUTER_TYPE
from drkit.core.inference_router import router_arn
from drkit.core.spec import DeploymentSpec
from drkit.engine.graph import DeploymentGraph, RegionGraph, Resource

ROOT = Path(__file__).resolve().parents[2]  # asset paths are shown relative to the project (or site-packages)

PROJECT = "drkit"
ORGANIZATION = "organization"

# The Pulumi runtime's settings are process-global; captures must not interleave.
_CAPTURE_LOCK = threading.Lock()


ARC_HEALTH_CHECKS = "aws:arcregionswitch/getRoute53HealthChecks:getRoute53HealthChecks"

# Pulumi's wire format marks special values (assets, secrets, resource references) with this key
# and a signature (pulumi/sdk/proto "special signatures").
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
RESOURCE_REFERENCE = "5cf8f73096256a8f31e491e813e4eb8e"


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


def _uuid(*parts: str) -> str:
    """A Route 53 health check id's shape (a UUID), deterministic per parts."""
    h = _digest(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class RealisticMocks(mocks.Mocks):
    """Answers registrations with AWS-shaped ids and ARNs for the resource's region."""

    def __init__(self, account_id: str, stack_outputs: Mapping[str, Mapping[str, Any]]) -> None:
        self.account_id = account_id
        self.stack_outputs = stack_outputs
        self.provider_regions: dict[str, str] = {}
        self.plans: dict[str, dict[str, Any]] = {}  # ARC Region switch plan ARN → its inputs

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == ARC_HEALTH_CHECKS:
            return self._arc_health_checks(str(args.args.get("planArn", ""))), []
        return {}, []

    def _arc_health_checks(self, plan_arn: str) -> dict[str, Any]:
        """What ARC answers for a plan with a Route 53 block: one health check per region it spans."""
        plan = self.plans.get(plan_arn, {})
        zone, record = "", ""
        for workflow in plan.get("workflows") or []:
            for step in workflow.get("steps") or []:
                for config in step.get("route53HealthCheckConfigs") or []:
                    zone, record = config.get("hostedZoneId", ""), config.get("recordName", "")
        checks = [
            {"healthCheckId": _uuid(plan_arn, region), "hostedZoneId": zone, "recordName": record, "region": region, "status": "healthy"}
            for region in (plan.get("regions") or [])
        ] if zone else []  # fmt: skip
        return {"planArn": plan_arn, "healthChecks": checks}

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            name = inputs.get("name", args.name)
            return name, {"name": name, "outputs": dict(self.stack_outputs.get(name, {})), "secretOutputNames": []}
        if args.typ == "pulumi:providers:aws":
            rid = _digest(args.name)
            self.provider_regions[rid] = inputs.get("region", "")
            return rid, inputs
        if not args.custom:
            return f"{args.name}", {}
        region = self.provider_regions.get((args.provider or "").rsplit("::", 1)[-1], "us-east-1")
        return self._aws(args.typ, args.name, inputs, region)

    def _aws(self, typ: str, logical: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        acct = self.account_id
        name = inputs.get("name") or f"{logical}-{_digest(logical, length=7)}"
        out = dict(inputs)
        service, _, kind = typ.split(":")[1].partition("/")
        rid = name
        if typ == "aws:kms/key:Key":
            rid = f"{_digest(logical, length=8)}-{_digest(logical, 'a', length=4)}-{_digest(logical, 'b', length=4)}-{_digest(logical, 'c', length=4)}-{_digest(logical, 'd', length=12)}"
            out.update(keyId=rid, arn=f"arn:aws:kms:{region}:{acct}:key/{rid}")
        elif typ == "aws:kms/alias:Alias":
            out.update(arn=f"arn:aws:kms:{region}:{acct}:{name}")
        elif typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or name
            rid = bucket
            out.update(
                bucket=bucket,
                arn=f"arn:aws:s3:::{bucket}",
                bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com",
                region=region,
            )
        elif typ == "aws:dynamodb/table:Table":
            arn = f"arn:aws:dynamodb:{region}:{acct}:table/{name}"
            out.update(arn=arn, streamArn=f"{arn}/stream/2026-11-25T00:00:00.000", streamLabel="2026-11-25T00:00:00.000")
        elif typ == "aws:dynamodb/tableReplica:TableReplica":
            table = str(inputs.get("globalTableArn", "")).rsplit("/", 1)[-1]
            rid = f"{table}:{region}"
            out.update(arn=f"arn:aws:dynamodb:{region}:{acct}:table/{table}")
        elif typ == "aws:iam/role:Role":
            out.update(arn=f"arn:aws:iam::{acct}:role/{name}", uniqueId=f"AROA{_digest(logical).upper()}")
        elif typ == "aws:iam/rolePolicy:RolePolicy":
            rid = f"{inputs.get('role', 'role')}:{name}"
        elif typ == "aws:sns/topic:Topic":
            rid = f"arn:aws:sns:{region}:{acct}:{name}"
            out.update(arn=rid)
        elif typ == "aws:route53/healthCheck:HealthCheck":
            rid = _uuid(logical, region)
            out.update(arn=f"arn:aws:route53:::healthcheck/{rid}")
        elif typ == "aws:route53/record:Record":
            rid = f"{inputs.get('zoneId')}_{inputs.get('name')}_{inputs.get('type')}_{inputs.get('setIdentifier', '')}"
            out.update(fqdn=inputs.get("name"))
        elif typ == "aws:appautoscaling/target:Target":
            rid = str(inputs.get("resourceId"))
            out.update(arn=f"arn:aws:application-autoscaling:{region}:{acct}:scalable-target/{_digest(logical, length=28)}")
        elif typ == "aws:appautoscaling/policy:Policy":
            out.update(
                arn=f"arn:aws:autoscaling:{region}:{acct}:scalingPolicy:{_digest(logical, length=36)}:resource/{inputs.get('resourceId')}:policyName/{name}"
            )
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out.update(arn=f"arn:aws:logs:{region}:{acct}:log-group:{name}")
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            out.update(arn=f"arn:aws:events:{region}:{acct}:rule/{name}")
        elif typ == "aws:cloudwatch/dashboard:Dashboard":
            out.update(dashboardArn=f"arn:aws:cloudwatch::{acct}:dashboard/{inputs.get('dashboardName', name)}")
        elif service == "cloudwatch":
            out.update(arn=f"arn:aws:cloudwatch:{region}:{acct}:alarm:{name}")
        elif typ == "aws:lambda/function:Function":
            out.update(arn=f"arn:aws:lambda:{region}:{acct}:function:{name}", invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/arn:aws:lambda:{region}:{acct}:function:{name}/invocations")
        elif typ == "aws:acm/certificate:Certificate":
            domains = [inputs.get("domainName"), *(inputs.get("subjectAlternativeNames") or [])]
            rid = f"arn:aws:acm:{region}:{acct}:certificate/{_digest(logical, region, length=8)}"
            out.update(
                arn=rid,
                domainValidationOptions=[
                    {
                        "domainName": d,
                        "resourceRecordName": f"_{_digest(str(d), length=16)}.{d}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": f"_{_digest(str(d), region, length=16)}.acm-validations.aws.",
                    }
                    for d in domains
                    if d
                ],
            )
        elif typ == "aws:apigatewayv2/api:Api":
            rid = _digest(logical, region, length=10)
            out.update(
                apiEndpoint=f"https://{rid}.execute-api.{region}.amazonaws.com",
                executionArn=f"arn:aws:execute-api:{region}:{acct}:{rid}",
                arn=f"arn:aws:apigateway:{region}::/apis/{rid}",
            )
        elif typ == "aws:apigatewayv2/domainName:DomainName":
            config = dict(inputs.get("domainNameConfiguration") or {})
            config.update(
                targetDomainName=f"d-{_digest(logical, region, length=10)}.execute-api.{region}.amazonaws.com",
                hostedZoneId="Z2FDTNDATAQYW2",  # placeholder zone id of API Gateway regional domains
            )
            rid = str(inputs.get("domainName"))
            out.update(domainNameConfiguration=config, arn=f"arn:aws:apigateway:{region}::/domainnames/{rid}")
        elif typ == "aws:arcregionswitch/plan:Plan":
            out.update(arn=f"arn:aws:arc-region-switch::{acct}:plan/{name}:{_digest(logical, length=6)}")
            self.plans[out["arn"]] = inputs
        elif typ == "aws:sfn/stateMachine:StateMachine":
            out.update(arn=f"arn:aws:states:{region}:{acct}:stateMachine:{name}")
        elif typ == INFERENCE_ROUTER_TYPE:
            # drkit's own provider; the router's region is its input (it calls SageMaker there).
            region = str(inputs.get("region") or region)
            rid = str(inputs.get("routerName"))
            out.update(arn=router_arn(region, acct, rid), status="InService")
        elif service == "sagemaker":
            resource = {"model": "model", "endpointConfiguration": "endpoint-config", "endpoint": "endpoint"}.get(kind, kind.lower())
            out.update(arn=f"arn:aws:sagemaker:{region}:{acct}:{resource}/{str(name).lower()}")
        else:
            out.setdefault("arn", f"arn:aws:{service}:{region}:{acct}:{kind.lower()}/{name}")
        if "name" in inputs or service in ("sagemaker", "iam", "sns", "dynamodb"):
            out.setdefault("name", name)  # AWS assigns a name to these even when none is given
        out.setdefault("region", region)
        out["id"] = rid
        return rid, out


OnResource = Callable[[Resource], None]


class RecordingMonitor(mocks.MockMonitor):
    """A mock engine monitor that keeps each registration's options for the graph, and hands each
    resource to `on_resource` as it is registered, as the engine hands it to an analyzer (its
    inputs are final; a component's outputs may still grow)."""

    mocks: RealisticMocks

    def __init__(self, mock: RealisticMocks, on_resource: OnResource | None = None) -> None:
        super().__init__(mock)
        self.on_resource = on_resource
        self.requests: dict[str, Any] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        urn = response.urn
        self.requests[urn] = request
        self.inputs[urn] = _inputs(request.object) if request.object else {}
        self.order.append(urn)
        if self.on_resource is not None and request.type != "pulumi:pulumi:Stack":
            self.on_resource(_resource(self, urn))
        return response


def _inputs(properties: struct_pb2.Struct) -> dict[str, Any]:
    """A registration's inputs as plain values. A resource reference becomes what the engine hands
    an analyzer (it marshals without keeping resources): the resource's ID, or its URN when it has
    no ID. Pulumi's own decoding would rebuild the resource object instead, which waits on an event
    loop that a registration's worker thread never runs."""
    return _to_plain(pulumi.runtime.rpc.deserialize_properties(_without_references(properties)))


def _without_references(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    if RESOURCE_REFERENCE.encode() not in struct.SerializeToString():
        return struct  # the common case, decided without a copy
    plain = json_format.MessageToDict(struct)
    out = struct_pb2.Struct()
    out.update(_referenced(plain))
    return out


def _referenced(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIGNATURE_KEY) == RESOURCE_REFERENCE:
            return value.get("id") or value["urn"]
        return {k: _referenced(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_referenced(v) for v in value]
    return value


def _asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    """A file, string or archive as a plain, deterministic record: what it holds and its digest.

    A string asset keeps its text: drkit writes configs that way (the router's), and the drill
    reads the deployed config from the graph instead of re-deriving it from the spec."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: _asset(item) for name, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        path = Path(str(value.path))
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        return {"path": shown.as_posix(), "sha256": digest}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text, "text_sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    return {"asset": type(value).__name__}


def _to_plain(value: Any) -> Any:
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset(value)
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_plain(v) for v in value]
    return value


def _resource(monitor: RecordingMonitor, urn: str) -> Resource:
    request = monitor.requests[urn]
    registration = monitor.resources.get(urn)
    state = dict(registration.state) if registration else {}
    inputs = monitor.inputs[urn]
    region = None
    if request.custom and not request.type.startswith("pulumi:"):
        region = monitor.mocks.provider_regions.get(request.provider.rsplit("::", 1)[-1])
        if request.type == INFERENCE_ROUTER_TYPE:  # drkit's provider: the region is the resource's input
            region = inputs.get("region") or region
    return Resource(
        urn=urn,
        type=request.type,
        name=request.name,
        id=registration.id if registration else "",
        custom=bool(request.custom),
        region=region,
        parent=request.parent or None,
        inputs=inputs,
        outputs=_to_plain(state),
        protect=bool(request.protect),
        ignore_changes=tuple(request.ignoreChanges),
        retain_on_delete=bool(request.retainOnDelete),
        dependencies=tuple(sorted(set(request.dependencies))),  # a set: registration order varies
    )


def _resources(monitor: RecordingMonitor) -> tuple[Resource, ...]:
    return _stable_order([_resource(monitor, urn) for urn in monitor.order if monitor.requests[urn].type != "pulumi:pulumi:Stack"])


def _stable_order(resources: list[Resource]) -> tuple[Resource, ...]:
    """Depth-first by (type, name): registration order varies run to run, the graph must not."""
    by_urn = {r.urn: r for r in resources}

    def path(resource: Resource) -> tuple[tuple[int, str, str], ...]:
        chain = []
        node: Resource | None = resource
        while node is not None:
            # Custom resources before components at each level, then type and name.
            chain.append((0 if node.custom else 1, node.type, node.name))
            node = by_urn.get(node.parent) if node.parent else None
        return tuple(reversed(chain))

    return tuple(sorted(resources, key=path))


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """Pulumi walks the Python stack at every registration to tell the engine where the resource
    was declared; an offline graph keeps no source positions, and the walk is ~10% of a capture."""
    original = pulumi_resource._get_stack_trace
    pulumi_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        pulumi_resource._get_stack_trace = original


def capture_region(
    spec: DeploymentSpec,
    region: str,
    *,
    primary_exports: Mapping[str, Any] | None = None,
    on_resource: OnResource | None = None,
) -> RegionGraph:
    """Run `drkit.stacks.program.build_region` for one region under mocks and return its graph
    (`on_resource` is given each resource as it is registered, from Pulumi's worker threads)."""
    from drkit.stacks.program import build_region, primary_stack_reference_name

    stack_outputs = {}
    if primary_exports is not None:
        stack_outputs[primary_stack_reference_name(spec, ORGANIZATION, PROJECT)] = primary_exports
    mock = RealisticMocks(spec.account_id, stack_outputs)
    monitor = RecordingMonitor(mock, on_resource)
    exports: dict[str, Any] = {}
    with _CAPTURE_LOCK:
        set_root_resource(None)  # type: ignore[arg-type]  # each capture is a fresh stack
        mocks.set_mocks(
            mock, project=PROJECT, stack=spec.stack_name(region), preview=False, monitor=monitor, organization=ORGANIZATION
        )

        def program() -> None:
            outputs = build_region(spec, region, organization=ORGANIZATION, project=PROJECT)

            def keep(resolved: dict[str, Any]) -> None:
                exports.update(_to_plain(resolved))

            pulumi.Output.from_input(outputs).apply(keep)

        with _without_source_positions():
            _sync_await(run_pulumi_func(program))
        resources = _resources(monitor)
    return RegionGraph(
        deployment=spec.deployment,
        stack=spec.stack_name(region),
        region=region,
        role=spec.role(region),
        tier=spec.tier,
        resources=resources,
        exports=exports,
    )


def capture_regions(
    spec: DeploymentSpec, regions: list[str] | None = None, *, on_resource: OnResource | None = None
) -> Iterator[RegionGraph]:
    """Each requested region's graph as soon as it is captured: the primary first (always
    captured, its exports feed the secondaries), then the secondaries in spec order.
    Unknown regions are refused before anything is captured. `on_resource` is given each
    resource of the requested regions as it is registered (see `RecordingMonitor`).

    One process, on purpose: capturing secondaries in forked processes saved a fraction of a
    second, and a fork taken after the policy pack's gRPC client had run crashed the child.
    """
    wanted = list(regions) if regions else list(spec.regions)
    for region in wanted:
        spec.role(region)  # raises a SpecError naming valid regions
    primary = capture_region(spec, spec.primary_region, on_resource=on_resource if spec.primary_region in wanted else None)
    if spec.primary_region in wanted:
        yield primary
    for region in spec.secondary_regions:
        if region in wanted:
            yield capture_region(spec, region, primary_exports=primary.exports, on_resource=on_resource)


def capture(spec: DeploymentSpec, regions: list[str] | None = None) -> DeploymentGraph:
    """Capture the primary, then each requested region, feeding the primary's exports onward."""
    return DeploymentGraph(spec=spec, regions={g.region: g for g in capture_regions(spec, regions)})
