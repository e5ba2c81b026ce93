"""In-memory AWS clients for the front door in the simulated account.

The drill's synthetic traffic goes through the real router (components/functions/router);
these are the boto3 clients it is given, answering from the simulation instead of
moto's HTTP emulation (which serves about 80 routed requests a second — a drill sends
tens of thousands). Each implements only the calls and expressions drkit's own code
makes, and refuses anything else by name, so a change in the router shows up as a
failing drill instead of a silently wrong answer. `tests/test_drill_frontdoor.py` runs
the same breaker, budget, token and health calls against these and against moto and
compares the results.

Every client belongs to one region; when `down()` says the region is out, each call raises
botocore's `EndpointConnectionError`, as boto3 does when a region stops answering.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from drkit.core.tokens import HASH_KEY

_ADD = re.compile(r"^([A-Za-z_#][\w#]*) (:\w+)$")
_SET = re.compile(r"^([A-Za-z_#][\w#]*) = (?:if_not_exists\(\1, (:\w+)\)|(:\w+))$")


def client_error(code: str, operation: str, message: str = "", status: int = 400) -> ClientError:
    """A ClientError shaped like botocore's for `code`."""
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class UnsupportedCallError(NotImplementedError):
    """drkit's code made a call or used an expression the double does not implement."""


@dataclass
class _Regional:
    region: str
    down: Callable[[], bool] = lambda: False

    def _reach(self, operation: str) -> None:
        if self.down():
            raise EndpointConnectionError(endpoint_url=f"https://{operation}.{self.region}.amazonaws.com/")


@dataclass
class MemoryDynamo(_Regional):
    """One region's replica of the token table: the router's breakers, budgets and token records.

    Items are copied one level deep on the way in and out; attribute values ({"S": ...}) are
    replaced, never changed in place, so callers never alias what is stored.

    Region-local (no replication): breakers and budget counters are keyed by region, and the
    drill's exactly-once accounting of in-flight requests lives in `fidelity.ReplicatedTable`.
    """

    table_name: str = ""
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _table(self, name: str, operation: str) -> None:
        self._reach(operation)
        if name != self.table_name:
            raise client_error("ResourceNotFoundException", operation, f"Requested resource not found: Table: {name} not found")

    def describe_table(self, *, TableName: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        self._table(TableName, "DescribeTable")
        return {"Table": {"TableName": TableName, "TableStatus": "ACTIVE", "ItemCount": len(self.items)}}

    def get_item(self, *, TableName: str, Key: Mapping[str, Any], **_: Any) -> dict[str, Any]:  # noqa: N803
        self._table(TableName, "GetItem")
        item = self.items.get(Key[HASH_KEY]["S"])
        return {"Item": dict(item)} if item else {}

    def batch_get_item(self, *, RequestItems: Mapping[str, Any]) -> dict[str, Any]:  # noqa: N803
        responses: dict[str, list[dict[str, Any]]] = {}
        for table, request in RequestItems.items():
            self._table(table, "BatchGetItem")
            wanted = [p.strip() for p in request.get("ProjectionExpression", "").split(",") if p.strip()]
            found = [self.items[k[HASH_KEY]["S"]] for k in request["Keys"] if k[HASH_KEY]["S"] in self.items]
            responses[table] = [{a: v for a, v in i.items() if not wanted or a in wanted} for i in found]
        return {"Responses": responses, "UnprocessedKeys": {}}

    def put_item(
        self,
        *,
        TableName: str,  # noqa: N803
        Item: Mapping[str, Any],  # noqa: N803
        ConditionExpression: str | None = None,  # noqa: N803
        ExpressionAttributeNames: Mapping[str, str] | None = None,  # noqa: N803
        ExpressionAttributeValues: Mapping[str, Any] | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        self._table(TableName, "PutItem")
        key = Item[HASH_KEY]["S"]
        if not self._holds(
            ConditionExpression, self.items.get(key), ExpressionAttributeNames or {}, ExpressionAttributeValues or {}
        ):
            raise client_error("ConditionalCheckFailedException", "PutItem", "The conditional request failed")
        self.items[key] = dict(Item)
        return {}

    @staticmethod
    def _holds(
        expression: str | None, item: Mapping[str, Any] | None, names: Mapping[str, str], values: Mapping[str, Any]
    ) -> bool:
        """The two conditions drkit writes with: create-only, and compare-and-set on a version."""
        if expression is None:
            return True
        if match := re.fullmatch(r"attribute_not_exists\((#?\w+)\)", expression):
            return item is None or names.get(match.group(1), match.group(1)) not in item
        if match := re.fullmatch(r"(#?\w+) = (:\w+)", expression):
            attribute = names.get(match.group(1), match.group(1))
            return item is not None and item.get(attribute) == values[match.group(2)]
        raise UnsupportedCallError(f"PutItem ConditionExpression {expression!r} is not implemented by the drill's table")

    def update_item(
        self,
        *,
        TableName: str,  # noqa: N803
        Key: Mapping[str, Any],  # noqa: N803
        UpdateExpression: str,  # noqa: N803
        ExpressionAttributeNames: Mapping[str, str] | None = None,  # noqa: N803
        ExpressionAttributeValues: Mapping[str, Any] | None = None,  # noqa: N803
        ReturnValues: str = "NONE",  # noqa: N803
        **rest: Any,
    ) -> dict[str, Any]:
        """ADD of numbers and SET (plain or if_not_exists), unconditional: the budget counters' update."""
        self._table(TableName, "UpdateItem")
        if rest:
            raise UnsupportedCallError(f"UpdateItem with {sorted(rest)} is not implemented by the drill's table")
        names, values = ExpressionAttributeNames or {}, ExpressionAttributeValues or {}
        key = Key[HASH_KEY]["S"]
        item = dict(self.items.get(key) or {HASH_KEY: {"S": key}})
        changed: set[str] = set()
        head, *sections = re.split(r"\b(ADD|SET|REMOVE|DELETE) ", UpdateExpression.strip())
        if head.strip() or not sections:
            raise UnsupportedCallError(f"UpdateExpression {UpdateExpression!r} does not start with ADD or SET")
        for action, body in zip(sections[::2], sections[1::2], strict=True):
            for clause in (c.strip() for c in re.split(r",(?![^()]*\))", body)):  # commas outside if_not_exists(...)
                if action == "ADD" and (m := _ADD.match(clause)):
                    attribute, value = names.get(m.group(1), m.group(1)), values[m.group(2)]
                    total = float(item.get(attribute, {"N": "0"})["N"]) + float(value["N"])
                    item[attribute] = {"N": _number(total)}
                elif action == "SET" and (m := _SET.match(clause)):
                    attribute = names.get(m.group(1), m.group(1))
                    if m.group(3) or attribute not in item:
                        item[attribute] = values[m.group(3) or m.group(2)]
                else:
                    raise UnsupportedCallError(
                        f"UpdateExpression clause {action} {clause!r} is not implemented by the drill's table"
                    )
                changed.add(attribute)
        self.items[key] = item
        if ReturnValues == "UPDATED_NEW":
            return {"Attributes": {a: item[a] for a in changed}}
        if ReturnValues == "ALL_NEW":
            return {"Attributes": dict(item)}
        return {}


def _number(value: float) -> str:
    """A DynamoDB number's string: integral values without a fraction, others as given."""
    return str(int(value)) if value == int(value) else repr(value)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


# What InvokeEndpoint answers, decided by the simulation: served, still launching, or failing.
SERVED, NOT_READY, FAILING = "served", "not_ready", "failing"


@dataclass
class SimSageMakerRuntime(_Regional):
    """InvokeEndpoint answered by the simulation's capacity model.

    `invoke(endpoint, body)` returns SERVED, NOT_READY (no warm capacity yet: a serverless
    cold start or an instance launch under way; SageMaker answers ModelNotReadyException)
    or FAILING (the endpoint is broken: ServiceUnavailable).
    """

    invoke: Callable[[str, bytes], str] = lambda _e, _b: SERVED
    calls: Counter = field(default_factory=Counter)

    def invoke_endpoint(self, *, EndpointName: str, Body: bytes, ContentType: str = "", **_: Any) -> dict[str, Any]:  # noqa: N803
        self._reach("runtime.sagemaker")
        outcome = self.invoke(EndpointName, Body)
        self.calls[(EndpointName, outcome)] += 1
        if outcome == NOT_READY:
            raise client_error("ModelNotReadyException", "InvokeEndpoint", f"Endpoint {EndpointName} has no capacity yet", 429)
        if outcome == FAILING:
            raise client_error("ServiceUnavailable", "InvokeEndpoint", f"Endpoint {EndpointName} is failing", 503)
        return {"Body": _Body(b'{"score": 0.5}'), "ContentType": "application/json"}


@dataclass
class SimSageMaker(_Regional):
    """DescribeEndpoint answered by the simulation: its status, or SageMaker's error for a missing endpoint."""

    status: Callable[[str], str | None] = lambda _e: "InService"

    def describe_endpoint(self, *, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        self._reach("api.sagemaker")
        status = self.status(EndpointName)
        if status is None:
            raise client_error("ValidationException", "DescribeEndpoint", f'Could not find endpoint "{EndpointName}".')
        return {"EndpointName": EndpointName, "EndpointStatus": status}


@dataclass
class SimStepFunctions(_Regional):
    """StartExecution: hands the execution's input to the simulation (the workflow starts async capacity)."""

    started: Callable[[Mapping[str, Any]], None] = lambda _i: None
    names: set[str] = field(default_factory=set)

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:  # noqa: N803, A002
        self._reach("states")
        if name in self.names:
            raise client_error("ExecutionAlreadyExists", "StartExecution", f"Execution Already Exists: '{name}'")
        self.names.add(name)
        self.started(json.loads(input))
        return {"executionArn": f"{stateMachineArn.replace(':stateMachine:', ':execution:')}:{name}"}


@dataclass
class SimS3(_Regional):
    """PutObject only (the audit trail and async inputs): keeps each object's key and body, and
    honours If-None-Match: * as S3 does (412 PreconditionFailed when the key exists)."""

    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def put_object(
        self, *, Bucket: str, Key: str, Body: bytes | None = None, IfNoneMatch: str | None = None, **_: Any  # noqa: N803
    ) -> dict[str, Any]:
        self._reach("s3")
        if IfNoneMatch == "*" and (Bucket, Key) in self.objects:
            raise client_error("PreconditionFailed", "PutObject", "At least one of the pre-conditions you specified did not hold", 412)
        self.objects[(Bucket, Key)] = Body or b""
        return {}


@dataclass
class MetricLog:
    """The router's log group, for its embedded-metric-format lines: sums each metric by name,
    reading the names from the line's own `_aws` directive as CloudWatch does."""

    totals: Counter = field(default_factory=Counter)

    def __call__(self, line: str) -> None:
        data = json.loads(line)
        for directive in data["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                self.totals[metric["Name"]] += data[metric["Name"]]
