"""The drill journal: every mutating step is written to disk before it runs and after.

One record per line, framed as ``<crc32 of the JSON, 8 hex digits> <JSON>\\n``, appended and
fsynced record by record (and the directory fsynced when the file is created). So a drill
killed at any instant leaves a journal that says what it meant to change and what it did:

- a **torn tail** (the last line has no newline: the kill landed inside a write) is the only
  damage a crash can cause; it is cut off before anything else is appended, and the intent
  before it stands;
- any other bad line (a checksum that does not match, a line that is not a record) is
  **damage**, not a crash: the journal is refused with the line named, and nothing is undone
  from it, because an undo read from a damaged journal could close a drill and leave its
  outage in place.

`lock()` takes an exclusive `fcntl.flock` on ``journal.lock`` beside the journal: a drill holds
it for its whole run and `recover` for its whole undo, so a second operator in the same
working directory is refused instead of undoing a live drill's injection.
"""

from __future__ import annotations

import fcntl
import json
import os
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drkit.core.errors import DrillSafetyError
from drkit.core.loader import InputError, parse_json, read_bytes

JOURNAL_FILE = "journal.jsonl"
LOCK_FILE = "journal.lock"
MAX_JOURNAL_BYTES = 64 * 1024 * 1024
"""A drill writes a few KB; a journal this large is not one drkit wrote."""
MAX_RECORD_BYTES = 1024 * 1024
"""Longest record drkit writes (a snapshot is a few KB); a longer unterminated tail is not a torn write."""
KINDS = frozenset({"begin", "step", "snapshot", "intent", "result", "closed", "lock"})


# Every durable byte and every rename goes through these two functions, so the kill-point test
# can stop the process at each write boundary (and inside a write) by wrapping them.
def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _replace(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Replace `path` with `data` as JSON: write a temp file, fsync, rename, fsync the directory."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        _write_all(fd, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _replace(tmp, path)
    _fsync_dir(path.parent)


def frame(record: Mapping[str, Any]) -> bytes:
    """One journal line: checksum, space, JSON (ASCII only), newline."""
    body = json.dumps(record, sort_keys=True, ensure_ascii=True, allow_nan=False).encode("ascii")
    if len(body) > MAX_RECORD_BYTES:
        raise DrillSafetyError(f"journal record of {len(body):,} bytes; valid: at most {MAX_RECORD_BYTES:,}")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _unframe(line: bytes) -> dict[str, Any] | str:
    """The record on one complete line, or why it is not one."""
    crc, _, body = line.partition(b" ")
    if len(crc) != 8 or not body:
        return "not a framed record (expected: 8 hex digits of CRC-32, a space, JSON)"
    try:
        expected = int(crc, 16)
    except ValueError:
        return f"checksum field {crc[:8]!r} is not hexadecimal"
    if zlib.crc32(body) != expected:
        return "checksum does not match its contents"
    try:
        record = parse_json(body.decode("ascii"), source="journal", kind="drill journal")
    except (UnicodeDecodeError, InputError) as exc:
        return f"checksum matches but the record is refused ({getattr(exc, 'problem', 'not ASCII')})"
    if not isinstance(record, dict) or not isinstance(record.get("drill"), str) or record.get("kind") not in KINDS:
        return "not a drill record (needs a string 'drill' and a known 'kind')"
    return record


class Journal:
    """Append-only, checksummed, fsynced record of one working directory's drills."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.path = self.workdir / JOURNAL_FILE
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._tail_checked = False

    # --- the lock ------------------------------------------------------------------------

    @contextmanager
    def lock(self, holder: str) -> Iterator[None]:
        """Hold the working directory's exclusive lock; refuse at once if someone else holds it."""
        if self._lock_fd is not None:  # re-entered by the same drill (a stop calls recover)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.workdir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 512).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise DrillSafetyError(
                f"{self.workdir / LOCK_FILE}: held by {owner}; another drill or recover is running in this working"
                " directory; wait for it to finish (one operator per working directory)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()}, since {datetime.now(UTC).isoformat(timespec='seconds')})".encode(), 0)
        self._lock_fd = fd
        try:
            self._cut_torn_tail()
            yield
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # --- reading -------------------------------------------------------------------------

    def _scan(self) -> tuple[list[dict[str, Any]], int, int]:
        """(records, bytes of whole lines, file size). Raises on damage anywhere but a torn tail."""
        if not os.path.lexists(self.path):  # a dangling or looping symlink is refused by read_bytes, not "no journal"
            return [], 0, 0
        data = read_bytes(self.path, kind="drill journal", max_bytes=MAX_JOURNAL_BYTES)
        records: list[dict[str, Any]] = []
        whole = data.rfind(b"\n") + 1  # bytes before the torn tail, if any
        if len(data) - whole > MAX_RECORD_BYTES:
            torn_at = data[:whole].count(b"\n") + 1
            raise DrillSafetyError(
                f"{self.path}: line {torn_at}: an unterminated last line of {len(data) - whole:,} bytes,"
                f" longer than any record ({MAX_RECORD_BYTES:,}); valid: a torn tail no longer than one record."
                " The journal is damaged, not torn by a crash, so drkit will not undo anything from it"
            )
        for number, line in enumerate(data[:whole].split(b"\n")[:-1], start=1):
            parsed = _unframe(line)
            if isinstance(parsed, str):
                raise DrillSafetyError(
                    f"{self.path}: line {number}: {parsed}; valid: lines drkit wrote (CRC-32, space, JSON record)."
                    " The journal is damaged, not torn by a crash, so drkit will not undo anything from it:"
                    " check the account by hand, then move the journal aside"
                )
            records.append(parsed)
        return records, whole, len(data)

    def _cut_torn_tail(self) -> None:
        """Cut a last line without its newline (a kill inside a write) so appends start on a clean line."""
        _, whole, size = self._scan()
        if size > whole:
            with open(self.path, "r+b") as fh:
                fh.truncate(whole)
                fh.flush()
                os.fsync(fh.fileno())
        self._tail_checked = True

    def records(self) -> list[dict[str, Any]]:
        """Every whole record; a torn tail is left out, damage raises `DrillSafetyError`."""
        try:
            return self._scan()[0]
        except InputError as exc:
            raise DrillSafetyError(f"{exc}; the journal cannot be read, so drkit will not undo anything from it") from None

    def open_drill(self) -> list[dict[str, Any]]:
        """Records of the last drill if it was never closed, else []."""
        records = self.records()
        if not records:
            return []
        last = records[-1]["drill"]
        mine = [r for r in records if r["drill"] == last]
        return [] if any(r["kind"] == "closed" for r in mine) else mine

    # --- writing -------------------------------------------------------------------------

    def append(self, drill_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one framed record and fsync it before returning (cutting a torn tail first)."""
        if not self._tail_checked:
            self._cut_torn_tail()
        created = not self.path.exists()
        self.workdir.mkdir(parents=True, exist_ok=True)
        record = {"drill": drill_id, "kind": kind, "at": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields}
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _write_all(fd, frame(record))
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.workdir)
        return record
