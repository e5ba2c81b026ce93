"""The one way drkit reads a file a person (or a crash) handed it: specs, usage profiles,
policy configs, drill journals, simulated accounts, probe payloads.

Every file goes through `read_text`, then `parse_yaml` or `parse_json`, and is refused with
one `InputError` line (file, where, the value, what is valid) when it is:

- not a regular file (a directory, FIFO, device such as /dev/zero, socket) or a symlink loop —
  opened non-blocking so a FIFO cannot hang the open, and checked with fstat before reading;
- larger than its cap (read at most cap + 1 bytes, so a growing file cannot exhaust memory);
- not UTF-8;
- YAML whose aliases expand past `MAX_NODES` nodes (a "billion laughs" bomb is refused by an
  event scan before anything is built), nested deeper than `MAX_DEPTH`, or with a key twice in
  one mapping (YAML 1.2 forbids it; PyYAML silently keeps the last);
- JSON with a duplicate key, NaN/Infinity, or nesting past `MAX_DEPTH`;
- any number that is not finite (`.nan`, `.inf`, `1e999`) or an integer longer than
  `MAX_INT_DIGITS` digits (Python refuses to convert 4300+ digits with a traceback).

The same limits check command-line arguments (`bounded_int`, `bounded_float`, `region_name`).
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from drkit.core.catalog import SAGEMAKER_REGIONS, closest
from drkit.core.errors import SpecError

MAX_BYTES = 1024 * 1024
"""Default size cap: a deployment spec is a few KB; 1 MiB leaves room and refuses a 60 MB file."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists; drkit's deepest file nests 4 levels."""
MAX_NODES = 100_000
"""Most YAML nodes after expanding aliases; a spec has a few hundred."""
MAX_INT_DIGITS = 30
"""Longest integer literal; every count drkit reads fits in 20 digits."""


class InputError(SpecError):
    """A file or argument refused before it was interpreted: one line, naming where, what and what is valid."""

    def __init__(self, source: str, where: str, problem: str, valid: str, kind: str = "file") -> None:
        super().__init__(source, [f"{where}: {problem}; valid: {valid}"], kind=kind)
        self.where, self.problem, self.valid = where, problem, valid
        self.args = (f"{source}: {where}: {problem}; valid: {valid}",)

    def __str__(self) -> str:
        return str(self.args[0])


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_bytes(path: str | Path, *, kind: str, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, or an `InputError`."""
    source = str(path)
    regular = f"a regular UTF-8 file of at most {max_bytes:,} bytes"
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError(source, "(file)", "file not found", regular, kind) from None
    except OSError as exc:
        problem = "a symlink loop" if exc.errno == errno.ELOOP else f"cannot be opened ({exc.strerror})"
        raise InputError(source, "(file)", problem, regular, kind) from None
    try:
        mode = os.fstat(fd).st_mode
        for test, name in _FILE_TYPES:
            if test(mode):
                raise InputError(source, "(file)", f"is {name}", regular, kind)
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InputError(source, "(file)", f"cannot be read ({exc.strerror})", regular, kind) from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise InputError(source, "(file)", f"is larger than {max_bytes:,} bytes", regular, kind)
    return b"".join(chunks)


def read_text(path: str | Path, *, kind: str, max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes`, or an `InputError`."""
    source = str(path)
    data = read_bytes(path, kind=kind, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(source, f"line {line}", f"is not UTF-8 text (byte {data[exc.start]:#04x})", "UTF-8 text", kind) from None


# --- YAML ----------------------------------------------------------------------------------


def _mark(node_or_event: Any) -> str:
    mark = getattr(node_or_event, "start_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"


class _RefusedError(Exception):
    def __init__(self, where: str, problem: str, valid: str) -> None:
        super().__init__(problem)
        self.where, self.problem, self.valid = where, problem, valid


def _scan_events(text: str) -> None:
    """Refuse depth and alias expansion from the event stream, before any node is built.

    Each anchored node's expanded size is remembered when it closes; an alias adds that size,
    so `total` is the size of the document as a program would see it after loading.
    """
    depth, total = 0, 0
    open_anchors: list[tuple[str, int]] = []  # (anchor, total when it opened), collections only
    sizes: dict[str, int] = {}
    for event in yaml.parse(text, Loader=yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes:
                raise _RefusedError(_mark(event), f"alias *{event.anchor} refers to a node still open or undefined",
                                   "aliases to earlier, complete nodes only")  # fmt: skip
            total += sizes[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            total += 1
            depth += 1
            if depth > MAX_DEPTH:
                raise _RefusedError(_mark(event), f"nested {depth} levels deep", f"at most {MAX_DEPTH} levels of nesting")
            open_anchors.append((event.anchor or "", total - 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = open_anchors.pop()
            if anchor:
                sizes[anchor] = total - start
        if total > MAX_NODES:
            raise _RefusedError(_mark(event), f"expands to more than {MAX_NODES:,} nodes (alias expansion)",
                               f"at most {MAX_NODES:,} nodes after aliases")  # fmt: skip


_BASE_LOADER: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _StrictLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses a key twice in one mapping and integers too long to be counts."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _RefusedError(_mark(key_node), f"key {_short(key)} appears twice in one mapping (first at {_mark(seen[key])})",
                                       "each key once per mapping")  # fmt: skip
                seen[key] = key_node
            except TypeError:
                pass  # unhashable: SafeConstructor reports it with its mark
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: Any) -> Any:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _RefusedError(_mark(node), f"an integer of {digits} digits", f"integers of at most {MAX_INT_DIGITS} digits")
        return super().construct_yaml_int(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_yaml_map)


def parse_yaml(text: str, *, source: str, kind: str) -> Any:
    """Parse YAML under drkit's limits; any problem is an `InputError` naming its line."""
    try:
        _scan_events(text)
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _RefusedError as exc:
        raise InputError(source, exc.where, exc.problem, exc.valid, kind) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(source, where, f"not valid YAML ({problem})", "a YAML document", kind) from None
    except RecursionError:
        raise InputError(source, "(file)", "nested too deeply to parse", f"at most {MAX_DEPTH} levels of nesting", kind) from None
    check_finite(data, source=source, kind=kind)
    return data


# --- JSON ----------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RefusedError(f"key {_short(key)}", "appears twice in one object", "each key once per object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _RefusedError("(number)", f"{name} is not a finite number", "finite numbers only")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _RefusedError("(number)", f"an integer of {len(text.lstrip('-'))} digits", f"integers of at most {MAX_INT_DIGITS} digits")
    return int(text)


def parse_json(text: str, *, source: str, kind: str) -> Any:
    """Parse JSON under drkit's limits; any problem is an `InputError`."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_bounded_int)
    except _RefusedError as exc:
        raise InputError(source, exc.where, exc.problem, exc.valid, kind) from None
    except json.JSONDecodeError as exc:
        raise InputError(source, f"line {exc.lineno}, column {exc.colno}", f"not valid JSON ({exc.msg})", "a JSON document", kind) from None
    except RecursionError:
        raise InputError(source, "(file)", "nested too deeply to parse", f"at most {MAX_DEPTH} levels of nesting", kind) from None
    check_finite(data, source=source, kind=kind)
    return data


def check_finite(data: Any, *, source: str, kind: str) -> None:
    """Refuse NaN, ±Infinity and nesting deeper than `MAX_DEPTH`, naming the field."""
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(source, where or "(top level)", f"nested {depth} levels deep", f"at most {MAX_DEPTH} levels of nesting", kind)
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(source, where or "(top level)", f"{value!r} is not a finite number", "finite numbers only", kind)
        if isinstance(value, dict):
            stack += [(f"{where}.{k}" if where else str(k), v, depth + 1) for k, v in value.items()]
        elif isinstance(value, list | tuple):
            stack += [(f"{where}[{i}]", v, depth + 1) for i, v in enumerate(value)]


def load_yaml(path: str | Path, *, kind: str, max_bytes: int = MAX_BYTES) -> Any:
    """`read_text` then `parse_yaml`."""
    return parse_yaml(read_text(path, kind=kind, max_bytes=max_bytes), source=str(path), kind=kind)


def load_json(path: str | Path, *, kind: str, max_bytes: int = MAX_BYTES) -> Any:
    """`read_text` then `parse_json`."""
    return parse_json(read_text(path, kind=kind, max_bytes=max_bytes), source=str(path), kind=kind)


# --- command-line arguments ------------------------------------------------------------------


def bounded_int(text: str, *, flag: str, low: int, high: int) -> int:
    """An integer argument from `low` to `high`, or an `InputError` naming the flag."""
    valid = f"an integer from {low:,} to {high:,}"
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in ("+", "-") else stripped
    if not digits.isdigit() or not digits.isascii():
        raise InputError(flag, "(argument)", f"{_short(text)} is not an integer", valid, "argument")
    if len(digits) > MAX_INT_DIGITS:
        raise InputError(flag, "(argument)", f"an integer of {len(digits)} digits", valid, "argument")
    value = int(stripped)
    if not low <= value <= high:
        raise InputError(flag, "(argument)", f"{value:,} is out of range", valid, "argument")
    return value


def bounded_float(text: str, *, flag: str, low: float, high: float) -> float:
    """A finite number argument from `low` to `high`, or an `InputError` naming the flag."""
    valid = f"a number from {low:g} to {high:g}"
    if len(text) > 64:
        raise InputError(flag, "(argument)", f"{_short(text)} is too long for a number", valid, "argument")
    try:
        value = float(text)
    except ValueError:
        raise InputError(flag, "(argument)", f"{_short(text)} is not a number", valid, "argument") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(flag, "(argument)", f"{value:g} is out of range", valid, "argument")
    return value


def region_name(text: str, *, flag: str) -> str:
    """An AWS region SageMaker serves, or an `InputError` with the closest names."""
    if text in SAGEMAKER_REGIONS:
        return text
    hint = closest(text[:64], SAGEMAKER_REGIONS)
    guess = f" (did you mean {', '.join(hint)}?)" if hint else ""
    raise InputError(flag, "(argument)", f"{_short(text)} is not an AWS region{guess}", "a SageMaker region such as us-east-1", "argument")
