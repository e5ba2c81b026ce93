"""Kill points: stop the drill at every write boundary — and inside a write — in every step and
scenario; the account must come back to its pre-drill snapshot and the next drill must run.

Every durable byte the drill writes (journal records, the simulated account, the report's JSON)
and every rename goes through `journal._write_all` / `journal._replace`. A recording run lists
those boundaries; then one drill per kill point is stopped there by `Killed`, a BaseException
the engine does not catch (as SIGKILL gives it no chance to clean up): a kill inside a write
leaves the first bytes of it on disk. A fresh backend, rebuilt from the files as another
process would, runs `recover`; then a whole new drill runs in the same working directory.

The traffic simulation is replaced by `_InstantWorld` (every class served at once): it writes
nothing, and a real one takes seconds per drill. tests/test_drill_crash.py kills real
processes with SIGKILL after each step. By default (the suite's budget) one seeded kill point per
step and scenario, before or inside a write, and a sample of `recover`'s own boundaries;
DRKIT_KILL_POINTS=all kills before every boundary and at four offsets inside every write, and
at every boundary of `recover` (about 700 drills: minutes).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import drkit.commands.drill.engine as engine
import drkit.commands.drill.journal as journal_module
from drkit.commands.drill.backends.sim import SimBackend
from drkit.commands.drill.engine import STEPS, DrillArgs, DrillRunner, recover
from drkit.commands.drill.journal import Journal
from drkit.commands.drill.scenarios import SIM_SCENARIOS, Scenario
from drkit.commands.drill.topology import Topology, topology_of
from drkit.commands.drill.traffic import Measurement
from tests.conftest import example_graph

LONG = os.environ.get("DRKIT_KILL_POINTS", "") == "all"
SEED = 15


class Killed(BaseException):
    """The process died here (not an Exception: nothing in drkit may catch it)."""


class _InstantWorld:
    """Stands in for DeploymentSim: every class is served at once and nothing is in flight."""

    def __init__(self, topo: Topology, settings: Any = None) -> None:
        self.takeover = topo.secondaries[0]
        self.clock = SimpleNamespace(now=0.0)
        self.m = Measurement(rto_by_class={name: 1.0 for name, _, _ in topo.traffic_classes})
        self.front = SimpleNamespace(summary=dict)

    def submit_in_flight(self) -> None: ...
    def cut(self, **_: Any) -> None: ...
    def settle_rto(self) -> None: ...
    def restore(self) -> None: ...

    def served(self, _stable: float) -> bool:
        return True

    def deep_health(self, _region: str) -> bool:
        return True

    def pending(self) -> bool:
        return False

    def tick(self, **_: Any) -> None:
        self.m.failback_seconds = 1.0


@dataclass(frozen=True)
class Boundary:
    index: int
    what: str  # "write" or "rename"
    size: int  # bytes of the write (0 for a rename)
    label: str  # the record kind, or the file renamed
    step: str  # the drill step in progress


class _Writes:
    """Counts write boundaries; at `kill_at` (index, offset) writes `offset` bytes and dies."""

    def __init__(self, kill_at: tuple[int, int] | None = None) -> None:
        self.kill_at = kill_at
        self.seen: list[Boundary] = []
        self.step = STEPS[0]
        self._write, self._replace = journal_module._write_all, journal_module._replace

    def write(self, fd: int, data: bytes) -> None:
        label = "account or report" if data[:1] == b"{" else data[9:].split(b'"kind": "')[-1].split(b'"')[0].decode()
        self._boundary("write", len(data), label)
        if self.kill_at and self.kill_at[0] == len(self.seen) - 1:
            self._write(fd, data[: self.kill_at[1]])
            raise Killed
        self._write(fd, data)
        if label == "step" and b'"step": "' in data:
            done = data.split(b'"step": "')[-1].split(b'"')[0].decode()
            self.step = STEPS[min(STEPS.index(done) + 1, len(STEPS) - 1)]

    def replace(self, src: Path, dst: Path) -> None:
        self._boundary("rename", 0, Path(dst).name)
        if self.kill_at and self.kill_at[0] == len(self.seen) - 1:
            raise Killed
        self._replace(src, dst)

    def _boundary(self, what: str, size: int, label: str) -> None:
        self.seen.append(Boundary(len(self.seen), what, size, label, self.step))


@pytest.fixture(scope="module")
def topo() -> Topology:
    return topology_of(example_graph("docs-tier3"))


def _drill(topo: Topology, workdir: Path, scenario: Scenario, backend: SimBackend) -> Any:
    return DrillRunner(topo, DrillArgs(scenario=scenario, workdir=workdir), backend, lambda _: None).run()


def _kill_points(boundaries: list[Boundary], rng: random.Random) -> list[tuple[int, int]]:
    """The long run: before every boundary, and at several offsets inside every write. The default
    (the suite's budget): per step, one seeded boundary, killed either before it or inside it."""
    every = [(b.index, 0) for b in boundaries]
    for b in boundaries:
        if b.what == "write" and b.size > 1:
            every += [(b.index, k) for k in sorted({1, b.size // 2, b.size - 1, rng.randrange(1, b.size)})]
    if LONG:
        return every
    sample = []
    for step in STEPS:
        here = [b for b in boundaries if b.step == step]
        b = rng.choice(here)
        inside = b.what == "write" and b.size > 1 and rng.random() < 0.5
        sample.append((b.index, rng.randrange(1, b.size) if inside else 0))
    return sample


@pytest.mark.parametrize("scenario", SIM_SCENARIOS, ids=lambda s: s.value)
def test_a_kill_at_every_write_boundary_is_recovered_and_the_next_drill_runs(topo, scenario, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "DeploymentSim", _InstantWorld)
    backend = SimBackend(tmp_path / "recording", topo)  # the account exists before the drill starts
    pre_drill = backend.state()
    recording = _Writes()
    monkeypatch.setattr(journal_module, "_write_all", recording.write)
    monkeypatch.setattr(journal_module, "_replace", recording.replace)
    assert _drill(topo, tmp_path / "recording", scenario, backend).verified
    backend.close()
    boundaries = recording.seen
    assert {b.step for b in boundaries} == set(STEPS), "every step writes something the test kills"

    points = _kill_points(boundaries, random.Random(f"{SEED}-{scenario.value}"))
    by_step: Counter[str] = Counter()
    for index, offset in points:
        workdir = tmp_path / f"k{index}-{offset}"
        backend = SimBackend(workdir, topo)
        killer = _Writes(kill_at=(index, offset))
        monkeypatch.setattr(journal_module, "_write_all", killer.write)
        monkeypatch.setattr(journal_module, "_replace", killer.replace)
        with pytest.raises(Killed):
            _drill(topo, workdir, scenario, backend)
        backend.close()
        monkeypatch.setattr(journal_module, "_write_all", recording._write)
        monkeypatch.setattr(journal_module, "_replace", recording._replace)

        where = f"{scenario.value}: killed at boundary {boundaries[index]} offset {offset}"
        after = SimBackend(workdir)  # another process: only what reached the disk
        try:
            recover(workdir, after)
            assert after.state() == pre_drill, where
            assert Journal(workdir).open_drill() == [], where
            result = _drill(topo, workdir, scenario, after)
            assert result.verified and result.restored, f"{where}: the next drill: {result.problems}"
        finally:
            after.close()
        by_step[boundaries[index].step] += 1
    assert set(by_step) == set(STEPS)
    print(f"\n{scenario.value}: {len(boundaries)} write boundaries, {len(points)} kill points by step: {dict(by_step)}")


def test_a_kill_inside_recover_is_finished_by_the_next_recover(topo, tmp_path, monkeypatch):
    """Killed mid-drill, then killed again at each of recover's own write boundaries."""
    monkeypatch.setattr(engine, "DeploymentSim", _InstantWorld)
    real_write, real_replace = journal_module._write_all, journal_module._replace

    def drill_killed_after_inject(workdir: Path) -> dict[str, Any]:
        monkeypatch.setattr(journal_module, "_write_all", real_write)
        monkeypatch.setattr(journal_module, "_replace", real_replace)
        backend = SimBackend(workdir, topo)
        state = backend.state()

        def stop_in_observe(*_: Any) -> None:
            raise Killed

        monkeypatch.setattr(_InstantWorld, "served", stop_in_observe)
        with pytest.raises(Killed):
            _drill(topo, workdir, Scenario.REGION_OUTAGE, backend)
        monkeypatch.setattr(_InstantWorld, "served", lambda self, _s: True)
        backend.close()
        return state

    recording = _Writes()
    pre_drill = drill_killed_after_inject(tmp_path / "recording")
    monkeypatch.setattr(journal_module, "_write_all", recording.write)
    monkeypatch.setattr(journal_module, "_replace", recording.replace)
    after = SimBackend(tmp_path / "recording")
    recover(tmp_path / "recording", after)
    after.close()
    recover_boundaries = recording.seen
    assert [b.label for b in recover_boundaries if b.what == "write"][-1] == "closed"
    rng = random.Random(SEED)
    points = [(b.index, 0) for b in recover_boundaries] + [
        (b.index, rng.randrange(1, b.size)) for b in recover_boundaries if b.what == "write" and b.size > 1
    ]
    for index, offset in points if LONG else points[:: max(1, len(points) // 6)]:
        workdir = tmp_path / f"r{index}-{offset}"
        drill_killed_after_inject(workdir)
        killer = _Writes(kill_at=(index, offset))
        monkeypatch.setattr(journal_module, "_write_all", killer.write)
        monkeypatch.setattr(journal_module, "_replace", killer.replace)
        backend = SimBackend(workdir)
        with pytest.raises(Killed):
            recover(workdir, backend)
        backend.close()
        monkeypatch.setattr(journal_module, "_write_all", real_write)
        monkeypatch.setattr(journal_module, "_replace", real_replace)
        again = SimBackend(workdir)
        try:
            recover(workdir, again)
            assert again.state() == pre_drill, f"recover killed at {recover_boundaries[index]} offset {offset}"
            assert Journal(workdir).open_drill() == []
        finally:
            again.close()
