"""The drill report: JSON for machines, markdown for the PR, and an SVG chart for people.

The chart puts each traffic class's measured RTO as a bar against the worst-case bound
computed from the configuration (stacked: detection, DNS TTL, capacity), with the
drill's events along the time axis. Hand-written SVG: no plotting dependency.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from drkit.commands.drill.journal import write_atomic
from drkit.commands.drill.result import DrillResult
from drkit.commands.drill.scenarios import worst_case


def report_data(result: DrillResult) -> dict[str, Any]:
    m = result.measurement
    bound = worst_case(result.topology, result.takeover, result.scenario)
    measured = max((v for v in m.rto_by_class.values() if v is not None), default=None) if m else None
    return {
        "drill": result.drill_id,
        "deployment": result.topology.deployment,
        "tier": result.topology.tier,
        "scenario": result.scenario.value,
        "backend": result.backend.value,
        "primary": result.topology.primary,
        "takeover": result.takeover,
        "verified": result.verified,
        "problems": result.problems,
        "rto": {
            "measured_seconds": measured,
            "by_class_seconds": dict(m.rto_by_class) if m else {},
            "worst_case_seconds": bound.total_seconds,
            "worst_case": {
                "detection_seconds": bound.detection_seconds,
                "dns_seconds": bound.dns_seconds,
                "capacity_seconds": bound.capacity_seconds,
                "breaker_seconds": bound.breaker_seconds,
                "explain": bound.explain(),
            },
            "within_bound": measured is not None and measured <= bound.total_seconds,
            "target_seconds": result.topology.rto_target_seconds,
            "within_target": measured is not None and measured <= result.topology.rto_target_seconds,
        },
        "rpo": {
            "target_seconds": result.topology.rpo_target_seconds,
            "consistency": result.topology.consistency,
            "within_target": None if m is None or m.rpo_seconds is None else m.rpo_seconds <= result.topology.rpo_target_seconds,
            "replication_lag_at_cut_seconds": m.rpo_seconds if m else None,
            "unreplicated_writes_at_cut": m.unreplicated_at_cut if m else None,
        },
        "requests": {
            "in_flight": len(m.in_flight_ids) if m else 0,
            "lost": len(m.lost) if m else 0,
            "ran_more_than_once": len(m.run_twice) if m else 0,
            "redriven": m.redriven if m else 0,
            "resubmitted_by_clients": m.resubmitted if m else 0,
            "retried_by_clients": m.retried if m else 0,
        },
        "failed_probes": {
            "requests_by_class": dict(m.failed_by_class) if m else {},
            "seconds_by_class": dict(m.failed_seconds_by_class) if m else {},
        },
        "without_routers": m.without_routers if m else None,
        "front_door": m.front_door if m else {},
        "failback_seconds": m.failback_seconds if m else None,
        "account_restored_to_snapshot": result.restored,
        "fis_experiment": result.fis_experiment,
        "step_wall_seconds": result.step_seconds,
        "timeline": [{"t": t, "event": e} for t, e in sorted(m.timeline, key=lambda x: x[0])] if m else [],
    }


def markdown(data: dict[str, Any]) -> str:
    rto, rpo, req = data["rto"], data["rpo"], data["requests"]
    status = "✅ passed" if data["verified"] else "❌ failed"
    lines = [
        f"## Drill `{data['scenario']}` on {data['deployment']} (tier {data['tier']}, {data['backend']}): {status}",
        "",
        f"Primary **{data['primary']}** → takeover **{data['takeover']}**. Times are seconds after the injection"
        + (" on the simulation's virtual clock." if data["backend"] == "sim" else "."),
        "",
        "| measure | measured | target (spec) | worst case (from configuration) |",
        "|---|---:|---:|---:|",
        f"| RTO (all classes) | {rto['measured_seconds']} s | ≤ {rto['target_seconds']:g} s | {rto['worst_case_seconds']:.0f} s |",
    ]
    failed = data.get("failed_probes") or {"requests_by_class": {}, "seconds_by_class": {}}
    lines += [
        f"| RTO class `{c}` | {v} s ({failed['requests_by_class'].get(c, 0)} failed requests in"
        f" {failed['seconds_by_class'].get(c, 0)} s) | | |"
        for c, v in rto["by_class_seconds"].items()
    ]
    worst_rpo = "0 s (strong consistency)" if rpo["consistency"] == "strong" else "replication lag"
    lines += [
        f"| RPO (replication lag at the cut) | {rpo['replication_lag_at_cut_seconds']} s"
        f" ({rpo['unreplicated_writes_at_cut']} writes) | ≤ {rpo['target_seconds']:g} s | {worst_rpo} |",
        f"| fail back | {data['failback_seconds']} s | | |",
        "",
        f"Worst case: {rto['worst_case']['explain']}.",
        "",
        f"In flight at the injection: {req['in_flight']}; lost: **{req['lost']}**; ran more than once:"
        f" **{req['ran_more_than_once']}**; redriven from the table: {req['redriven']}; retried by clients:"
        f" {req['retried_by_clients']}; resubmitted (never replicated): {req['resubmitted_by_clients']}.",
        f"Account restored to its pre-drill snapshot: **{data['account_restored_to_snapshot']}**.",
        "",
    ]
    plain = data.get("without_routers")
    if plain:
        lines += ["The same injection without inference routers (the model's real-time requests go to its"
                  " endpoint, Route 53 alone leaves the region):", "",
                  "| class | RTO with routers | without | failed requests with | without |", "|---|---:|---:|---:|---:|"]  # fmt: skip
        for c, v in rto["by_class_seconds"].items():
            lines.append(
                f"| `{c}` | {v} s | {plain['rto_by_class'].get(c)} s | {failed['requests_by_class'].get(c, 0)}"
                f" | {plain['failed_by_class'].get(c, 0)} |"
            )
        lines.append("")
    if data["front_door"]:
        lines += ["Synthetic requests through each region's front door (the router's answers, status and path):", "",
                  "| region | requests | answers | fallbacks | audit records |", "|---|---:|---|---:|---:|"]  # fmt: skip
        for region, door in data["front_door"].items():
            answers = ", ".join(f"{k}: {n}" for k, n in door["answers"].items())
            lines.append(
                f"| {region} | {door['requests']} | {answers} | {door.get('fallbacks', '—')} | {door.get('audit_records', '—')} |"
            )
        lines.append("")
    fis = data.get("fis_experiment")
    if fis:
        lines += [f"FIS experiment `{fis['id']}` ({fis['template']}, {fis['region']}): **{fis['status']}**"
                  f" after {fis['observed_seconds']} s{'; ' + fis['reason'] if fis.get('reason') else ''}.", ""]  # fmt: skip
    if data["problems"]:
        lines += ["Problems:", *[f"- {p}" for p in data["problems"]], ""]
    lines += ["<details><summary>Timeline</summary>", "", "| t (s) | event |", "|---:|---|"]
    lines += [f"| {e['t']} | {e['event']} |" for e in data["timeline"]]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def svg_chart(data: dict[str, Any]) -> str:
    """Measured RTO per class against the stacked worst-case bound, with events on the axis."""
    rto = data["rto"]
    worst = rto["worst_case"]
    classes = list(rto["by_class_seconds"].items())
    span = max([rto["worst_case_seconds"], *(v or 0 for _, v in classes), 1.0]) * 1.08
    left, width, row = 170, 620, 30
    height = 90 + row * (len(classes) + 1) + 60

    def x(seconds: float) -> float:
        return left + width * seconds / span

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(data["deployment"])} — {escape(data["scenario"])}'
        f" ({escape(data['backend'])}): RTO measured vs worst case</text>",
    ]
    y = 45
    parts = [("detection", worst["detection_seconds"], "#9ecae1"), ("DNS TTL", worst["dns_seconds"], "#6baed6"),
             ("capacity", worst["capacity_seconds"], "#3182bd")]  # fmt: skip
    out.append(f'<text x="10" y="{y + 18}">worst case (config)</text>')
    start = 0.0
    for label, seconds, colour in parts:
        if seconds > 0:
            out.append(
                f'<rect x="{x(start):.1f}" y="{y + 4}" width="{x(start + seconds) - x(start):.1f}" height="20" fill="{colour}"/>'
            )
            out.append(f'<text x="{x(start) + 3:.1f}" y="{y + 18}" fill="white">{label} {seconds:.0f}s</text>')
        start += seconds
    y += row
    for name, seconds in classes:
        ok = seconds is not None and seconds <= rto["worst_case_seconds"]
        colour = "#31a354" if ok else "#de2d26"
        out.append(f'<text x="10" y="{y + 18}">class {escape(name)}</text>')
        out.append(f'<rect x="{left}" y="{y + 4}" width="{x(seconds or 0) - left:.1f}" height="20" fill="{colour}"/>')
        out.append(f'<text x="{x(seconds or 0) + 4:.1f}" y="{y + 18}">{seconds} s</text>')
        y += row
    bx = x(rto["worst_case_seconds"])
    out.append(f'<line x1="{bx:.1f}" y1="40" x2="{bx:.1f}" y2="{y + 4}" stroke="#de2d26" stroke-dasharray="5,3"/>')
    out.append(f'<text x="{bx - 4:.1f}" y="38" text-anchor="end" fill="#de2d26">bound {rto["worst_case_seconds"]:.0f} s</text>')
    axis = y + 14
    out.append(f'<line x1="{left}" y1="{axis}" x2="{left + width}" y2="{axis}" stroke="black"/>')
    for i in range(6):
        seconds = span * i / 5
        out.append(f'<text x="{x(seconds):.1f}" y="{axis + 14}" text-anchor="middle">{seconds:.0f}s</text>')
    for event in data["timeline"]:
        if 0 <= event["t"] <= span:
            ex = x(event["t"])
            out.append(f'<line x1="{ex:.1f}" y1="{axis - 5}" x2="{ex:.1f}" y2="{axis + 3}" stroke="#636363">'
                       f'<title>{event["t"]} s: {escape(event["event"])}</title></line>')  # fmt: skip
    rpo = data["rpo"]
    out.append(
        f'<text x="10" y="{axis + 36}">RPO: {rpo["replication_lag_at_cut_seconds"]} s of replication lag at the cut'
        f" ({rpo['unreplicated_writes_at_cut']} writes); in flight {data['requests']['in_flight']},"
        f" lost {data['requests']['lost']}, run twice {data['requests']['ran_more_than_once']}</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def write_reports(result: DrillResult, directory: Path) -> list[Path]:
    """report.json, report.md and rto.svg in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    data = report_data(result)
    paths = [directory / "report.json", directory / "report.md", directory / "rto.svg"]
    write_atomic(paths[0], data)
    paths[1].write_text(markdown(data), encoding="utf-8")
    paths[2].write_text(svg_chart(data), encoding="utf-8")
    return paths


def load(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "report.json").read_text(encoding="utf-8"))
