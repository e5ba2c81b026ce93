"""Entry point of the policy pack: the Pulumi CLI (or `drkit check`) runs this file.

Constructing the PolicyPack starts pulumi_policy's analyzer gRPC server, prints its port
on stdout and serves until killed.
"""

import os
import sys

# `python policies/` puts only this directory on sys.path. In a checkout (where `pulumi preview
# --policy-pack policies` runs it) drkit/ sits beside it; an installed drkit is found as usual.
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_CHECKOUT, "drkit", "__init__.py")):
    sys.path.insert(0, _CHECKOUT)

import threading  # noqa: E402
import time  # noqa: E402

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from drkit.core import aws_limits, batch_gc  # noqa: E402
from drkit.engine import iam_actions  # noqa: E402
from drkit.policies.registry import PACK_NAME, all_policies  # noqa: E402


def _warm() -> None:
    """Read botocore's service models and the IAM database now, while the caller is still
    capturing its first stack, rather than on the first resource (about 0.4 s together)."""
    aws_limits.warm()
    iam_actions.warm()


def _exit_with(parent: int) -> None:
    """End when the `drkit check` that started the pack is gone: killed (SIGKILL, SIGTERM) it cannot
    stop its children, and an orphaned pack would serve forever."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


batch_gc.for_batch()
threading.Thread(target=_warm, name="warm-rule-data", daemon=True).start()
if os.environ.get("DRKIT_PARENT_PID", "").isdigit():  # set by drkit check, not by the Pulumi CLI
    threading.Thread(target=_exit_with, args=(int(os.environ["DRKIT_PARENT_PID"]),), name="exit-with-drkit", daemon=True).start()

PolicyPack(
    name=PACK_NAME,
    description="drkit cost and disaster-recovery rules for multi-region SageMaker inference.",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=all_policies(),
)
