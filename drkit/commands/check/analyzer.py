"""Drive a CrossGuard policy pack the way the Pulumi CLI does, without the CLI.

`pulumi preview --policy-pack DIR` starts the pack (constructing `PolicyPack` serves
Pulumi's Analyzer gRPC service and prints its port), reads its policies with
`GetAnalyzerInfo`, reconciles the policy-config file with each policy's config schema,
sends it with `Configure`, then calls `Analyze` once per resource and `AnalyzeStack`
once per stack. This module does the same, so `drkit check` reports exactly what the
real pack reports, from the same code, with no Pulumi CLI and no credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# gRPC's core logs each cancelled call at INFO when a pack dies mid-analysis; drkit reports the
# failure itself, once. Set before grpc initialises (a user's own setting wins).
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc  # noqa: E402
import jsonschema  # noqa: E402
from google.protobuf import empty_pb2, json_format, struct_pb2  # noqa: E402
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc  # noqa: E402

from drkit.commands import interrupt
from drkit.core.catalog import closest
from drkit.core.errors import DrkitError, SpecError
from drkit.core.loader import load_json, load_yaml
from drkit.engine.graph import RegionGraph, Resource

LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
LEVEL_NAMES = {value: name for name, value in LEVELS.items()}
START_TIMEOUT_SECONDS = 60


class PolicyPackError(DrkitError):
    """The policy pack itself failed (a bug in a rule, not a violation)."""


@dataclass(frozen=True)
class PolicyInfo:
    """One policy as the pack describes itself."""

    name: str
    description: str
    enforcement_level: str
    config_schema: Mapping[str, Any]
    stack_policy: bool


@dataclass(frozen=True)
class Diagnostic:
    """One violation reported by the pack."""

    policy: str
    enforcement_level: str
    message: str
    urn: str
    description: str


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(json.loads(json.dumps(values, default=str)))
    return result


class PolicyPackProcess:
    """A running policy pack (`python <pack_dir>`) and a client for its Analyzer service.

    The process starts at construction and is connected to on first use, so a caller can
    start it, capture the stacks meanwhile, and only then wait for its port.
    """

    def __init__(self, pack_dir: str | Path, python: str = sys.executable) -> None:
        self.pack_dir = Path(pack_dir)
        if not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise SpecError(str(self.pack_dir), ["not a policy pack: PulumiPolicy.yaml is missing"], kind="policy pack")
        env = dict(os.environ, PYTHONUNBUFFERED="1", DRKIT_PARENT_PID=str(os.getpid()))  # the pack ends with this process
        self._process = subprocess.Popen(
            [python, "-u", str(self.pack_dir)],
            cwd=self.pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        interrupt.track(self._process)
        self._channel: grpc.Channel | None = None
        self._analyzer: analyzer_pb2_grpc.AnalyzerStub | None = None
        # Resources handed to `analyze` before the pack is configured wait in `_early`; then each
        # Analyze call is in flight (`_sent`, by URN) until its stack is analyzed.
        self._lock = threading.Lock()
        self._configured = False
        self._early: list[Resource] = []
        self._sent: dict[str, tuple[dict[str, Any], grpc.Future]] = {}  # the request's fields, its reply

    @property
    def _stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        if self._analyzer is None:
            self._analyzer = self._connect()
        return self._analyzer

    def _connect(self) -> analyzer_pb2_grpc.AnalyzerStub:
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if not line.isdigit():
            self._process.kill()
            _, err = self._process.communicate(timeout=10)
            raise SpecError(str(self.pack_dir), [f"the pack did not start: {err.decode().strip()[-2000:]}"], kind="policy pack")
        self.port = int(line)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=START_TIMEOUT_SECONDS)
        return analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()
        interrupt.untrack(self._process)

    def info(self) -> tuple[str, str, list[PolicyInfo]]:
        """The pack's name, version and policies (GetAnalyzerInfo)."""
        reply = self._stub.GetAnalyzerInfo(empty_pb2.Empty())
        policies = [
            PolicyInfo(
                name=p.name,
                description=p.description,
                enforcement_level=LEVEL_NAMES[p.enforcementLevel],
                config_schema=json_format.MessageToDict(p.configSchema),
                stack_policy=p.policy_type == analyzer_pb2.PolicyType.POLICY_TYPE_STACK,
            )
            for p in reply.policies
        ]
        # Python packs always answer 0.0.1; the CLI takes the version from PulumiPolicy.yaml.
        manifest = load_yaml(self.pack_dir / "PulumiPolicy.yaml", kind="policy pack manifest") or {}
        return reply.name, str(manifest.get("version") or reply.version), policies

    def configure(self, config: Mapping[str, tuple[str, Mapping[str, Any]]]) -> None:
        """Send each policy's reconciled (enforcement level, properties)."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in config.items():
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[level], properties=_struct(properties)))
        self._stub.Configure(request)
        with self._lock:
            self._configured = True
            early, self._early = self._early, []
        for resource in early:
            self._send(resource)

    def hold(self) -> None:
        """Resources handed to `analyze` from now on wait for the next `configure` (each spec's
        check configures the pack anew)."""
        with self._lock:
            self._configured = False

    def analyze(self, resource: Resource) -> None:
        """Send `Analyze` for one resource now, as the engine does when its step runs (the reply
        is read by `analyze_stack`). Before the pack is configured, the resource waits for it.
        Safe from any thread: a capture calls it from Pulumi's worker threads."""
        with self._lock:
            if not self._configured:
                self._early.append(resource)
                return
        self._send(resource)

    def _send(self, resource: Resource) -> None:
        fields = _fields(resource)  # kept: AnalyzeStack sends the same again
        self._sent[resource.urn] = (fields, self._stub.Analyze.future(analyzer_pb2.AnalyzeRequest(**fields)))

    def analyze_stack(self, graph: RegionGraph) -> list[Diagnostic]:
        """`Analyze` for each resource (those not sent by `analyze` already), then `AnalyzeStack`
        for the whole stack, as the engine does.

        Component resources are included (policies see them as parents); the stack root is not.
        All of a stack's Analyze calls are in flight at once: one blocking round trip each would
        wait on this process's interpreter, busy capturing the next stack, at every step.
        """
        resources = [r for r in graph.resources if r.type != "pulumi:pulumi:Stack"]
        for resource in resources:
            if resource.urn not in self._sent:
                self._send(resource)
        sent = [self._sent.pop(resource.urn) for resource in resources]
        diagnostics: list[Diagnostic] = []
        for resource, (_, reply) in zip(resources, sent, strict=True):
            diagnostics += _diagnostics(self._call(graph.stack, resource.urn, reply.result), default_urn=resource.urn)
        stack_request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(**fields, parent=r.parent or "", dependencies=list(r.dependencies))
                for r, (fields, _) in zip(resources, sent, strict=True)
            ]
        )
        diagnostics += _diagnostics(self._call(graph.stack, graph.stack, lambda: self._stub.AnalyzeStack(stack_request)), default_urn="")
        return diagnostics

    def _call(self, stack: str, subject: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except grpc.RpcError as exc:
            details = exc.details() if hasattr(exc, "details") else str(exc)
            if hasattr(exc, "code") and exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                with contextlib.suppress(subprocess.TimeoutExpired):  # the connection went: is the pack exiting?
                    self._process.wait(timeout=2)
            if self._process.poll() is not None:
                # The pack died: every call in flight fails with it, so no one resource is to blame.
                assert self._process.stderr is not None
                said = self._process.stderr.read().decode(errors="replace").strip()[-2000:]
                raise PolicyPackError(
                    f"the policy pack in {self.pack_dir} exited (code {self._process.returncode}) while analyzing stack {stack}"
                    + (f": {said}" if said else "")
                ) from None
            raise PolicyPackError(f"the policy pack in {self.pack_dir} failed while analyzing {subject}: {details}") from None


def _fields(resource: Resource) -> dict[str, Any]:
    """What the engine sends about a resource in both `Analyze` and `AnalyzeStack`."""
    return {
        "type": resource.type,
        "properties": _struct(resource.inputs),
        "urn": resource.urn,
        "name": resource.name,
        "options": _options(resource),
        "provider": _provider(resource),
    }


def _options(resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect, ignoreChanges=list(resource.ignore_changes), parent=resource.parent or ""
    )


def _provider(resource: Resource) -> analyzer_pb2.AnalyzerProviderResource | None:
    if resource.region is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type="pulumi:providers:aws", properties=_struct({"region": resource.region}), urn="", name=f"aws-{resource.region}"
    )


def _diagnostics(reply: analyzer_pb2.AnalyzeResponse, *, default_urn: str) -> list[Diagnostic]:
    return [
        Diagnostic(
            policy=d.policyName,
            enforcement_level=LEVEL_NAMES[d.enforcementLevel],
            # pulumi_policy prefixes the description; the finding is what follows it.
            message=d.message.removeprefix(d.description).strip() or d.message,
            urn=d.urn or default_urn,
            description=d.description,
        )
        for d in reply.diagnostics
    ]


def load_policy_config(path: str | Path | None) -> dict[str, Any]:
    """Read a Pulumi policy-config JSON file (`--policy-pack-config`)."""
    if path is None:
        return {}
    file = Path(path)
    data = load_json(file, kind="policy config")
    if not isinstance(data, dict):
        raise SpecError(str(file), ["expected a JSON object keyed by policy name (or 'all')"], kind="policy config")
    return resolve_paths(data, file.parent)


def resolve_paths(config: dict[str, Any], base: Path) -> dict[str, Any]:
    """A relative `usageProfile` resolved against the config file's folder, as users write it
    (the pack, run by `pulumi preview`, would resolve it against its working directory)."""
    out = dict(config)
    for name, entry in config.items():
        if isinstance(entry, dict) and isinstance(entry.get("usageProfile"), str) and entry["usageProfile"]:
            path = Path(entry["usageProfile"])
            out[name] = {**entry, "usageProfile": str(path if path.is_absolute() else base / path)}
    return out


def _is_level(value: object) -> bool:
    """An enforcement level name; a list or mapping in its place is a problem to report, not a crash."""
    return isinstance(value, str) and value in LEVELS


def reconcile_config(
    policies: Iterable[PolicyInfo], config: Mapping[str, Any], source: str = "policy config"
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each policy's enforcement level and properties, as the Pulumi CLI computes them.

    Level: the policy's entry, else `all`, else the pack's own level. Properties: the
    schema's defaults overlaid with the entry's values, then validated against the schema.
    """
    policies = list(policies)
    names = {p.name for p in policies}
    problems = []
    for key in config:
        if key != "all" and key not in names:
            hint = closest(key, tuple(names), limit=1)
            guess = f" (did you mean {hint[0]}?)" if hint else ""
            problems.append(f"{key}: no such policy in the pack{guess}; valid: all, {', '.join(sorted(names))}")
    all_level = config.get("all")
    if all_level is not None and not _is_level(all_level):
        problems.append(f"all: {all_level!r} is not an enforcement level; valid: {', '.join(LEVELS)}")
    reconciled: dict[str, tuple[str, dict[str, Any]]] = {}
    for policy in policies:
        entry = config.get(policy.name, {})
        level = str(all_level) if _is_level(all_level) else policy.enforcement_level
        properties: dict[str, Any] = {
            key: schema["default"] for key, schema in (policy.config_schema.get("properties") or {}).items() if "default" in schema
        }
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        if not isinstance(entry, dict):
            problems.append(f"{policy.name}: expected an enforcement level or an object, got {entry!r}")
            continue
        for key, value in entry.items():
            if key == "enforcementLevel":
                if not _is_level(value):
                    problems.append(f"{policy.name}.enforcementLevel: {value!r} is not one of {', '.join(LEVELS)}")
                else:
                    level = value
            elif key not in (policy.config_schema.get("properties") or {}):
                valid = ", ".join(["enforcementLevel", *sorted(policy.config_schema.get("properties") or {})])
                problems.append(f"{policy.name}.{key}: not a setting of this policy; valid: {valid}")
            else:
                properties[key] = value
        schema = {"type": "object", **dict(policy.config_schema)}
        for error in jsonschema.Draft7Validator(schema).iter_errors(properties):
            field = ".".join(str(p) for p in error.absolute_path) or "(config)"
            problems.append(f"{policy.name}.{field}: {error.message}")
        reconciled[policy.name] = (level, properties)
    if problems:
        raise SpecError(source, problems, kind="policy config")
    return reconciled
