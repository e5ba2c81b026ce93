"""The one shape of every drkit Lambda: its encrypted log group, a role trusting Lambda with exactly its
statements, and the function, created only once both exist (so its first log line and call are allowed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from drkit.components.iam import Statement, service_role
from drkit.components.observability import LogSettings, encrypted_log_group

RUNTIME = "python3.12"


def lambda_function(
    name: str,
    *,
    function_name: str,
    role_name: str,
    statements: Callable[[pulumi.Output[str]], Sequence[Statement]],
    code: pulumi.Archive,
    environment: Mapping[str, pulumi.Input[str]],
    timeout: int,
    settings: LogSettings,
    parent: pulumi.Resource,
    handler: str = "handler.handler",
    memory_size: int = 256,
    reserved_concurrent_executions: int | None = None,
    tracing: bool = False,
) -> aws.lambda_.Function:
    """`<name>-logs` (/aws/lambda/<function_name>), `<name>-role` and `<name>-policy`, then `<name>-function`.

    `statements` receives the log group's ARN (for `iam.write_logs`); `settings` gives the key, the log
    retention and the tags. Defaults: handler.handler, 256 MB, unreserved concurrency, no active tracing.
    """
    child = pulumi.ResourceOptions(parent=parent)
    logs = encrypted_log_group(f"{name}-logs", log_group_name=f"/aws/lambda/{function_name}", settings=settings, opts=child)
    role, policy = service_role(
        name,
        role_name=role_name,
        service="lambda.amazonaws.com",
        statements=statements(logs.arn),
        tags=settings.tags,
        opts=child,
    )
    return aws.lambda_.Function(
        f"{name}-function",
        name=function_name,
        runtime=RUNTIME,
        handler=handler,
        role=role.arn,
        code=code,
        timeout=timeout,
        memory_size=memory_size,
        reserved_concurrent_executions=reserved_concurrent_executions,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(environment)),
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active") if tracing else None,
        tags=dict(settings.tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logs, policy]),
    )
