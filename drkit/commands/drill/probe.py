"""Synthetic requests to a deployed front door over HTTPS: the aws backend's drill traffic.

In a real account the drill sends each traffic class's request to the deployment's
public name every `interval` seconds, as a client would (the system resolver, its TTL
cache), and reads which region answered from the router's `x-drkit-region` header. A class
is served when the answer is a 200, or a 202 for a class routed to a queue, from a region
other than the injected one. The team key comes from an environment variable and the
payloads from a file the user gives (a real model must accept them); neither is written to
the journal or the report.

Stdlib HTTP (urllib) so the drill needs no client library; the transport is injectable and
tests answer it from moto's Route 53 state.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drkit.commands.drill.frontdoor import class_served
from drkit.core.errors import DrillSafetyError
from drkit.core.loader import load_json

# (url, headers, body, timeout) → (status, headers, body); status 0 when nothing answered.
Transport = Callable[[str, Mapping[str, str], bytes, float], tuple[int, Mapping[str, str], bytes]]


def https_transport(url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> tuple[int, Mapping[str, str], bytes]:
    """POST with urllib; a connection failure or timeout is status 0 (the region did not answer)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https URL built from the spec
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0, {}, b""


@dataclass(frozen=True)
class ProbeAnswer:
    """One synthetic request's answer."""

    traffic_class: str
    status: int
    region: str  # x-drkit-region; "" when no router answered
    routed_path: str

    @property
    def served(self) -> bool:
        return class_served(self.status, self.routed_path)


@dataclass
class FrontDoorProbe:
    """Sends one request per (model, class) to `url` and says who answered."""

    url: str
    key: str
    payloads: Mapping[str, Any]
    """A payload per model, one the model accepts."""
    classes: Sequence[str]
    transport: Transport = https_transport
    timeout: float = 10.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    sent: int = field(default=0, init=False)

    def send(self, model: str, traffic_class: str) -> ProbeAnswer:
        self.sent += 1
        body = json.dumps({"model": model, "traffic_class": traffic_class, "payload": self.payloads[model],
                           "request_id": f"drill-probe-{self.sent}"}).encode()  # fmt: skip
        headers = {"content-type": "application/json", "x-drkit-key": self.key}
        status, answer_headers, raw = self.transport(f"{self.url}/v1/infer", headers, body, self.timeout)
        try:
            routed = str(json.loads(raw).get("routed_path", "")) if raw else ""
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            routed = ""
        return ProbeAnswer(traffic_class, status, answer_headers.get("x-drkit-region", ""), routed)

    def round(self) -> list[ProbeAnswer]:
        """One request per model and class."""
        return [self.send(model, name) for model in self.payloads for name in self.classes]


def probe_from_env(
    *, record_name: str, classes: Sequence[str], models: Sequence[str], key_env: str, payload_file: Path
) -> FrontDoorProbe:
    """A probe for a deployment: the key from environment variable `key_env`, payloads from a JSON file
    mapping each model to an input it accepts. Raises DrillSafetyError naming what is missing."""
    key = os.environ.get(key_env, "")
    if not key:
        raise DrillSafetyError(
            f"--probe-key-env {key_env}: the environment variable is not set or empty; export a team key in it"
        )
    payloads = load_json(payload_file, kind="probe payloads")
    if not isinstance(payloads, dict):
        raise DrillSafetyError(f"--probe-payloads {payload_file}: expected an object mapping model name to payload")
    missing = [m for m in models if m not in payloads]
    unknown = sorted(set(payloads) - set(models))
    if missing or unknown:
        raise DrillSafetyError(
            f"--probe-payloads {payload_file}: "
            + "; ".join(
                filter(
                    None,
                    [
                        f"no payload for {', '.join(missing)}" if missing else "",
                        f"unknown model {', '.join(unknown)}" if unknown else "",
                    ],
                )
            )  # fmt: skip
            + f"; valid models: {', '.join(models)}"
        )
    return FrontDoorProbe(url=f"https://{record_name.rstrip('.')}", key=key, payloads=payloads, classes=list(classes))
