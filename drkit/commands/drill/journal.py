"""The drill journal: every mutating step is written to disk before it runs and after.

JSON lines, appended and fsynced record by record (and the directory fsynced when the
file is created), so a drill killed at any instant leaves a journal that says what it
meant to change and what it did change. `open_drill()` returns the records of the last
drill that has no `closed` record; `recover` (in `engine`) undoes its intents.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_FILE = "journal.jsonl"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Replace `path` with `data` as JSON: write a temp file, fsync, rename, fsync the directory."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Journal:
    """Append-only, fsynced record of one working directory's drills."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.path = self.workdir / JOURNAL_FILE

    def append(self, drill_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record and fsync it before returning."""
        created = not self.path.exists()
        self.workdir.mkdir(parents=True, exist_ok=True)
        record = {"drill": drill_id, "kind": kind, "at": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_dir(self.workdir)
        return record

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line from a kill mid-write: the intent before it stands
        return out

    def open_drill(self) -> list[dict[str, Any]]:
        """Records of the last drill if it was never closed, else []."""
        records = self.records()
        if not records:
            return []
        last = records[-1]["drill"]
        mine = [r for r in records if r["drill"] == last]
        return [] if any(r["kind"] == "closed" for r in mine) else mine
