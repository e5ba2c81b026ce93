"""Scale-up Lambda: raise a deployment's provisioned SageMaker capacity in one region on failover.

ARC Region switch runs this as a custom-action step in the *activating* region. A warm
(tier 2) secondary keeps one instance per provisioned variant; before it takes the whole
load it needs the primary's capacity. For every provisioned endpoint of the deployment
in the region it

1. raises the variant's desired instance count (``UpdateEndpointWeightsAndCapacities``)
   when it is below the target, and
2. raises the Application Auto Scaling ``MinCapacity`` of the variant's scalable target to
   the failover capacity, so target tracking does not scale it back below that.

3. suspends the scalable target's *scheduled* scaling, so the off-hours scale-down of a
   tier 2-3 region cannot cut the capacity it now needs in the middle of a failover.

It never lowers anything, so a rerun (ARC retries a step until it succeeds or times out)
changes nothing. It only touches endpoints tagged ``Deployment=<deployment>``: an
endpoint named explicitly but tagged for another deployment, or untagged, is refused
and reported, and then nothing at all is changed. A target above the scalable target's ``MaxCapacity`` is
capped at the maximum and reported, because autoscaling would scale it back anyway.

After fail back, ``{"mode": "release"}`` resumes scheduled scaling in the region that was
active (it changes nothing else): at its next boundary the schedule sets the floor the
stack gave it, and target tracking scales the variant back in. The Region switch plan's
fail-back workflow runs it as the step named ``RELEASE_STEP`` in the deactivating region:
ARC sends no payload of ours (pulumi-aws has no payload field), only execution metadata
whose ``StepName`` names the step (ARC API reference, "Lambdas").

Input (event keys win over environment variables):

- ``mode``: ``activate`` (default) or ``release``; ``StepName`` = ``RELEASE_STEP`` means release.
- ``deployment`` / ``DEPLOYMENT``: the deployment name (the ``Deployment`` tag value).
- ``region`` / ``TARGET_REGION``: the region to scale; default ``AWS_REGION``.
- ``desired_capacity`` / ``DESIRED_CAPACITY``: an int for every model, or a JSON object
  ``{"<model>": n, ...}`` keyed by the endpoint's ``Model`` tag (``"*"`` for the rest);
  not needed to release.
- ``endpoint_names`` (optional): only these endpoints; each must carry the tag.

Dependencies: boto3 and the standard library only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger("drkit.scale_up")
LOG.setLevel(logging.INFO)

DEPLOYMENT_TAG = "Deployment"
MODEL_TAG = "Model"
INFERENCE_TYPE_TAG = "InferenceType"
PROVISIONED = "provisioned"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
RELEASE_STEP = "release-standby"  # the Region switch plan's step that releases (components/region_switch.py)


class ScaleUpInputError(ValueError):
    """The event and environment do not say what to scale; the step fails without changing anything."""


class VariantAction(str, Enum):
    """What the Lambda did to one production variant."""

    RAISED = "raised"  # desired count raised to the target
    UNCHANGED = "unchanged"  # already at or above the target


class Mode(str, Enum):
    """Activate a region (raise, hold, suspend the schedule) or release it after fail back."""

    ACTIVATE = "activate"
    RELEASE = "release"


@dataclass(frozen=True)
class ScaleUpRequest:
    """What to scale, resolved from the ARC event and the environment."""

    deployment: str
    region: str
    capacity: Mapping[str, int]
    """Target instances per model (``Model`` tag); ``"*"`` applies to models not listed. Empty to release."""
    endpoint_names: tuple[str, ...] = ()
    mode: Mode = Mode.ACTIVATE

    def target_for(self, model: str) -> int | None:
        return self.capacity.get(model, self.capacity.get("*"))


@dataclass(frozen=True)
class VariantResult:
    """The outcome for one provisioned variant."""

    endpoint: str
    variant: str
    before: int
    target: int
    action: VariantAction
    floor: int
    """The failover capacity (capped at the autoscaling max): the MinCapacity autoscaling must keep."""
    min_capacity_before: int | None
    """The scalable target's MinCapacity before the run; None when the variant is not autoscaled."""
    capped_at_max: bool = False
    max_capacity: int | None = None
    """The scalable target's MaxCapacity; None when the variant is not autoscaled."""
    schedule_suspended_before: bool | None = None
    """Whether its scheduled scaling was suspended before the run; None when not autoscaled."""
    schedule_suspended: bool | None = None
    """Whether it is suspended after the run (True after activate, False after release)."""


@dataclass(frozen=True)
class ScaleUpResult:
    """The Lambda's answer: what was raised, what was already there, what was refused."""

    deployment: str
    region: str
    variants: tuple[VariantResult, ...] = ()
    refused: tuple[str, ...] = ()
    """Endpoints named in the request but not tagged Deployment=<deployment>."""
    skipped: tuple[str, ...] = field(default=())
    """The deployment's endpoints that are not provisioned, or have no target capacity."""

    @property
    def changed(self) -> bool:
        return any(
            v.action is VariantAction.RAISED or _min_raised(v) or v.schedule_suspended != v.schedule_suspended_before
            for v in self.variants
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["changed"] = self.changed
        for variant in out["variants"]:
            variant["action"] = variant["action"].value
        return out


def _min_raised(v: VariantResult) -> bool:
    return v.min_capacity_before is not None and v.min_capacity_before < v.floor


# --- pure decisions -------------------------------------------------------------------


def parse_capacity(value: Any, source: str) -> dict[str, int]:
    """An int (every model) or a mapping model → int; refuses anything else, naming `source`."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ScaleUpInputError(
                f'{source}: {value!r} is not an integer or a JSON object; valid: 4 or {{"model-a": 4}}'
            ) from None
    if isinstance(value, bool):
        raise ScaleUpInputError(f"{source}: {value!r} is not a capacity; valid: an integer ≥ 1")
    if isinstance(value, int):
        value = {"*": value}
    if not isinstance(value, Mapping) or not value:
        raise ScaleUpInputError(f"{source}: {value!r} is not a capacity; valid: an integer ≥ 1 or a non-empty object")
    out: dict[str, int] = {}
    for model, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ScaleUpInputError(f"{source}.{model}: {count!r} is not a capacity; valid: an integer ≥ 1")
        out[str(model)] = count
    return out


def resolve_request(event: Mapping[str, Any] | None, env: Mapping[str, str]) -> ScaleUpRequest:
    """The request from the ARC event, falling back to the environment; pure."""
    event = event or {}
    deployment = event.get("deployment") or env.get("DEPLOYMENT")
    if not deployment or not isinstance(deployment, str):
        raise ScaleUpInputError("deployment: missing; set the event's 'deployment' or the DEPLOYMENT environment variable")
    region = event.get("region") or env.get("TARGET_REGION") or env.get("AWS_REGION")
    if not region or not isinstance(region, str):
        raise ScaleUpInputError("region: missing; set the event's 'region', TARGET_REGION or AWS_REGION")
    raw_mode = event.get("mode") or (Mode.RELEASE.value if event.get("StepName") == RELEASE_STEP else Mode.ACTIVATE.value)
    if raw_mode not in {m.value for m in Mode}:
        raise ScaleUpInputError(f"mode: {raw_mode!r} is not valid; valid: {', '.join(m.value for m in Mode)}")
    mode = Mode(raw_mode)
    capacity: dict[str, int] = {}
    if mode is Mode.RELEASE:
        pass  # releasing changes no capacity
    elif "desired_capacity" in event:
        capacity = parse_capacity(event["desired_capacity"], "desired_capacity")
    elif env.get("DESIRED_CAPACITY"):
        capacity = parse_capacity(env["DESIRED_CAPACITY"], "DESIRED_CAPACITY")
    else:
        raise ScaleUpInputError("desired_capacity: missing; set the event's 'desired_capacity' or DESIRED_CAPACITY")
    names = event.get("endpoint_names") or ()
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ScaleUpInputError(f"endpoint_names: {names!r} is not a list of endpoint names")
    return ScaleUpRequest(deployment=deployment, region=region, capacity=capacity, endpoint_names=tuple(names), mode=mode)


def variant_floor(wanted: int, max_capacity: int | None) -> tuple[int, bool]:
    """(floor, capped): the failover capacity, capped at the autoscaling maximum."""
    if max_capacity is not None and wanted > max_capacity:
        return max_capacity, True
    return wanted, False


def variant_target(current: int, wanted: int, max_capacity: int | None) -> tuple[int, bool]:
    """(target, capped): the instance count to run — the floor, but never below `current`."""
    floor, capped = variant_floor(wanted, max_capacity)
    return max(floor, current), capped


def is_provisioned_variant(variant: Mapping[str, Any]) -> bool:
    """Instance-backed variants have an instance count; serverless ones have a serverless config."""
    if variant.get("CurrentServerlessConfig") or variant.get("DesiredServerlessConfig"):
        return False
    return "CurrentInstanceCount" in variant or "DesiredInstanceCount" in variant


def resource_id(endpoint: str, variant: str) -> str:
    """Application Auto Scaling's resource id for a SageMaker variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


# --- side effects ----------------------------------------------------------------------


class Clients:
    """The two boto3 clients, wrapped so a test can stand in for an API its mock lacks."""

    def __init__(self, region: str, factory: Callable[..., Any] = boto3.client) -> None:
        self.sagemaker = factory("sagemaker", region_name=region)
        self.autoscaling = factory("application-autoscaling", region_name=region)

    def endpoints(self, name_contains: str) -> Iterable[Mapping[str, Any]]:
        for page in self.sagemaker.get_paginator("list_endpoints").paginate(NameContains=name_contains):
            yield from page.get("Endpoints", [])

    def tags(self, arn: str) -> dict[str, str]:
        """The endpoint's tags; none when IAM denies reading them (not this deployment's endpoint)."""
        tags: dict[str, str] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"ResourceArn": arn}
            if token:
                kwargs["NextToken"] = token
            try:
                page = self.sagemaker.list_tags(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("AccessDeniedException", "AccessDenied"):
                    return {}
                raise
            tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
            token = page.get("NextToken")
            if not token:
                return tags

    def scalable_target(self, endpoint: str, variant: str) -> Mapping[str, Any] | None:
        found = self.autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[resource_id(endpoint, variant)], ScalableDimension=DIMENSION
        ).get("ScalableTargets", [])
        return found[0] if found else None


def scale_up(request: ScaleUpRequest, clients: Clients) -> ScaleUpResult:
    """Raise every provisioned variant of the deployment in the region; never lowers anything."""
    listed = {e["EndpointName"]: e["EndpointArn"] for e in clients.endpoints(request.deployment)}
    # Discovery looks only at names the deployment's IAM policy covers (`<deployment>-...`).
    wanted = request.endpoint_names or tuple(sorted(n for n in listed if n.startswith(f"{request.deployment}-")))
    refused: list[str] = []
    skipped: list[str] = []
    owned: list[tuple[str, int]] = []
    for name in wanted:
        arn = listed.get(name)
        if arn is None:
            refused.append(name)
            LOG.warning("refused %s: not an endpoint of %s in %s", name, request.deployment, request.region)
            continue
        tags = clients.tags(arn)
        if tags.get(DEPLOYMENT_TAG) != request.deployment:
            if request.endpoint_names:
                refused.append(name)
                LOG.warning("refused %s: tagged Deployment=%r, not %r", name, tags.get(DEPLOYMENT_TAG), request.deployment)
            continue  # another deployment's endpoint, found by listing: not ours to touch
        if tags.get(INFERENCE_TYPE_TAG, PROVISIONED) != PROVISIONED:
            skipped.append(name)
            continue
        wanted_count = 0 if request.mode is Mode.RELEASE else request.target_for(tags.get(MODEL_TAG, ""))
        if wanted_count is None:
            skipped.append(name)
            continue
        owned.append((name, wanted_count))
    if refused:  # decide everything before changing anything: a refused request changes nothing
        return ScaleUpResult(deployment=request.deployment, region=request.region, refused=tuple(refused), skipped=tuple(skipped))
    results: list[VariantResult] = []
    for name, wanted_count in owned:
        if request.mode is Mode.RELEASE:
            results.extend(_release_endpoint(name, clients))
        else:
            results.extend(_scale_endpoint(name, wanted_count, clients))
    return ScaleUpResult(
        deployment=request.deployment,
        region=request.region,
        variants=tuple(results),
        refused=tuple(refused),
        skipped=tuple(skipped),
    )


def _provisioned_variants(name: str, clients: Clients) -> list[tuple[str, int, Mapping[str, Any] | None]]:
    """(variant name, desired instance count, its scalable target or None) of each instance-backed variant."""
    described = clients.sagemaker.describe_endpoint(EndpointName=name)
    return [
        (v["VariantName"], int(v.get("DesiredInstanceCount", v.get("CurrentInstanceCount", 0))), clients.scalable_target(name, v["VariantName"]))
        for v in described.get("ProductionVariants", [])
        if is_provisioned_variant(v)
    ]  # fmt: skip


def _scale_endpoint(name: str, wanted: int, clients: Clients) -> list[VariantResult]:
    """Decide every variant first, then one capacity update per endpoint (a second would hit an Updating endpoint)."""
    results: list[VariantResult] = []
    for variant, current, scalable in _provisioned_variants(name, clients):
        max_capacity = int(scalable["MaxCapacity"]) if scalable else None
        floor, capped = variant_floor(wanted, max_capacity)
        target = max(floor, current)
        suspended = _schedule_suspended(scalable)
        results.append(
            VariantResult(
                endpoint=name,
                variant=variant,
                before=current,
                target=target,
                action=VariantAction.RAISED if current < target else VariantAction.UNCHANGED,
                floor=floor,
                min_capacity_before=int(scalable["MinCapacity"]) if scalable else None,
                capped_at_max=capped,
                max_capacity=max_capacity,
                schedule_suspended_before=suspended,
                schedule_suspended=None if scalable is None else True,
            )
        )
    raised = [{"VariantName": r.variant, "DesiredInstanceCount": r.target} for r in results if r.action is VariantAction.RAISED]
    if raised:
        clients.sagemaker.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=raised)
    for r in results:
        change: dict[str, Any] = {}
        if _min_raised(r):
            # Raise the floor to the failover capacity, not to `target`: a variant already
            # above it stays free to scale back down to it.
            assert r.max_capacity is not None
            change.update(MinCapacity=r.floor, MaxCapacity=r.max_capacity)
        if r.schedule_suspended and not r.schedule_suspended_before:
            change["SuspendedState"] = {"ScheduledScalingSuspended": True}
        if change:  # one call: an existing target keeps whatever the call does not name
            clients.autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker", ResourceId=resource_id(name, r.variant), ScalableDimension=DIMENSION, **change
            )
        LOG.info("%s/%s: %s → %s, floor %s (%s), schedule suspended", name, r.variant, r.before, r.target, r.floor, r.action.value)
    return results


def _schedule_suspended(scalable: Mapping[str, Any] | None) -> bool | None:
    if scalable is None:
        return None
    return bool((scalable.get("SuspendedState") or {}).get("ScheduledScalingSuspended", False))


def _release_endpoint(name: str, clients: Clients) -> list[VariantResult]:
    """Resume scheduled scaling on every provisioned variant; capacity is left to the schedule."""
    results: list[VariantResult] = []
    for variant, current, scalable in _provisioned_variants(name, clients):
        suspended = _schedule_suspended(scalable)
        if suspended:
            clients.autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker", ResourceId=resource_id(name, variant),
                ScalableDimension=DIMENSION, SuspendedState={"ScheduledScalingSuspended": False},
            )  # fmt: skip
            LOG.info("%s/%s: scheduled scaling resumed", name, variant)
        results.append(
            VariantResult(
                endpoint=name, variant=variant, before=current, target=current,
                action=VariantAction.UNCHANGED, floor=int(scalable["MinCapacity"]) if scalable else current,
                min_capacity_before=int(scalable["MinCapacity"]) if scalable else None,
                max_capacity=int(scalable["MaxCapacity"]) if scalable else None,
                schedule_suspended_before=suspended, schedule_suspended=None if scalable is None else False,
            )
        )  # fmt: skip
    return results


def handler(event: Mapping[str, Any] | None, context: object) -> dict[str, Any]:
    """Lambda entry point. Fails the ARC step (raises, having changed nothing) when a named endpoint is refused."""
    request = resolve_request(event, os.environ)
    result = scale_up(request, Clients(request.region))
    body = result.to_json()
    LOG.info("%s", json.dumps(body))
    if result.refused:
        raise PermissionError(
            f"refused endpoints {', '.join(result.refused)}: not tagged {DEPLOYMENT_TAG}={request.deployment} in {request.region}"
        )
    return body
