"""AWS's own rules, applied to every resource before it reaches AWS (mandatory).

Shaped like cfn-lint's property rules: one policy per kind of constraint, the limits read from
botocore's service models through `drkit.core.aws_limits` (which maps each Pulumi resource type
to the operation and members it feeds), never written in the rule. Documented limits the models
lack and the input-safety rules live in that module's `HAND_RULES`, each citing its AWS page.
Values unknown at preview time are skipped, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from drkit.core import aws_limits as al
from drkit.core.values import plain
from drkit.policies.resources import Report, where


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_values(args: ResourceValidationArgs) -> Iterator[tuple[str, Any, al.Limits]]:
    for field, limits in al.field_limits(args.resource_type):
        try:
            found = list(al.values_at(args.props, field.prop))
        except UnknownValueError:
            continue  # unknown until deploy: not judged
        for path, value in found:
            yield path, value, limits


def _model_rule(check: Callable[[al.Limits, Any], str | None]) -> Callable[[ResourceValidationArgs, Report], None]:
    def validate(args: ResourceValidationArgs, report: Report) -> None:
        for path, value, limits in _field_values(args):
            problem = check(limits, value)
            if problem:
                report(f"{where(args)} `{path}` {_shown(value)} {problem}.")

    return validate


def _policy(name: str, description: str, validate: Callable[[ResourceValidationArgs, Report], None]) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name, description=description, enforcement_level=EnforcementLevel.MANDATORY, validate=validate
    )


def _hand_rules(policy: str) -> Callable[[ResourceValidationArgs, Report], None]:
    def validate(args: ResourceValidationArgs, report: Report) -> None:
        for rule in al.hand_rules_for(args.resource_type):
            if rule.policy != policy:
                continue
            try:
                found = [(path, plain(value)) for path, value in al.values_at(args.props, rule.prop)]
            except UnknownValueError:
                continue  # unknown until deploy: not judged
            for path, value in found:
                problem = rule.check(value)
                if problem:
                    report(f"{where(args)} `{path}` {_shown(value)} {problem} (see {rule.source}).")
        if policy == al.SAFETY:
            for path, value, _ in _field_values(args):
                bad = al.unsafe_characters(value) if isinstance(value, str) else []
                if bad:
                    report(f"{where(args)} `{path}` {_shown(value)} contains control or bidi characters ({', '.join(bad)}).")

    return validate


POLICIES = [
    _policy(
        "aws-string-length",
        "Checks whether every string and list an API receives is within the length botocore's model allows.",
        _model_rule(al.length_problem),
    ),
    _policy(
        "aws-pattern",
        "Checks whether every string an API receives matches, whole, the pattern botocore's model gives it.",
        _model_rule(al.pattern_problem),
    ),
    _policy("aws-enum", "Checks whether every enumerated value is one botocore's model lists.", _model_rule(al.enum_problem)),
    _policy(
        "aws-number-range",
        "Checks whether every number an API receives is within botocore's minimum and maximum.",
        _model_rule(al.range_problem),
    ),
    _policy(
        "aws-documented-limits",
        "Checks whether names meet the limits AWS documents but its API models lack (S3, ACM, Lambda, SNS, ...).",
        _hand_rules(al.DOCUMENTED),
    ),
    _policy(
        "input-safety",
        "Checks whether values carry no traversal, control or bidi characters, reserved aws: tag keys or too many tags.",
        _hand_rules(al.SAFETY),
    ),
]
