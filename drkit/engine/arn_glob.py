"""IAM's wildcard matching (`*` any run of characters, `?` one character), for ARNs and actions.

Two questions come up: does a concrete value match a policy pattern (`matches`), and can two
patterns match a common value (`overlap`: a policy's `Resource` against an ARN format from
the Service Authorization Reference, whose `${Variables}` are wildcards too).
"""

from __future__ import annotations

import re
from functools import cache

_VARIABLE = re.compile(r"\$\{[^}]*\}")


@cache
def _regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether `value` matches the IAM wildcard `pattern` (actions compare case-insensitively)."""
    return _regex(pattern, ignore_case).fullmatch(value) is not None


def format_as_pattern(arn_format: str) -> str:
    """`arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}` -> `arn:*:logs:*:*:log-group:*`."""
    return _VARIABLE.sub("*", arn_format)


def overlap(left: str, right: str) -> bool:
    """Whether some string matches both wildcard patterns (`*` and `?` on either side)."""
    return _overlap(left, right)


@cache
def _overlap(a: str, b: str) -> bool:
    # Dynamic programme over positions (i, j); a `*` may consume nothing or one character of the other side.
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        left_star = i < len(a) and a[i] == "*"
        right_star = j < len(b) and b[j] == "*"
        if left_star:
            stack.append((i + 1, j))  # the star matches nothing more
            if j < len(b):
                stack.append((i, j + 1))  # the star swallows one more character (or the other star)
        if right_star:
            stack.append((i, j + 1))
            if i < len(a):
                stack.append((i + 1, j))
        if i < len(a) and j < len(b) and not left_star and not right_star and (a[i] == b[j] or "?" in (a[i], b[j])):
            stack.append((i + 1, j + 1))
    return False
