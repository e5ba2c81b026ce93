"""Exactly-once redrive on moto: DynamoDB for the (replicated) token table, Step Functions for starts.

moto does not replicate, so "the surviving region reads its replica" is simulated by reading the
one table. Executions are real moto executions of a Pass state machine in the surviving region,
so ExecutionAlreadyExists is moto's own behaviour.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drkit.core.redrive import ExecutionRequest, ItemOutcome, RedriveError, RedriveReport, StepFunctionsStarter, redrive
from drkit.core.routing import Path as RoutePath
from drkit.core.tokens import CompleteOutcome, Status, TokenRecord, TokenStore
from tests.conftest import create_token_table
from tests.test_tokens import T0, TABLE, FakeClock, unique

LOST, SURVIVING, OTHER = "us-east-1", "us-west-2", "eu-west-1"
TABLE_REGION = LOST  # moto: one table stands for the global table and its replicas


class Serialized:
    """A boto3 client whose calls run one at a time, process-wide.

    DynamoDB applies each conditional write atomically and Step Functions refuses a duplicate
    execution name atomically; moto checks and writes in Python without a lock, so two threads
    could interleave inside one call. Serialising calls restores the service's atomicity while
    calls from different threads still interleave with each other, which is the race under test.
    """

    def __init__(self, client: Any, lock: FairLock) -> None:
        self._client = client
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name == "get_paginator":
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


class FairLock:
    """A first-come-first-served lock, so two operators' calls alternate instead of one starving the other."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turn:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._turn.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc: object) -> None:
        with self._turn:
            self._serving += 1
            self._turn.notify_all()


LOCK = FairLock()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """One moto for the module (starting moto costs ~0.25 s); each test gets its own table and workflow."""
    with mock_aws():
        yield


def pass_workflow() -> str:
    """A trivial workflow in the surviving region; its own name per test, so executions are per test."""
    return boto3.client("stepfunctions", region_name=SURVIVING).create_state_machine(
        name=unique("drkit-test-workflow"),
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]


@pytest.fixture
def env(aws: None, clock: FakeClock) -> dict[str, Any]:
    table = unique(TABLE)
    create_token_table(boto3.client("dynamodb", region_name=TABLE_REGION), table)
    return {"store": make_store(clock, table), "arn": pass_workflow(), "clock": clock, "table": table}


def make_store(clock: FakeClock, table: str) -> TokenStore:
    """Each caller (thread, operator) gets its own client, as on separate machines."""
    return TokenStore(table, Serialized(boto3.client("dynamodb", region_name=TABLE_REGION), LOCK), clock=clock)


def make_starter(arn: str) -> StepFunctionsStarter:
    return StepFunctionsStarter(Serialized(boto3.client("stepfunctions", region_name=SURVIVING), LOCK), arn)


def executions(arn: str) -> list[dict[str, Any]]:
    client = boto3.client("stepfunctions", region_name=SURVIVING)
    pages = client.get_paginator("list_executions").paginate(stateMachineArn=arn)
    return [e for page in pages for e in page["executions"]]


def seed(store: TokenStore, n: int, home: str = LOST, prefix: str = "req", ttl: int = 3600) -> list[str]:
    """n unfinished requests homed in `home`: even ones WAITING with a token, odd ones PENDING."""
    ids = [f"{prefix}-{i:05d}" for i in range(n)]
    for i, request_id in enumerate(ids):
        store.record(request_id, home, RoutePath.ASYNC, "fraud", f"s3://in/{request_id}.json", ttl)
        if i % 2 == 0:
            store.attach_token(request_id, f"token-{home}-{request_id}")
    return ids


def assert_exactly_once(store: TokenStore, arn: str, ids: list[str]) -> None:
    """Every request redriven once: one execution per request, named for attempt 2; none lost."""
    names = sorted(e["name"] for e in executions(arn))
    assert names == sorted(f"{rid}-a2" for rid in ids)
    for request_id in ids:
        item = store.get(request_id)
        assert item is not None
        assert (item.status, item.attempt, item.home_region, item.redriven_from, item.task_token) == (
            Status.REDRIVEN, 2, SURVIVING, LOST, None,
        ), request_id  # fmt: skip


# --- the happy path ---------------------------------------------------------------------------


def test_the_high_priority_teams_requests_are_started_first(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    teams = [("batchers", "low"), ("fraud-ops", "high"), ("", ""), ("analysts", "normal")] * 3
    for i, (team, priority) in enumerate(teams):
        store.record(f"p-{i:02d}", LOST, RoutePath.ASYNC, "fraud", f"s3://in/p-{i}", 3600, team=team, priority=priority)
    started: list[str] = []
    real = make_starter(arn)

    def starter(request: Any) -> bool:
        started.append(request.name)
        return real(request)

    redrive(LOST, SURVIVING, store, starter, operator="alice")
    order = [teams[int(name[2:4])][1] or "normal" for name in started]
    assert order == ["high"] * 3 + ["normal"] * 6 + ["low"] * 3


def test_redrive_starts_every_unfinished_request_once(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    ids = seed(store, 30)
    seed(store, 3, home=OTHER, prefix="other")
    done = seed(store, 2, prefix="done")
    for request_id in done:
        store.complete(request_id, "s3://out/x")

    report = redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice")

    assert (report.found, report.claimed, report.started, report.already_done, report.expired, report.errors) == (30, 30, 30, 0, 0, 0)
    assert_exactly_once(store, arn, ids)
    assert store.get(ids[0]).redriven_by == "alice"  # type: ignore[union-attr]
    assert [store.get(r).status for r in done] == [Status.SUCCEEDED, Status.SUCCEEDED]  # type: ignore[union-attr]
    assert {store.get(f"other-{i:05d}").home_region for i in range(3)} == {OTHER}  # type: ignore[union-attr]


def test_the_new_execution_gets_what_it_needs_to_serve_the_request(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    seed(store, 1)
    report = redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice", run_id="run-1")
    client = boto3.client("stepfunctions", region_name=SURVIVING)
    (execution,) = executions(arn)
    payload = json.loads(client.describe_execution(executionArn=execution["executionArn"])["input"])
    assert payload == {
        "request_id": "req-00000",
        "attempt": 2,
        "model": "fraud",
        "path": "async",
        "input_location": "s3://in/req-00000.json",
        "redriven_from": LOST,
        "redrive_run": "run-1",
    }
    assert report.outcomes == {"req-00000": ItemOutcome.STARTED}


def test_expired_requests_are_counted_and_never_redriven(env: dict[str, Any]) -> None:
    store, arn, clock = env["store"], env["arn"], env["clock"]
    short = seed(store, 4, prefix="short", ttl=60)
    long = seed(store, 6, prefix="long", ttl=3600)
    clock.now = T0 + 61

    report = redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice")

    assert (report.found, report.expired, report.started) == (10, 4, 6)
    assert sorted(e["name"] for e in executions(arn)) == sorted(f"{r}-a2" for r in long)
    assert {store.get(r).status for r in short} <= {Status.PENDING, Status.WAITING}  # type: ignore[union-attr]


def test_dry_run_writes_nothing(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    ids = seed(store, 5)
    report = redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice", dry_run=True)
    assert (report.found, report.claimed, report.started) == (5, 0, 0)
    assert set(report.outcomes.values()) == {ItemOutcome.WOULD_REDRIVE}
    assert executions(arn) == []
    assert {store.get(r).attempt for r in ids} == {1}  # type: ignore[union-attr]


# --- idempotence ------------------------------------------------------------------------------


def test_a_second_run_finds_them_done_and_starts_nothing(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    ids = seed(store, 20)
    redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice")

    again = redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice")

    assert (again.found, again.claimed, again.started, again.already_done) == (20, 0, 0, 20)
    assert_exactly_once(store, arn, ids)


class SnapshotThenWait(TokenStore):
    """Lists the lost region's requests, then waits for the other operator to have listed them too,
    so both race on the same stale list instead of one finishing before the other has read."""

    def __init__(self, clock: FakeClock, barrier: threading.Barrier, table: str) -> None:
        super().__init__(table, Serialized(boto3.client("dynamodb", region_name=TABLE_REGION), LOCK), clock=clock)
        self.barrier = barrier

    def query(self, home_region: str, status: Status, *, page_size: int | None = None) -> Iterator[TokenRecord]:
        records = list(super().query(home_region, status, page_size=page_size))
        if status is Status.REDRIVEN:  # redrive's last listing call
            self.barrier.wait()
        yield from records


@pytest.mark.parametrize(("alice_workers", "bob_workers"), [(1, 1), (1, 4)])
def test_two_concurrent_redrivers_start_each_request_exactly_once(env: dict[str, Any], alice_workers: int, bob_workers: int) -> None:
    """With one worker each the fair lock makes the two operators alternate call by call on the
    same list, so every claim and every start is contested; with 1 vs 4 workers they interleave
    irregularly. Either way: one claim and one execution per request."""
    store, arn, clock = env["store"], env["arn"], env["clock"]
    ids = seed(store, 40)
    barrier = threading.Barrier(2)
    reports: dict[str, RedriveReport] = {}
    failures: list[BaseException] = []

    def operator(name: str, workers: int) -> None:
        try:
            own_store, own_starter = SnapshotThenWait(clock, barrier, env["table"]), make_starter(arn)  # own boto3 clients
            reports[name] = redrive(LOST, SURVIVING, own_store, own_starter, operator=name, workers=workers)
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            failures.append(exc)

    threads = [
        threading.Thread(target=operator, args=("alice", alice_workers)),
        threading.Thread(target=operator, args=("bob", bob_workers)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    alice, bob = reports["alice"], reports["bob"]
    assert alice.found == bob.found == 40  # both saw every request as unfinished
    assert alice.claimed + bob.claimed == 40
    assert alice.started + bob.started == 40
    assert alice.already_done + bob.already_done == 40
    assert alice.errors == bob.errors == 0
    assert_exactly_once(store, arn, ids)
    assert {store.get(r).redriven_by for r in ids} <= {"alice", "bob"}  # type: ignore[union-attr]


def test_a_redriver_with_a_stale_list_claims_nothing_someone_else_claimed(env: dict[str, Any]) -> None:
    """Deterministic form of the race: bob listed the requests before alice redrove them all."""
    store, arn, clock = env["store"], env["arn"], env["clock"]
    ids = seed(store, 8)
    stale = list(store.unfinished(LOST))
    redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice")

    class Stale(TokenStore):
        def unfinished(self, home_region: str, *, page_size: int | None = None) -> Iterator[TokenRecord]:
            yield from stale

        def query(self, home_region: str, status: Status, *, page_size: int | None = None) -> Iterator[TokenRecord]:
            return iter(())

    bob = redrive(LOST, SURVIVING, Stale(store.table_name, store.client, clock=clock), make_starter(arn), operator="bob")

    assert (bob.found, bob.claimed, bob.started, bob.already_done) == (8, 0, 0, 8)
    assert_exactly_once(store, arn, ids)
    assert {store.get(r).redriven_by for r in ids} == {"alice"}  # type: ignore[union-attr]


class InterruptAfter:
    """A starter that dies (like a killed process) on its (n+1)th call."""

    def __init__(self, inner: StepFunctionsStarter, n: int) -> None:
        self.inner, self.n, self.calls = inner, n, 0

    def __call__(self, request: ExecutionRequest) -> bool:
        self.calls += 1
        if self.calls > self.n:
            raise KeyboardInterrupt
        return self.inner(request)


def test_an_interrupted_redrive_is_finished_by_the_rerun(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    ids = seed(store, 25)
    with pytest.raises(KeyboardInterrupt):
        redrive(LOST, SURVIVING, store, InterruptAfter(make_starter(arn), 10), operator="alice")
    # Killed after claiming the 11th request and before starting it.
    assert len(executions(arn)) == 10
    assert sum(store.get(r).status is Status.REDRIVEN for r in ids) == 11  # type: ignore[union-attr]

    rerun = redrive(LOST, SURVIVING, store, make_starter(arn), operator="bob")

    assert (rerun.found, rerun.claimed, rerun.started, rerun.already_done) == (25, 14, 15, 10)
    assert_exactly_once(store, arn, ids)


def test_start_errors_are_reported_and_the_rerun_starts_them(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    ids = seed(store, 6)
    real = make_starter(arn)

    def flaky(request: ExecutionRequest) -> bool:
        if request.name.endswith(("00001-a2", "00004-a2")):
            raise RuntimeError("ThrottlingException")
        return real(request)

    first = redrive(LOST, SURVIVING, store, flaky, operator="alice")
    assert (first.started, first.errors, first.complete) == (4, 2, False)
    assert first.error_messages == {"req-00001": "RuntimeError: ThrottlingException", "req-00004": "RuntimeError: ThrottlingException"}

    second = redrive(LOST, SURVIVING, store, real, operator="alice")
    assert (second.started, second.already_done, second.errors) == (2, 4, 0)
    assert_exactly_once(store, arn, ids)


# --- after the redrive ------------------------------------------------------------------------


def test_the_new_attempt_owns_the_request_and_the_lost_regions_late_result_is_ignored(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    seed(store, 1)
    redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice")

    late = store.complete("req-00000", "s3://lost-bucket/out", region=LOST)
    assert (late.outcome, late.task_token) == (CompleteOutcome.SUPERSEDED, None)
    assert store.attach_token("req-00000", "token-west", attempt=2).outcome.value == "attached"
    done = store.complete("req-00000", "s3://west-bucket/out", region=SURVIVING)
    assert (done.outcome, done.task_token) == (CompleteOutcome.COMPLETED, "token-west")


def test_a_later_loss_of_the_surviving_region_redrives_attempt_two_again(env: dict[str, Any]) -> None:
    store, arn = env["store"], env["arn"]
    seed(store, 2)
    redrive(LOST, SURVIVING, store, make_starter(arn), operator="alice")
    store.attach_token("req-00000", "token-west", attempt=2)

    report = redrive(SURVIVING, OTHER, store, lambda request: True, operator="carol")

    assert (report.found, report.started) == (1, 1)  # req-00001 never attached: still REDRIVEN from LOST
    item = store.get("req-00000")
    assert item is not None and (item.attempt, item.home_region, item.redriven_from) == (3, OTHER, SURVIVING)


@pytest.mark.parametrize(
    ("lost", "surviving", "operator", "workers", "message"),
    [
        (LOST, LOST, "alice", 1, "surviving_region: 'us-east-1' is the lost region; redrive into a different region"),
        (LOST, SURVIVING, "", 1, "operator: empty; name who runs the redrive"),
        (LOST, SURVIVING, "alice", 0, "workers: 0 is not valid; use 1 or more"),
    ],
)
def test_redrive_refuses_bad_arguments(lost: str, surviving: str, operator: str, workers: int, message: str) -> None:
    with pytest.raises(RedriveError, match=message):
        redrive(lost, surviving, TokenStore(TABLE, None), lambda request: True, operator=operator, workers=workers)


# --- CLI --------------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    from drkit.commands.redrive import command as redrive_cmd

    parser = argparse.ArgumentParser(prog="drkit")
    redrive_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def spec_args(*extra: str) -> list[str]:
    from tests.conftest import EXAMPLES

    return ["redrive", "--from-region", LOST, "--to-region", SURVIVING, "--deployment-spec", str(EXAMPLES / "fraud-tier1.yaml"), *extra]


@pytest.fixture
def cli_env(aws: None) -> Iterator[dict[str, Any]]:
    from drkit.stacks.plan import token_table_name
    from tests.conftest import example_spec

    name = token_table_name(example_spec("fraud-tier1"))
    ddb = boto3.client("dynamodb", region_name=SURVIVING)  # the surviving region's replica
    create_token_table(ddb, name)
    store = TokenStore(name, ddb)
    for i in range(3):
        store.record(f"cli-{i}", LOST, RoutePath.BATCH, "fraud", f"s3://in/{i}", 3600)
    yield {"store": store, "arn": pass_workflow()}
    ddb.delete_table(TableName=name)  # the name is fixed by the spec


def test_cli_is_a_dry_run_by_default(cli_env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(spec_args("--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["table"], out["dry_run"], out["found"], out["started"]) == ("drkit-fraud-tier1-tokens", True, 3, 0)
    assert cli_env["store"].get("cli-0").status is Status.PENDING


def test_cli_execute_redrives(cli_env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(spec_args("--execute", "--workflow-arn", cli_env["arn"], "--operator", "ops")) == 0
    text = capsys.readouterr().out
    assert "redrive us-east-1 -> us-west-2 on drkit-fraud-tier1-tokens: executed" in text
    assert re.search(r"started\s*│\s*3\s*│", text), text
    assert cli_env["store"].get("cli-2").redriven_by == "ops"
    assert len(executions(cli_env["arn"])) == 3


def test_execute_defaults_to_the_deployments_workflow_in_the_surviving_region() -> None:
    from drkit.commands.redrive.command import default_workflow_arn, validate_workflow_arn
    from tests.conftest import example_spec

    arn = default_workflow_arn(example_spec("docs-tier3"), "us-west-2")
    assert arn == "arn:aws:states:us-west-2:123456789012:stateMachine:docs-tier3-inference"
    assert validate_workflow_arn(arn, "us-west-2") == arn


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--execute", "--workflow-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:wf"],
            "--workflow-arn: 'arn:aws:states:us-east-1:123456789012:stateMachine:wf' is in us-east-1; it must be the workflow in --to-region us-west-2",
        ),
        (["--execute", "--workflow-arn", "wf"], "--workflow-arn: 'wf' is not a Step Functions state machine ARN"),
    ],
)
def test_cli_refuses_a_foreign_or_malformed_workflow(cli_env: dict[str, Any], extra: list[str], message: str) -> None:
    with pytest.raises(RedriveError, match=message.replace("(", r"\(")):
        run_cli(spec_args(*extra))


def test_cli_refuses_a_region_outside_the_deployment(cli_env: dict[str, Any]) -> None:
    argv = spec_args()
    argv[argv.index(SURVIVING)] = "ap-south-1"
    with pytest.raises(RedriveError, match="--to-region: 'ap-south-1' is not a region of this deployment; valid: us-east-1, us-west-2, eu-west-1"):
        run_cli(argv)


def test_cli_reports_a_missing_table_without_a_traceback(aws: None) -> None:
    with pytest.raises(RedriveError, match=r"redrive on table drkit-fraud-tier1-tokens in us-west-2: .*ResourceNotFoundException"):
        run_cli(spec_args())
