"""One region's stack must not own what another region needs (captured example graphs).

Two ways one stack can break another: it deletes a cloud object the other also uses (both
stacks write it), or it deletes an object whose id the other read through its StackReference.
Pulumi deletes what a stack owns on `pulumi destroy` and on a replace, unless the resource is
retained (`retainOnDelete`: Pulumi "will not call through to the resource provider's Delete
method when deleting or replacing the resource") or protected (Pulumi refuses to delete it).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from drkit.engine.graph import DeploymentGraph, Resource
from drkit.stacks.program import ARC_CHECKS_EXPORT, TABLE_EXPORTS
from tests.conftest import EXAMPLE_NAMES, example_graph

RECORD = "aws:route53/record:Record"
PLAN = "aws:arcregionswitch/plan:Plan"
TABLE = "aws:dynamodb/table:Table"


def record_identity(record: Resource) -> tuple[str, str, str, str]:
    """What Route 53 knows a record set by: zone, name, type and set identifier."""
    name = str(record.get("name")).rstrip(".").lower()
    return (str(record.get("zoneId")), name, str(record.get("type")), str(record.get("setIdentifier") or ""))


def records_by_identity(graph: DeploymentGraph) -> dict[tuple[str, str, str, str], list[tuple[str, Resource]]]:
    found: dict[tuple[str, str, str, str], list[tuple[str, Resource]]] = defaultdict(list)
    for region_graph in graph:
        for record in region_graph.of_type(RECORD):
            found[record_identity(record)].append((region_graph.region, record))
    return found


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_a_record_written_by_several_stacks_is_never_deleted_by_one(name: str) -> None:
    # GIVEN every Route 53 record set of the deployment, by the identity Route 53 keys it by
    graph = example_graph(name)
    shared = {k: v for k, v in records_by_identity(graph).items() if len({region for region, _ in v}) > 1}
    # THEN the records several stacks write are exactly the shared name's certificate validation...
    assert len(shared) == 1, sorted(shared)
    (((_, record_name, record_type, _), writers),) = shared.items()
    assert record_type == "CNAME" and record_name.endswith(f".{graph.spec.dns.domain}")
    assert {region for region, _ in writers} == set(graph.spec.regions)
    # ...and no stack deletes it on destroy or replace, and each may write it over the others'
    for region, record in writers:
        assert record.retain_on_delete, (
            f"{record.urn} in {region}: destroying this stack would delete {record_name}, which every region's certificate renews with"
        )
        assert record.get("allowOverwrite") is True, record.urn


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_records_of_one_region_stay_owned_by_that_region(name: str) -> None:
    # Retaining is for what is shared only: a region's own records go with its stack.
    graph = example_graph(name)
    for writers in records_by_identity(graph).values():
        if len(writers) == 1:
            region, record = writers[0]
            assert not record.retain_on_delete, f"{record.urn} in {region} is only this region's and must go with its stack"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_what_secondaries_read_from_the_primary_cannot_be_deleted_by_the_primary(name: str) -> None:
    graph = example_graph(name)
    primary = graph.primary
    # Each export a secondary reads through its StackReference, and the resources it comes from.
    sources = {
        ARC_CHECKS_EXPORT: primary.of_type(PLAN),  # ARC creates the health checks per plan
        **{export: primary.of_type(TABLE) for export in TABLE_EXPORTS if graph.spec.consistency != "strong"},
    }
    assert sources[ARC_CHECKS_EXPORT], "the primary owns one Region switch plan per secondary"
    for export, resources in sources.items():
        assert export in primary.exports
        for resource in resources:
            assert resource.protect, (
                f"{resource.urn}: secondaries read {export} from it; the primary's stack must not delete it silently"
            )
