"""One exception family, caught once at the CLI and printed without a traceback."""

from __future__ import annotations


class DrkitError(Exception):
    """Base of every error drkit reports to a person."""


class SpecError(DrkitError):
    """A deployment spec is invalid. Carries one message per problem."""

    def __init__(self, source: str, problems: list[str], kind: str = "deployment spec") -> None:
        self.source = source
        self.problems = list(problems)
        self.kind = kind
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{source}: {len(self.problems)} {noun} in the {kind}:\n{lines}")


class ComponentValidationError(DrkitError):
    """A component was given arguments that cannot be deployed."""


class DrillSafetyError(DrkitError):
    """A drill refused to start or continue because it could not put things back."""


class UsageError(DrkitError):
    """A command-line argument drkit refuses: the message names the flag, the value and what is valid."""
