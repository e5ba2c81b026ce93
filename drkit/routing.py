"""Deterministic request routing: which invocation path serves a request.

(Being built for issue 4: the decision table, `route()` and its explanation land here.)
"""

from __future__ import annotations

from enum import Enum


class Path(str, Enum):
    """The SageMaker invocation path that serves one request."""

    REALTIME = "realtime"
    SERVERLESS = "serverless"
    ASYNC = "async"
    BATCH = "batch"
