"""Exactly-once redrive of a lost region's unfinished requests in a surviving region.

A task token can be completed only in the region whose execution issued it, so after a
region is lost its waiting executions cannot be resumed: the surviving region reads the
replicated items and starts each request again. Exactly once rests on two idempotent steps:

1. **claim** — one conditional update per item (``attempt`` unchanged, status unfinished,
   home region the lost one, not expired) moves it to REDRIVEN with ``attempt + 1`` and home
   region the surviving one. Of any number of concurrent redrivers exactly one wins.
2. **start** — a new execution named ``f"{request_id}-a{attempt}"`` (the new attempt). A
   second start of that name fails with ExecutionAlreadyExists, which means "already done".
   The input carries this run's id so that even a start racing a still-RUNNING execution with
   otherwise identical input is refused rather than silently deduplicated and miscounted.

A run interrupted between the two steps leaves REDRIVEN items whose execution may not exist;
every run therefore also starts the REDRIVEN items that came from the lost region, so a rerun
finishes them. Expired items (TTL passed, not yet deleted) are counted and never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Protocol

from botocore.exceptions import ClientError

from drkit.core.errors import DrkitError
from drkit.core.tokens import Status, TokenRecord, TokenStore


class RedriveError(DrkitError):
    """A redrive was asked for something it must refuse (same region, unknown region, bad ARN)."""


@dataclass(frozen=True)
class ExecutionRequest:
    """One execution to start in the surviving region."""

    name: str
    input: dict[str, Any]


class Starter(Protocol):
    """Starts an execution; returns True if it started it, False if that name already exists."""

    def __call__(self, request: ExecutionRequest) -> bool: ...


class StepFunctionsStarter:
    """Production starter: StartExecution on the surviving region's workflow."""

    def __init__(self, sfn_client: Any, state_machine_arn: str) -> None:
        self.client = sfn_client
        self.state_machine_arn = state_machine_arn

    def __call__(self, request: ExecutionRequest) -> bool:
        import json

        try:
            self.client.start_execution(stateMachineArn=self.state_machine_arn, name=request.name, input=json.dumps(request.input))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True


class ItemOutcome(str, Enum):
    """What this run did with one request."""

    STARTED = "started"
    ALREADY_DONE = "already_done"
    EXPIRED = "expired"
    WOULD_REDRIVE = "would_redrive"
    ERROR = "error"


@dataclass(frozen=True)
class RedriveReport:
    """Counts of one run. found = started + already_done + expired + errors (+ would_redrive on a dry run)."""

    lost_region: str
    surviving_region: str
    operator: str
    run_id: str
    dry_run: bool
    found: int = 0
    claimed: int = 0
    started: int = 0
    already_done: int = 0
    expired: int = 0
    errors: int = 0
    outcomes: dict[str, ItemOutcome] = field(default_factory=dict)
    error_messages: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when nothing is left for a rerun to do."""
        return self.errors == 0 and not self.dry_run

    def as_dict(self) -> dict[str, Any]:
        """Every field but the per-request outcomes, in declaration order."""
        return {k: v for k, v in asdict(self).items() if k != "outcomes"}


def execution_input(record: TokenRecord, run_id: str) -> dict[str, Any]:
    """The redriven execution's input: what the workflow needs to serve the request again."""
    return {
        "request_id": record.request_id,
        "attempt": record.attempt,
        "model": record.model,
        "path": record.path,
        "input_location": record.input_location,
        "redriven_from": record.redriven_from,
        "redrive_run": run_id,
    }


def candidates(store: TokenStore, lost_region: str, surviving_region: str) -> Iterator[TokenRecord]:
    """Unfinished requests homed in the lost region, then requests already claimed from it
    (REDRIVEN, now homed in the surviving region) whose start may not have happened."""
    yield from store.unfinished(lost_region)
    for record in store.query(surviving_region, Status.REDRIVEN):
        if record.redriven_from == lost_region:
            yield record


# Teams' priorities (drkit.core.spec.Team.priority), in the order their requests are started: after
# losing a region the takeover's capacity is scarce, and the high-priority team's work goes first.
# A record without a priority (not sent through the front door) counts as normal.
PRIORITY_ORDER = ("high", "normal", "low")


def priority_rank(record: TokenRecord) -> int:
    """Sort key: high first, then normal (and none), then low; stable within a priority."""
    return PRIORITY_ORDER.index(record.priority) if record.priority in PRIORITY_ORDER else 1


def _redrive_one(
    record: TokenRecord, store: TokenStore, starter: Starter, lost_region: str, surviving_region: str, operator: str, run_id: str
) -> tuple[ItemOutcome, bool, str]:
    """(outcome, claimed by this run, error message) for one candidate."""
    if record.expired:
        return ItemOutcome.EXPIRED, False, ""
    claimed = False
    if record.status is not Status.REDRIVEN:
        won = store.claim(record, to_region=surviving_region, operator=operator)
        if won is not None:
            record, claimed = won, True
        else:
            # Lost the race, or it changed since the (eventually consistent) query: read it.
            current = store.get(record.request_id)
            if current is None or current.expired:
                return ItemOutcome.EXPIRED, False, ""
            if not (current.status is Status.REDRIVEN and current.redriven_from == lost_region and current.home_region == surviving_region):
                return ItemOutcome.ALREADY_DONE, False, ""
            record = current  # claimed by someone else: make sure its execution exists
    try:
        started = starter(ExecutionRequest(record.execution_name, execution_input(record, run_id)))
    except Exception as exc:  # reported per item; the item stays REDRIVEN and a rerun starts it
        return ItemOutcome.ERROR, claimed, f"{type(exc).__name__}: {exc}"
    return (ItemOutcome.STARTED if started else ItemOutcome.ALREADY_DONE), claimed, ""


def redrive(
    lost_region: str,
    surviving_region: str,
    store: TokenStore,
    starter: Starter,
    *,
    operator: str,
    dry_run: bool = False,
    workers: int = 1,
    run_id: str | None = None,
    on_progress: Callable[[str, ItemOutcome], None] | None = None,
) -> RedriveReport:
    """Redrive every unfinished request of `lost_region` in `surviving_region`, each exactly once.

    Safe to run again, concurrently with another operator, and after an interruption.
    `workers` > 1 claims and starts in a thread pool (boto3 clients are thread-safe);
    `on_progress` is then called from those threads.
    """
    if lost_region == surviving_region:
        raise RedriveError(f"surviving_region: {surviving_region!r} is the lost region; redrive into a different region")
    if not operator:
        raise RedriveError("operator: empty; name who runs the redrive (it is written to every claimed item)")
    if workers < 1:
        raise RedriveError(f"workers: {workers} is not valid; use 1 or more")
    run = run_id or uuid.uuid4().hex
    seen: dict[str, TokenRecord] = {}
    for record in sorted(candidates(store, lost_region, surviving_region), key=priority_rank):
        seen.setdefault(record.request_id, record)
    outcomes: dict[str, ItemOutcome] = {}
    messages: dict[str, str] = {}
    claimed = 0

    def handle(record: TokenRecord) -> tuple[str, ItemOutcome, bool, str]:
        if dry_run:
            outcome, won, message = (ItemOutcome.EXPIRED if record.expired else ItemOutcome.WOULD_REDRIVE), False, ""
        else:
            outcome, won, message = _redrive_one(record, store, starter, lost_region, surviving_region, operator, run)
        if on_progress is not None:
            on_progress(record.request_id, outcome)
        return record.request_id, outcome, won, message

    if workers == 1 or dry_run:
        results = [handle(record) for record in seen.values()]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="redrive") as pool:
            results = list(pool.map(handle, seen.values()))
    for request_id, outcome, won, message in results:
        outcomes[request_id] = outcome
        claimed += won
        if message:
            messages[request_id] = message
    counts = {o: 0 for o in ItemOutcome}
    for outcome in outcomes.values():
        counts[outcome] += 1
    return RedriveReport(
        lost_region=lost_region,
        surviving_region=surviving_region,
        operator=operator,
        run_id=run,
        dry_run=dry_run,
        found=len(seen),
        claimed=claimed,
        started=counts[ItemOutcome.STARTED],
        already_done=counts[ItemOutcome.ALREADY_DONE],
        expired=counts[ItemOutcome.EXPIRED],
        errors=counts[ItemOutcome.ERROR],
        outcomes=outcomes,
        error_messages=messages,
    )


__all__ = [
    "ExecutionRequest",
    "ItemOutcome",
    "RedriveError",
    "RedriveReport",
    "Starter",
    "StepFunctionsStarter",
    "candidates",
    "execution_input",
    "redrive",
]
