"""drkit's own Pulumi resource for SageMaker AI inference routers (docs/routers.md)."""

from drkit.components.inference_router.resource import InferenceRouter, InferenceRouterArgs, RoutingTarget

__all__ = ["InferenceRouter", "InferenceRouterArgs", "RoutingTarget"]
