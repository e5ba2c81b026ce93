"""SageMaker AI cross-Region inference routers: AWS's published rules, in one stdlib-only place.

The component, the spec, the router Lambda and the drill's model of the router read these
figures from here. Each one is quoted from botocore's service models (sagemaker
2017-07-24, sagemaker-inference-router-runtime 2026-01-01, botocore 1.44.8), which a test
re-reads, or from the AWS page named beside it (read 2026-11).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# sagemaker CreateInferenceRouter: InferenceRouterName and RoutingTargetName, 1-63 chars.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
NAME_MAX = 63
MAX_ROUTING_TARGETS = 20  # RoutingTargetList max
MAX_DESTINATIONS = 10  # DestinationList max: one destination per region, so at most 10 regions
# The front door's deadline: API Gateway HTTP API integrations end at 30 s, so the router Lambda
# times out at 29 s (components/frontdoor.py RegionalFrontDoorArgs.timeout_seconds default).
FRONT_DOOR_TIMEOUT_SECONDS = 29
TYPE_TOKEN = "drkit:sagemaker:InferenceRouter"  # the Pulumi type of drkit's router resource

# InvokeInferenceRouter documentation: "The maximum request payload is 6 MB. A request with a
# larger body fails with HTTP status code 413." (Body max 6291456 bytes.)
MAX_PAYLOAD_BYTES = 6_291_456
# "Your model has up to 60 seconds for each attempt ... If a destination returns an error that
# the router can retry, such as a throttling error, before your model produces a response, the
# router retries the request once on another destination. A request that times out on a
# destination isn't retried. Because a request can make two attempts, set your client read
# timeout to at least 170 seconds."
ATTEMPT_SECONDS = 60
MAX_ATTEMPTS = 2
ADVISED_READ_TIMEOUT_SECONDS = 170
# UpdateInferenceRouter documentation: "Updates typically take effect within about 2 minutes."
UPDATE_PROPAGATION_SECONDS = 120
# RoutingTarget.RoutingPreference: "LocalRegionFirst: The router uses destinations in its own
# Region first. When the request leaves the Region, the router spreads it across healthy
# destinations in other Regions." (InstancePoolOrder is for asynchronous targets only.)
LOCAL_REGION_FIRST = "LocalRegionFirst"
# Errors the router retries on another destination: the runtime model marks ThrottlingException
# and ModelNotReadyException retryable, and the docs name "a destination ... returning errors";
# drkit treats a destination's 5xx (ServiceUnavailable, InternalFailure) the same. A timeout
# is never retried.
RETRYABLE_DESTINATION_ERRORS = frozenset(
    {"ThrottlingException", "ModelNotReadyException", "ServiceUnavailable", "InternalFailure"}
)

# The IAM actions (Service Authorization Reference via the "Get started with inference
# routers" page): the caller needs InvokeInferenceRouter on the router AND InvokeEndpoint on
# every destination, because the router calls each destination with the caller's credentials.
INVOKE_ROUTER_ACTION = "sagemaker:InvokeInferenceRouter"
INVOKE_DESTINATION_ACTION = "sagemaker:InvokeEndpoint"


def router_arn(region: str, account: str, name: str) -> str:
    """arn:aws:sagemaker:<region>:<account>:inference-router/<name> (the security page's ARN format)."""
    return f"arn:aws:sagemaker:{region}:{account}:inference-router/{name}"


def endpoint_arn(region: str, account: str, endpoint: str) -> str:
    """A destination's ARN; SageMaker ARNs carry the endpoint name in lower case."""
    return f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}"


def destination_regions(own: str, regions: Sequence[str]) -> tuple[str, ...]:
    """Every region of the deployment, the router's own first (LocalRegionFirst uses it first)."""
    return (own, *(r for r in regions if r != own))


def class_gain(timeout_seconds: int, front_door_seconds: int) -> str:
    """What a router gives a real-time class with this deadline behind a front door that ends at `front_door_seconds`.

    'two-attempts': both attempts fit (AWS's 170 s read timeout); 'fast-failures': the retry
    happens only when the first destination fails before the deadline (an error, not a hang).
    """
    deadline = min(timeout_seconds, front_door_seconds)
    return "two-attempts" if deadline >= ADVISED_READ_TIMEOUT_SECONDS else "fast-failures"
