"""What a drill measured: the engine produces it, the report renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drkit.commands.drill.backends import BackendName
from drkit.commands.drill.scenarios import Scenario
from drkit.commands.drill.topology import Topology
from drkit.commands.drill.traffic import Measurement


@dataclass
class DrillResult:
    """What a drill measured and where its report is."""

    drill_id: str
    scenario: Scenario
    backend: BackendName
    topology: Topology
    takeover: str
    measurement: Measurement | None
    snapshot: dict[str, Any]
    restored_state: dict[str, Any]
    step_seconds: dict[str, float]
    verified: bool
    problems: list[str]
    plan: list[str] = field(default_factory=list)
    report_files: list[Path] = field(default_factory=list)
    fis_experiment: dict[str, Any] | None = None
    """The FIS experiment a `fis-*` scenario ran: id, template, final state, times."""

    @property
    def restored(self) -> bool:
        return self.restored_state == self.snapshot
