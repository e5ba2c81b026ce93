"""Compile the routing decision table into Amazon States Language Choice states.

The workflow and the router Lambda must never disagree about a path, so the Choice states
are generated from `drkit.core.routing.DECISION_TABLE` (specialised per class by
`drkit.core.routing.rules_for`, the same function `route()` uses), never written by hand.

The execution input carries `$.payload_bytes` (int), `$.traffic_class` (string) and
`$.off_hours` (boolean, false when absent). Static conditions (kind, class timeout) are
settled at compile time; size and off-hours become `NumericLessThanEquals` and
`BooleanEquals` rules. An input that `route()` would refuse goes to `invalid_state`.

One gap ASL cannot close: Choice rules cannot test "is an integer", so a fractional
`payload_bytes` is compared as a number here while `route()` refuses it. The router
computes sizes with `len()`, so a fraction never reaches the workflow from drkit itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drkit.core.routing import (
    MAX_PAYLOAD_BYTES,
    ClassInfo,
    OffHoursIs,
    Path,
    RoutingError,
    Rule,
    SizeAtMost,
    rules_for,
)

SIZE = "$.payload_bytes"
CLASS = "$.traffic_class"
OFF_HOURS = "$.off_hours"
# Where the per-rule Pass states record the decision in the workflow's state.
ROUTE_RESULT_PATH = "$.route"

CHECK_SIZE = "Route.CheckSize"
CHECK_OFF_HOURS = "Route.CheckOffHours"
DEFAULT_OFF_HOURS = "Route.DefaultOffHours"
CHOOSE_CLASS = "Route.Class"
INVALID = "Route.Invalid"
ROUTING_ERROR = "drkit.RoutingError"


def class_state(cls: ClassInfo) -> str:
    """Name of the Choice state that decides within one class."""
    return f"Route.Class.{cls.name}"


def rule_state(rule: Rule) -> str:
    """Name of the Pass state that records which rule fired."""
    return f"Route.Rule.{rule.name}"


def _condition(condition: SizeAtMost | OffHoursIs) -> dict[str, Any]:
    if isinstance(condition, SizeAtMost):
        return {"Variable": SIZE, "NumericLessThanEquals": condition.max_bytes}
    return {"Variable": OFF_HOURS, "BooleanEquals": condition.value}


def _class_choice(cls: ClassInfo, invalid_state: str) -> dict[str, Any]:
    """The class's rows in order; the first row with no runtime condition becomes the Default."""
    choices: list[dict[str, Any]] = []
    default = invalid_state  # no row holds: too large for every path this class may use
    for rule in rules_for(cls):
        conditions = [_condition(c) for c in rule.dynamic_conditions]
        if not conditions:
            default = rule_state(rule)
            break
        test = conditions[0] if len(conditions) == 1 else {"And": conditions}
        choices.append({**test, "Next": rule_state(rule)})
    if not choices:
        # A Choice state needs at least one rule; an always-false one keeps the state valid.
        choices.append({"Variable": SIZE, "NumericLessThan": 0, "Next": invalid_state})
    return {
        "Type": "Choice",
        "Comment": f"class {cls.name!r} ({cls.kind.value}, timeout {cls.timeout_seconds} s): rows {', '.join(r.name for r in rules_for(cls))}",
        "Choices": choices,
        "Default": default,
    }


def _validation_states(classes: Mapping[str, ClassInfo], invalid_state: str) -> dict[str, dict[str, Any]]:
    return {
        CHECK_SIZE: {
            "Type": "Choice",
            "Comment": f"payload_bytes must be a number from 0 to {MAX_PAYLOAD_BYTES}",
            "Choices": [
                {"Variable": SIZE, "IsPresent": False, "Next": invalid_state},
                {"Variable": SIZE, "IsNumeric": False, "Next": invalid_state},
                {"Variable": SIZE, "NumericLessThan": 0, "Next": invalid_state},
                {"Variable": SIZE, "NumericGreaterThan": MAX_PAYLOAD_BYTES, "Next": invalid_state},
            ],
            "Default": CHECK_OFF_HOURS,
        },
        CHECK_OFF_HOURS: {
            "Type": "Choice",
            "Comment": "off_hours is optional (false when absent) but must be a boolean when given",
            "Choices": [
                {"Variable": OFF_HOURS, "IsPresent": False, "Next": DEFAULT_OFF_HOURS},
                {"Variable": OFF_HOURS, "IsBoolean": False, "Next": invalid_state},
            ],
            "Default": CHOOSE_CLASS,
        },
        DEFAULT_OFF_HOURS: {"Type": "Pass", "Result": False, "ResultPath": OFF_HOURS, "Next": CHOOSE_CLASS},
        CHOOSE_CLASS: {
            "Type": "Choice",
            "Comment": f"valid classes: {', '.join(sorted(classes))}",
            "Choices": [
                {"Variable": CLASS, "IsPresent": False, "Next": invalid_state},
                *({"Variable": CLASS, "StringEquals": name, "Next": class_state(cls)} for name, cls in classes.items()),
            ],
            "Default": invalid_state,
        },
    }


def _used_rules(classes: Mapping[str, ClassInfo]) -> list[Rule]:
    seen: dict[str, Rule] = {}
    for cls in classes.values():
        for rule in rules_for(cls):
            seen.setdefault(rule.name, rule)
    return list(seen.values())


def _compile(
    classes: Mapping[str, ClassInfo],
    invalid_state: str,
    terminal: Mapping[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    states = _validation_states(classes, invalid_state)
    for cls in classes.values():
        states[class_state(cls)] = _class_choice(cls, invalid_state)
    states.update(terminal)
    return states


def _check_classes(classes: Mapping[str, ClassInfo]) -> None:
    if not classes:
        raise RoutingError("traffic_classes: none given; the workflow needs at least one class to route")
    for name, cls in classes.items():
        if name != cls.name:
            raise RoutingError(f"traffic_classes: key {name!r} holds class {cls.name!r}; key each class by its own name")


def choice_states(classes: Mapping[str, ClassInfo], *, on_path: Mapping[Path, str], invalid_state: str) -> dict[str, dict[str, Any]]:
    """The routing states for a workflow: enter at `CHECK_SIZE`; each rule records `$.route` then goes to `on_path[path]`.

    `$.route` becomes {"path": ..., "rule": ...}, so the execution history says which row fired.
    """
    _check_classes(classes)
    rules = _used_rules(classes)
    missing = sorted({r.path.value for r in rules if r.path not in on_path})
    if missing:
        raise RoutingError(f"on_path: no state for path {', '.join(missing)}; the classes given can route there")
    terminal = {
        rule_state(rule): {
            "Type": "Pass",
            "Result": {"path": rule.path.value, "rule": rule.name},
            "ResultPath": ROUTE_RESULT_PATH,
            "Next": on_path[rule.path],
        }
        for rule in rules
    }
    return _compile(classes, invalid_state, terminal)


def routing_only_definition(classes: Mapping[str, ClassInfo]) -> dict[str, Any]:
    """A complete state machine that only routes: it ends with {"path", "rule"}, or fails with `drkit.RoutingError`."""
    _check_classes(classes)
    terminal: dict[str, dict[str, Any]] = {
        rule_state(rule): {"Type": "Pass", "Result": {"path": rule.path.value, "rule": rule.name}, "End": True}
        for rule in _used_rules(classes)
    }
    terminal[INVALID] = {
        "Type": "Fail",
        "Error": ROUTING_ERROR,
        "Cause": "payload_bytes must be a number within the class's largest limit, traffic_class a known class, off_hours a boolean",
    }
    return {
        "Comment": "drkit routing decision table compiled to Choice states (generated by drkit.core.asl; do not edit)",
        "StartAt": CHECK_SIZE,
        "States": _compile(classes, INVALID, terminal),
    }
