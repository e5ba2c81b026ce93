"""The one loader: each limit refuses with one line naming file, place, value and what is valid.

The corpus (tests/test_hostile_corpus.py) runs hundreds of generated cases; these pin the exact
message of each kind of refusal, the limits on command-line arguments, and strong consistency's
Region sets and RPO.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drkit.cli import main
from drkit.core.catalog import mrsc_region_set
from drkit.core.errors import SpecError
from drkit.core.loader import InputError, load_json, load_yaml
from drkit.core.spec import parse_spec
from drkit.core.usage import load_usage
from tests.conftest import example_spec

VALID = "a regular UTF-8 file of at most 1,048,576 bytes"


# Each loader with the kind of file it reads here; the message names the file, not the kind.
LOADERS = {".yaml": (load_yaml, "deployment spec"), ".json": (load_json, "policy config")}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.yaml", "a: 1\nb:\n  c: 2\n  c: 3\n", "line 4, column 3: key 'c' appears twice in one mapping (first at line 3, column 3); valid: each key once per mapping"),
        ("x.yaml", "a: .nan\n", "a: nan is not a finite number; valid: finite numbers only"),
        ("x.yaml", "a: [1, -.inf]\n", "a[1]: -inf is not a finite number; valid: finite numbers only"),
        ("x.yaml", "a: " + "7" * 31 + "\n", "line 1, column 4: an integer of 31 digits; valid: integers of at most 30 digits"),
        ("x.yaml", "a: &a [*a]\n", "line 1, column 8: alias *a refers to a node still open or undefined; valid: aliases to earlier, complete nodes only"),
        ("x.yaml", "a: " + "[" * 33 + "]" * 33 + "\n", "line 1, column 35: nested 33 levels deep; valid: at most 32 levels of nesting"),
        ("policy-config.json", '{"all": "advisory", "all": "mandatory"}', "key 'all': appears twice in one object; valid: each key once per object"),
        ("policy-config.json", '{"x": NaN}', "(number): NaN is not a finite number; valid: finite numbers only"),
        ("policy-config.json", '{"x": 1e999}', "x: inf is not a finite number; valid: finite numbers only"),
    ],
    ids=[
        "yaml-duplicate-key", "yaml-nan", "yaml-infinity-in-list", "yaml-long-integer", "yaml-recursive-alias", "yaml-too-deep",
        "json-duplicate-key", "json-nan", "json-overflow",
    ],
)
def test_refusals_name_the_line_or_field(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    load, kind = LOADERS[path.suffix]
    with pytest.raises(InputError) as err:
        load(path, kind=kind)
    assert str(err.value) == f"{path}: {message}"


def test_an_alias_bomb_is_refused_from_its_events_before_anything_is_built(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'] + [f"{b}: &{b} [{', '.join(['*' + a] * 10)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")  # 10^9 nodes once expanded
    with pytest.raises(InputError, match=r"bomb.yaml: line 5, column \d+: expands to more than 100,000 nodes \(alias expansion\)"):
        load_yaml(path, kind="deployment spec")


def test_the_same_anchor_used_a_few_times_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {x: 1}\none: *b\ntwo: {<<: *b, y: 2}\n")
    assert load_yaml(path, kind="spec") == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1, "y": 2}}


def test_files_that_are_not_regular_are_refused_before_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    cases = {
        fifo: "is a FIFO (named pipe)",
        Path("/dev/zero"): "is a character device",
        tmp_path: "is a directory",
        tmp_path / "a": "a symlink loop",
        big: "is larger than 1,048,576 bytes",
    }
    for path, problem in cases.items():
        with pytest.raises(InputError) as err:
            load_yaml(path, kind="deployment spec")
        assert str(err.value) == f"{path}: (file): {problem}; valid: {VALID}"


def test_a_usage_profile_refuses_nan_written_as_a_string(tmp_path: Path) -> None:
    """pydantic turns the string "nan" into a float NaN unless told not to."""
    path = tmp_path / "usage.yaml"
    path.write_text("weekend_factor: 'nan'\n")
    with pytest.raises(SpecError, match="weekend_factor: 'nan': Input should be a finite number"):
        load_usage(path)


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (["route", "--class", "critical", "--payload-bytes", "9" * 5000],
         "drkit: error: --payload-bytes: '9999999999999999999999999999999999999'... is not a byte count; use an int, optionally with a unit: b, kb, kib, mb, mib, gb, gib, tb, tib\n"),
        (["drill", "run", "s.yaml", "--scenario", "region-outage", "--in-flight", "-5"],
         "drkit: error: drill run: argument --in-flight: -5 is out of range; valid: an integer from 0 to 100,000 (see drkit drill run --help)\n"),
        (["drill", "run", "s.yaml", "--scenario", "region-outage", "--seed", "9" * 5000],
         "drkit: error: drill run: argument --seed: an integer of 5000 digits; valid: an integer from 0 to 4,294,967,295 (see drkit drill run --help)\n"),
        (["drill", "run", "s.yaml", "--scenario", "region-outage", "--replication-lag", "nan"],
         "drkit: error: drill run: argument --replication-lag: nan is out of range; valid: a number from 0 to 86400 (see drkit drill run --help)\n"),
        (["redrive", "--from-region", "us-east-9", "--to-region", "us-west-2", "--deployment-spec", "s.yaml"],
         "drkit: error: redrive: argument --from-region: 'us-east-9' is not an AWS region (did you mean us-east-2, us-east-1, us-west-2?);"
         " valid: a SageMaker region such as us-east-1 (see drkit redrive --help)\n"),
    ],
    ids=["5000-digit-payload", "negative-count", "5000-digit-seed", "nan-lag", "bad-region"],
)
def test_command_line_arguments_are_refused_in_one_line(argv: list[str], stderr: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert (code, capsys.readouterr().err) == (2, stderr)


def test_strong_consistency_needs_one_mrsc_region_set_and_targets_rpo_zero() -> None:
    data = example_spec("fraud-tier1").model_dump(mode="json", by_alias=True)
    data["consistency"] = "strong"
    with pytest.raises(SpecError) as err:
        parse_spec(data, "fraud.yaml")
    assert err.value.problems == [
        "consistency: 'strong' needs all 3 regions in one DynamoDB multi-Region strong consistency Region set;"
        " us-east-1, us-west-2, eu-west-1 are not (valid sets: US: us-east-1, us-east-2, us-west-2;"
        " EU: eu-central-1, eu-west-1, eu-west-2, eu-west-3; AP: ap-northeast-1, ap-northeast-2, ap-northeast-3)"
    ]
    data["secondary_regions"] = ["us-east-2", "us-west-2"]
    spec = parse_spec(data)
    assert (spec.rpo_seconds, example_spec("fraud-tier1").rpo_seconds) == (0.0, 1.0)
    assert [mrsc_region_set(r) for r in (("eu-west-1", "eu-west-3", "eu-central-1"), ("ap-northeast-1", "ap-northeast-3", "ap-northeast-2"), ("us-east-1", "eu-west-1", "us-west-2"))] == ["EU", "AP", None]
