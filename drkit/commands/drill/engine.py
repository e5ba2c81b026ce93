"""The drill: preflight, snapshot, inject, observe, verify, restore, fail back, report.

Every account change goes through `_change`, which journals the intent (with the value
the snapshot had, which is what undo restores), applies it and journals the result.
`recover` undoes every journalled intent of an unclosed drill by setting each switch
back to its snapshot value — idempotent, so running it twice, or after a drill that
already restored, changes nothing. Stop conditions (an alarm, the maximum duration,
Ctrl-C) call the same `recover`.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drkit.commands import interrupt
from drkit.commands.console import note
from drkit.commands.drill.backends import Backend, BackendName, switch_value
from drkit.commands.drill.journal import Journal
from drkit.commands.drill.probe import FrontDoorProbe, ProbeAnswer
from drkit.commands.drill.report import write_reports
from drkit.commands.drill.result import DrillResult
from drkit.commands.drill.scenarios import FIS_TEMPLATES, Action, ActionKind, Scenario, injection
from drkit.commands.drill.topology import Topology
from drkit.commands.drill.traffic import DeploymentSim, Measurement, SimSettings
from drkit.commands.drill.verdict import target_problems
from drkit.core.errors import DrillSafetyError

ACCOUNT_LOCK_SECONDS = 6 * 3600
"""How long an account lock outlives a drill that died without releasing it (its TTL)."""
STEPS = ("preflight", "snapshot", "inject", "observe", "verify", "restore", "failback", "report")


@dataclass(frozen=True, kw_only=True)
class DrillArgs:
    """How to run one drill."""

    scenario: Scenario
    """What to break."""
    workdir: Path
    """Journal, simulated account and report live here."""
    backend: BackendName = BackendName.SIM
    """Where to run. Default: sim."""
    execute: bool = False
    """aws backend only: make the changes instead of printing the plan. Default: False."""
    settings: SimSettings = field(default_factory=SimSettings)
    """The simulated world (sim backend). Default: SimSettings()."""
    max_virtual_seconds: float = 4 * 3600
    """Stop and roll back when the drill has run this long on its clock. Default: 4 h."""
    max_wall_seconds: float = 600
    """Stop and roll back after this much wall time. Default: 600 s."""
    crash_after: str | None = None
    """Tests only: SIGKILL this process right after the named step. Default: None."""
    spec_path: str = ""
    """Recorded in the journal so `recover` can rebuild an aws backend. Default: ""."""
    probe: FrontDoorProbe | None = None
    """aws backend: send synthetic requests through the deployed front door and measure RTO from
    their answers; None measures at the DNS level only. Default: None."""
    probe_interval_seconds: float = 2.0
    """aws backend: seconds between probe rounds (one request per model and class). Default: 2."""


class _StopError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@contextmanager
def _signals_stop_the_drill() -> Iterator[None]:
    """While a drill runs, SIGTERM (a CI job cancelled, `kill`) and Ctrl-C stop it like a stop condition,
    so it rolls back instead of dying with its injection in place (the `drkit` executable otherwise
    exits at once on Ctrl-C). Only the main thread can set signal handlers."""

    def stop(signum: int, frame: object) -> None:
        raise _StopError("terminated (SIGTERM)")

    with interrupt.handling(signal.SIGTERM, stop), interrupt.raising():
        yield


def _new_id(topo: Topology, scenario: Scenario) -> str:
    return f"{topo.deployment}-{scenario.value}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"


def _change(journal: Journal, drill_id: str, backend: Backend, action: Action, *, step: str, undo_value: bool) -> None:
    journal.append(drill_id, "intent", step=step, action=action.to_json(), undo_value=undo_value)
    backend.apply(action)
    journal.append(drill_id, "result", step=step, action=action.to_json(), ok=True)


def recover(workdir: Path, backend: Backend, *, journal: Journal | None = None) -> list[str]:
    """Undo every journalled change of the open drill in `workdir`; [] when there is none.

    Holds the working directory's lock (so it cannot run beside a live drill) and, on the aws
    backend, takes over the drill's account lock and releases it once the account is restored."""
    journal = journal or Journal(workdir)
    with journal.lock("drkit drill recover"):
        records = journal.open_drill()
        if not records:
            return []
        return _recover(journal, backend, records)


def _recover(journal: Journal, backend: Backend, records: list[dict[str, Any]]) -> list[str]:
    drill_id = records[0]["drill"]
    backend.lock_account(drill_id, ACCOUNT_LOCK_SECONDS)
    snapshot = next((r["state"] for r in records if r["kind"] == "snapshot"), None)
    done: list[str] = []
    if snapshot is not None:
        intents = [r for r in records if r["kind"] == "intent" and r["step"] == "inject"]
        for record in reversed(intents):
            action = Action.from_json(record["action"])
            undo = Action(kind=action.kind, region=action.region, target=action.target, value=switch_value(snapshot, action))
            _change(journal, drill_id, backend, undo, step="recover", undo_value=undo.value)
            done.append(undo.describe())
        after = backend.state()
        paused = any(r["action"]["kind"] == ActionKind.FIS_EXPERIMENT.value for r in intents)
        stuck: list[str] = getattr(backend, "replication_problems", list)() if paused else []
        if stuck:
            raise DrillSafetyError(f"{journal.path}: recover for drill {drill_id} stopped the experiment, but: {'; '.join(stuck)}")
        if after != snapshot:
            raise DrillSafetyError(
                f"{journal.path}: recover for drill {drill_id} left the account different from its snapshot;"
                f" snapshot={snapshot} now={after}"
            )
    journal.append(drill_id, "closed", by="recover", undone=done)
    backend.unlock_account(drill_id)
    return done or ["nothing had been changed"]


def drill_plan(actions: list[Action], probe: FrontDoorProbe | None, probe_interval_seconds: float) -> list[str]:
    """What an aws drill changes and puts back, in order (the dry run and `--plan` print it)."""
    plan = [f"inject: {a.describe()}" for a in actions] + [f"restore: {a.describe()} -> back to snapshot" for a in actions]
    if probe is not None:
        per_round = len(probe.payloads) * len(probe.classes)
        plan.insert(1, f"observe: POST {probe.url}/v1/infer, {per_round} requests every {probe_interval_seconds:g} s")
    return plan


class DrillRunner:
    """Runs one drill against one backend, journalling as it goes."""

    def __init__(self, topo: Topology, args: DrillArgs, backend: Backend, out: Callable[[str], None] = note) -> None:
        self.topo, self.args, self.backend, self.out = topo, args, backend, out
        self.journal = Journal(args.workdir)
        self.drill_id = _new_id(topo, args.scenario)
        self.step_seconds: dict[str, float] = {}
        self._wall_start = time.monotonic()

    def _step_done(self, step: str, started: float) -> None:
        self.step_seconds[step] = round(time.monotonic() - started, 3)
        self.journal.append(self.drill_id, "step", step=step)
        self.out(f"  ✓ {step} ({self.step_seconds[step]:.2f} s)")
        if self.args.crash_after == step:
            os.kill(os.getpid(), signal.SIGKILL)

    def _check_stop(self, sim: DeploymentSim) -> None:
        if sim.clock.now > self.args.max_virtual_seconds:
            raise _StopError(f"maximum duration {self.args.max_virtual_seconds:.0f} s (virtual) reached")
        if time.monotonic() - self._wall_start > self.args.max_wall_seconds:
            raise _StopError(f"maximum wall time {self.args.max_wall_seconds:.0f} s reached")
        if sim.clock.now > 0 and not sim.deep_health(sim.takeover):
            raise _StopError(f"alarm: takeover region {sim.takeover} cannot serve")

    def run(self) -> DrillResult:
        """Run the drill holding the working directory's lock (and, on a real account, the account's)."""
        with self.journal.lock(f"drill {self.drill_id}"), _signals_stop_the_drill():
            return self._run_locked()

    def _run_locked(self) -> DrillResult:
        topo, args = self.topo, self.args
        if self.journal.open_drill():
            raise DrillSafetyError(
                f"{self.journal.path}: drill {self.journal.open_drill()[0]['drill']} was not finished;"
                f" run `drkit drill recover --workdir {args.workdir}` first"
            )
        started = time.monotonic()
        problems = self.backend.preflight(topo, args.scenario)
        if problems:
            raise DrillSafetyError("preflight refused the drill:\n" + "\n".join(f"  - {p}" for p in problems))
        actions = injection(args.scenario, topo)
        if args.backend is BackendName.AWS and not args.execute:
            plan = drill_plan(actions, args.probe, args.probe_interval_seconds)
            for line in plan:
                self.out(f"[dry-run] {line}")
            for a in actions:
                self.backend.apply(a)  # prints the exact API call it would make
            self.out("[dry-run] nothing was changed; pass --execute to run the drill")
            return DrillResult(
                self.drill_id, args.scenario, args.backend, topo, topo.secondaries[0], None, {}, {}, {}, False, [], plan
            )
        self.backend.lock_account(self.drill_id, max(ACCOUNT_LOCK_SECONDS, args.max_wall_seconds))
        self.journal.append(self.drill_id, "begin", scenario=args.scenario.value, backend=args.backend.value,
                            deployment=topo.deployment, spec=args.spec_path)  # fmt: skip
        self._step_done("preflight", started)
        try:
            if args.backend is BackendName.AWS and args.scenario in FIS_TEMPLATES:
                result = self._run_fis(actions)
            elif args.backend is BackendName.AWS:
                result = self._run_aws(actions)
            else:
                result = self._run_steps(actions)
        except (_StopError, KeyboardInterrupt) as exc:
            reason = exc.reason if isinstance(exc, _StopError) else "interrupted (Ctrl-C)"
            raise DrillSafetyError(f"drill {self.drill_id} stopped: {reason}; rolled back: {self._roll_back(reason)}") from None
        except Exception as exc:  # every other exit path puts the account back too (a paused replica, an inverted check)
            raise DrillSafetyError(f"drill {self.drill_id} failed: {exc}; rolled back: {self._roll_back(str(exc))}") from exc
        self.backend.unlock_account(self.drill_id)
        return result

    def _roll_back(self, reason: str) -> str:
        """`recover` from inside the drill; if even that fails, say so and how to finish by hand."""
        try:
            with interrupt.held("rolling back the drill; Ctrl-C is held off until the account is restored"):
                return "; ".join(recover(self.args.workdir, self.backend, journal=self.journal))
        except Exception as exc:
            raise DrillSafetyError(
                f"drill {self.drill_id} stopped ({reason}) and rolling back failed too: {exc};"
                f" run `drkit drill recover --workdir {self.args.workdir}` once the cause is fixed"
            ) from exc

    def _snapshot_and_inject(self, actions: list[Action]) -> dict[str, Any]:
        """Record the account's switches, then make each change, journalled before and after."""
        t = time.monotonic()
        snapshot = self.backend.state()
        self.journal.append(self.drill_id, "snapshot", state=snapshot)
        self._step_done("snapshot", t)
        t = time.monotonic()
        for action in actions:
            _change(self.journal, self.drill_id, self.backend, action, step="inject", undo_value=switch_value(snapshot, action))
        self._step_done("inject", t)
        return snapshot

    def _report(self, result: DrillResult, started: float) -> DrillResult:
        """Write the report files, record the report step and close the drill in the journal."""
        result.report_files = write_reports(result, self.args.workdir / "report")
        self._step_done("report", started)
        self.journal.append(self.drill_id, "closed", by="run", verified=result.verified)
        return result

    def _undo(self, actions: list[Action], snapshot: dict[str, Any]) -> None:
        """Set every switch the drill changed back to its snapshot value, last change first."""
        for action in reversed(actions):
            undo = Action(kind=action.kind, region=action.region, target=action.target, value=switch_value(snapshot, action))
            _change(self.journal, self.drill_id, self.backend, undo, step="restore", undo_value=undo.value)

    def _run_fis(self, actions: list[Action]) -> DrillResult:
        """A real account: start the deployment's FIS template, wait for FIS to end it (its
        duration or a stop condition), stop it if it is still running, and report its outcome."""
        topo, args = self.topo, self.args
        backend: Any = self.backend
        region = actions[0].region
        snapshot = self._snapshot_and_inject(actions)
        t = time.monotonic()
        experiment = backend.wait_for_experiment(region, args.max_wall_seconds)
        state = experiment.get("state", {})
        seconds = round(time.monotonic() - t, 1)
        self._step_done("observe", t)
        m = Measurement(rpo_seconds=None)
        m.timeline += [(0.0, f"inject: FIS experiment {experiment.get('id')} started in {region}"),
                       (seconds, f"FIS experiment {state.get('status')}: {state.get('reason', '')}".strip())]  # fmt: skip
        t = time.monotonic()
        self._undo(actions, snapshot)
        self._step_done("restore", t)
        restored_state = backend.state()
        problems = [] if restored_state == snapshot else ["restore: the account differs from its snapshot"]
        problems += backend.replication_problems()
        if state.get("status") != "completed":
            problems.append(f"FIS experiment ended {state.get('status')}: {state.get('reason', 'no reason given')}")
        result = DrillResult(
            self.drill_id, args.scenario, args.backend, topo, region, m, snapshot, restored_state,
            self.step_seconds, not problems, problems,
            fis_experiment={
                "id": experiment.get("id"),
                "template": f"{topo.deployment}-{actions[0].target}",
                "region": region,
                "status": state.get("status"),
                "reason": state.get("reason"),
                "observed_seconds": seconds,
            },
        )  # fmt: skip
        return self._report(result, time.monotonic())

    def _probe_until(
        self, probe: FrontDoorProbe, ok: Callable[[ProbeAnswer], bool], step: str
    ) -> tuple[dict[str, float], Counter]:
        """Probe rounds until every class has had `ok` answers for the stable window; per class, the
        seconds until its last not-ok answer (0 if none), and the answers by (region, status)."""
        stable = self.topo.stable_seconds
        interval, start = self.args.probe_interval_seconds, probe.clock()
        last_failure: dict[str, float] = {}
        answers: Counter = Counter()
        while True:
            now = probe.clock() - start
            for answer in probe.round():
                answers[(answer.region or "no answer", answer.status)] += 1
                if not ok(answer):
                    last_failure[answer.traffic_class] = now
            if all(now - last_failure.get(c, float("-inf")) >= stable for c in probe.classes):
                return {c: round(last_failure[c] + interval, 1) if c in last_failure else 0.0 for c in probe.classes}, answers
            if now >= self.args.max_wall_seconds:
                raise _StopError(f"maximum wall time {self.args.max_wall_seconds:.0f} s reached while probing ({step})")
            probe.sleep(interval)

    def _run_aws_probed(self, actions: list[Action], probe: FrontDoorProbe) -> DrillResult:
        """A real account with synthetic traffic: invert the primary's check, measure each class's RTO
        from front-door answers until a region other than the primary serves it, put back, and
        measure fail back as the time until the primary answers every class again."""
        topo, args = self.topo, self.args
        primary, takeover = topo.primary, topo.secondaries[0]
        snapshot = self._snapshot_and_inject(actions)
        t = time.monotonic()
        rto, answers = self._probe_until(probe, lambda a: a.served and a.region not in ("", primary), "observe")
        m = Measurement(rto_by_class=dict[str, float | None](rto), rpo_seconds=None)
        m.timeline.append((0.0, "inject: primary health check inverted"))
        m.timeline += [(seconds, f"class {c}: served outside {primary}") for c, seconds in rto.items()]
        self._step_done("observe", t)
        m.timeline.append((max(rto.values(), default=0.0), f"verify: {probe.sent} synthetic requests through the front door"))
        self._step_done("verify", time.monotonic())
        t = time.monotonic()
        self._undo(actions, snapshot)
        self._step_done("restore", t)
        t = time.monotonic()
        back, after = self._probe_until(probe, lambda a: a.served and a.region == primary, "fail back")
        m.failback_seconds = max(back.values(), default=0.0)
        answers += after
        m.front_door = {
            region: {"answers": {f"{status}": n for (r, status), n in sorted(answers.items()) if r == region},
                     "requests": sum(n for (r, _), n in answers.items() if r == region)}
            for region in sorted({r for r, _ in answers})
        }  # fmt: skip
        self._step_done("failback", t)
        t = time.monotonic()
        restored_state = self.backend.state()
        problems = target_problems(m, topo)
        problems += [] if restored_state == snapshot else ["restore: the account differs from its snapshot"]
        result = DrillResult(
            self.drill_id, args.scenario, args.backend, topo, takeover, m, snapshot, restored_state,
            self.step_seconds, not problems, problems,
        )  # fmt: skip
        return self._report(result, t)

    def _run_aws(self, actions: list[Action]) -> DrillResult:
        """A real account: invert, wait for Route 53 to answer with the takeover region, put back.

        Without a probe, measured on the wall clock at the DNS level only (TestDNSAnswer from
        Route 53's own resolvers); no inference traffic is sent and no RPO is measured here.
        """
        if self.args.probe is not None:
            return self._run_aws_probed(actions, self.args.probe)
        topo, args = self.topo, self.args
        backend: Any = self.backend
        takeover = topo.secondaries[0]
        snapshot = self._snapshot_and_inject(actions)
        t = time.monotonic()
        seconds = backend.wait_for_answer(
            zone_id=topo.zone_id, record=topo.record_name, expected=topo.regions[takeover].fqdn, max_seconds=args.max_wall_seconds
        )
        if seconds is None:
            raise _StopError(f"maximum wall time {args.max_wall_seconds:.0f} s reached before Route 53 answered {takeover}")
        m = Measurement(rto_by_class={name: round(seconds, 1) for name, _, _ in topo.traffic_classes}, rpo_seconds=None)
        m.timeline += [(0.0, "inject: primary health check inverted"), (round(seconds, 1), f"Route 53 answers {takeover}")]
        self._step_done("observe", t)
        m.timeline.append((round(seconds, 1), "verify: DNS level only on the aws backend (no synthetic requests sent)"))
        self._step_done("verify", time.monotonic())
        t = time.monotonic()
        self._undo(actions, snapshot)
        self._step_done("restore", t)
        t = time.monotonic()
        back = backend.wait_for_answer(
            zone_id=topo.zone_id,
            record=topo.record_name,
            expected=topo.regions[topo.primary].fqdn,
            max_seconds=args.max_wall_seconds,
        )
        m.failback_seconds = None if back is None else round(back, 1)
        self._step_done("failback", t)
        t = time.monotonic()
        restored_state = backend.state()
        problems = target_problems(m, topo)
        problems += [] if restored_state == snapshot else ["restore: the account differs from its snapshot"]
        problems += [] if back is not None else ["fail back: Route 53 never answered the primary again"]
        result = DrillResult(
            self.drill_id, args.scenario, args.backend, topo, takeover, m, snapshot, restored_state,
            self.step_seconds, not problems, problems,
        )  # fmt: skip
        return self._report(result, t)

    def _observe_without_routers(self, injected: dict[str, Any]) -> dict[str, Any]:
        """The same injection on the same deployment with no inference routers: what routers changed."""
        sim = DeploymentSim(self.topo.without_routers(), self.args.settings)
        sim.submit_in_flight()
        sim.cut(**injected)
        while not sim.served(self.topo.stable_seconds):
            self._check_stop(sim)
            sim.tick()
        sim.settle_rto()
        return {
            "rto_by_class": dict(sim.m.rto_by_class),
            "failed_by_class": dict(sim.m.failed_by_class),
            "failed_seconds_by_class": dict(sim.m.failed_seconds_by_class),
            "retried_by_clients": sim.m.retried,
            "redriven": sim.m.redriven,
        }

    def _run_steps(self, actions: list[Action]) -> DrillResult:
        topo, args = self.topo, self.args
        t = time.monotonic()
        snapshot = self.backend.state()
        self.journal.append(self.drill_id, "snapshot", state=snapshot)
        self._step_done("snapshot", t)

        # The world before the injection: in-flight requests accepted by the primary.
        sim = DeploymentSim(topo, args.settings)
        sim.submit_in_flight()
        t = time.monotonic()
        for action in actions:
            _change(self.journal, self.drill_id, self.backend, action, step="inject", undo_value=switch_value(snapshot, action))
        state = self.backend.state()
        endpoints = {f"{r}/{e.name}": (r, e.model) for r, f in topo.regions.items() for e in f.endpoints}
        injected = dict(
            outage=set(state["outages"]),
            inverted={hc["region"] for hc in state["health_checks"].values() if hc["inverted"]},
            failed={endpoints[k] for k in state["failed_endpoints"] if k in endpoints},
            hung={endpoints[k] for k in state.get("hung_endpoints", []) if k in endpoints},
        )
        sim.cut(**injected)
        self._step_done("inject", t)

        t = time.monotonic()
        while not sim.served(topo.stable_seconds):
            self._check_stop(sim)
            sim.tick()
        sim.settle_rto()
        if topo.routed:
            sim.m.without_routers = self._observe_without_routers(injected)
        self._step_done("observe", t)

        t = time.monotonic()
        while sim.pending():
            self._check_stop(sim)
            sim.tick(measure=False)
        m = sim.m
        m.front_door = sim.front.summary()
        problems = target_problems(m, topo)
        m.timeline.append((round(sim.clock.now, 1), f"verify: {len(m.in_flight_ids)} in-flight requests completed"))
        self._step_done("verify", t)

        t = time.monotonic()
        self._undo(actions, snapshot)
        sim.restore()
        self._step_done("restore", t)

        t = time.monotonic()
        restored_at = sim.clock.now
        while sim.m.failback_seconds is None:
            if sim.clock.now - restored_at > args.max_virtual_seconds:
                problems.append("fail back: clients did not return to the primary")
                break
            sim.tick(measure=False, failback_since=restored_at)
        self._step_done("failback", t)

        t = time.monotonic()
        restored_state = self.backend.state()
        if restored_state != snapshot:
            problems.append("restore: the account differs from its snapshot")
        result = DrillResult(
            self.drill_id, args.scenario, args.backend, topo, sim.takeover, sim.m, snapshot, restored_state,
            self.step_seconds, not problems, problems,
        )  # fmt: skip
        return self._report(result, t)
