"""Redrive Lambda: restart a lost region's unfinished requests in this region, exactly once.

Invoked by the Region switch plan's custom Lambda step when this region takes over (or by
hand). The event may name the lost region (`{"lost_region": "us-east-1"}`); otherwise the
deployment's only other region is assumed, and a deployment with several peers must name it.
Safe to invoke again: `drkit.core.redrive` claims each item with a conditional write and names
each execution after the request and attempt.

Environment: TABLE_NAME, STATE_MACHINE_ARN (this region's workflow), PEER_REGIONS
(comma-separated), AWS_REGION. Dependencies: boto3 + the bundled drkit modules.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from drkit.core.redrive import StepFunctionsStarter, redrive
from drkit.core.tokens import TokenStore

OPERATOR = "drkit-redrive-lambda"


class RedriveRequestError(ValueError):
    """The event does not say which region was lost, and it cannot be inferred."""


def lost_region(event: dict[str, Any], this_region: str, peers: list[str]) -> str:
    named = event.get("lost_region")
    if named:
        if named == this_region or named not in peers:
            raise RedriveRequestError(f"lost_region {named!r} is not one of this deployment's other regions: {', '.join(peers)}")
        return str(named)
    if len(peers) != 1:
        raise RedriveRequestError(f"event has no lost_region and this region has {len(peers)} peers ({', '.join(peers)}); name one")
    return peers[0]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    region = os.environ["AWS_REGION"]
    peers = [p for p in os.environ.get("PEER_REGIONS", "").split(",") if p]
    lost = lost_region(event or {}, region, peers)
    store = TokenStore(os.environ["TABLE_NAME"], boto3.client("dynamodb", region_name=region))
    starter = StepFunctionsStarter(boto3.client("stepfunctions", region_name=region), os.environ["STATE_MACHINE_ARN"])
    report = redrive(lost, region, store, starter, operator=OPERATOR, workers=8)
    result = report.as_dict()
    result.pop("outcomes", None)  # per-request detail stays in the table, not in the step's output
    if not report.complete:
        # Fail the ARC step so the operator sees it; a rerun finishes what is left.
        raise RuntimeError(f"redrive from {lost} finished with {report.errors} errors: {result.get('error_messages')}")
    return result
