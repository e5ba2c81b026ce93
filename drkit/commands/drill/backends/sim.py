"""The `sim` backend: a simulated account on moto plus the fidelity layer, persisted to disk.

The account lives in `sim-account.json` in the drill's working directory, written
atomically after every change, so a killed drill and a later `drkit drill recover`
(another process) see the same world. Each process rebuilds moto from it: Route 53
health checks (tagged with the deployment; inversion is a real `UpdateHealthCheck`
call) and each region's token table. What moto lacks — region outages, failed
endpoints — are fidelity switches stored beside them; an outage makes every boto3
call to that region fail with `EndpointConnectionError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from drkit.commands.drill.backends import ENDPOINT_SWITCHES, BackendName
from drkit.commands.drill.backends.route53 import health_check_problems, set_inverted, tagged_health_checks
from drkit.commands.drill.fidelity import RegionOutage
from drkit.commands.drill.journal import write_atomic
from drkit.commands.drill.scenarios import FIS_TEMPLATES, Action, ActionKind, Scenario
from drkit.commands.drill.topology import Topology
from drkit.core.catalog import HEALTH_CHECK_INTERVALS, HEALTH_CHECK_MAX_FAILURE_THRESHOLD
from drkit.core.errors import DrillSafetyError
from drkit.core.loader import InputError, load_json

ACCOUNT_FILE = "sim-account.json"
ROUTE53_REGION = "us-east-1"  # Route 53's control plane is global, served from us-east-1


def initial_account(topo: Topology) -> dict[str, Any]:
    """The simulated account as the deployment's stacks would leave it."""
    return {
        "deployment": topo.deployment,
        "health_checks": {
            f.fqdn: {"region": r, "interval": f.request_interval, "threshold": f.failure_threshold, "inverted": False}
            for r, f in topo.regions.items()
        },
        "tables": {r: f.table_name for r, f in topo.regions.items()},
        "outages": [],
        "failed_endpoints": [],
        "hung_endpoints": [],
    }


def _checked_account(path: Path, data: Any) -> dict[str, Any]:
    """The account file's shape, or an `InputError` naming the field: a hand-edited or damaged file
    must not turn into a KeyError half-way through a recover."""
    shape = {"deployment": str, "health_checks": dict, "tables": dict, "outages": list, "failed_endpoints": list}
    if not isinstance(data, dict):
        raise InputError(str(path), "(top level)", f"a {type(data).__name__}", "the object drkit wrote", "simulated account")
    for field, kind in shape.items():
        if not isinstance(data.get(field), kind):
            raise InputError(str(path), field, f"{_short(data.get(field))}", f"a {kind.__name__}", "simulated account")
    for fqdn, hc in data["health_checks"].items():
        ok = isinstance(hc, dict) and isinstance(hc.get("region"), str) and isinstance(hc.get("inverted"), bool)
        numbers = ok and all(isinstance(hc.get(k), int | float) and not isinstance(hc.get(k), bool) for k in ("interval", "threshold"))
        # Route 53's own limits (CreateHealthCheck): RequestInterval 10 or 30, FailureThreshold 1-10.
        if not (numbers and hc["interval"] in HEALTH_CHECK_INTERVALS and 1 <= hc["threshold"] <= HEALTH_CHECK_MAX_FAILURE_THRESHOLD):
            valid = f"{{region, interval {' or '.join(map(str, HEALTH_CHECK_INTERVALS))}, threshold 1-{HEALTH_CHECK_MAX_FAILURE_THRESHOLD}, inverted}}"
            raise InputError(str(path), f"health_checks.{fqdn}", _short(hc), valid, "simulated account")
    for field in ("outages", "failed_endpoints"):
        if not all(isinstance(v, str) for v in data[field]):
            raise InputError(str(path), field, _short(data[field]), "a list of strings", "simulated account")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data["tables"].items()):
        raise InputError(str(path), "tables", _short(data["tables"]), "region: table name strings", "simulated account")
    return data


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class SimBackend:
    """A simulated account in `workdir`, created from `topo` on first use."""

    name = BackendName.SIM

    def __init__(self, workdir: Path, topo: Topology | None = None) -> None:
        self.path = Path(workdir) / ACCOUNT_FILE
        if self.path.exists():
            self.account = _checked_account(self.path, load_json(self.path, kind="simulated account"))
        elif topo is not None:
            self.account = initial_account(topo)
            Path(workdir).mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, self.account)
        else:
            raise DrillSafetyError(f"{self.path}: no simulated account here; run `drkit drill run` in this directory first")
        self.outage = RegionOutage(set(self.account["outages"]))
        self._mock = mock_aws()
        self._mock.start()
        self.route53 = boto3.client("route53", region_name=ROUTE53_REGION)
        self.dynamodb = {}
        for fqdn, hc in self.account["health_checks"].items():
            created = self.route53.create_health_check(
                CallerReference=fqdn,
                HealthCheckConfig={
                    "Type": "HTTPS", "FullyQualifiedDomainName": fqdn, "Port": 443, "ResourcePath": "/health",
                    "RequestInterval": int(hc["interval"]), "FailureThreshold": int(hc["threshold"]),
                    "Inverted": bool(hc["inverted"]),
                },
            )  # fmt: skip
            self.route53.change_tags_for_resource(
                ResourceType="healthcheck",
                ResourceId=created["HealthCheck"]["Id"],
                AddTags=[{"Key": "Deployment", "Value": self.account["deployment"]}],
            )
        for region, table in self.account["tables"].items():
            client = boto3.client("dynamodb", region_name=region)
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            self.outage.install(client)
            self.dynamodb[region] = client

    def close(self) -> None:
        self._mock.stop()

    # The simulated account lives in the working directory, so the journal's flock already makes
    # its operator the only one; there is no second machine to exclude.
    def lock_account(self, owner: str, seconds: float) -> None:
        pass

    def unlock_account(self, owner: str) -> None:
        pass

    def state(self) -> dict[str, Any]:
        """The account read back through the APIs (moto) and the fidelity switches."""
        checks = tagged_health_checks(self.route53, self.account["deployment"])
        health = {fqdn: {**hc, "inverted": checks[fqdn]["inverted"]} for fqdn, hc in self.account["health_checks"].items()}
        return {**self.account, "health_checks": health, "outages": sorted(self.outage.down)}

    def _save(self) -> None:
        self.account = self.state()
        write_atomic(self.path, self.account)

    def apply(self, action: Action) -> None:
        if action.kind is ActionKind.INVERT_HEALTH_CHECK:
            checks = tagged_health_checks(self.route53, self.account["deployment"])
            set_inverted(self.route53, checks[action.target]["id"], action.value)
        elif action.kind is ActionKind.REGION_OUTAGE:
            (self.outage.down.add if action.value else self.outage.down.discard)(action.target)
        else:
            key, switch = f"{action.region}/{action.target}", ENDPOINT_SWITCHES[action.kind]
            failed = set(self.account.get(switch, []))
            (failed.add if action.value else failed.discard)(key)
            self.account[switch] = sorted(failed)
        self._save()

    def preflight(self, topo: Topology, scenario: Scenario) -> list[str]:
        """Reasons not to start; empty when the drill can put back everything it changes."""
        if scenario in FIS_TEMPLATES:
            return [f"scenario {scenario.value} starts an AWS FIS experiment, which only a real account runs; use --backend aws"]
        problems = []
        checks = tagged_health_checks(self.route53, topo.deployment)
        for region, facts in topo.regions.items():
            problems += health_check_problems(checks, facts.fqdn, region, topo.deployment)
            try:
                self.dynamodb[region].describe_table(TableName=facts.table_name)
            except EndpointConnectionError:
                problems.append(f"{region}: not answering (DynamoDB DescribeTable failed); a drill could not restore it")
        for key in self.account["failed_endpoints"]:
            problems.append(f"{key}: endpoint already failing; fix it before drilling")
        for key in self.account.get("hung_endpoints", []):
            problems.append(f"{key}: endpoint already hanging; fix it before drilling")
        return problems
