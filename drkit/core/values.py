"""Plain-data helpers for resource properties and IAM policy documents.

Properties reach drkit as dicts and lists, or as pulumi_policy's read-only proxies of them;
policy documents put one statement or a list of them under "Statement". The deploy rules,
the IAM lint, the access contract and the pack's policies all read them through these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def is_list(value: Any) -> bool:
    """Lists and pulumi_policy's list proxies, but not strings."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def as_list(value: Any) -> list[Any]:
    """None → [], a list → its items, anything else → [it] (IAM's "Action": "s3:GetObject" form)."""
    if value is None:
        return []
    return list(value) if is_list(value) else [value]


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A policy document's statements, whether "Statement" holds one or a list."""
    found = document.get("Statement") or []
    return [found] if isinstance(found, Mapping) else list(found)


def plain(value: Any) -> Any:
    """A deep copy made of dicts, lists and scalars (policy props are read-only proxies)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if is_list(value):
        return [plain(v) for v in value]
    return value


def number(value: Any, default: float = 0.0) -> float:
    """A property read as a number; `default` when it is absent or not numeric (an unknown at preview)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
