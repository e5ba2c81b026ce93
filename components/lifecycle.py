"""RequestLifecycle: the region's completion and redrive Lambdas, wired to what feeds them.

- **completion** (`components/functions/completion/handler.py`) turns SageMaker async
  success/error notifications (SNS) and transform-job state changes (EventBridge) into the
  token table's result and SendTaskSuccess/SendTaskFailure for the waiting workflow;
- **redrive** (`components/functions/redrive/handler.py`) restarts, in this region, every
  unfinished request of a lost region exactly once (`drkit.core.redrive`); the Region switch
  plan calls it, and `drkit redrive` does the same from a laptop.

Both ship the handler plus the few stdlib+boto3 drkit modules it imports, never the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from drkit.components.bundle import FUNCTIONS, core_modules
from drkit.components.iam import Statement, write_logs
from drkit.components.lambda_function import lambda_function
from drkit.components.naming import physical_name
from drkit.components.workflow import transform_job_prefix
from drkit.core.errors import ComponentValidationError

# The core modules the handlers import; each is stdlib + boto3 only.
SHARED_MODULES = ("errors.py", "tokens.py", "redrive.py")


def redrive_function_name(deployment: str) -> str:
    """Stable, so the Region switch plan (owned by the primary's stack) can name it in every region."""
    return physical_name("drkit", deployment, "redrive", limit=64)


def completion_function_name(deployment: str) -> str:
    return physical_name("drkit", deployment, "completion", limit=64)


def function_code(handler_dir: str) -> pulumi.AssetArchive:
    """handler.py at the root plus a minimal `drkit.core` package."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {"handler.py": pulumi.FileAsset(str(FUNCTIONS / handler_dir / "handler.py"))}
    assets.update({path: pulumi.FileAsset(str(source)) for path, source in core_modules(SHARED_MODULES).items()})
    return pulumi.AssetArchive(assets)


@dataclass(frozen=True, kw_only=True)
class RequestLifecycleArgs:
    """Inputs of `RequestLifecycle`."""

    deployment: str
    """Deployment name; prefixes the functions."""
    region: str
    """This region: where the functions run, complete tokens and start redriven executions."""
    account_id: str
    """Account of the table, state machine and transform jobs."""
    table_name: str
    """The global task-token table (this region's replica)."""
    kms_key_arn: pulumi.Input[str]
    """This region's key (table and log groups)."""
    state_machine_arn: pulumi.Input[str]
    """This region's InferenceWorkflow."""
    async_topic_arns: Sequence[pulumi.Input[str]] = ()
    """Success and error topics of this region's async endpoints. Default: none."""
    peer_regions: Sequence[str] = ()
    """The deployment's other regions: those whose requests this region may redrive."""
    log_retention_days: int = 30
    """Function log retention. Default: 30."""
    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)
    """Reserved concurrent executions by function ("completion", "redrive"); spec.reserved_concurrency.
    Default: none — AWS keeps 100 unreserved executions per account, so a fixed default could fail the deploy."""
    failure_retention_seconds: int = 14 * 24 * 3600
    """How long the completion function's failed events wait in its failure queue. Default: 14 days (SQS maximum)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child. Default: none."""


class RequestLifecycle(pulumi.ComponentResource):
    """Completion and redrive functions of one region."""

    completion_function_arn: pulumi.Output[str]
    redrive_function_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RequestLifecycleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.region in args.peer_regions:
            raise ComponentValidationError(f"RequestLifecycle {name}: peer_regions {list(args.peer_regions)} contains this region {args.region}")
        super().__init__("drkit:workflow:RequestLifecycle", name, {}, opts)
        self._args = args
        table_arn = f"arn:aws:dynamodb:{args.region}:{args.account_id}:table/{args.table_name}"
        common = [
            Statement("TableKey", ["kms:Decrypt", "kms:GenerateDataKey"], [args.kms_key_arn]),
        ]
        # SNS and EventBridge invoke the completion function asynchronously: after Lambda's retries a
        # failed event would be dropped, and its request would wait for a callback that never comes.
        # The on-failure destination keeps it (with the error) for an operator or `drkit redrive`.
        failures = aws.sqs.Queue(
            f"{name}-completion-failures",
            name=physical_name("drkit", args.deployment, "completion-failures", limit=80),
            kms_master_key_id=args.kms_key_arn,
            message_retention_seconds=args.failure_retention_seconds,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        completion = self._function(
            f"{name}-completion",
            completion_function_name(args.deployment),
            "completion",
            [
                *common,
                Statement("RecordResults", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [table_arn]),
                # SendTaskSuccess/Failure take no resource type (Service Authorization Reference): only "*" allows them.
                Statement("Callback", ["states:SendTaskSuccess", "states:SendTaskFailure"], ["*"]),
                Statement(
                    "TransformJobTags",
                    ["sagemaker:ListTags"],
                    [f"arn:aws:sagemaker:{args.region}:{args.account_id}:transform-job/{transform_job_prefix(args.deployment)}-*"],
                ),
                Statement("ReportFailures", ["sqs:SendMessage"], [failures.arn]),
            ],
            {"TABLE_NAME": args.table_name},
            timeout=60,
            reserved=args.reserved_concurrency.get("completion"),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-completion-on-failure",
            function_name=completion.name,
            maximum_retry_attempts=2,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=failures.arn)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.completion_failures_queue_arn = failures.arn
        redrive = self._function(
            f"{name}-redrive",
            redrive_function_name(args.deployment),
            "redrive",
            [
                *common,
                Statement(
                    "ClaimRequests",
                    ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                    [table_arn, f"{table_arn}/index/*"],
                ),
                Statement("StartExecutions", ["states:StartExecution"], [args.state_machine_arn]),
            ],
            {
                "TABLE_NAME": args.table_name,
                "STATE_MACHINE_ARN": args.state_machine_arn,
                "PEER_REGIONS": ",".join(args.peer_regions),
            },
            timeout=900,  # the Lambda maximum; a partial run is finished by the next one
            reserved=args.reserved_concurrency.get("redrive"),
        )
        self._subscribe(name, completion)
        self.completion_function_arn = completion.arn
        self.redrive_function_arn = redrive.arn
        self.register_outputs(
            {
                "completion_function_arn": completion.arn,
                "redrive_function_arn": redrive.arn,
                "completion_failures_queue_arn": failures.arn,
            }
        )

    def _function(
        self,
        name: str,
        function_name: str,
        handler_dir: str,
        statements: list[Statement],
        environment: Mapping[str, pulumi.Input[str]],
        *,
        timeout: int,
        reserved: int | None = None,
    ) -> aws.lambda_.Function:
        a = self._args
        return lambda_function(
            name,
            function_name=function_name,
            role_name=physical_name(function_name, a.region, limit=64),
            statements=lambda log_group_arn: [*statements, write_logs(log_group_arn)],
            code=function_code(handler_dir),
            environment=environment,
            timeout=timeout,
            reserved_concurrent_executions=reserved,
            settings=a,
            parent=self,
        )

    def _subscribe(self, name: str, completion: aws.lambda_.Function) -> None:
        """SNS topics of async endpoints and transform-job state changes invoke the completion function."""
        child = pulumi.ResourceOptions(parent=self)
        for index, topic_arn in enumerate(self._args.async_topic_arns):
            aws.lambda_.Permission(
                f"{name}-sns-{index}",
                action="lambda:InvokeFunction",
                function=completion.name,
                principal="sns.amazonaws.com",
                source_arn=topic_arn,
                opts=child,
            )
            aws.sns.TopicSubscription(f"{name}-subscription-{index}", topic=topic_arn, protocol="lambda", endpoint=completion.arn, opts=child)
        rule = aws.cloudwatch.EventRule(
            f"{name}-transform-jobs",
            name=physical_name("drkit", self._args.deployment, "transform-jobs", limit=64),
            description="drkit batch requests finished: hand the result to the waiting workflow",
            event_pattern=json.dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Transform Job State Change"],
                    "detail": {
                        "TransformJobName": [{"prefix": f"{transform_job_prefix(self._args.deployment)}-"}],
                        "TransformJobStatus": ["Completed", "Failed", "Stopped"],
                    },
                }
            ),
            tags=dict(self._args.tags),
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-events",
            action="lambda:InvokeFunction",
            function=completion.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(f"{name}-transform-jobs-target", rule=rule.name, arn=completion.arn, opts=child)
