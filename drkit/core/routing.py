"""Deterministic request routing: which invocation path serves a request.

One ordered decision table (`DECISION_TABLE`) says, per traffic kind, which SageMaker
invocation path serves a request of a given size, for a class with a given timeout, in or
out of business hours. The first row whose conditions all hold wins; no row matching means
the request cannot be served by any path and `route()` raises `RoutingError`.

The same table is compiled into Step Functions Choice states by `drkit.core.asl`, so the router
Lambda (which bundles this file alone) and the deployed workflow cannot disagree. For that
reason this module is stdlib-only and imports nothing from drkit but the error base class.

Units: every size is bytes, every limit inclusive ("up to 6 MB" admits exactly 6 MB).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

try:
    from drkit.core.errors import DrkitError
except ImportError:  # pragma: no cover - inside the router Lambda zip only this file is bundled
    class DrkitError(Exception):  # type: ignore[no-redef]
        """Stand-in for drkit.core.errors.DrkitError when this module runs on its own."""


class Path(str, Enum):
    """The SageMaker invocation path that serves one request."""

    REALTIME = "realtime"
    SERVERLESS = "serverless"
    ASYNC = "async"
    BATCH = "batch"


class ClassKind(str, Enum):
    """What a traffic class needs from routing (mirrors drkit.core.spec.TrafficKind, kept stdlib-only)."""

    CRITICAL = "critical"
    STANDARD = "standard"
    BULK = "bulk"


class RoutingError(DrkitError):
    """A request (or a class definition) that no path can serve; the message names field, value and what is valid."""


# --- AWS hard limits (taken from the AWS docs in 2026-11) -------------------------------------
#
# Which "MB"? The InvokeEndpoint API reference gives the one exact figure AWS publishes for
# SageMaker runtime payloads: Body "Maximum length of 6291456" = 6 * 1024 * 1024. So the
# SageMaker docs' "MB"/"GB" are binary (MiB/GiB), and we read 4 MB and 1 GB the same way.
# If AWS meant decimal for serverless, a request between 4,000,000 and 4 MiB fails on the
# serverless endpoint and the workflow's Catch falls back to async, so the error is bounded.
MIB = 1024 * 1024
GIB = 1024 * MIB
TIB = 1024 * GIB

# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html
# (taken 2026-11): "A customer's model containers must respond to requests within 60
# seconds." The request Body's maximum length, 6291456 bytes, is the figure the API reference
# gives; offline we could read it only as quoted by secondary sources, so re-check it there.
REALTIME_MAX_PAYLOAD_BYTES = 6 * MIB
REALTIME_MAX_SECONDS = 60

# https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-invoke.html
# (taken 2026-11): "The maximum request and response payload size for serverless invocations
# is 4 MB"; "The timeout for the container to respond to inference requests to /invocations
# is 1 minute."
SERVERLESS_MAX_PAYLOAD_BYTES = 4 * MIB
SERVERLESS_MAX_SECONDS = 60

# https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html (taken 2026-11):
# "large payload sizes (up to 1GB), long processing times (up to one hour)".
# https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-invoke-endpoint.html
# (taken 2026-11): inline Body "for payloads up to 128,000 bytes" (decimal, as written),
# larger payloads through InputLocation (S3); InvocationTimeoutSeconds at most 3600.
ASYNC_MAX_PAYLOAD_BYTES = 1 * GIB
ASYNC_INLINE_BODY_MAX_BYTES = 128_000
ASYNC_MAX_SECONDS = 3600

# Batch transform reads its input from S3, so one request's input is bounded by the largest
# S3 object. https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html (taken
# 2026-11) now lists 48.8 TiB; we keep the long-standing 5 TiB, exact in bytes and accepted in
# every Region and by every tool, as the conservative bound. Batch has no per-request timeout.
BATCH_MAX_PAYLOAD_BYTES = 5 * TIB

# The largest payload any path accepts: above this every class is refused.
MAX_PAYLOAD_BYTES = max(REALTIME_MAX_PAYLOAD_BYTES, SERVERLESS_MAX_PAYLOAD_BYTES, ASYNC_MAX_PAYLOAD_BYTES, BATCH_MAX_PAYLOAD_BYTES)


@lru_cache(maxsize=64)
def human_bytes(n: int) -> str:
    """`6,291,456 B (6 MiB)`: exact bytes for checking by hand, binary units for reading."""
    for unit, size in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= size:
            scaled = n / size
            return f"{n:,} B ({scaled:.0f} {unit})" if n % size == 0 else f"{n:,} B ({scaled:.2f} {unit})"
    return f"{n:,} B"


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """What routing needs to know about one traffic class."""

    name: str
    kind: ClassKind  # a plain "critical" / "standard" / "bulk" (or any str Enum of those) is converted
    timeout_seconds: int  # the longest a request of this class may take (its client deadline)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise RoutingError(f"traffic class name: {self.name!r} is not a non-empty string")
        if not isinstance(self.kind, ClassKind):
            # Accept the plain strings and str Enums a caller already has ("critical", TrafficKind.BULK).
            raw = getattr(self.kind, "value", self.kind)
            if raw not in _KINDS:
                raise RoutingError(f"traffic class {self.name!r}: kind {raw!r} is unknown; valid: {_valid(ClassKind)}")
            object.__setattr__(self, "kind", ClassKind(raw))
        if isinstance(self.timeout_seconds, bool) or not isinstance(self.timeout_seconds, int) or self.timeout_seconds < 1:
            raise RoutingError(f"traffic class {self.name!r}: timeout_seconds {self.timeout_seconds!r} must be a positive int (seconds)")


_KINDS = frozenset(kind.value for kind in ClassKind)


def _valid(enum: type[Enum]) -> str:
    return ", ".join(str(member.value) for member in enum)


def classes_from(spec_traffic_classes: Iterable[Any]) -> dict[str, ClassInfo]:
    """Routing's view of a spec's traffic classes: any objects with .name, .kind (str or str Enum), .timeout_seconds."""
    classes: dict[str, ClassInfo] = {}
    for item in spec_traffic_classes:
        if item.name in classes:
            raise RoutingError(f"traffic class {item.name!r}: duplicate name; each class needs its own name")
        classes[item.name] = ClassInfo(name=item.name, kind=item.kind, timeout_seconds=item.timeout_seconds)
    return classes


# --- conditions: static ones depend only on the class, dynamic ones on the request ----------


@dataclass(frozen=True, slots=True)
class Request:
    """The facts one decision reads."""

    payload_bytes: int
    cls: ClassInfo
    off_hours: bool


@dataclass(frozen=True, slots=True)
class KindIs:
    """The class is of this kind. Static: decided when the table is specialised for a class."""

    kind: ClassKind
    static = True

    def holds(self, request: Request) -> bool:
        return request.cls.kind is self.kind

    def describe(self, request: Request) -> str:
        if self.holds(request):
            return f"class {request.cls.name!r} is {self.kind.value}"
        return f"class {request.cls.name!r} is {request.cls.kind.value}, not {self.kind.value}"


@dataclass(frozen=True, slots=True)
class TimeoutAtMost:
    """The class's timeout fits a path's processing-time limit. Static."""

    seconds: int
    limit: str  # names the AWS limit, e.g. "real-time invocation limit"
    static = True

    def holds(self, request: Request) -> bool:
        return request.cls.timeout_seconds <= self.seconds

    def describe(self, request: Request) -> str:
        relation = "within" if self.holds(request) else "above"
        return f"class timeout {request.cls.timeout_seconds} s is {relation} the {self.limit} of {self.seconds} s"


@dataclass(frozen=True, slots=True)
class SizeAtMost:
    """The payload fits a path's size limit (inclusive). Dynamic: a NumericLessThanEquals in ASL."""

    max_bytes: int
    limit: str
    static = False

    def holds(self, request: Request) -> bool:
        return request.payload_bytes <= self.max_bytes

    def describe(self, request: Request) -> str:
        relation = "within" if self.holds(request) else "above"
        return f"payload {request.payload_bytes:,} B is {relation} the {self.limit} of {human_bytes(self.max_bytes)}"


@dataclass(frozen=True, slots=True)
class OffHoursIs:
    """The request arrived off-hours (True) or in business hours (False). Dynamic: a BooleanEquals in ASL."""

    value: bool
    static = False

    def holds(self, request: Request) -> bool:
        return request.off_hours is self.value

    def describe(self, request: Request) -> str:
        now = "off-hours" if request.off_hours else "business hours"
        return f"it is {now}" if self.holds(request) else f"it is {now}, not {'off-hours' if self.value else 'business hours'}"


Condition = KindIs | TimeoutAtMost | SizeAtMost | OffHoursIs


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the decision table: when all conditions hold, `path` serves the request."""

    name: str
    conditions: tuple[Condition, ...]
    path: Path
    reason: str  # why this path, in a sentence a reviewer can check against the AWS limit

    @property
    def static_conditions(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.static)

    @property
    def dynamic_conditions(self) -> tuple[SizeAtMost | OffHoursIs, ...]:
        return tuple(c for c in self.conditions if isinstance(c, SizeAtMost | OffHoursIs))


_FITS_REALTIME = SizeAtMost(REALTIME_MAX_PAYLOAD_BYTES, "real-time InvokeEndpoint payload limit")
_FITS_SERVERLESS = SizeAtMost(SERVERLESS_MAX_PAYLOAD_BYTES, "serverless payload limit")
_FITS_ASYNC = SizeAtMost(ASYNC_MAX_PAYLOAD_BYTES, "async (S3 input) payload limit")
_FITS_BATCH = SizeAtMost(BATCH_MAX_PAYLOAD_BYTES, "batch transform input limit (largest S3 object)")
_REALTIME_TIME = TimeoutAtMost(REALTIME_MAX_SECONDS, "real-time invocation limit")
_SERVERLESS_TIME = TimeoutAtMost(SERVERLESS_MAX_SECONDS, "serverless invocation limit")
_ASYNC_TIME = TimeoutAtMost(ASYNC_MAX_SECONDS, "async InvocationTimeoutSeconds maximum")

# Ordered: first match wins. Every branch of the routing policy is one row; the ASL compiler
# walks this same tuple. A class whose rows all fail is refused (RoutingError / invalid state).
DECISION_TABLE: tuple[Rule, ...] = (
    Rule(
        "critical-realtime",
        (KindIs(ClassKind.CRITICAL), _REALTIME_TIME, _FITS_REALTIME),
        Path.REALTIME,
        "critical traffic takes the lowest-latency path whenever the payload and the class timeout fit real-time",
    ),
    # Critical traffic that cannot be real-time still must not be lost: async is the only path
    # that takes it (up to 1 GiB), even if it cannot meet a tight client deadline. No async
    # timeout condition: the client simply gets its answer within async's 1 hour at most.
    Rule(
        "critical-async",
        (KindIs(ClassKind.CRITICAL), _FITS_ASYNC),
        Path.ASYNC,
        "critical traffic too large or too slow for real-time is queued on async, which takes up to 1 GiB via S3",
    ),
    # Off-hours the provisioned endpoints are scheduled down; serverless serves standard traffic
    # at per-request cost. Serverless throttling or cold-start timeouts fall back to async in the
    # workflow's Catch, not here: routing is a pure function of the request.
    Rule(
        "standard-serverless-off-hours",
        (KindIs(ClassKind.STANDARD), OffHoursIs(True), _SERVERLESS_TIME, _FITS_SERVERLESS),
        Path.SERVERLESS,
        "off-hours standard traffic goes to serverless, paid per request while provisioned capacity is scaled down",
    ),
    # Off-hours standard traffic above 4 MiB skips real-time on purpose: the scaled-down
    # provisioned capacity is kept for critical traffic, and async absorbs it at no idle cost.
    Rule(
        "standard-realtime",
        (KindIs(ClassKind.STANDARD), OffHoursIs(False), _REALTIME_TIME, _FITS_REALTIME),
        Path.REALTIME,
        "business-hours standard traffic uses the provisioned real-time endpoint that is running anyway",
    ),
    Rule(
        "standard-async",
        (KindIs(ClassKind.STANDARD), _FITS_ASYNC),
        Path.ASYNC,
        "standard traffic that fits neither real-time nor serverless is queued on async (up to 1 GiB via S3)",
    ),
    # Decision: small bulk goes to async, not batch. A batch transform job provisions fresh
    # instances per job (minutes of start-up, billed per job) for one request; the async
    # endpoint the spec already deploys queues it, scales to zero when idle, and is what
    # drkit.engine.cost prices bulk traffic on. Batch takes what async cannot: > 1 GiB, or a class
    # that may run longer than async's one-hour invocation maximum.
    Rule(
        "bulk-async",
        (KindIs(ClassKind.BULK), _ASYNC_TIME, _FITS_ASYNC),
        Path.ASYNC,
        "bulk requests that fit async (1 GiB, 1 hour) are queued on the async endpoint instead of starting a batch job",
    ),
    Rule(
        "bulk-batch",
        (KindIs(ClassKind.BULK), _FITS_BATCH),
        Path.BATCH,
        "bulk requests too large or too long for async run as a batch transform job reading from S3",
    ),
)


# Where a request goes when its routed path cannot take it in this region (no endpoint for
# it here: a pilot-light secondary has no provisioned endpoint; its breaker is open; the
# payload is over the path's limit), in order. The router Lambda, the workflow's Path states
# and the drill's simulated clients all read this one table. Real-time is the provisioned
# endpoint; batch runs the async endpoint's model.
PATH_FALLBACK: Mapping[Path, tuple[Path, ...]] = {
    Path.REALTIME: (Path.REALTIME, Path.SERVERLESS, Path.ASYNC),
    Path.SERVERLESS: (Path.SERVERLESS, Path.ASYNC, Path.REALTIME),  # throttled serverless queues on async first
    Path.ASYNC: (Path.ASYNC, Path.REALTIME, Path.SERVERLESS),
    Path.BATCH: (Path.BATCH, Path.ASYNC),
}
# The SageMaker endpoint mode (the InferenceType tag) each path invokes.
ENDPOINT_MODE: Mapping[Path, str] = {
    Path.REALTIME: "provisioned",
    Path.SERVERLESS: "serverless",
    Path.ASYNC: "async",
    Path.BATCH: "async",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """Which path serves a request, which table row decided, and why in one sentence."""

    path: Path
    rule: str
    reason: str


_Entry = tuple[Rule, Condition | None, tuple[SizeAtMost | OffHoursIs, ...]]


@lru_cache(maxsize=1024)
def _plan(cls: ClassInfo) -> tuple[_Entry, ...]:
    """This kind's rows, each with the static condition that rules it out (None if live) and its runtime conditions."""
    probe = Request(payload_bytes=0, cls=cls, off_hours=False)
    plan: list[_Entry] = []
    for rule in DECISION_TABLE:
        if all(c.holds(probe) for c in rule.conditions if isinstance(c, KindIs)):
            static_failure = next((c for c in rule.static_conditions if not c.holds(probe)), None)
            plan.append((rule, static_failure, rule.dynamic_conditions))
    return tuple(plan)


def rules_for(cls: ClassInfo) -> tuple[Rule, ...]:
    """The table specialised to one class: rows whose static conditions hold, in order.

    `route()` and the ASL compiler both start from the same plan, so they see the same rows.
    """
    return tuple(rule for rule, static_failure, _ in _plan(cls) if static_failure is None)


def check_payload_bytes(payload_bytes: object) -> int:
    """A byte count: an int (not a bool) from 0 to the largest limit of any path."""
    if isinstance(payload_bytes, bool) or not isinstance(payload_bytes, int):
        raise RoutingError(
            f"payload_bytes: {payload_bytes!r} is a {type(payload_bytes).__name__}; expected an int byte count from 0 to {MAX_PAYLOAD_BYTES:,}"
        )
    if payload_bytes < 0:
        raise RoutingError(f"payload_bytes: {payload_bytes:,} is negative; expected an int byte count from 0 to {MAX_PAYLOAD_BYTES:,}")
    if payload_bytes > MAX_PAYLOAD_BYTES:
        raise RoutingError(
            f"payload_bytes: {payload_bytes:,} is above the largest limit of any path, the {_FITS_BATCH.limit} of {human_bytes(MAX_PAYLOAD_BYTES)}"
        )
    return payload_bytes


def _lookup(traffic_class: object, classes: Mapping[str, ClassInfo]) -> ClassInfo:
    cls = classes.get(traffic_class) if isinstance(traffic_class, str) else None
    if cls is None:
        valid = ", ".join(sorted(classes)) or "(none defined)"
        raise RoutingError(f"traffic_class: unknown class {traffic_class!r}; valid classes: {valid}")
    return cls


def _request(payload_bytes: int, traffic_class: str, classes: Mapping[str, ClassInfo], off_hours: bool) -> Request:
    size = check_payload_bytes(payload_bytes)
    cls = _lookup(traffic_class, classes)
    if not isinstance(off_hours, bool):
        raise RoutingError(f"off_hours: {off_hours!r} is a {type(off_hours).__name__}; expected true or false")
    return Request(payload_bytes=size, cls=cls, off_hours=off_hours)


def _too_large(request: Request, rows: tuple[Rule, ...]) -> RoutingError:
    limits = [c for rule in rows for c in rule.dynamic_conditions if isinstance(c, SizeAtMost)]
    largest = max(limits, key=lambda c: c.max_bytes) if limits else None
    what = f"the {largest.limit} of {human_bytes(largest.max_bytes)}" if largest else "every path's limit"
    return RoutingError(
        f"payload_bytes: {request.payload_bytes:,} is above {what}, the largest that a {request.cls.kind.value} class "
        f"({request.cls.name!r}) can use; send it as a bulk class (up to {human_bytes(BATCH_MAX_PAYLOAD_BYTES)}) or split it"
    )


def route(payload_bytes: int, traffic_class: str, *, classes: Mapping[str, ClassInfo], off_hours: bool = False) -> Decision:
    """The path that serves a request of `payload_bytes` in `traffic_class`: the first table row that holds."""
    request = _request(payload_bytes, traffic_class, classes, off_hours)
    skipped: list[str] = []
    for rule, static_failure, dynamic in _plan(request.cls):
        failed = static_failure or next((c for c in dynamic if not c.holds(request)), None)
        if failed is None:
            why = "; ".join(c.describe(request) for c in rule.conditions if not isinstance(c, KindIs))
            if skipped:
                why += f" (skipped {', '.join(skipped)})"
            return Decision(rule.path, rule.name, f"{rule.reason}: {why}")
        skipped.append(f"{rule.name}: {failed.describe(request)}")
    raise _too_large(request, rules_for(request.cls))


@dataclass(frozen=True, slots=True)
class Step:
    """One row of an explanation: did this rule fire, and the first condition that failed if not."""

    rule: str
    path: Path
    fired: bool
    detail: str


def explain(payload_bytes: int, traffic_class: str, *, classes: Mapping[str, ClassInfo], off_hours: bool = False) -> tuple[Step, ...]:
    """Every table row in order with its outcome, for people reading why a request went where it did.

    Rows after the one that fired are not evaluated (first match wins) and say so.
    """
    request = _request(payload_bytes, traffic_class, classes, off_hours)
    steps: list[Step] = []
    fired = False
    for rule in DECISION_TABLE:
        if fired:
            steps.append(Step(rule.name, rule.path, False, "not evaluated: an earlier rule fired"))
            continue
        failed = next((c for c in rule.conditions if not c.holds(request)), None)
        if failed is None:
            fired = True
            steps.append(Step(rule.name, rule.path, True, "; ".join(c.describe(request) for c in rule.conditions)))
        else:
            steps.append(Step(rule.name, rule.path, False, failed.describe(request)))
    return tuple(steps)


def async_input_inline(payload_bytes: int) -> bool:
    """Whether an async request may carry its payload inline (Body) rather than through S3 (InputLocation)."""
    return check_payload_bytes(payload_bytes) <= ASYNC_INLINE_BODY_MAX_BYTES
