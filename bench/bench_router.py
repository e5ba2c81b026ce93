"""Router decisions per second, in process, with and without breakers + budgets.

Two backends, each measured in the same run:
- `memory`: the drill's in-memory AWS clients (drkit/commands/drill/doubles.py, checked against moto
  in tests/test_drill_frontdoor.py), so the figure is the router's own cost (validation,
  routing, breaker and budget logic, audit record building);
- `moto`: the same calls against moto 5.2.5 (in-process HTTP emulation), which adds
  moto's per-call overhead — an upper bound on code cost, not a prediction of AWS latency.

Baseline: `drkit.core.routing.route()` alone, the floor every request pays.
Each request is a real-time `POST /v1/infer` (the path with a breaker on it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from drkit.commands.drill.doubles import MemoryDynamo, MetricLog, SimS3, SimSageMaker, SimSageMakerRuntime, SimStepFunctions
from drkit.components.functions.router.config import parse_config
from drkit.components.functions.router.handler import Clients, Router
from drkit.core.keys import key_digest
from drkit.core.routing import classes_from, route

KEY = "bench-team-key"
SECRET = b"bench-team-key-secret-0123456789abcdef"
CONFIG = {
    "region": "us-east-1",
    "regions": ["us-east-1", "us-west-2"],
    "table_name": "bench-tokens",
    "audit_bucket": "bench-audit",
    "input_bucket": "bench-inputs",
    "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
    "team_key_secret": "bench/team-keys",
    "teams": [{"name": "bench", "key_digest": key_digest(KEY, SECRET), "monthly_budget_usd": 1e9}],
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


def rate(run: Callable[[], Any], n: int) -> float:
    run()  # warm caches
    start = time.perf_counter()
    for _ in range(n):
        run()
    return n / (time.perf_counter() - start)


def routers(clients: Clients) -> dict[str, Router]:
    config = parse_config(CONFIG)
    return {
        "router, no breaker/budget": Router(config, clients, use_breakers=False, use_budgets=False, emit_metrics=MetricLog(), key_secret=SECRET),
        "router + breaker + budget": Router(config, clients, emit_metrics=MetricLog(), key_secret=SECRET),
    }


def check(router: Router) -> None:
    status = router.handle(EVENT)["statusCode"]
    if status != 200:
        raise RuntimeError(f"bench request answered {status}")


def main() -> None:
    classes = classes_from(parse_config(CONFIG).classes)
    base = rate(lambda: route(200, "critical", classes=classes), 50_000)
    rows = [("route() alone", "-", base)]
    region = CONFIG["region"]
    memory = Clients(
        SimSageMakerRuntime(region), SimSageMaker(region), SimStepFunctions(region),
        MemoryDynamo(region, table_name=str(CONFIG["table_name"])), SimS3(region),
    )  # fmt: skip
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
        clients = Clients(SimSageMakerRuntime(region), SimSageMaker(region), SimStepFunctions(region), ddb, s3)
        for label, router in routers(clients).items():
            check(router)
            rows.append((label, "moto", rate(lambda r=router: r.handle(EVENT), 200)))  # type: ignore[misc]

    print(f"{'what':<28} {'backend':>7} {'decisions/s':>12} {'x route()':>10}")
    for label, backend, per_second in rows:
        print(f"{label:<28} {backend:>7} {per_second:>12,.0f} {per_second / base:>10.4f}")


if __name__ == "__main__":
    main()
