"""argparse types for every numeric and region argument, with `drkit.core.loader`'s limits.

A refused value is one argparse error line (`drkit: error: argument --in-flight: ...; valid: ...`,
exit 2), never a traceback: a 5000-digit count, a negative count, NaN, or an unknown region.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from drkit.core.loader import InputError, bounded_float, bounded_int, region_name


def _argparse_type(parse: Callable[[str], object], name: str) -> Callable[[str], object]:
    def convert(text: str) -> object:
        try:
            return parse(text)
        except InputError as exc:
            raise argparse.ArgumentTypeError(f"{exc.problem}; valid: {exc.valid}") from None

    convert.__name__ = name  # argparse names the type in its messages
    return convert


def int_between(low: int, high: int) -> Callable[[str], object]:
    """An argparse type: an integer from `low` to `high`."""
    return _argparse_type(lambda text: bounded_int(text, flag="", low=low, high=high), "integer")


def number_between(low: float, high: float) -> Callable[[str], object]:
    """An argparse type: a finite number from `low` to `high`."""
    return _argparse_type(lambda text: bounded_float(text, flag="", low=low, high=high), "number")


def aws_region() -> Callable[[str], object]:
    """An argparse type: a region SageMaker serves."""
    return _argparse_type(lambda text: region_name(text, flag=""), "region")
