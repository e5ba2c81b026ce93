"""Virtual time for the sim backend: a drill of many virtual minutes runs in wall-clock seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VirtualClock:
    """Seconds since the drill's epoch. Only the simulation loop advances it."""

    now: float = 0.0

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"the clock cannot go back ({seconds} s)")
        self.now += seconds
        return self.now
