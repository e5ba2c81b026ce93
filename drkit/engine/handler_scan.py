"""The AWS calls a Lambda handler's code can make, read statically (ast), whether or not a test runs them.

For one handler (`components/functions/<kind>/`): the services are the botocore service names
its code spells (`boto3.client("dynamodb")`); the calls are every method call whose name is an
operation of one of those services (`client.put_item(...)` → `dynamodb:PutItem`, also through
`get_paginator("query")`), in the handler's files and in the bundled `drkit.core` functions it
reaches by name. The IAM action is the service's signing name plus the operation name, which
holds for every service these handlers use (sagemaker-runtime signs as `sagemaker`,
stepfunctions as `states`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

from drkit.components.bundle import CORE_PACKAGE, FUNCTIONS

# Operations authorised by another action's name (S3 API reference, HeadObject: "you must have the
# s3:GetObject permission").
ACTION_OF_OPERATION = {"s3:HeadObject": "s3:GetObject"}


@cache
def _operations(service: str) -> tuple[str, Mapping[str, str]]:
    model = botocore.session.get_session().get_service_model(service)
    return model.signing_name, {xform_name(op): op for op in model.operation_names}


@cache
def _services() -> frozenset[str]:
    return frozenset(botocore.session.get_session().get_available_services())


def _core_files(trees: Iterable[ast.Module]) -> dict[str, ast.Module]:
    """Every drkit.core module the trees import, transitively."""
    found: dict[str, ast.Module] = {}
    pending = list(trees)
    while pending:
        for node in ast.walk(pending.pop()):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("drkit.core."):
                name = node.module.rsplit(".", 1)[-1]  # type: ignore[union-attr]
                if name not in found:
                    found[name] = ast.parse((CORE_PACKAGE / f"{name}.py").read_text())
                    pending.append(found[name])
    return found


def _called_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
                if node.func.attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                    names.add(str(node.args[0].value))
            elif isinstance(node.func, ast.Name):
                names.add(node.func.id)
    return names


def scanned_actions(kind: str, functions: Path = FUNCTIONS) -> set[str]:
    """IAM actions (`service:Operation`) the code of handler `kind` can call."""
    trees = [ast.parse(path.read_text()) for path in sorted((functions / kind).glob("*.py"))]
    services = {
        node.value
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in _services()
    }
    # Reachability by name into the bundled core: a core def counts once something calls its name.
    definitions: dict[str, list[ast.AST]] = {}
    for tree in _core_files(trees).values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                definitions.setdefault(node.name, []).append(node)
    called: set[str] = set().union(*(_called_names(t) for t in trees))
    frontier = set(called)
    while frontier:
        name = frontier.pop()
        for definition in definitions.pop(name, []):
            # Constructing a class reaches its dunder methods; its other methods are reached by their own names.
            bodies = (
                [m for m in definition.body if isinstance(m, ast.FunctionDef) and m.name.startswith("__")]
                if isinstance(definition, ast.ClassDef)
                else [definition]
            )
            for body in bodies:
                new = _called_names(body) - called
                called |= new
                frontier |= new
    actions = set()
    for service in services:
        prefix, operations = _operations(service)
        for name in called & operations.keys():
            action = f"{prefix}:{operations[name]}"
            actions.add(ACTION_OF_OPERATION.get(action, action))
    return actions
