"""Entry point of the policy pack: the Pulumi CLI (or `drkit check`) runs this file.

Constructing the PolicyPack starts pulumi_policy's analyzer gRPC server, prints its port
on stdout and serves until killed.
"""

import os
import sys

# `python policies/` puts only this directory on sys.path; the pack imports `policies.*` and drkit.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.registry import PACK_NAME, all_policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    description="drkit cost and disaster-recovery rules for multi-region SageMaker inference.",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=all_policies(),
)
