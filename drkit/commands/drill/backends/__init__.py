"""Where a drill's account changes happen: `sim` (moto + fidelity layer) or `aws` (boto3).

Both expose the same small surface to the engine: `preflight`, `state` (the account's
drill-relevant switches, JSON), `apply(action)`, `close`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Protocol

from drkit.commands.drill.scenarios import Action, ActionKind, Scenario
from drkit.commands.drill.topology import Topology


class BackendName(str, Enum):
    """Which account a drill runs against."""

    SIM = "sim"
    AWS = "aws"


class Backend(Protocol):
    name: BackendName

    def preflight(self, topo: Topology, scenario: Scenario) -> list[str]: ...

    def state(self) -> dict[str, Any]: ...

    def apply(self, action: Action) -> None: ...

    def close(self) -> None: ...

    def lock_account(self, owner: str, seconds: float) -> None:
        """Hold the deployment's account-side drill lock for `owner` (a drill id) for `seconds`,
        or raise `DrillSafetyError` naming who holds it. Taking it again as the same owner renews it."""
        ...

    def unlock_account(self, owner: str) -> None:
        """Release the lock if `owner` still holds it."""
        ...


def switch_value(state: dict[str, Any], action: Action) -> bool:
    """The value the switch `action` sets had in `state` (a snapshot): what undo restores."""
    if action.kind is ActionKind.INVERT_HEALTH_CHECK:
        return bool(state["health_checks"][action.target]["inverted"])
    if action.kind is ActionKind.REGION_OUTAGE:
        return action.target in state["outages"]
    if action.kind is ActionKind.FIS_EXPERIMENT:
        return f"{action.region}/{action.target}" in state.get("fis_running", [])
    return f"{action.region}/{action.target}" in state.get(ENDPOINT_SWITCHES[action.kind], [])


# Where the sim account keeps each endpoint switch: failing fast, or hanging until the caller times out.
ENDPOINT_SWITCHES = {ActionKind.ENDPOINT_FAILURE: "failed_endpoints", ActionKind.ENDPOINT_TIMEOUT: "hung_endpoints"}
