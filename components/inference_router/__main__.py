"""`python -m drkit.components.inference_router <engine-address>`: the `drkit` provider plugin.

Pulumi starts it through stacks/provider/pulumi-resource-drkit (Pulumi.yaml `plugins.providers`).
"""

import sys

from pulumi.provider.experimental.server import main

from drkit.components.inference_router.provider import VERSION, InferenceRouterProvider

if __name__ == "__main__":
    main(sys.argv[1:], VERSION, InferenceRouterProvider())
