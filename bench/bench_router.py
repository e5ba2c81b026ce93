"""Router decisions per second, in process, with and without breakers + budgets.

Two backends, each measured in the same run:
- `memory`: AWS clients replaced by dict-backed fakes, so the figure is the router's own
  cost (validation, routing, breaker and budget logic, audit record building);
- `moto`: the same calls against moto 5.2.5 (in-process HTTP emulation), which adds
  moto's per-call overhead — an upper bound on code cost, not a prediction of AWS latency.

Baseline: `drkit.routing.route()` alone, the floor every request pays.
Each request is a real-time `POST /v1/infer` (the path with a breaker on it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from components.functions.router.config import parse_config
from components.functions.router.handler import Clients, Router, class_infos, key_digest
from drkit.routing import route

KEY = "bench-team-key"
CONFIG = {
    "region": "us-east-1",
    "regions": ["us-east-1", "us-west-2"],
    "table_name": "bench-tokens",
    "audit_bucket": "bench-audit",
    "input_bucket": "bench-inputs",
    "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
    "teams": [{"name": "bench", "key_sha256": key_digest(KEY), "monthly_budget_usd": 1e9}],
    "classes": [{"name": "critical", "kind": "critical", "timeout_seconds": 5}],
    "models": {
        "m": {"endpoints": {"realtime": "bench-realtime", "serverless": "bench-serverless"}, "costs_usd": {"realtime": 1e-5}}
    },
}
EVENT = {
    "rawPath": "/v1/infer",
    "requestContext": {"http": {"method": "POST"}},
    "headers": {"x-drkit-key": KEY},
    "body": json.dumps({"model": "m", "traffic_class": "critical", "payload": {"features": list(range(32))}}),
}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


class MemoryDynamo:
    """Just enough DynamoDB for breakers (conditional put) and budgets (batch get, ADD)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: N803 - boto3 names
        item = self.items.get(Key["request_id"]["S"])
        return {"Item": item} if item else {}

    def put_item(self, **call: Any) -> None:
        Item, ExpressionAttributeValues = call["Item"], call.get("ExpressionAttributeValues")  # noqa: N806 - boto3 names
        current = self.items.get(Item["request_id"]["S"])
        expected = ExpressionAttributeValues[":v"]["N"] if ExpressionAttributeValues else None
        if (expected is None and current) or (expected is not None and (not current or current["version"]["N"] != expected)):
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": ""}}, "PutItem")
        self.items[Item["request_id"]["S"]] = Item

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        ((table, request),) = RequestItems.items()
        found = [self.items[k["request_id"]["S"]] for k in request["Keys"] if k["request_id"]["S"] in self.items]
        return {"Responses": {table: found}}

    def update_item(self, *, Key: dict[str, Any], ExpressionAttributeValues: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: N803
        item = self.items.setdefault(Key["request_id"]["S"], {"spend_usd": {"N": "0"}})
        item["spend_usd"] = {"N": str(float(item["spend_usd"]["N"]) + float(ExpressionAttributeValues[":c"]["N"]))}
        return {"Attributes": {"spend_usd": item["spend_usd"]}}


class Null:
    """Accepts any call (audit S3 and CloudWatch writes)."""

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        return lambda **_: {}


class Runtime:
    def invoke_endpoint(self, **_: Any) -> dict[str, Any]:
        return {"Body": _Body(b'{"score": 0.1}'), "ContentType": "application/json"}


def rate(run: Callable[[], Any], n: int) -> float:
    run()  # warm caches
    start = time.perf_counter()
    for _ in range(n):
        run()
    return n / (time.perf_counter() - start)


def routers(clients: Clients) -> dict[str, Router]:
    config = parse_config(CONFIG)
    return {
        "router, no breaker/budget": Router(config, clients, use_breakers=False, use_budgets=False),
        "router + breaker + budget": Router(config, clients),
    }


def check(router: Router) -> None:
    status = router.handle(EVENT)["statusCode"]
    if status != 200:
        raise RuntimeError(f"bench request answered {status}")


def main() -> None:
    classes = class_infos(parse_config(CONFIG).classes)
    base = rate(lambda: route(200, "critical", classes=classes), 50_000)
    rows = [("route() alone", "-", base)]
    memory = Clients(Runtime(), Null(), Null(), MemoryDynamo(), Null(), Null())
    for label, router in routers(memory).items():
        check(router)
        rows.append((label, "memory", rate(lambda r=router: r.handle(EVENT), 5_000)))  # type: ignore[misc]

    import boto3
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="bench-tokens", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        )  # fmt: skip
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench-audit")
        clients = Clients(Runtime(), Null(), Null(), ddb, s3, boto3.client("cloudwatch", region_name="us-east-1"))
        for label, router in routers(clients).items():
            check(router)
            rows.append((label, "moto", rate(lambda r=router: r.handle(EVENT), 200)))  # type: ignore[misc]

    print(f"{'what':<28} {'backend':>7} {'decisions/s':>12} {'x route()':>10}")
    for label, backend, per_second in rows:
        print(f"{label:<28} {backend:>7} {per_second:>12,.0f} {per_second / base:>10.4f}")


if __name__ == "__main__":
    main()
