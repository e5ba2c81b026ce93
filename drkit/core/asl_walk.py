"""Walk an Amazon States Language definition along its success path, offline.

`happy_path` answers "which states does one execution enter when every Task succeeds?",
which is what Step Functions bills a Standard workflow for (one state transition per state
entered; see components/workflow.py). It evaluates the Choice rules drkit's definitions
use, writes Pass results and counts Parallel/Map inner states; anything it cannot evaluate
is refused by name rather than guessed. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drkit.core.errors import ComponentValidationError

MAX_WALK_STEPS = 1000  # a definition that loops longer than this on its success path is refused


def happy_path(definition: Mapping[str, Any], execution_input: Mapping[str, Any]) -> tuple[str, ...]:
    """The states one execution enters, in order, when every Task succeeds (no retry, no catch).

    Choice rules are evaluated on the execution's data as Step Functions would (Pass states
    write their Result, a Task writes an opaque `{}` at its ResultPath); Parallel and Map
    states count themselves and every inner state they run, named `outer/inner`. A walk that
    ends in a Fail state is no success path and is refused.
    """
    trace: list[str] = []
    _walk(definition, dict(execution_input), trace, prefix="")
    return tuple(trace)


def _walk(machine: Mapping[str, Any], data: Any, trace: list[str], *, prefix: str) -> Any:
    states: Mapping[str, Any] = machine.get("States", {})
    name: str = machine.get("StartAt", "")
    for _ in range(MAX_WALK_STEPS):
        state = states.get(name)
        if state is None:
            raise ComponentValidationError(f"happy_path: state {prefix}{name!r} does not exist; valid: {', '.join(states)}")
        trace.append(f"{prefix}{name}")
        kind = state.get("Type")
        if kind == "Fail":
            raise ComponentValidationError(
                f"happy_path: the walk ends in Fail state {prefix}{name!r} ({state.get('Error')}); give an input that succeeds"
            )
        if kind == "Succeed":
            return _select(data, state.get("OutputPath", "$"))
        if kind == "Choice":
            name = next(
                (rule["Next"] for rule in state["Choices"] if _matches(rule, data, f"{prefix}{name}")), state.get("Default", "")
            )
            if not name:
                raise ComponentValidationError(f"happy_path: Choice state {trace[-1]!r} matched no rule and has no Default")
            continue
        effective = _select(data, state.get("InputPath", "$"))
        if kind == "Pass":
            result = state["Result"] if "Result" in state else _parameters(state.get("Parameters"), effective)
        elif kind == "Task":
            result = {}  # what the service returns is unknown offline; nothing downstream branches on it
        elif kind == "Parallel":
            result = [_walk(branch, effective, trace, prefix=f"{prefix}{name}/") for branch in state["Branches"]]
        elif kind == "Map":
            items = _select(effective, state.get("ItemsPath", "$"))
            if not isinstance(items, list):
                raise ComponentValidationError(
                    f"happy_path: Map state {trace[-1]!r}: ItemsPath {state.get('ItemsPath', '$')!r} is not a list"
                )
            inner = state.get("ItemProcessor") or state.get("Iterator") or {}
            result = [_walk(inner, item, trace, prefix=f"{prefix}{name}/") for item in items]
        else:
            raise ComponentValidationError(
                f"happy_path: state {trace[-1]!r} has Type {kind!r}; valid: Choice, Pass, Task, Parallel, Map, Succeed, Fail"
            )
        data = _select(_put(data, state.get("ResultPath", "$"), result), state.get("OutputPath", "$"))
        if state.get("End"):
            return data
        name = state.get("Next", "")
    raise ComponentValidationError(
        f"happy_path: more than {MAX_WALK_STEPS} states without reaching an end; the success path loops"
    )


def _steps(path: str) -> list[str]:
    if path == "$":
        return []
    if not path.startswith("$."):
        raise ComponentValidationError(f"happy_path: path {path!r} is not a plain $.a.b reference; only those are supported")
    return path[2:].split(".")


def _lookup(data: Any, path: str) -> tuple[bool, Any]:
    for step in _steps(path):
        if not isinstance(data, Mapping) or step not in data:
            return False, None
        data = data[step]
    return True, data


def _select(data: Any, path: str | None) -> Any:
    if path is None:
        return {}
    found, value = _lookup(data, path)
    if not found:
        raise ComponentValidationError(f"happy_path: {path!r} is not in the execution's data")
    return value


def _put(data: Any, path: str | None, value: Any) -> Any:
    """ResultPath semantics: None keeps the input, "$" replaces it, "$.a.b" sets a copy's field."""
    if path is None:
        return data
    steps = _steps(path)
    if not steps:
        return value
    out = dict(data) if isinstance(data, Mapping) else {}
    node = out
    for step in steps[:-1]:
        child = node.get(step)
        node[step] = dict(child) if isinstance(child, Mapping) else {}
        node = node[step]
    node[steps[-1]] = value
    return out


def _parameters(template: Any, data: Any) -> Any:
    """Parameters with `key.$` references resolved; intrinsic functions and `$$` stay opaque."""
    if template is None:
        return data
    if isinstance(template, Mapping):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                out[key[:-2]] = _lookup(data, value)[1] if value.startswith("$.") or value == "$" else value
            else:
                out[key] = _parameters(value, data)
        return out
    if isinstance(template, list):
        return [_parameters(v, data) for v in template]
    return template


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TESTS: Mapping[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda v, x: isinstance(v, str) and v == x,
    "NumericEquals": lambda v, x: _is_number(v) and v == x,
    "NumericLessThan": lambda v, x: _is_number(v) and v < x,
    "NumericLessThanEquals": lambda v, x: _is_number(v) and v <= x,
    "NumericGreaterThan": lambda v, x: _is_number(v) and v > x,
    "NumericGreaterThanEquals": lambda v, x: _is_number(v) and v >= x,
    "BooleanEquals": lambda v, x: isinstance(v, bool) and v is x,
    "IsNumeric": lambda v, x: _is_number(v) is x,
    "IsBoolean": lambda v, x: isinstance(v, bool) is x,
    "IsString": lambda v, x: isinstance(v, str) is x,
    "IsNull": lambda v, x: (v is None) is x,
}


def _matches(rule: Mapping[str, Any], data: Any, state: str) -> bool:
    if "And" in rule:
        return all(_matches(r, data, state) for r in rule["And"])
    if "Or" in rule:
        return any(_matches(r, data, state) for r in rule["Or"])
    if "Not" in rule:
        return not _matches(rule["Not"], data, state)
    variable = rule["Variable"]
    found, value = _lookup(data, variable)
    if "IsPresent" in rule:
        return found is rule["IsPresent"]
    test = next((key for key in rule if key in _TESTS), None)
    if test is None:
        raise ComponentValidationError(
            f"happy_path: Choice state {state!r}: rule {sorted(rule)} has no supported test; valid: IsPresent, {', '.join(_TESTS)}"
        )
    if not found:
        # Step Functions fails the execution (States.Runtime) when a rule reads a missing field.
        raise ComponentValidationError(f"happy_path: Choice state {state!r} reads {variable!r}, which the execution's data lacks")
    return _TESTS[test](value, rule[test])
