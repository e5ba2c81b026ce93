"""The spec takes its limits from the deploy-rule table: what it accepts deploys, what it refuses
gets the one-line error.

The oracle is AWS's: botocore's enums and limits, and the deploy rules that apply them to the
captured graph. A property test generates specs at every field's limits (length, characters,
counts) and checks both directions.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drkit.commands.check.names import CheckedStack, name_collisions
from drkit.core import aws_limits as al
from drkit.core.errors import SpecError
from drkit.core.spec import parse_spec
from drkit.engine.capture import capture
from tests.conftest import EXAMPLES
from tests.test_deploy_rules import rule_findings

BASE = yaml.safe_load((EXAMPLES / "docs-tier3.yaml").read_text())


def spec_with(**changes: Any) -> dict[str, Any]:
    """docs-tier3 with dotted paths set: spec_with(**{"models.0.version": "1.2"})."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        target: Any = data
        steps = path.split(".")
        for step in steps[:-1]:
            target = target[int(step)] if isinstance(target, list) else target.setdefault(step, {})
        target[steps[-1]] = value
    return data


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "broken.yaml")
    return caught.value.problems


# --- instance types: every type SageMaker sells, priced or not -----------------------------------


def test_every_real_time_instance_type_in_botocore_is_accepted() -> None:
    refused = []
    for instance_type in al.realtime_instance_types():
        try:
            parse_spec(spec_with(**{"models.0.provisioned.instance_type": instance_type}))
        except SpecError as exc:
            refused.append((instance_type, exc.problems))
    assert refused == []
    assert len(al.realtime_instance_types()) > 200  # botocore's enum, not a hand list


def test_async_types_must_also_run_batch_transform() -> None:
    only_hosting = next(t for t in al.realtime_instance_types() if t not in al.transform_instance_types())
    (problem,) = problems_of(spec_with(**{"models.0.async.instance_type": only_hosting}))
    assert problem.startswith(f"models[0].async.instance_type: {only_hosting!r} also runs batch transform jobs")


def test_an_unpriced_type_is_not_a_spec_error() -> None:
    assert parse_spec(spec_with(**{"models.0.provisioned.instance_type": "ml.m4.xlarge"})).models[0].provisioned


def test_an_unknown_type_names_the_nearest() -> None:
    (problem,) = problems_of(spec_with(**{"models.0.provisioned.instance_type": "ml.m5.xlarg"}))
    assert "unknown SageMaker instance type (did you mean ml.m5.xlarge" in problem


# --- each limit the table owns, refused with the field, the value and the rule ---------------------


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"models.0.model_data.bucket_prefix": "xn--models"}, "models[0].model_data.bucket_prefix: us-east-2's bucket 'xn--models-docs-tier3-us-east-2' must not begin with the reserved prefix 'xn--'"),
        ({"models.0.model_data.bucket_prefix": "sthree-models"}, "must not begin with the reserved prefix 'sthree-'"),
        ({"models.0.model_data.bucket_prefix": "m" * 41, "deployment": "docs-tier3-eu"}, "is 65 characters; S3 bucket names are 3-63"),
        ({"models.0.model_data.key": "doc-classifier/../other-team/model.tar.gz"}, "models[0].model_data.key: "),
        ({"models.0.model_data.key": "d/" + "\u00e9" * 520 + ".tar.gz"}, "bytes of UTF-8; S3 object keys allow at most 1024"),
        ({"models.0.model_data.key": "d/model\u202e.tar.gz"}, "contains control or bidi characters (U+202E)"),
        ({"models.0.image.repository": "ml/" + "r" * 200}, "models[0].image.repository: us-east-2's image URI"),
        ({"models.0.image.repository": "ML/Classifier"}, "does not match ecr CreateRepository repositoryName's pattern"),
        ({"dns.domain": "a" * 45 + ".example.com"}, "dns.domain: us-east-2's certificate name"),
        ({"health_check.path": "/health/../admin"}, "health_check.path: '/health/../admin': has a '.' or '..' path segment"),
        ({"tags": {"aws:team": "docs"}}, "tags: tag key 'aws:team' uses the reserved prefix 'aws:'"),
        ({"tags": {f"k{i}": "v" for i in range(45)}}, "has 45 tags; at most 44"),
        ({"tags": {"Owner": "back\u0007office"}}, "contains control or bidi characters (U+0007)"),
        ({"tags": {"Owner": "x" * 257}}, "value is 257 characters; allowed 0-256"),
    ],
)
def test_each_limit_is_refused_in_one_line(changes: dict[str, Any], fragment: str) -> None:
    problems = problems_of(spec_with(**changes))
    assert any(fragment in p for p in problems), problems
    assert all("\n" not in p for p in problems)


# --- property: accepted specs deploy, refused ones say why in one line ---------------------------

_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_HOSTILE = ["..", "/../", "\u0007", "\u202e", "\u00e9", "A", " ", "aws:", "xn--"]
_REGION_LEN = max(len("us-east-2"), len("us-west-2"))
_ECR_URI_FIXED = len("123456789012.dkr.ecr.us-east-2.amazonaws.com/") + len("@sha256:") + 64


def _at_limit(lo: int, hi: int) -> st.SearchStrategy[int]:
    """A length at either bound as often as one in between."""
    return st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))


def _word(lo: int, hi: int, alphabet: str = _LOWER) -> st.SearchStrategy[str]:
    return _at_limit(lo, hi).flatmap(lambda n: st.text(alphabet=alphabet, min_size=n, max_size=n))


def _dns_name(lo: int, hi: int) -> st.SearchStrategy[str]:
    """`[a-z][a-z0-9-]*[a-z0-9]` of lo..hi characters."""
    return _at_limit(lo, hi).flatmap(
        lambda n: st.text(alphabet=_LOWER + "-", min_size=n - 2, max_size=n - 2).map(lambda middle: f"a{middle}z")
    )


@st.composite
def valid_changes(draw: st.DrawFn) -> dict[str, Any]:
    """Every field the table limits, each at its limit (or inside it), derived names included."""
    deployment = draw(_dns_name(3, 40))
    room = 63 - len(deployment) - _REGION_LEN - 2  # <prefix>-<deployment>-<region> is a bucket name
    prefix = draw(_word(min(3, room), min(41, room))) if room >= 3 else None
    bucket = f"{prefix}-{deployment}-us-east-2"
    key_room = 1024 - len(f"s3://{bucket}/") - len(".tar.gz")
    tags = draw(
        st.dictionaries(
            _word(1, 128, "ABCabc_.:/=+-@ ").filter(lambda k: not k.lower().startswith("aws:")),
            _word(0, 256, "abc _.:/=+-@"),
            max_size=al.SPEC_MAX_TAGS,
        )
    )
    changes = {
        "deployment": deployment,
        "models.0.name": draw(_dns_name(3, 40)),
        "models.0.version": draw(_word(1, 32, "abcXYZ0123456789._-")),
        "models.0.model_data.key": draw(_word(1, min(key_room, 1000), _LOWER + "/-_").filter(lambda k: not k.startswith("/") and "//" not in k)) + ".tar.gz",
        "models.0.image.repository": "ml/" + draw(_word(1, 255 - _ECR_URI_FIXED - 3)),
        "dns.domain": draw(_word(1, 63 - len("us-east-2.") - len(".example.com"))) + ".example.com",
        "health_check.path": "/" + draw(_word(0, 254, _LOWER + "/-_")),
        "tags": tags,
    }
    if prefix:
        changes["models.0.model_data.bucket_prefix"] = prefix
    return changes


@st.composite
def broken_changes(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec with one field one past its limit or carrying a hostile character."""
    changes = draw(valid_changes())
    field = draw(st.sampled_from(sorted(k for k in changes if k != "tags") + ["tags"]))
    if field == "tags":
        changes["tags"] = draw(st.sampled_from([{f"k{i}": "v" for i in range(al.SPEC_MAX_TAGS + 1)}, {"aws:x": "y"}, {"k": "v" * 257}, {"k\u202e": "v"}]))
    else:
        value = str(changes[field])
        cut = draw(st.integers(0, len(value)))
        changes[field] = draw(st.one_of(st.just(value + value[-1:] * 300), st.sampled_from(_HOSTILE).map(lambda h: value[:cut] + h + value[cut:])))
    return changes


SPECS = st.one_of(valid_changes(), broken_changes())


@settings(max_examples=16, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(SPECS)
def test_specs_at_every_limit_deploy_or_are_refused_in_one_line(changes: dict[str, Any]) -> None:
    data = spec_with(**changes)
    try:
        spec = parse_spec(data, "generated.yaml")
    except SpecError as exc:
        assert exc.problems and all("\n" not in p and p.strip() for p in exc.problems), exc.problems
        assert str(exc).splitlines()[0].startswith("generated.yaml: ")
        return
    graph = capture(spec)
    for region_graph in graph:
        assert rule_findings(region_graph) == [], (changes, region_graph.stack)
    assert name_collisions([CheckedStack(spec.account_id, g, "generated.yaml") for g in graph]) == []
