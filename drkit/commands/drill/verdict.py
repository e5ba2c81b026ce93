"""Whether a drill passed: its measurements against the spec's targets, as pure functions.

A drill fails when any class took longer than the RTO target to be served elsewhere, when the
replication lag at the cut exceeds the RPO target, when an in-flight request was lost or ran
twice, or when the account was not put back. Each failure is one sentence naming the target.
"""

from __future__ import annotations

from drkit.commands.drill.topology import Topology
from drkit.commands.drill.traffic import Measurement


def target_problems(m: Measurement, topo: Topology) -> list[str]:
    """The targets `m` missed: RTO per class, RPO (when measured), lost and duplicated requests."""
    problems = []
    for name, seconds in m.rto_by_class.items():
        if seconds is None:
            problems.append(f"RTO: class {name} was never served")
        elif seconds > topo.rto_target_seconds:
            problems.append(f"RTO: class {name} took {seconds:g} s, over the {topo.rto_target_seconds:g} s target")
    if m.rpo_seconds is not None and m.rpo_seconds > topo.rpo_target_seconds:
        problems.append(
            f"RPO: {m.rpo_seconds:g} s of writes ({m.unreplicated_at_cut} items) had not reached the takeover region at the cut,"
            f" over the {topo.rpo_target_seconds:g} s target"
        )
    if m.lost:
        problems.append(f"lost: {len(m.lost)} in-flight requests never completed (e.g. {', '.join(m.lost[:3])})")
    if m.run_twice:
        problems.append(f"run twice: {len(m.run_twice)} requests ran more than once (e.g. {', '.join(m.run_twice[:3])})")
    return problems
