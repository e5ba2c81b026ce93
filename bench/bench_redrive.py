"""Redrive of 10,000 unfinished requests on moto (DynamoDB + Step Functions), in records/s.

Baseline, measured in the same run on the same moto: a plain unconditional put_item of the
same 10,000 items (the cheapest write moto does). Redrive costs per record one conditional
update_item (the claim, with a 4-clause condition that moto evaluates in Python) and one
start_execution, plus its share of the GSI queries (timed on their own as "list"). The run also checks exactly-once:
one execution per request, and a second run starts nothing.

moto is in-process and GIL-bound, so workers=1; on AWS, network latency dominates and
`redrive(..., workers=N)` overlaps it.
"""

from __future__ import annotations

import json
import time

import boto3
from moto import mock_aws

from drkit.core.redrive import StepFunctionsStarter, candidates, redrive
from drkit.core.tokens import HASH_KEY, TTL_ATTRIBUTE, Status, TokenStore
from tests.conftest import create_token_table

N = int(__import__("os").environ.get("BENCH_N", 10_000))
LOST, SURVIVING = "us-east-1", "us-west-2"
TABLE = "drkit-bench-tokens"


def _item(i: int, now: int) -> dict[str, dict[str, str]]:
    return {
        HASH_KEY: {"S": f"req-{i:06d}"},
        "home_region": {"S": LOST},
        "status": {"S": (Status.WAITING if i % 2 == 0 else Status.PENDING).value},
        "task_token": {"S": f"token-{i:06d}"},
        "path": {"S": "async"},
        "model": {"S": "fraud"},
        "input_location": {"S": f"s3://in/req-{i:06d}.json"},
        "attempt": {"N": "1"},
        TTL_ATTRIBUTE: {"N": str(now + 86_400)},
    }


def main() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=LOST)
        create_token_table(ddb, TABLE)
        now = int(time.time())
        items = [_item(i, now) for i in range(N)]

        start = time.perf_counter()
        for item in items:
            ddb.put_item(TableName=TABLE, Item=item)
        baseline = time.perf_counter() - start

        sfn = boto3.client("stepfunctions", region_name=SURVIVING)
        arn = sfn.create_state_machine(
            name="bench-workflow",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        store = TokenStore(TABLE, ddb)
        starter = StepFunctionsStarter(sfn, arn)

        start = time.perf_counter()
        listed = len(list(candidates(store, LOST, SURVIVING)))
        listing = time.perf_counter() - start

        start = time.perf_counter()
        report = redrive(LOST, SURVIVING, store, starter, operator="bench")
        seconds = time.perf_counter() - start

        start = time.perf_counter()
        rerun = redrive(LOST, SURVIVING, store, starter, operator="bench")
        rerun_seconds = time.perf_counter() - start

        names = {e["name"] for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn) for e in page["executions"]}

    exactly_once = report.started == N and len(names) == N and rerun.started == 0 and rerun.already_done == N
    print(f"{'step':<38} {'records':>8} {'seconds':>8} {'records/s':>10} {'x baseline time':>16}")
    print(f"{'baseline: plain put_item':<38} {N:>8} {baseline:>8.2f} {N / baseline:>10.0f} {1.0:>16.2f}")
    print(f"{'redrive (list + claim + start)':<38} {report.found:>8} {seconds:>8.2f} {N / seconds:>10.0f} {seconds / baseline:>16.2f}")
    print(f"{'  of which: list (GSI query, all pages)':<38} {listed:>8} {listing:>8.2f} {N / listing:>10.0f} {listing / baseline:>16.2f}")
    print(f"{'rerun (all already done)':<38} {rerun.found:>8} {rerun_seconds:>8.2f} {N / rerun_seconds:>10.0f} {rerun_seconds / baseline:>16.2f}")
    print(
        f"claimed {report.claimed}, started {report.started}, executions {len(names)}; rerun started {rerun.started}, "
        f"already done {rerun.already_done}: exactly once {'OK' if exactly_once else 'VIOLATED'}"
    )
