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

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from drkit.policies.registry import PACK_NAME, all_policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    description="drkit cost and disaster-recovery rules for multi-region SageMaker inference.",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=all_policies(),
)
