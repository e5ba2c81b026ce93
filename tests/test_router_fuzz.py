"""The router under thousands of malformed events: every answer a 4xx JSON body, never an exception or a 5xx.

Events are generated from a fixed seed, by category (shapes, encodings, sizes, surrogates, header
injection, hostile ids and locations), so a failure replays exactly. The default count runs in
about a second in `make test`; DRKIT_LONG=1 (or DRKIT_FUZZ_EVENTS=N) runs a long campaign.

AWS is the drill's in-memory doubles (what the router would reach): the events are refused before
any call that matters, and a stand-in S3 answers HeadObject 404 for anything a team names.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from drkit.commands.drill.doubles import (
    MemoryDynamo,
    MetricLog,
    SimS3,
    SimSageMaker,
    SimSageMakerRuntime,
    SimStepFunctions,
    client_error,
)
from drkit.components.functions.router.config import parse_config
from drkit.components.functions.router.handler import Clients, Router
from drkit.core.keys import key_digest

SEED = 20261129
DEFAULT_EVENTS = 6000
LONG_EVENTS = 200_000
KEY, OTHER_KEY = "team-a-key", "team-b-key"
SECRET = b"fuzz-team-key-secret-0123456789abcdef"
INPUTS = "fuzz-inputs"
CONFIG = {
    "region": "us-east-1",
    "regions": ["us-east-1", "us-west-2"],
    "table_name": "fuzz-tokens",
    "audit_bucket": "fuzz-audit",
    "input_bucket": INPUTS,
    "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:fuzz",
    "team_key_secret": "fuzz/team-keys",
    "teams": [
        {"name": "team-a", "key_digest": key_digest(KEY, SECRET), "monthly_budget_usd": 1e9},
        {"name": "team-b", "key_digest": key_digest(OTHER_KEY, SECRET), "monthly_budget_usd": 1e9},
    ],
    "classes": [
        {"name": "critical", "kind": "critical", "timeout_seconds": 5},
        {"name": "bulk", "kind": "bulk", "timeout_seconds": 900},
    ],
    "models": {"m": {"endpoints": {"realtime": "fuzz-rt", "async": "fuzz-async"}, "batch": True}},
    "max_inline_bytes": 4096,
}


def event_count() -> int:
    if os.environ.get("DRKIT_FUZZ_EVENTS"):
        return int(os.environ["DRKIT_FUZZ_EVENTS"])
    return LONG_EVENTS if os.environ.get("DRKIT_LONG") == "1" else DEFAULT_EVENTS


class FuzzS3(SimS3):
    """SimS3 plus HeadObject/GetObject: nothing a fuzzed event names exists (404, as S3 answers)."""

    def head_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        if (Bucket, Key) in self.objects:
            return {"ContentLength": len(self.objects[(Bucket, Key)])}
        raise client_error("404", "HeadObject", "Not Found", 404)


def router() -> Router:
    region = str(CONFIG["region"])
    clients = Clients(
        SimSageMakerRuntime(region), SimSageMaker(region), SimStepFunctions(region),
        MemoryDynamo(region, table_name=str(CONFIG["table_name"])), FuzzS3(region),
    )  # fmt: skip
    return Router(parse_config(CONFIG), clients, emit_metrics=MetricLog(), key_secret=SECRET, clock=lambda: 1_767_268_800.0)


# --- generators: each returns one malformed event ---------------------------------------------------------

NASTY_STRINGS = [
    "", " ", "\x00", "\r\n", "\r\nx-drkit-path: realtime", "\ud800", "\udfff", "a\ud83dz", "\u202e", "\ufeff",
    "%2F..%2F", "../../etc/passwd", "${jndi:ldap://x}", "' OR 1=1 --", "<script>", "\\", "\u0085", "\u2028",
    "🦄" * 3, "x" * 5000, "9" * 5000, "NaN", "-Infinity", "1e999", "null", "[]", "{}", "\t", "\x7f", "é",
]  # fmt: skip


def _text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.4:
        return rng.choice(NASTY_STRINGS)
    if pick < 0.7:
        return "".join(chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0xD800, 0xDFFF), rng.randint(0x80, 0x10FFFF)]))
                       for _ in range(rng.randint(1, 40)))  # fmt: skip
    return rng.choice(NASTY_STRINGS) + rng.choice(["m", "critical", "bulk", "order-1"]) + rng.choice(NASTY_STRINGS)


def _value(rng: random.Random, depth: int = 0) -> Any:
    kinds: list[Callable[[], Any]] = [
        lambda: _text(rng), lambda: rng.randint(-(2**70), 2**70), lambda: rng.random() * 1e308, lambda: None,
        lambda: rng.choice([True, False]), lambda: float("nan"), lambda: float("inf"),
    ]  # fmt: skip
    if depth < 3:
        kinds += [lambda: [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
                  lambda: {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}]  # fmt: skip
    return rng.choice(kinds)()


def _not_text(rng: random.Random) -> Any:
    """A present value that is not a string: wrong for every string field of a request."""
    while True:
        value = _value(rng)
        if not isinstance(value, str) and value is not None:
            return value


def _event(body: Any = None, *, key: Any = KEY, path: Any = "/v1/infer", method: Any = "POST", **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"rawPath": path, "requestContext": {"http": {"method": method}}, "headers": {"x-drkit-key": key}}
    if body is not None:
        event["body"] = body
    event.update(extra)
    return event


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def shapes(rng: random.Random) -> Any:
    """Events that are not the shape API Gateway sends: wrong types at every level."""
    return rng.choice([
        lambda: _value(rng),
        lambda: {"rawPath": _value(rng), "requestContext": _value(rng), "headers": _value(rng), "body": _value(rng)},
        lambda: _event(_value(rng)),
        lambda: _event("{}", headers=_value(rng)),
        lambda: _event("{}", requestContext={"http": _value(rng)}),
        lambda: _event("{}", method=_value(rng)),
        lambda: _event(_dumps(_value(rng))),
        lambda: _event(_dumps({"model": _not_text(rng), "traffic_class": _value(rng), "payload": _value(rng)})),
        lambda: _event(_dumps({"model": "m", "traffic_class": _not_text(rng), "payload": _value(rng)})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "payload": "x", "content_type": _not_text(rng)})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "bulk", "payload": "x", "request_id": _not_text(rng)})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "input_location": _value(rng)})),
    ])()  # fmt: skip


def encodings(rng: random.Random) -> dict[str, Any]:
    """Bodies in the wrong encoding: bad base64, UTF-16/32, invalid UTF-8, BOMs, NaN and huge numbers."""
    valid = _dumps({"model": "m", "traffic_class": "critical", "payload": "x"})
    raw = rng.choice([
        lambda: _event(_text(rng) + "=", isBase64Encoded=True),
        lambda: _event(base64.b64encode(valid.encode("utf-16")).decode(), isBase64Encoded=True),
        lambda: _event(base64.b64encode(valid.encode("utf-32")).decode(), isBase64Encoded=True),
        lambda: _event(base64.b64encode(b"\xff\xfe\xfd" + bytes(rng.randbytes(20))).decode(), isBase64Encoded=True),
        lambda: _event("\ufeff" + valid),
        lambda: _event(valid.replace('"x"', "NaN")),
        lambda: _event(valid.replace('"x"', "9" * rng.randint(4301, 6000))),
        lambda: _event(valid.replace('"m"', '"m\\ud800"')),
        lambda: _event(valid[: rng.randint(0, len(valid) - 1)]),
        lambda: _event("é" * 10, isBase64Encoded=True),
    ])
    return raw()


def sizes(rng: random.Random) -> dict[str, Any]:
    """Bodies too large, too deep, or with keys and ids past their limits."""
    return rng.choice([
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "payload": "x" * rng.randint(4097, 20_000)})),
        lambda: _event("x" * rng.randint(74_000, 200_000)),
        lambda: _event("[" * rng.randint(1000, 100_000) + "]" * 10),
        lambda: _event('{"a":' * rng.randint(1000, 50_000)),
        lambda: _event(_dumps({"model": "m", "traffic_class": "bulk", "payload": "x", "request_id": "r" * rng.randint(58, 300)})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical",
                               "input_location": f"s3://{INPUTS}/teams/team-a/" + "k" * rng.randint(1010, 3000)})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "payload": "x", "content_type": "a" * 1025})),
        lambda: _event("{}", key="k" * rng.randint(1, 100_000)),
    ])()  # fmt: skip


def surrogates(rng: random.Random) -> dict[str, Any]:
    """Lone UTF-16 surrogates wherever a string goes: payload, ids, keys, paths, locations."""
    lone = chr(rng.randint(0xD800, 0xDFFF))
    return rng.choice([
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "payload": f"a{lone}b"})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "bulk", "payload": {"k": lone}})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "bulk", "payload": "x", "request_id": f"r{lone}"})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "input_location": f"s3://{INPUTS}/teams/team-a/{lone}"})),
        lambda: _event("{}", key=f"team-a-key{lone}"),
        lambda: _event(None, path=f"/v1/requests/{lone}", method="GET"),
        lambda: _event(_dumps({"model": f"m{lone}", "traffic_class": "critical", "payload": "x"})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "payload": "x", "content_type": f"text/{lone}"})),
    ])()  # fmt: skip


def header_injection(rng: random.Random) -> dict[str, Any]:
    """CR/LF and control characters in everything that may end up in a header (ours or AWS's)."""
    crlf = rng.choice(["\r\n", "\n", "\r", "\r\nx-drkit-path: realtime\r\n", "\x00", "\u2028"])
    return rng.choice([
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "payload": "x", "content_type": f"text/plain{crlf}x: y"})),
        lambda: _event(_dumps({"model": "m", "traffic_class": "bulk", "payload": "x", "request_id": f"order-1{crlf}"})),
        lambda: _event(None, path=f"/v1/requests/order-1{crlf}", method="GET"),
        lambda: _event("{}", key=f"{KEY}{crlf}"),
        lambda: _event("{}", headers={f"x-drkit-key{crlf}": KEY}),
        lambda: _event("{}", path=f"/v1/infer{crlf}"),
        lambda: _event("{}", method=f"POST{crlf}"),
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "input_location": f"s3://{INPUTS}/teams/team-a/x{crlf}"})),
    ])()  # fmt: skip


def hostile_team(rng: random.Random) -> dict[str, Any]:
    """Team B reaching for team A: its prefix, traversal out of B's own, A's stored ids."""
    target = rng.choice(["teams/team-a/x", "teams/team-b/../team-a/x", "teams/team-b//x", "teams/team-b/./x",
                         "teams/team-bb/x", "teams/team-b", "x", "teams/", "teams/team-a/inline/2026/01/01/order-1"])  # fmt: skip
    bucket = rng.choice([INPUTS, "other-bucket", INPUTS.upper(), f"{INPUTS}.evil"])
    return rng.choice([
        lambda: _event(_dumps({"model": "m", "traffic_class": "critical", "input_location": f"s3://{bucket}/{target}"}), key=OTHER_KEY),
        lambda: _event(None, path=rng.choice(["/v1/requests/team-a_order-1", "/v1/requests/../team-a", "/v1/requests/"]),
                       method="GET", key=OTHER_KEY),
    ])()  # fmt: skip


CATEGORIES: dict[str, Callable[[random.Random], Any]] = {
    "shapes": shapes, "encodings": encodings, "sizes": sizes, "surrogates": surrogates,
    "header injection": header_injection, "hostile team": hostile_team,
}  # fmt: skip


def check_answer(result: Any, category: str, index: int) -> int:
    """The answer is an API Gateway proxy result with a 4xx status and a JSON error body; returns the status."""
    where = f"{category} #{index}"
    assert isinstance(result, dict) and isinstance(result.get("statusCode"), int), where
    status = result["statusCode"]
    assert 400 <= status < 500, f"{where}: status {status}: {result.get('body')!r:.300}"
    assert result["headers"]["content-type"] == "application/json", where
    for name, value in result["headers"].items():
        assert not set(name + value) & {"\r", "\n", "\x00"}, f"{where}: header {name!r}: {value!r}"
    body = json.loads(result["body"])
    assert isinstance(body, dict) and isinstance(body["error"], str) and isinstance(body["message"], str), where
    body["message"].encode()  # valid Unicode: no lone surrogate echoed back
    return status


def test_every_malformed_event_gets_a_4xx_json_answer(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    door = router()
    counts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    names = list(CATEGORIES)
    for index in range(event_count()):
        category = names[index % len(names)]
        event = CATEGORIES[category](rng)
        statuses[check_answer(door.handle(event), category, index)] += 1
        counts[category] += 1
    with capsys.disabled():
        print(f"\nrouter fuzz (seed {SEED}): " + ", ".join(f"{c} {n}" for c, n in counts.items()))
        print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    assert set(counts) == set(CATEGORIES)
    assert not door.clients.stepfunctions.names  # type: ignore[attr-defined]  # nothing was started
