"""The routing decision table: every rule, every limit at and one byte over, bad input, the CLI."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

import drkit.cli
from drkit.core.errors import DrkitError
from drkit.core.routing import (
    ASYNC_INLINE_BODY_MAX_BYTES,
    ASYNC_MAX_PAYLOAD_BYTES,
    BATCH_MAX_PAYLOAD_BYTES,
    DECISION_TABLE,
    MAX_PAYLOAD_BYTES,
    REALTIME_MAX_PAYLOAD_BYTES,
    SERVERLESS_MAX_PAYLOAD_BYTES,
    ClassInfo,
    ClassKind,
    Path,
    RoutingError,
    async_input_inline,
    classes_from,
    explain,
    route,
    rules_for,
)
from drkit.core.spec import TrafficClass, TrafficKind
from tests.conftest import EXAMPLES

CLASSES = classes_from(
    [
        SimpleNamespace(name="auth", kind="critical", timeout_seconds=2),
        SimpleNamespace(name="auth-at-60", kind=TrafficKind.CRITICAL, timeout_seconds=60),
        SimpleNamespace(name="auth-slow", kind="critical", timeout_seconds=61),
        SimpleNamespace(name="review", kind="standard", timeout_seconds=30),
        SimpleNamespace(name="review-slow", kind="standard", timeout_seconds=61),
        SimpleNamespace(name="backfill", kind="bulk", timeout_seconds=3600),
        SimpleNamespace(name="backfill-long", kind="bulk", timeout_seconds=3601),
    ]
)


def decide(size: int, cls: str, off_hours: bool = False) -> tuple[Path, str]:
    decision = route(size, cls, classes=CLASSES, off_hours=off_hours)
    return decision.path, decision.rule


# --- the limits are the documented AWS figures, in bytes --------------------------------------


def test_limits_are_the_documented_binary_figures() -> None:
    assert REALTIME_MAX_PAYLOAD_BYTES == 6_291_456  # InvokeEndpoint Body "Maximum length of 6291456"
    assert SERVERLESS_MAX_PAYLOAD_BYTES == 4_194_304
    assert ASYNC_MAX_PAYLOAD_BYTES == 1_073_741_824
    assert BATCH_MAX_PAYLOAD_BYTES == 5 * 1024**4 == MAX_PAYLOAD_BYTES


# --- one test per rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "cls", "off_hours", "expected"),
    [
        (1_000, "auth", False, (Path.REALTIME, "critical-realtime")),
        (1_000, "auth", True, (Path.REALTIME, "critical-realtime")),  # critical ignores the clock
        (1_000, "auth-slow", False, (Path.ASYNC, "critical-async")),
        (1_000, "review", True, (Path.SERVERLESS, "standard-serverless-off-hours")),
        (1_000, "review", False, (Path.REALTIME, "standard-realtime")),
        (1_000, "review-slow", False, (Path.ASYNC, "standard-async")),
        (1_000, "review-slow", True, (Path.ASYNC, "standard-async")),
        (1_000, "backfill", False, (Path.ASYNC, "bulk-async")),
        (1_000, "backfill-long", False, (Path.BATCH, "bulk-batch")),
    ],
)
def test_each_rule_fires_for_its_case(size: int, cls: str, off_hours: bool, expected: tuple[Path, str]) -> None:
    assert decide(size, cls, off_hours) == expected


def test_every_rule_in_the_table_is_reachable_from_the_test_classes() -> None:
    reachable = {rule.name for cls in CLASSES.values() for rule in rules_for(cls)}
    assert reachable == {rule.name for rule in DECISION_TABLE}


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in DECISION_TABLE]
    assert len(names) == len(set(names))


# --- exactly at each limit is inside; one byte over is outside ---------------------------------


@pytest.mark.parametrize(
    ("size", "cls", "off_hours", "expected"),
    [
        (REALTIME_MAX_PAYLOAD_BYTES, "auth", False, Path.REALTIME),
        (REALTIME_MAX_PAYLOAD_BYTES + 1, "auth", False, Path.ASYNC),
        (REALTIME_MAX_PAYLOAD_BYTES, "auth-at-60", False, Path.REALTIME),  # timeout exactly 60 s is inside
        (REALTIME_MAX_PAYLOAD_BYTES, "review", False, Path.REALTIME),
        (REALTIME_MAX_PAYLOAD_BYTES + 1, "review", False, Path.ASYNC),
        (SERVERLESS_MAX_PAYLOAD_BYTES, "review", True, Path.SERVERLESS),
        (SERVERLESS_MAX_PAYLOAD_BYTES + 1, "review", True, Path.ASYNC),  # off-hours: no real-time fallback
        (ASYNC_MAX_PAYLOAD_BYTES, "auth", False, Path.ASYNC),
        (ASYNC_MAX_PAYLOAD_BYTES, "review", True, Path.ASYNC),
        (ASYNC_MAX_PAYLOAD_BYTES, "backfill", False, Path.ASYNC),
        (ASYNC_MAX_PAYLOAD_BYTES + 1, "backfill", False, Path.BATCH),
        (BATCH_MAX_PAYLOAD_BYTES, "backfill", False, Path.BATCH),
        (BATCH_MAX_PAYLOAD_BYTES, "backfill-long", False, Path.BATCH),
    ],
)
def test_limits_are_inclusive(size: int, cls: str, off_hours: bool, expected: Path) -> None:
    assert decide(size, cls, off_hours)[0] is expected


@pytest.mark.parametrize("cls", ["auth", "review"])
def test_online_class_one_byte_over_async_is_refused_naming_the_async_limit(cls: str) -> None:
    with pytest.raises(RoutingError) as caught:
        decide(ASYNC_MAX_PAYLOAD_BYTES + 1, cls)
    message = str(caught.value)
    assert message.startswith(f"payload_bytes: {ASYNC_MAX_PAYLOAD_BYTES + 1:,} is above the async (S3 input) payload limit")
    assert "1,073,741,824 B (1 GiB)" in message and f"({cls!r})" in message and "bulk class" in message


def test_one_byte_over_the_largest_limit_is_refused_for_every_class() -> None:
    for name in CLASSES:
        with pytest.raises(RoutingError, match=r"above the largest limit of any path"):
            decide(MAX_PAYLOAD_BYTES + 1, name)


def test_zero_bytes_is_a_valid_request() -> None:
    assert decide(0, "auth") == (Path.REALTIME, "critical-realtime")
    assert decide(0, "review", off_hours=True) == (Path.SERVERLESS, "standard-serverless-off-hours")


# --- bad input --------------------------------------------------------------------------------


def test_negative_size_is_refused_with_the_valid_range() -> None:
    with pytest.raises(RoutingError) as caught:
        decide(-1, "auth")
    assert str(caught.value) == "payload_bytes: -1 is negative; expected an int byte count from 0 to 5,497,558,138,880"


@pytest.mark.parametrize("value", [True, False])
def test_bool_size_is_refused_although_bool_is_an_int(value: bool) -> None:
    with pytest.raises(RoutingError) as caught:
        route(value, "auth", classes=CLASSES)
    assert str(caught.value) == f"payload_bytes: {value!r} is a bool; expected an int byte count from 0 to 5,497,558,138,880"


@pytest.mark.parametrize("value", [1.0, "100", None])
def test_non_int_size_is_refused_naming_its_type(value: object) -> None:
    with pytest.raises(RoutingError, match=rf"^payload_bytes: {value!r} is a {type(value).__name__}; expected an int"):
        route(value, "auth", classes=CLASSES)  # type: ignore[arg-type]


def test_absurd_size_is_refused_naming_the_largest_limit() -> None:
    with pytest.raises(RoutingError) as caught:
        decide(10**15, "backfill")
    assert str(caught.value) == (
        "payload_bytes: 1,000,000,000,000,000 is above the largest limit of any path, "
        "the batch transform input limit (largest S3 object) of 5,497,558,138,880 B (5 TiB)"
    )


def test_unknown_class_lists_the_valid_ones() -> None:
    with pytest.raises(RoutingError) as caught:
        decide(10, "Auth")
    assert str(caught.value) == (
        "traffic_class: unknown class 'Auth'; valid classes: auth, auth-at-60, auth-slow, backfill, backfill-long, review, review-slow"
    )


def test_non_bool_off_hours_is_refused() -> None:
    with pytest.raises(RoutingError, match=r"^off_hours: 'yes' is a str; expected true or false$"):
        route(10, "review", classes=CLASSES, off_hours="yes")  # type: ignore[arg-type]


def test_routing_error_is_a_drkit_error_so_the_cli_prints_it_without_a_traceback() -> None:
    assert issubclass(RoutingError, DrkitError)


# --- the decision explains itself ---------------------------------------------------------------


def test_reason_names_the_limit_that_sent_a_request_to_async() -> None:
    decision = route(REALTIME_MAX_PAYLOAD_BYTES + 1, "auth", classes=CLASSES)
    assert "skipped critical-realtime: payload 6,291,457 B is above the real-time InvokeEndpoint payload limit of 6,291,456 B (6 MiB)" in decision.reason


def test_reason_names_the_timeout_that_kept_a_class_off_realtime() -> None:
    decision = route(10, "auth-slow", classes=CLASSES)
    assert "class timeout 61 s is above the real-time invocation limit of 60 s" in decision.reason


def test_explain_marks_exactly_the_rule_route_chose() -> None:
    steps = explain(10, "review", classes=CLASSES, off_hours=True)
    assert [s.rule for s in steps] == [r.name for r in DECISION_TABLE]
    assert [s.rule for s in steps if s.fired] == [route(10, "review", classes=CLASSES, off_hours=True).rule]
    assert steps[0].detail == "class 'review' is standard, not critical"
    assert steps[-1].detail == "not evaluated: an earlier rule fired"


def test_async_inline_body_limit_is_128000_decimal_bytes() -> None:
    assert async_input_inline(ASYNC_INLINE_BODY_MAX_BYTES) is True
    assert async_input_inline(ASYNC_INLINE_BODY_MAX_BYTES + 1) is False


# --- classes ------------------------------------------------------------------------------------


def test_classes_from_accepts_spec_traffic_classes() -> None:
    spec_classes = [TrafficClass(name="a", kind=TrafficKind.STANDARD, timeout_seconds=9)]
    assert classes_from(spec_classes) == {"a": ClassInfo("a", ClassKind.STANDARD, 9)}


@pytest.mark.parametrize("kind", ["bulk", TrafficKind.BULK, ClassKind.BULK])
def test_class_info_accepts_the_kind_as_a_string_or_str_enum(kind: object) -> None:
    info = ClassInfo("x", kind, 5)  # type: ignore[arg-type]
    assert info.kind is ClassKind.BULK and info == ClassInfo("x", ClassKind.BULK, 5)


def test_classes_from_refuses_an_unknown_kind() -> None:
    with pytest.raises(RoutingError) as caught:
        classes_from([SimpleNamespace(name="x", kind="urgent", timeout_seconds=1)])
    assert str(caught.value) == "traffic class 'x': kind 'urgent' is unknown; valid: critical, standard, bulk"


def test_classes_from_refuses_duplicate_names() -> None:
    item = SimpleNamespace(name="x", kind="bulk", timeout_seconds=1)
    with pytest.raises(RoutingError, match=r"^traffic class 'x': duplicate name"):
        classes_from([item, item])


@pytest.mark.parametrize("timeout", [0, -5, True, 1.5])
def test_class_timeout_must_be_a_positive_int(timeout: object) -> None:
    with pytest.raises(RoutingError, match=rf"^traffic class 'x': timeout_seconds {timeout!r} must be a positive int"):
        ClassInfo("x", ClassKind.BULK, timeout)  # type: ignore[arg-type]


# --- drkit route ----------------------------------------------------------------------------------


@pytest.fixture
def cli() -> None:
    assert "drkit.commands.route.command" in drkit.cli.COMMAND_MODULES


SPEC = str(EXAMPLES / "fraud-tier1.yaml")


def test_cli_json_decision(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = drkit.cli.main(["route", "--spec", SPEC, "--payload-bytes", "7MiB", "--class", "authorisation", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["path"], out["rule"], out["payload_bytes"], out["deployment"]) == ("async", "critical-async", 7 * 1024**2, "fraud-tier1")


def test_cli_table_names_the_rule_that_fired(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = drkit.cli.main(["route", "--spec", SPEC, "--payload-bytes", "1000", "--class", "review", "--off-hours"])
    out = capsys.readouterr().out
    assert code == 0
    assert "-> serverless (rule standard-serverless-off-hours)" in out
    assert "fired" in out


def test_cli_asl_prints_a_state_machine(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert drkit.cli.main(["route", "--spec", SPEC, "--asl"]) == 0
    definition = json.loads(capsys.readouterr().out)
    assert definition["StartAt"] in definition["States"]
    assert "Route.Class.authorisation" in definition["States"]


def test_cli_unknown_class_exits_2_with_the_valid_classes(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = drkit.cli.main(["route", "--spec", SPEC, "--payload-bytes", "1", "--class", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "drkit: error: traffic_class: unknown class 'nope'; valid classes: authorisation, backfill, review\n"


def test_cli_bad_size_text_exits_2(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert drkit.cli.main(["route", "--spec", SPEC, "--payload-bytes", "6 parsecs", "--class", "review"]) == 2
    assert "--payload-bytes: '6 parsecs' is not a byte count" in capsys.readouterr().err


def test_cli_requires_size_and_class_without_asl(cli: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert drkit.cli.main(["route", "--spec", SPEC, "--class", "review"]) == 2
    assert "--payload-bytes: required unless --asl is given" in capsys.readouterr().err
