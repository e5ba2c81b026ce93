"""The aws backend's synthetic traffic through a deployed front door (transport faked from moto's Route 53)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from drkit.commands.drill.backends import BackendName
from drkit.commands.drill.backends.aws import AwsBackend
from drkit.commands.drill.backends.route53 import tagged_health_checks
from drkit.commands.drill.engine import DrillArgs, DrillRunner
from drkit.commands.drill.journal import Journal
from drkit.commands.drill.probe import FrontDoorProbe, ProbeAnswer, https_transport, probe_from_env
from drkit.commands.drill.scenarios import Scenario
from drkit.core.errors import DrillSafetyError
from drkit.core.loader import InputError
from tests.test_drill import aws_account  # noqa: F401 - the fixture

ROUTED = {"critical": "realtime", "standard": "serverless", "bulk": "async"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class DeployedFrontDoors:
    """Answers like the deployment's routers behind Route 53: the primary until its check is inverted,
    then (after `cached` more answers, a resolver's TTL) the takeover region; back after restore."""

    def __init__(self, topo: Any, r53: Any, cached: int) -> None:
        self.topo, self.r53, self.cached = topo, r53, cached
        self.serving, self.pending, self.seen = topo.primary, 0, []

    def __call__(self, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> tuple[int, Mapping[str, str], bytes]:
        request = json.loads(body)
        self.seen.append((url, headers["x-drkit-key"], request["model"], request["payload"]))
        inverted = tagged_health_checks(self.r53, self.topo.deployment)[self.topo.regions[self.topo.primary].fqdn]["inverted"]
        target = self.topo.secondaries[0] if inverted else self.topo.primary
        if target != self.serving:
            self.pending += 1
            if self.pending > self.cached:
                self.serving, self.pending = target, 0
        routed = ROUTED[request["traffic_class"]]
        status = 202 if routed == "async" else 200
        return status, {"x-drkit-region": self.serving}, json.dumps({"routed_path": routed}).encode()


def test_a_probed_aws_drill_measures_rto_from_front_door_answers_and_puts_everything_back(aws_account, tmp_path):  # noqa: F811
    t, r53 = aws_account
    clock = FakeClock()
    doors = DeployedFrontDoors(t, r53, cached=9)  # 3 rounds of 3 classes still answered by the primary
    probe = FrontDoorProbe(url="https://rank.ml.example.com", key="k-123", payloads={m: {"q": m} for m in t.models},
                           classes=[c for c, _, _ in t.traffic_classes], transport=doors, clock=clock, sleep=clock.sleep)  # fmt: skip
    args = DrillArgs(
        scenario=Scenario.HEALTH_CHECK_FAILOVER, workdir=tmp_path, backend=BackendName.AWS, execute=True, probe=probe
    )
    result = DrillRunner(t, args, AwsBackend(t, execute=True), lambda _: None).run()

    assert result.verified and result.restored, result.problems
    m = result.measurement
    rounds_on_primary = 9 // (len(t.models) * len(t.traffic_classes)) + 1
    assert set(m.rto_by_class.values()) == {rounds_on_primary * args.probe_interval_seconds}
    assert m.failback_seconds is not None and m.failback_seconds > 0
    assert set(m.front_door) == {t.primary, t.secondaries[0]} and all(d["requests"] > 0 for d in m.front_door.values())
    assert {(key, model) for _, key, model, _ in doors.seen} == {("k-123", model) for model in t.models}
    assert all(not hc["inverted"] for hc in tagged_health_checks(r53, t.deployment).values())
    assert "k-123" not in Journal(tmp_path).path.read_text() and "k-123" not in (tmp_path / "report" / "report.json").read_text()


def test_answers_count_as_served_only_as_the_class_needs() -> None:
    assert ProbeAnswer("critical", 200, "eu-central-1", "realtime").served
    assert ProbeAnswer("bulk", 202, "eu-central-1", "async").served
    assert not ProbeAnswer("critical", 202, "eu-central-1", "realtime").served  # accepted is not answered
    assert not ProbeAnswer("critical", 0, "", "").served


def test_the_probe_refuses_a_missing_key_or_payloads_that_do_not_match_the_models(tmp_path: Path, monkeypatch) -> None:
    payloads = tmp_path / "payloads.json"
    payloads.write_text(json.dumps({"ranker": {"q": 1}, "typo-model": {}}))
    kwargs = {
        "record_name": "rank.ml.example.com.",
        "classes": ["critical"],
        "models": ["ranker", "query-embed"],
        "payload_file": payloads,
    }
    monkeypatch.delenv("DRILL_KEY", raising=False)
    with pytest.raises(DrillSafetyError, match="--probe-key-env DRILL_KEY: the environment variable is not set"):
        probe_from_env(key_env="DRILL_KEY", **kwargs)
    monkeypatch.setenv("DRILL_KEY", "secret")
    with pytest.raises(
        DrillSafetyError, match="no payload for query-embed; unknown model typo-model; valid models: ranker, query-embed"
    ):
        probe_from_env(key_env="DRILL_KEY", **kwargs)
    payloads.write_text("{not json")
    with pytest.raises(InputError, match=r"payloads.json: line 1, column 2: not valid JSON \(Expecting property name"):
        probe_from_env(key_env="DRILL_KEY", **kwargs)
    payloads.write_text(json.dumps({"ranker": 1, "query-embed": 2}))
    probe = probe_from_env(key_env="DRILL_KEY", **kwargs)
    assert (probe.url, probe.key) == ("https://rank.ml.example.com", "secret")


def test_the_https_transport_reads_status_region_and_body_and_reports_no_answer_as_zero() -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers["content-length"])
            sent = json.loads(self.rfile.read(length))
            status = 503 if sent["traffic_class"] == "down" else 200
            self.send_response(status)
            self.send_header("x-drkit-region", "eu-west-1")
            self.end_headers()
            self.wfile.write(json.dumps({"routed_path": "realtime", "key": self.headers["x-drkit-key"]}).encode())

        def log_message(self, *_: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        probe = FrontDoorProbe(url=url, key="k", payloads={"m": {}}, classes=["critical", "down"])
        assert [(a.status, a.region, a.served) for a in probe.round()] == [(200, "eu-west-1", True), (503, "eu-west-1", False)]
    finally:
        server.shutdown()
    assert https_transport(url + "/v1/infer", {}, b"{}", 0.5)[0] == 0  # the server is gone: no answer
