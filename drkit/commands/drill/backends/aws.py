"""The `aws` backend: the same steps through boto3 against a real account.

Dry-run by default: it prints the plan (every change and its undo) and changes nothing.
With `execute=True` it inverts the primary's Route 53 health check — the only change a
drill makes to a real account — found by its Deployment tag, so it touches nothing
that is not the deployment's. Region outages and endpoint failures cannot be injected
safely in a real account; preflight refuses them with the reason.

Observation polls `GetHealthCheckStatus` and `TestDNSAnswer` (Route 53 API reference,
read 2026-11) on the wall clock. This code has not been run against AWS from this
repository's CI (there is no account there); it is plain boto3 a user can run.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from drkit.commands.console import note
from drkit.commands.drill.backends import BackendName
from drkit.commands.drill.backends.route53 import health_check_problems, set_inverted, tagged_health_checks
from drkit.commands.drill.scenarios import FIS_TEMPLATES, Action, ActionKind, Scenario, aws_call
from drkit.commands.drill.topology import Topology
from drkit.core.errors import DrillSafetyError
from drkit.core.tokens import HASH_KEY, TTL_ATTRIBUTE

LOCK_KEY = "drkit:drill-lock"

ROUTE53_REGION = "us-east-1"
# FIS experiment states that mean "still running" (FIS API reference, ExperimentState, read 2026-11).
FIS_ACTIVE = frozenset({"pending", "initiating", "running", "stopping"})
FIS_STOP_POLLS = 60
FIS_STOP_POLL_SECONDS = 5.0


def _pages(client: Any, operation: str, key: str) -> list[dict[str, Any]]:
    """Every item of a FIS list call, following nextToken."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = getattr(client, operation)(**kwargs)
        items += page.get(key, [])
        if not page.get("nextToken"):
            return items
        kwargs["nextToken"] = page["nextToken"]


class AwsBackend:
    """A real account, reached with the default boto3 credential chain."""

    name = BackendName.AWS

    def __init__(
        self,
        topo: Topology,
        *,
        execute: bool = False,
        session: Any = None,
        out: Callable[[str], None] = note,
    ) -> None:
        self.topo, self.execute, self.out = topo, execute, out
        self.session = session or boto3.Session()
        self.route53 = self.session.client("route53", region_name=ROUTE53_REGION)
        self._checks: dict[str, dict[str, Any]] | None = None
        self.experiment_id: str | None = None

    def close(self) -> None:
        pass

    # --- the account-side lock ---------------------------------------------------------------
    # One item in the primary region's token table, written with a condition, so two operators on
    # two machines cannot drill one deployment at once. Its key has a ':' that no request id may
    # contain (tokens.REQUEST_ID_PATTERN), and it has no status, so redrive never sees it. The TTL
    # attribute lets DynamoDB delete a lock whose drill died; the condition does not wait for that
    # deletion (TTL deletes lazily): an expired lock is free to take.

    def _lock_table(self) -> tuple[Any, str]:
        primary = self.topo.primary
        return self.session.client("dynamodb", region_name=primary), self.topo.regions[primary].table_name

    def lock_account(self, owner: str, seconds: float) -> None:
        client, table = self._lock_table()
        now = int(time.time())
        if not self.execute:
            self.out(f"[dry-run] would put the drill lock {LOCK_KEY!r} in {table} ({self.topo.primary}) for {owner}")
            return
        try:
            client.put_item(
                TableName=table,
                Item={HASH_KEY: {"S": LOCK_KEY}, "owner": {"S": owner}, "host": {"S": socket.gethostname()},
                      TTL_ATTRIBUTE: {"N": str(now + int(seconds))}},
                ConditionExpression="attribute_not_exists(#k) OR #ttl < :now OR #owner = :owner",
                ExpressionAttributeNames={"#k": HASH_KEY, "#ttl": TTL_ATTRIBUTE, "#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
            )  # fmt: skip
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise DrillSafetyError(f"{self.topo.primary}: cannot take the drill lock in {table} ({exc})") from None
            held = client.get_item(TableName=table, Key={HASH_KEY: {"S": LOCK_KEY}}, ConsistentRead=True).get("Item", {})
            until = int(held.get(TTL_ATTRIBUTE, {}).get("N", "0"))
            raise DrillSafetyError(
                f"{table} ({self.topo.primary}): drill {held.get('owner', {}).get('S', '?')} from"
                f" {held.get('host', {}).get('S', '?')} holds the deployment's drill lock until"
                f" {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(until))}; one drill per deployment at a time:"
                " wait for it, or run `drkit drill recover` in its working directory"
            ) from None

    def unlock_account(self, owner: str) -> None:
        if not self.execute:
            return
        client, table = self._lock_table()
        try:
            client.delete_item(
                TableName=table, Key={HASH_KEY: {"S": LOCK_KEY}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"}, ExpressionAttributeValues={":owner": {"S": owner}},
            )  # fmt: skip
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def _tagged(self) -> dict[str, dict[str, Any]]:
        if self._checks is None:
            self._checks = tagged_health_checks(self.route53, self.topo.deployment)
        return self._checks

    def _fis(self, region: str) -> Any:
        return self.session.client("fis", region_name=region)

    def fis_template(self, region: str, name: str) -> dict[str, Any] | None:
        """The deployment's experiment template `<deployment>-<name>` in `region`, found by its tags."""
        wanted = f"{self.topo.deployment}-{name}"
        client = self._fis(region)
        for page in _pages(client, "list_experiment_templates", "experimentTemplates"):
            tags = page.get("tags") or {}
            if tags.get("Deployment") == self.topo.deployment and tags.get("Name") == wanted:
                return page
        return None

    def fis_running(self, region: str, template_id: str) -> list[str]:
        experiments = _pages(self._fis(region), "list_experiments", "experiments")
        return [
            e["id"]
            for e in experiments
            if e.get("experimentTemplateId") == template_id and e.get("state", {}).get("status") in FIS_ACTIVE
        ]

    def preflight(self, topo: Topology, scenario: Scenario) -> list[str]:
        if scenario in FIS_TEMPLATES:
            region, name = topo.secondaries[0], FIS_TEMPLATES[scenario]
            try:
                template = self.fis_template(region, name)
            except (BotoCoreError, ClientError) as exc:
                return [f"{region}: cannot list FIS experiment templates ({exc})"]
            if template is None:
                return [f"{region}: no FIS template named {topo.deployment}-{name} tagged Deployment={topo.deployment}"]
            if self.fis_running(region, template["id"]):
                return [f"{region}: an experiment of {topo.deployment}-{name} is already running (another drill?)"]
            return []
        if scenario is not Scenario.HEALTH_CHECK_FAILOVER:
            return [
                f"scenario {scenario.value} cannot be injected in a real account (drkit could not put it back);"
                f" use --scenario health-check-failover, or --backend sim"
            ]
        problems = []
        try:
            checks = self._tagged()
        except (BotoCoreError, ClientError) as exc:
            return [f"Route 53: cannot list health checks ({exc})"]
        for region, facts in topo.regions.items():
            problems += health_check_problems(checks, facts.fqdn, region, topo.deployment)
            try:
                table = self.session.client("dynamodb", region_name=region).describe_table(TableName=facts.table_name)
                if table["Table"].get("TableStatus") != "ACTIVE":
                    problems.append(f"{region}: table {facts.table_name} is {table['Table'].get('TableStatus')}, not ACTIVE")
            except (BotoCoreError, ClientError) as exc:
                problems.append(f"{region}: table {facts.table_name} not reachable ({exc})")
        return problems

    def state(self) -> dict[str, Any]:
        checks = tagged_health_checks(self.route53, self.topo.deployment)
        running = []
        region = self.topo.secondaries[0]
        for name in FIS_TEMPLATES.values():
            template = self.fis_template(region, name)
            if template is not None and self.fis_running(region, template["id"]):
                running.append(f"{region}/{name}")
        return {
            "deployment": self.topo.deployment,
            "health_checks": {fqdn: {"inverted": c["inverted"]} for fqdn, c in sorted(checks.items())},
            "outages": [],
            "failed_endpoints": [],
            "hung_endpoints": [],
            "fis_running": running,
        }

    def apply(self, action: Action) -> None:
        if action.kind is ActionKind.FIS_EXPERIMENT:
            self._apply_fis(action)
            return
        if action.kind is not ActionKind.INVERT_HEALTH_CHECK:
            raise ValueError(f"the aws backend only inverts health checks and runs FIS templates, not {action.kind.value}")
        check = self._tagged()[action.target]
        if not self.execute:
            self.out("[dry-run] would call " + aws_call(action.kind, action.value, check=repr(check["id"])))
            return
        set_inverted(self.route53, check["id"], action.value)

    def _apply_fis(self, action: Action) -> None:
        """Start the template's experiment (value True) or stop its running ones (False)."""
        template = self.fis_template(action.region, action.target)
        if template is None:
            raise ValueError(f"{action.region}: FIS template {self.topo.deployment}-{action.target} not found")
        client = self._fis(action.region)
        if action.value:
            if not self.execute:
                self.out("[dry-run] would call " + aws_call(action.kind, True, template=repr(template["id"]), region=action.region))
                return
            started = client.start_experiment(experimentTemplateId=template["id"], tags={"drkit:drill": "true"})
            self.experiment_id = started["experiment"]["id"]
            return
        running = self.fis_running(action.region, template["id"])
        for experiment_id in running:
            if not self.execute:
                self.out("[dry-run] would call " + aws_call(action.kind, False, experiment=repr(experiment_id), region=action.region))
                continue
            client.stop_experiment(id=experiment_id)
        # Stopping is asynchronous: FIS removes the pause (resumes replication) as the experiment
        # leaves `stopping`. Wait for that, so the undo is done when it returns.
        def still_active() -> list[str]:
            states = (client.get_experiment(id=i)["experiment"].get("state", {}).get("status") for i in running)
            return [i for i, status in zip(running, states, strict=True) if status in FIS_ACTIVE]

        for _ in range(FIS_STOP_POLLS if self.execute and running else 0):
            if not still_active():
                return
            time.sleep(FIS_STOP_POLL_SECONDS)
        if self.execute and running and still_active():
            raise DrillSafetyError(
                f"{action.region}: FIS experiments {', '.join(running)} of {self.topo.deployment}-{action.target} were told to stop"
                f" but are still running after {FIS_STOP_POLLS * FIS_STOP_POLL_SECONDS:.0f} s; stop them in the FIS console"
            )

    def replication_problems(self) -> list[str]:
        """Replicas of the token table that are not replicating: a pause FIS failed to lift. A replica
        left REPLICATION_NOT_AUTHORIZED for 20 hours leaves the global table for good (DynamoDB
        developer guide, global tables security, read 2026-11)."""
        problems = []
        for region, facts in self.topo.regions.items():
            try:
                table = self.session.client("dynamodb", region_name=region).describe_table(TableName=facts.table_name)["Table"]
            except (BotoCoreError, ClientError) as exc:
                problems.append(f"{region}: cannot read table {facts.table_name} to check replication ({exc})")
                continue
            for replica in table.get("Replicas", []):
                if replica.get("ReplicaStatus") == "REPLICATION_NOT_AUTHORIZED":
                    problems.append(
                        f"{region}: replica {replica.get('RegionName')} of {facts.table_name} is REPLICATION_NOT_AUTHORIZED;"
                        " remove the deny on the replication role from its resource policy within 20 hours"
                    )
        return problems

    def wait_for_experiment(self, region: str, max_seconds: float, poll_seconds: float = 10.0) -> dict[str, Any]:
        """The started experiment once it left the active states (or as it is at the deadline)."""
        client, start = self._fis(region), time.monotonic()
        while True:
            experiment = client.get_experiment(id=self.experiment_id)["experiment"]
            if experiment.get("state", {}).get("status") not in FIS_ACTIVE or time.monotonic() - start >= max_seconds:
                return dict(experiment)
            time.sleep(poll_seconds)

    def wait_for_answer(
        self, *, zone_id: str, record: str, expected: str, max_seconds: float, poll_seconds: float = 5.0
    ) -> float | None:
        """Wall seconds until Route 53 answers `record` with `expected`; None if it never did."""
        start = time.monotonic()
        while time.monotonic() - start < max_seconds:
            answer = self.route53.test_dns_answer(HostedZoneId=zone_id, RecordName=record, RecordType="CNAME")
            if any(expected in data for data in answer.get("RecordData", [])):
                return time.monotonic() - start
            time.sleep(poll_seconds)
        return None
