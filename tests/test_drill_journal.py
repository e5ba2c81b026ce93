"""A journal you can trust, and verdicts that can fail.

Torn tails are cut before anything is appended; damage elsewhere is refused with its line; one
operator per working directory (flock) and, on a real account, per deployment (a conditional
DynamoDB item with a TTL, on moto); a FIS pause is lifted on every exit path and by `recover`;
a drill that misses the spec's RPO or RTO target fails and says which.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import boto3
import pytest

from drkit.cli import main
from drkit.commands.drill.backends import BackendName
from drkit.commands.drill.backends.aws import LOCK_KEY, AwsBackend
from drkit.commands.drill.backends.sim import SimBackend
from drkit.commands.drill.engine import DrillArgs, DrillRunner, recover
from drkit.commands.drill.journal import Journal, frame
from drkit.commands.drill.scenarios import Action, ActionKind, Scenario
from drkit.commands.drill.traffic import DeploymentSim, Measurement, SimSettings
from drkit.commands.drill.verdict import target_problems
from drkit.core.errors import DrillSafetyError
from tests.conftest import ROOT
from tests.test_drill import _fis_template, aws_account, topo  # noqa: F401 - aws_account is a fixture

QUIET = lambda _line: None  # noqa: E731


# --- framing: torn tails and damage ----------------------------------------------------------


def test_a_torn_tail_is_cut_before_the_next_record_is_appended(tmp_path):
    journal = Journal(tmp_path)
    journal.append("d1", "begin")
    whole = journal.path.read_bytes()
    with open(journal.path, "ab") as fh:
        fh.write(frame({"drill": "d1", "kind": "intent"})[:17])  # killed inside the write
    assert [r["kind"] for r in Journal(tmp_path).records()] == ["begin"]
    Journal(tmp_path).append("d1", "closed")
    data = journal.path.read_bytes()
    assert data.startswith(whole) and data.count(b"\n") == 2
    assert [r["kind"] for r in Journal(tmp_path).records()] == ["begin", "closed"]


def test_a_damaged_line_is_refused_with_its_number_and_recover_undoes_nothing(tmp_path):
    backend = SimBackend(tmp_path, topo("docs-tier3"))
    journal = Journal(tmp_path)
    journal.append("d1", "begin", backend="sim")
    journal.append("d1", "snapshot", state=backend.state())
    action = Action(kind=ActionKind.REGION_OUTAGE, region="us-east-2", target="us-east-2", value=True)
    journal.append("d1", "intent", step="inject", action=action.to_json(), undo_value=False)
    backend.apply(action)
    lines = journal.path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"snapshot"', b'"snapshoT"')  # a flipped bit, not a crash
    journal.path.write_bytes(b"\n".join(lines))
    try:
        with pytest.raises(DrillSafetyError) as err:
            recover(tmp_path, backend)
        assert str(err.value).startswith(f"{journal.path}: line 2: checksum does not match its contents; valid: lines drkit wrote")
        assert "will not undo anything" in str(err.value)
        assert backend.state()["outages"] == ["us-east-2"]  # left as it is, for a person to look at
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b'{"drill": "d1", "kind": "begin"}', "not a framed record"),
        (b"zzzzzzzz {}", "checksum field b'zzzzzzzz' is not hexadecimal"),
        (frame({"drill": "d1", "kind": "launch"}).rstrip(b"\n"), "not a drill record"),
    ],
    ids=["unframed", "bad-crc-field", "unknown-kind"],
)
def test_a_complete_last_line_that_is_not_a_record_is_damage_not_a_torn_tail(tmp_path, line, problem):
    journal = Journal(tmp_path)
    journal.append("d1", "begin")
    with open(journal.path, "ab") as fh:
        fh.write(line + b"\n")
    with pytest.raises(DrillSafetyError, match=rf"line 2: {problem}"):
        journal.open_drill()
    with pytest.raises(DrillSafetyError, match="line 2"):
        Journal(tmp_path).append("d1", "closed")  # a new writer checks the journal before it appends


# --- one operator per working directory ------------------------------------------------------


def test_recover_and_a_second_drill_are_refused_while_a_drill_holds_the_lock(tmp_path):
    t = topo("docs-tier3")
    backend = SimBackend(tmp_path, t)
    try:
        with Journal(tmp_path).lock("drill d-live"):
            with pytest.raises(DrillSafetyError, match=r"journal.lock: held by drill d-live \(pid \d+, since "):
                recover(tmp_path, backend)
            with pytest.raises(DrillSafetyError, match="another drill or recover is running in this working directory"):
                DrillRunner(t, DrillArgs(scenario=Scenario.REGION_OUTAGE, workdir=tmp_path), backend, QUIET).run()
            assert main(["drill", "recover", "--workdir", str(tmp_path)]) == 2
        assert recover(tmp_path, backend) == []  # free again once the holder is gone
    finally:
        backend.close()


# --- one operator per deployment: the account-side lock (moto) --------------------------------


def _lock_item(t):
    client = boto3.client("dynamodb", region_name=t.primary)
    return client.get_item(TableName=t.regions[t.primary].table_name, Key={"request_id": {"S": LOCK_KEY}}).get("Item")


def test_the_account_lock_lets_one_drill_at_a_time_and_expires(aws_account, monkeypatch):  # noqa: F811 - the fixture from tests.test_drill
    t, _ = aws_account
    first, second = AwsBackend(t, execute=True), AwsBackend(t, execute=True)
    first.lock_account("drill-a", 3600)
    assert _lock_item(t)["owner"]["S"] == "drill-a"
    with pytest.raises(DrillSafetyError, match=r"drill drill-a from .+ holds the deployment's drill lock until 20"):
        second.lock_account("drill-b", 3600)
    first.lock_account("drill-a", 3600)  # the same drill (or its recover) renews it
    second.unlock_account("drill-b")  # not the holder: nothing happens
    assert _lock_item(t)["owner"]["S"] == "drill-a"
    later = time.time() + 3601
    monkeypatch.setattr("drkit.commands.drill.backends.aws.time.time", lambda: later)
    second.lock_account("drill-b", 3600)  # expired: free to take, before DynamoDB's TTL deletes it
    assert _lock_item(t)["owner"]["S"] == "drill-b"
    second.unlock_account("drill-b")
    assert _lock_item(t) is None


def test_a_drill_on_a_locked_deployment_changes_nothing(aws_account, tmp_path):  # noqa: F811 - the fixture from tests.test_drill
    t, r53 = aws_account
    AwsBackend(t, execute=True).lock_account("drill-from-another-machine", 3600)
    args = DrillArgs(scenario=Scenario.HEALTH_CHECK_FAILOVER, workdir=tmp_path, backend=BackendName.AWS, execute=True)
    with pytest.raises(DrillSafetyError, match="drill-from-another-machine"):
        DrillRunner(t, args, AwsBackend(t, execute=True), QUIET).run()
    assert not any(hc["HealthCheckConfig"]["Inverted"] for hc in r53.list_health_checks()["HealthChecks"])
    assert Journal(tmp_path).records() == []


def test_a_finished_drill_releases_the_account_lock(aws_account, tmp_path, monkeypatch):  # noqa: F811 - the fixture from tests.test_drill
    t, _ = aws_account
    waits = iter([42.0, 75.0])
    monkeypatch.setattr(AwsBackend, "wait_for_answer", lambda self, **kw: next(waits))
    args = DrillArgs(scenario=Scenario.HEALTH_CHECK_FAILOVER, workdir=tmp_path, backend=BackendName.AWS, execute=True)
    assert DrillRunner(t, args, AwsBackend(t, execute=True), QUIET).run().verified
    assert _lock_item(t) is None


# --- a FIS pause is lifted on every exit path ------------------------------------------------


def _running(t):
    fis = boto3.client("fis", region_name=t.secondaries[0])
    return [e["id"] for e in fis.list_experiments()["experiments"] if e["state"]["status"] in ("pending", "initiating", "running")]


def test_a_fis_drill_that_fails_mid_way_stops_its_experiment_and_releases_the_lock(aws_account, tmp_path, monkeypatch):  # noqa: F811 - the fixture from tests.test_drill
    t, _ = aws_account
    _fis_template(t, t.secondaries[0])
    monkeypatch.setattr("drkit.commands.drill.backends.aws.time.sleep", lambda _s: None)

    def lost_connection(self, region, max_seconds, poll_seconds=10.0):
        assert _running(t), "the experiment runs while the drill observes it"
        raise ConnectionError("network down while polling FIS")

    monkeypatch.setattr(AwsBackend, "wait_for_experiment", lost_connection)
    args = DrillArgs(scenario=Scenario.FIS_REPLICATION_PAUSE, workdir=tmp_path, backend=BackendName.AWS, execute=True)
    with pytest.raises(DrillSafetyError, match=r"failed: network down while polling FIS; rolled back: clear fis-experiment"):
        DrillRunner(t, args, AwsBackend(t, execute=True), QUIET).run()
    assert _running(t) == []
    assert Journal(tmp_path).open_drill() == [] and _lock_item(t) is None


def test_recover_stops_the_experiment_of_a_killed_fis_drill(aws_account, tmp_path):  # noqa: F811 - the fixture from tests.test_drill
    t, _ = aws_account
    _fis_template(t, t.secondaries[0])
    backend = AwsBackend(t, execute=True)
    journal = Journal(tmp_path)
    journal.append("d-fis", "begin", backend="aws")
    journal.append("d-fis", "snapshot", state=backend.state())
    action = Action(kind=ActionKind.FIS_EXPERIMENT, region=t.secondaries[0], target="pause-token-replication", value=True)
    journal.append("d-fis", "intent", step="inject", action=action.to_json(), undo_value=False)
    backend.lock_account("d-fis", 3600)
    backend.apply(action)  # killed here: replication is paused and nobody is watching
    assert _running(t)
    assert recover(tmp_path, AwsBackend(t, execute=True)) == [f"clear fis-experiment on pause-token-replication ({t.secondaries[0]})"]
    assert _running(t) == [] and _lock_item(t) is None


# --- verdicts that can fail ------------------------------------------------------------------


def test_targets_decide_the_verdict_and_each_miss_is_named():
    t = dataclasses.replace(topo("docs-tier3"), rto_target_seconds=60.0, rpo_target_seconds=1.0)
    m = Measurement(rto_by_class={"critical": 30.0, "standard": 75.0, "bulk": None}, rpo_seconds=30.0, unreplicated_at_cut=12)
    m.in_flight_ids = ["a", "b", "c"]
    m.executions.update({"b": 1, "c": 2})
    assert target_problems(m, t) == [
        "RTO: class standard took 75 s, over the 60 s target",
        "RTO: class bulk was never served",
        "RPO: 30 s of writes (12 items) had not reached the takeover region at the cut, over the 1 s target",
        "lost: 1 in-flight requests never completed (e.g. a)",
        "run twice: 1 requests ran more than once (e.g. c)",
    ]
    assert target_problems(Measurement(rto_by_class={"critical": 60.0}, rpo_seconds=1.0), t) == []


def test_strong_consistency_leaves_nothing_behind_at_the_cut_whatever_the_lag():
    eventual = topo("docs-tier3")
    for consistency, expected in (("eventual", True), ("strong", False)):
        sim = DeploymentSim(dataclasses.replace(eventual, consistency=consistency), SimSettings(replication_lag_seconds=30.0, in_flight=50))
        sim.submit_in_flight()
        sim.cut(outage={eventual.primary}, inverted=set(), failed=set())
        assert (sim.m.rpo_seconds > 1.0) is expected, consistency


def test_a_drill_with_30_s_of_replication_lag_fails_its_rpo_and_exits_non_zero(tmp_path, capsys):
    spec = ROOT / "stacks" / "examples" / "docs-tier3.yaml"
    code = main(["drill", "run", str(spec), "--scenario", "region-outage", "--workdir", str(tmp_path),
                 "--in-flight", "50", "--replication-lag", "30", "--json"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "drkit: drill failed: RPO: " in err and "over the 1 s target" in err
    assert Journal(Path(tmp_path)).open_drill() == []
