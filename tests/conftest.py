"""Shared fixtures: the bundled example specs and their offline graphs (captured once per session)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from drkit.capture import capture
from drkit.graph import DeploymentGraph
from drkit.spec import DeploymentSpec, load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "stacks" / "examples"
EXAMPLE_NAMES = ("fraud-tier1", "search-tier2", "docs-tier3")


@cache
def example_spec(name: str) -> DeploymentSpec:
    return load_spec(EXAMPLES / f"{name}.yaml")


@cache
def example_graph(name: str) -> DeploymentGraph:
    return capture(example_spec(name))


@pytest.fixture(params=EXAMPLE_NAMES)
def any_example(request: pytest.FixtureRequest) -> DeploymentGraph:
    """Each bundled example's full deployment graph."""
    return example_graph(request.param)
