"""Pulumi entry point (`main: stacks/` in Pulumi.yaml): one (deployment, region) per stack.

Stack config (see Pulumi.<stack>.yaml):
  drkit:spec    path of the deployment spec, relative to the project root
  drkit:region  the region this stack deploys (must be one of the spec's regions)
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from drkit.core.errors import DrkitError
from drkit.core.spec import load_spec
from drkit.stacks.program import build_region

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    config = pulumi.Config("drkit")
    spec_path = PROJECT_ROOT / config.require("spec")
    region = config.require("region")
    try:
        spec = load_spec(spec_path)
        spec.require_region(region, source=f"Pulumi.{pulumi.get_stack()}.yaml drkit:region")
        expected = spec.stack_name(region)
        if pulumi.get_stack() != expected:
            raise DrkitError(
                f"stack {pulumi.get_stack()!r} deploys {spec.deployment} in {region}; name it {expected!r} "
                "so secondaries can find the primary's outputs"
            )
    except DrkitError as exc:
        # RunError prints the message without a Python traceback.
        raise pulumi.RunError(str(exc)) from None
    exports = build_region(spec, region, organization=pulumi.get_organization(), project=pulumi.get_project())
    for key, value in exports.items():
        pulumi.export(key, value)


main()
