"""pydantic's validation errors as one line per problem: the field's path, the value, and what
would be valid (for an unknown field: the fields that model has, nearest first)."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from drkit.core.catalog import closest


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "function_")) or part in ("tagged-union",):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation can hold (through Optional, unions, lists, dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple, dict, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds the field at `loc` (the last part), following named fields only."""
    current = model
    for part in loc[:-1]:
        if isinstance(part, int) or part.startswith("function-") or part == "tagged-union":
            continue
        field = next((f for name, f in current.model_fields.items() if part in (name, f.alias)), None)
        if field is None:
            continue  # a dict key or a union tag: the model stays the one below it
        found = _models_in(field.annotation)
        if len(found) != 1:
            return None
        current = found[0]
    return current


def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(f.alias or name for name, f in model.model_fields.items())


def _problem(error: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    where = _location(loc)
    message = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    if kind == "missing":
        return f"{where}: missing; this field is required"
    if kind == "extra_forbidden":
        holder = _model_at(model, loc) if model is not None else None
        if holder is None:
            return f"{where}: unknown field (value {describe(error['input'])}); remove it or check its spelling"
        names = _field_names(holder)
        guess = closest(str(loc[-1]), names, limit=1)
        hint = f"did you mean {guess[0]}? " if guess else ""
        return f"{where}: unknown field (value {describe(error['input'])}); {hint}valid: {', '.join(names)}"
    if kind in ("model_type", "dict_type"):
        return f"{where}: {describe(error['input'])} is not a mapping; expected a mapping of fields"
    if kind == "string_pattern_mismatch":
        return f"{where}: {describe(error['input'])} does not match {error['ctx']['pattern']}"
    if kind == "value_error" and loc and not isinstance(error["input"], dict):
        return f"{where}: {describe(error['input'])}: {message}"
    if kind == "value_error":
        return f"{where}: {message}" if where != "(top level)" else message
    return f"{where}: {describe(error['input'])}: {message}"


def problems(exc: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """Every problem once, in pydantic's order; `model` (the validated class) lets an unknown
    field's message list the fields that were expected there."""
    found: list[str] = []
    errors = exc.errors()
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors):
            continue  # pydantic's echo of an item that failed on its own; already reported
        for part in _problem(error, model).split(" | "):
            if part not in found:
                found.append(part)
    return found
