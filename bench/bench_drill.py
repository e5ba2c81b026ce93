"""Drill wall time on the sim backend as regions (R) and in-flight requests (N) grow.

Each row runs a full `region-outage` drill (preflight to report, moto + fidelity layer)
on a synthetic tier-1 deployment; capture time is excluded (see bench_preview). Figures
are ratios against the 2-region, 1,000-request drill measured in the same run, with the
virtual seconds simulated per wall second.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.bench_preview import synthetic_spec
from drkit.commands.drill.backends.sim import SimBackend
from drkit.commands.drill.engine import DrillArgs, DrillRunner
from drkit.commands.drill.scenarios import Scenario
from drkit.commands.drill.topology import topology_of
from drkit.commands.drill.traffic import SimSettings
from drkit.engine.capture import capture

SIZES = [(2, 1000), (3, 1000), (5, 1000), (3, 5000), (3, 10000), (5, 10000)]


def timed(regions: int, in_flight: int) -> tuple[float, float, bool]:
    spec = synthetic_spec(regions, 1)
    topo = topology_of(capture(spec, list(spec.regions[:regions])))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        start = time.perf_counter()
        backend = SimBackend(workdir, topo)
        try:
            args = DrillArgs(scenario=Scenario.REGION_OUTAGE, workdir=workdir, settings=SimSettings(in_flight=in_flight))
            result = DrillRunner(topo, args, backend, out=lambda _: None).run()
        finally:
            backend.close()
        seconds = time.perf_counter() - start
    assert result.measurement is not None
    ok = result.verified and not result.measurement.lost and not result.measurement.run_twice
    virtual = max(t for t, _ in result.measurement.timeline)
    return seconds, virtual, ok


def main() -> None:
    timed(2, 100)  # warm imports, moto and the Pulumi runtime
    rows = [(r, n, *timed(r, n)) for r, n in SIZES]
    base = rows[0][2]
    print(f"{'R':>3} {'in-flight':>9} {'wall s':>7} {'x base':>7} {'virtual s':>9} {'virtual/wall':>12} {'lost=0,once':>11}")
    for regions, in_flight, seconds, virtual, ok in rows:
        print(
            f"{regions:>3} {in_flight:>9} {seconds:>7.2f} {seconds / base:>7.2f} {virtual:>9.0f} {virtual / seconds:>12.0f} {str(ok):>11}"
        )
