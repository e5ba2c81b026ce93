"""Task-token store: one item per request in the global table, changed only by conditional writes.

Why conditional everywhere: the table is a global table and replication is last-writer-wins,
so an unconditional write in one region can silently undo a change made in another. Every
change here is guarded by the item's ``attempt`` and a status condition, and reads treat an
item whose ``expires_at`` has passed as expired (DynamoDB deletes TTL'd items lazily, up to
days later), so an expired request is never completed or redriven.

Lifecycle (``attempt`` starts at 1 and grows by one per redrive)::

    record ──► PENDING ──attach_token──► WAITING ──complete/fail──► SUCCEEDED | FAILED
                  │  └──────────── complete/fail (result before token) ─────┘
                  └─(redrive claim, home_region := surviving)─► REDRIVEN ──attach_token──► WAITING …

A completion that arrives before the token is stored is recorded (status SUCCEEDED/FAILED, no
token); the later ``attach_token`` then answers ALREADY_COMPLETED with the result, so the
workflow finishes instead of waiting for a callback that already happened.

This module is packaged into the completion Lambda: it must import only the standard library
and boto3 (botocore), never pulumi or the rest of drkit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

# The same names as components/table.py (a test asserts they are equal); defined here so the
# Lambda package does not import pulumi.
HASH_KEY = "request_id"
HOME_REGION_INDEX = "by_home_region"
TTL_ATTRIBUTE = "expires_at"

# Step Functions execution names allow 80 characters; redrive names executions
# f"{request_id}-a{attempt}", so a request id keeps room for "-a" and 5 digits.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,72}")  # fullmatch: "$" would accept a trailing newline
MAX_TTL_SECONDS = 400 * 24 * 3600
# The values of drkit.core.routing.Path (a test asserts they are equal); repeated so this module stays stdlib-only.
PATHS = ("realtime", "serverless", "async", "batch")


try:
    from drkit.core.errors import DrkitError as _ErrorBase
except ImportError:  # pragma: no cover - the Lambda package may ship this module alone
    _ErrorBase = Exception  # type: ignore[misc,assignment]


class TokenStoreError(_ErrorBase):  # type: ignore[valid-type,misc]
    """A token-store call was given a value it cannot store, or found a conflicting record."""


class Status(str, Enum):
    """What the table says about a request. EXPIRED is never written; see `TokenRecord.expired`."""

    PENDING = "PENDING"
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REDRIVEN = "REDRIVEN"


UNFINISHED: tuple[Status, ...] = (Status.PENDING, Status.WAITING)
"""Statuses a lost region's requests can be redriven from."""
FINISHED: tuple[Status, ...] = (Status.SUCCEEDED, Status.FAILED)


class AttachOutcome(str, Enum):
    """What `attach_token` did; only ATTACHED means the workflow should wait for a callback."""

    ATTACHED = "attached"
    ALREADY_ATTACHED = "already_attached"
    ALREADY_COMPLETED = "already_completed"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


class CompleteOutcome(str, Enum):
    """What `complete`/`fail` did; the token (if any) goes to SendTaskSuccess/SendTaskFailure."""

    COMPLETED = "completed"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TokenRecord:
    """One request's item, as read at `read_at` (epoch seconds)."""

    request_id: str
    home_region: str
    status: Status
    attempt: int
    expires_at: int
    path: str = ""
    model: str = ""
    input_location: str = ""
    task_token: str | None = None
    output_location: str | None = None
    error: str | None = None
    cause: str | None = None
    redriven_from: str | None = None
    redriven_to: str | None = None
    redriven_by: str | None = None
    team: str = ""
    """The front-door team that sent the request ("" when recorded without one)."""
    priority: str = ""
    """That team's priority (high | normal | low): redrive starts high first."""
    read_at: float = 0.0

    @property
    def expired(self) -> bool:
        """True once the TTL has passed, even if DynamoDB has not deleted the item yet."""
        return self.expires_at < self.read_at

    @property
    def execution_name(self) -> str:
        """The Step Functions execution name of this attempt: unique per request and attempt."""
        return f"{self.request_id}-a{self.attempt}"


@dataclass(frozen=True)
class AttachResult:
    outcome: AttachOutcome
    record: TokenRecord | None


@dataclass(frozen=True)
class CompleteResult:
    """`task_token` is set when the caller should send SendTaskSuccess/Failure with it."""

    outcome: CompleteOutcome
    task_token: str | None
    record: TokenRecord | None


# --- item (de)serialisation: pure -------------------------------------------------------------

_STRING_FIELDS = (
    "home_region", "path", "model", "input_location", "task_token", "output_location",
    "error", "cause", "redriven_from", "redriven_to", "redriven_by", "team", "priority",
)  # fmt: skip


def record_from_item(item: Mapping[str, Mapping[str, str]], now: float) -> TokenRecord:
    """A low-level DynamoDB item (``{"S": ...}``/``{"N": ...}``) as a `TokenRecord` read at `now`."""
    strings = {name: item[name]["S"] for name in _STRING_FIELDS if name in item}
    return TokenRecord(
        request_id=item[HASH_KEY]["S"],
        status=Status(item["status"]["S"]),
        attempt=int(item["attempt"]["N"]),
        expires_at=int(item[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in item else 2**62,
        read_at=now,
        **{"home_region": "", **strings},
    )


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def validate_request_id(request_id: str) -> None:
    if not isinstance(request_id, str) or not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise TokenStoreError(
            f"request_id: {request_id!r} is not valid; use 1-72 characters from A-Z a-z 0-9 _ - "
            "(it names Step Functions executions, which allow 80)"
        )


# --- the store: side effects ------------------------------------------------------------------


class TokenStore:
    """Conditional reads and writes of request items in one region's copy of the global table."""

    def __init__(self, table_name: str, dynamodb_client: Any, *, clock: Callable[[], float] = time.time) -> None:
        self.table_name = table_name
        self.client = dynamodb_client
        self.clock = clock

    # reads

    def get(self, request_id: str) -> TokenRecord | None:
        """The request's item (strongly consistent in this region), or None."""
        response = self.client.get_item(TableName=self.table_name, Key={HASH_KEY: _s(request_id)}, ConsistentRead=True)
        item = response.get("Item")
        return record_from_item(item, self.clock()) if item else None

    def query(self, home_region: str, status: Status, *, page_size: int | None = None) -> Iterator[TokenRecord]:
        """Every item of `home_region` in `status`, through the GSI, all pages (eventually consistent)."""
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            PaginationConfig={"PageSize": page_size} if page_size else {},
            TableName=self.table_name,
            IndexName=HOME_REGION_INDEX,
            KeyConditionExpression="home_region = :r AND #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": _s(home_region), ":s": _s(status.value)},
        )
        for page in pages:
            now = self.clock()
            for item in page.get("Items", []):
                yield record_from_item(item, now)

    def unfinished(self, home_region: str, *, page_size: int | None = None) -> Iterator[TokenRecord]:
        """PENDING and WAITING requests whose home is `home_region`, expired ones included (check `.expired`)."""
        for status in UNFINISHED:
            yield from self.query(home_region, status, page_size=page_size)

    # writes

    def record(
        self,
        request_id: str,
        home_region: str,
        path: str,
        model: str,
        input_location: str,
        ttl_seconds: int,
        *,
        team: str = "",
        priority: str = "",
    ) -> TokenRecord:
        """Create the request's item (PENDING, attempt 1). Repeating the same call returns the existing item;
        the same id from another team, or for another path/model/input, is an error."""
        validate_request_id(request_id)
        if not isinstance(ttl_seconds, int) or not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise TokenStoreError(f"ttl_seconds: {ttl_seconds!r} is not valid; use 1..{MAX_TTL_SECONDS} (400 days)")
        path_value = getattr(path, "value", path)
        if path_value not in PATHS:
            raise TokenStoreError(f"path: {path_value!r} is not valid; use one of {', '.join(PATHS)}")
        now = self.clock()
        item = {
            HASH_KEY: _s(request_id),
            "home_region": _s(home_region),
            "status": _s(Status.PENDING.value),
            "path": _s(path_value),
            "model": _s(model),
            "input_location": _s(input_location),
            "attempt": _n(1),
            TTL_ATTRIBUTE: _n(int(now) + ttl_seconds),
            **({"team": _s(team)} if team else {}),
            **({"priority": _s(priority)} if priority else {}),
        }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": HASH_KEY},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            existing = self.get(request_id)
            wanted = (path_value, model, input_location, team)
            if existing is None or (existing.path, existing.model, existing.input_location, existing.team) != wanted:
                raise TokenStoreError(
                    f"request_id: {request_id!r} is already recorded with different team/path/model/input_location; "
                    "request ids must be unique per request"
                ) from None
            return existing
        return record_from_item(item, now)

    def attach_token(self, request_id: str, task_token: str, *, attempt: int = 1, path: str | None = None) -> AttachResult:
        """Store this attempt's task token (PENDING/REDRIVEN → WAITING), and the path that waits
        for it if given (a serverless request that fell back to async is then redriven as async).

        Anything but ATTACHED means: do not wait for a callback. ALREADY_COMPLETED carries the
        recorded result (the completion beat the token); SUPERSEDED means a redrive moved the
        request to a newer attempt.
        """
        now = int(self.clock())
        path_value = getattr(path, "value", path)
        if path_value is not None and path_value not in PATHS:
            raise TokenStoreError(f"path: {path_value!r} is not valid; use one of {', '.join(PATHS)}")
        names = {"#s": "status", "#e": TTL_ATTRIBUTE, **({"#p": "path"} if path_value else {})}
        values = {
            ":t": _s(task_token),
            ":a": _n(attempt),
            ":waiting": _s(Status.WAITING.value),
            ":pending": _s(Status.PENDING.value),
            ":redriven": _s(Status.REDRIVEN.value),
            ":now": _n(now),
            **({":path": _s(path_value)} if path_value else {}),
        }
        written = self._update_if(
            request_id,
            update="SET task_token = :t, #s = :waiting" + (", #p = :path" if path_value else ""),
            condition="attempt = :a AND #s IN (:pending, :redriven) AND #e >= :now",
            names=names,
            values=values,
            return_new=True,
        )
        if written is None:
            current = self.get(request_id)
            return AttachResult(attach_outcome(current, task_token, attempt), current)
        return AttachResult(AttachOutcome.ATTACHED, record_from_item(written, now))

    def complete(self, request_id: str, output_location: str, *, region: str | None = None) -> CompleteResult:
        """Record success. Returns the token to send SendTaskSuccess with (None if none is stored yet)."""
        return self._finish(request_id, Status.SUCCEEDED, {"output_location": output_location}, region)

    def fail(self, request_id: str, error: str, cause: str, *, region: str | None = None) -> CompleteResult:
        """Record failure. Returns the token to send SendTaskFailure with (None if none is stored yet)."""
        return self._finish(request_id, Status.FAILED, {"error": error, "cause": cause}, region)

    def _finish(self, request_id: str, status: Status, fields: Mapping[str, str], region: str | None) -> CompleteResult:
        """Read, then write conditional on the attempt read; re-read and retry (3 tries) if a concurrent change won.

        ReturnValues=ALL_NEW gives the token present at the moment of the write, so a token
        attached between our read and our write is not missed.
        """
        for _ in range(3):
            current = self.get(request_id)
            early = finish_outcome(current, status, fields, region)
            if early is not None:
                token = current.task_token if current and early is CompleteOutcome.DUPLICATE else None
                return CompleteResult(early, token, current)
            assert current is not None
            names = {"#s": "status", "#e": TTL_ATTRIBUTE, **{f"#{k}": k for k in fields}}
            values = {
                ":new": _s(status.value),
                ":a": _n(current.attempt),
                ":pending": _s(Status.PENDING.value),
                ":waiting": _s(Status.WAITING.value),
                ":redriven": _s(Status.REDRIVEN.value),
                ":r": _s(current.home_region),
                ":now": _n(int(self.clock())),
                **{f":{k}": _s(v) for k, v in fields.items()},
            }
            sets = ", ".join(["#s = :new", *(f"#{k} = :{k}" for k in fields)])
            written = self._update_if(
                request_id,
                update=f"SET {sets}",
                condition="attempt = :a AND home_region = :r AND #s IN (:pending, :waiting, :redriven) AND #e >= :now",
                names=names,
                values=values,
                return_new=True,
            )
            if written is None:
                continue
            record = record_from_item(written, self.clock())
            return CompleteResult(CompleteOutcome.COMPLETED, record.task_token, record)
        current = self.get(request_id)
        return CompleteResult(finish_outcome(current, status, fields, region) or CompleteOutcome.CONFLICT, None, current)

    def claim(self, record: TokenRecord, *, to_region: str, operator: str) -> TokenRecord | None:
        """Take `record` for redrive in `to_region`: one conditional update, so exactly one claimer wins.

        The winner's item becomes REDRIVEN with attempt+1 and home_region `to_region` (the new
        execution's tokens live there). Returns the new item, or None if someone else won, it
        finished, or it expired.
        """
        now = int(self.clock())
        written = self._update_if(
            record.request_id,
            update=(
                "SET #s = :redriven, attempt = :next, home_region = :to, redriven_from = :from, "
                "redriven_to = :to, redriven_by = :op REMOVE task_token"
            ),
            condition="attempt = :a AND home_region = :from AND #s IN (:pending, :waiting) AND #e >= :now",
            names={"#s": "status", "#e": TTL_ATTRIBUTE},
            values={
                ":redriven": _s(Status.REDRIVEN.value),
                ":pending": _s(Status.PENDING.value),
                ":waiting": _s(Status.WAITING.value),
                ":a": _n(record.attempt),
                ":next": _n(record.attempt + 1),
                ":from": _s(record.home_region),
                ":to": _s(to_region),
                ":op": _s(operator),
                ":now": _n(now),
            },
            return_new=False,
        )
        if written is None:
            return None
        # The condition held, so the item is exactly this; no need to have DynamoDB send it back.
        return replace(
            record,
            status=Status.REDRIVEN,
            attempt=record.attempt + 1,
            home_region=to_region,
            redriven_from=record.home_region,
            redriven_to=to_region,
            redriven_by=operator,
            task_token=None,
            read_at=now,
        )

    def _update_if(
        self,
        request_id: str,
        *,
        update: str,
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Mapping[str, str]],
        return_new: bool,
    ) -> Mapping[str, Any] | None:
        """One conditional UpdateItem on the request's item: None when the condition did not hold,
        else the item as written (ALL_NEW) when `return_new`, or an empty mapping when not asked for."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={HASH_KEY: _s(request_id)},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **({"ReturnValues": "ALL_NEW"} if return_new else {}),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return None
        return response["Attributes"] if return_new else {}


def attach_token_task_parameters(table_name: str, path: str) -> dict[str, Any]:
    """Parameters of the workflow's `arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken`
    task on `path`: the same conditional update as `TokenStore.attach_token(..., path=path)`.

    Not putItem: a put would overwrite a result that arrived before the token. The execution
    input carries `request_id` and `attempt` (a number). ASL has no clock, so the expiry guard is
    left to the completion side, which refuses expired items. A failed condition surfaces as
    `DynamoDb.ConditionalCheckFailedException`: catch it and GetItem to read the recorded result.
    """
    path_value = getattr(path, "value", path)
    if path_value not in PATHS:
        raise TokenStoreError(f"path: {path_value!r} is not valid; use one of {', '.join(PATHS)}")
    return {
        "TableName": table_name,
        "Key": {HASH_KEY: {"S.$": "$.request_id"}},
        "UpdateExpression": "SET task_token = :t, #s = :waiting, #p = :path",
        "ConditionExpression": "attempt = :a AND #s IN (:pending, :redriven)",
        "ExpressionAttributeNames": {"#s": "status", "#p": "path"},
        "ExpressionAttributeValues": {
            ":t": {"S.$": "$$.Task.Token"},
            ":a": {"N.$": "States.Format('{}', $.attempt)"},
            ":waiting": {"S": Status.WAITING.value},
            ":pending": {"S": Status.PENDING.value},
            ":redriven": {"S": Status.REDRIVEN.value},
            ":path": {"S": path_value},
        },
    }


# --- decisions: pure --------------------------------------------------------------------------


def attach_outcome(current: TokenRecord | None, task_token: str, attempt: int) -> AttachOutcome:
    """Why a conditional attach did not apply, from the item as it is now."""
    if current is None:
        return AttachOutcome.UNKNOWN
    if current.attempt != attempt:
        return AttachOutcome.SUPERSEDED
    if current.expired:
        return AttachOutcome.EXPIRED
    if current.status in FINISHED:
        return AttachOutcome.ALREADY_COMPLETED
    if current.status is Status.WAITING and current.task_token == task_token:
        return AttachOutcome.ALREADY_ATTACHED
    return AttachOutcome.SUPERSEDED


def finish_outcome(
    current: TokenRecord | None, status: Status, fields: Mapping[str, str], region: str | None
) -> CompleteOutcome | None:
    """None when the result should be written; otherwise why not.

    A result reported from a region that is no longer the request's home belongs to an attempt
    a redrive superseded: it must not complete the new attempt's token. With `region` None the
    home-region guard is skipped (the completion handler always passes its region).
    """
    if current is None:
        return CompleteOutcome.UNKNOWN
    if current.expired:
        return CompleteOutcome.EXPIRED
    if current.status in FINISHED:
        same = current.status is status and all(getattr(current, k) == v for k, v in fields.items())
        return CompleteOutcome.DUPLICATE if same else CompleteOutcome.CONFLICT
    if region is not None and current.home_region != region:
        return CompleteOutcome.SUPERSEDED
    return None


__all__ = [
    "FINISHED",
    "HASH_KEY",
    "HOME_REGION_INDEX",
    "PATHS",
    "TTL_ATTRIBUTE",
    "UNFINISHED",
    "attach_token_task_parameters",
    "AttachOutcome",
    "AttachResult",
    "CompleteOutcome",
    "CompleteResult",
    "Status",
    "TokenRecord",
    "TokenStore",
    "TokenStoreError",
    "attach_outcome",
    "finish_outcome",
    "record_from_item",
    "validate_request_id",
]
