"""Route 53 calls shared by both backends: find the deployment's health checks by tag, invert them.

Drills invert, never disable: Route 53 treats a disabled health check as healthy
(Route 53 API reference, UpdateHealthCheck, "Inverted" and "Disabled"; read 2026-11).
ListTagsForResources takes at most 10 ids per call (Route 53 API reference,
ListTagsForResources; read 2026-11).
"""

from __future__ import annotations

from typing import Any

TAGS_PER_CALL = 10


def tagged_health_checks(route53: Any, deployment: str) -> dict[str, dict[str, Any]]:
    """{fqdn: {"id", "inverted"}} of the health checks tagged Deployment=<deployment>."""
    checks = []
    for page in route53.get_paginator("list_health_checks").paginate():
        checks.extend(page["HealthChecks"])
    mine: dict[str, dict[str, Any]] = {}
    for start in range(0, len(checks), TAGS_PER_CALL):
        batch = checks[start : start + TAGS_PER_CALL]
        tags = route53.list_tags_for_resources(ResourceType="healthcheck", ResourceIds=[c["Id"] for c in batch])
        tagged = {
            t["ResourceId"]
            for t in tags["ResourceTagSets"]
            if any(tag["Key"] == "Deployment" and tag["Value"] == deployment for tag in t.get("Tags", []))
        }
        for check in batch:
            config = check["HealthCheckConfig"]
            # Endpoint checks only: a CALCULATED parent has no FQDN and is never inverted by a drill.
            if check["Id"] in tagged and config.get("FullyQualifiedDomainName"):
                mine[config["FullyQualifiedDomainName"]] = {
                    "id": check["Id"],
                    "inverted": bool(config.get("Inverted", False)),
                }
    return mine


def health_check_problems(checks: dict[str, dict[str, Any]], fqdn: str, region: str, deployment: str) -> list[str]:
    """Why a drill may not start on this region's health check: it is missing, or already inverted."""
    if fqdn not in checks:
        return [f"{region}: no health check for {fqdn} tagged Deployment={deployment}"]
    if checks[fqdn]["inverted"]:
        return [f"{region}: health check for {fqdn} is already inverted (another drill?)"]
    return []


def set_inverted(route53: Any, health_check_id: str, value: bool) -> None:
    route53.update_health_check(HealthCheckId=health_check_id, Inverted=value)
